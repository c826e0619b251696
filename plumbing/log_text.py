"""Text from clients made safe for a log line: control characters escaped, length cut.

A rejected metric name can hold a newline and a fake timestamp, or ANSI escapes that rewrite a terminal; in the
text log format that would forge a line. Every character that ends a line or steers a terminal (C0, DEL, C1,
U+2028/U+2029) is written as a backslash escape instead.
"""

from __future__ import annotations

import re

# Client text in a log message is cut to this many characters: enough to recognise it, not a megabyte a line.
CLIENT_TEXT_LIMIT = 300

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match) -> str:
    character = match.group()
    return _NAMED.get(character) or (f"\\x{ord(character):02x}" if ord(character) < 0x100 else
                                     f"\\u{ord(character):04x}")


def escape_control(text: str) -> str:
    """text with every line-breaking or terminal-steering character written as a backslash escape."""
    return _CONTROL.sub(_escaped, text)


def escape_json_control(text: str) -> str:
    """A JSON document with the control characters json.dumps leaves raw (DEL, C1, U+2028/9) as \\u escapes:
    still the same JSON, and no tool splits the line at them."""
    return _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def client_text(text: str, limit: int = CLIENT_TEXT_LIMIT) -> str:
    """text cut to limit characters, saying how many were cut."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"
