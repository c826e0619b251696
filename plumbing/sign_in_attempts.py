"""How many wrong tokens a client address may try: a bound on guessing through the sign-in form.

Each address may fail max_failures times per window; past that its attempts are refused, right or wrong, until
the window of its first failure ends. The addresses remembered are bounded (least recently failed forgotten), so
a flood of addresses cannot grow memory.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import Callable

DEFAULT_MAX_FAILURES = 10
DEFAULT_WINDOW_SECONDS = 300.0
MAX_ADDRESSES = 4096


class SignInAttempts:
    def __init__(self, max_failures: int = DEFAULT_MAX_FAILURES, window_seconds: float = DEFAULT_WINDOW_SECONDS,
                 max_addresses: int = MAX_ADDRESSES, clock: Callable[[], float] = time.monotonic):
        self._max_failures = max_failures
        self._window = window_seconds
        self._max_addresses = max_addresses
        self._clock = clock
        self._failures: OrderedDict[str, tuple[float, int]] = OrderedDict()  # address -> (first failure, count)
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int:
        """Seconds until address may try again; 0 when it may now."""
        with self._lock:
            first, count = self._current(address)
            if count < self._max_failures:
                return 0
            return max(1, math.ceil(first + self._window - self._clock()))

    def failed(self, address: str) -> None:
        with self._lock:
            first, count = self._current(address)
            self._failures.pop(address, None)
            self._failures[address] = (first if count else self._clock(), count + 1)
            while len(self._failures) > self._max_addresses:
                self._failures.popitem(last=False)

    def _current(self, address: str) -> tuple[float, int]:
        first, count = self._failures.get(address, (0.0, 0))
        if count and self._clock() - first >= self._window:
            del self._failures[address]
            return 0.0, 0
        return first, count
