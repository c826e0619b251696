"""A clock a test moves by hand, for code that takes a clock (sessions, sign-in attempts)."""

from __future__ import annotations


class ManualClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
