"""RateLimitedLog: one line per kind per interval, whatever the messages say, in bounded memory."""

from __future__ import annotations

import logging

from plumbing.log_once import RateLimitedLog


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def logger_with_lines(name: str) -> tuple[logging.Logger, Lines]:
    logger = logging.getLogger(name)
    logger.propagate = False
    lines = Lines()
    logger.handlers = [lines]
    return logger, lines


def test_one_line_per_kind_under_100000_distinct_messages_in_bounded_memory():
    logger, lines = logger_with_lines("test_log_once.distinct")
    limited = RateLimitedLog(logger, logging.WARNING, max_kinds=64)
    for number in range(100_000):
        limited.log("metrics:partial_success", "export: %s", f"rejected name-{number}\n")
        limited.log(f"kind-{number}", "export: %s", "x")  # even a caller that keys by text stays bounded
    assert lines.lines.count("export: rejected name-0\n") == 1
    assert not any("rejected name-1" in line for line in lines.lines)
    assert limited.kinds_remembered == 64


def test_new_kinds_do_not_reset_the_limit_of_a_recurring_one():
    # The old limiter cleared every key when full: the recurring kind was written again after each clear.
    logger, lines = logger_with_lines("test_log_once.lru")
    limited = RateLimitedLog(logger, logging.WARNING, max_kinds=8)
    for number in range(5_000):
        limited.log("disk:ENOSPC", "queue disk full")
        limited.log(f"other-{number}", "something else")
    assert lines.lines.count("queue disk full") == 1

