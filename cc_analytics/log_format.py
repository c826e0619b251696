"""How log lines look: text for people, or one JSON object per line for log pipelines (Loki, Elasticsearch).

Either way one record is one line that no message can break: the text format escapes control characters
(plumbing.log_text) and indents a traceback under its record; JSON escapes them in its strings.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from plumbing.log_text import escape_control, escape_json_control

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Every line of a traceback after its record starts with this, so none can pass for a record of its own.
CONTINUATION = "    | "


class TextLines(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.message = escape_control(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        details = []
        if record.exc_info:
            details.append(self.formatException(record.exc_info))
        if record.stack_info:
            details.append(self.formatStack(record.stack_info))
        for text in details:
            line += "".join(f"\n{CONTINUATION}{escape_control(part)}" for part in text.split("\n"))
        return line


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return escape_json_control(json.dumps(line, ensure_ascii=False))


def configure(level: str, log_format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        formatter = JsonLines()
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    else:
        handler.setFormatter(TextLines())
    logging.basicConfig(level=level.upper(), handlers=[handler])
