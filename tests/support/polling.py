"""Waiting for something a real process does in its own time."""

from __future__ import annotations

import time


def wait_until(condition, timeout: float = 20, interval: float = 0.2):
    """Poll until condition() is truthy; returns its value or fails with the last one."""
    deadline = time.monotonic() + timeout
    value = condition()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = condition()
    return value
