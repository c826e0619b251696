"""Signed-in browsers: session ids the sign-in form hands out, each naming the Caller its token named.

A session id is random (secrets.token_urlsafe), never derived from the token, and lives in memory only: a restart
signs everyone out. Sessions expire after a lifetime, and at most max_sessions are kept (the oldest dropped
first), so a flood of sign-ins cannot grow memory.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from typing import Callable

from plumbing.auth import Caller

# The cookie that carries a session id (HttpOnly, SameSite=Strict; set by cc_analytics/sign_in.py).
SESSION_COOKIE = "cc_analytics_session"
DEFAULT_LIFETIME_SECONDS = 12 * 3600
DEFAULT_MAX_SESSIONS = 10_000


class Sessions:
    def __init__(self, lifetime_seconds: float = DEFAULT_LIFETIME_SECONDS, max_sessions: int = DEFAULT_MAX_SESSIONS,
                 clock: Callable[[], float] = time.monotonic):
        self.lifetime_seconds = lifetime_seconds
        self._max_sessions = max_sessions
        self._clock = clock
        self._by_id: OrderedDict[str, tuple[float, Caller]] = OrderedDict()  # id -> (expiry, caller), oldest first
        self._lock = threading.Lock()

    def start(self, caller: Caller) -> str:
        """A new session for caller; its id goes in the cookie."""
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._drop_expired()
            self._by_id[session_id] = (self._clock() + self.lifetime_seconds, caller)
            while len(self._by_id) > self._max_sessions:
                self._by_id.popitem(last=False)
        return session_id

    def caller(self, session_id: str | None) -> Caller | None:
        """The caller of a live session, or None (no such session, or expired)."""
        if not session_id:
            return None
        with self._lock:
            found = self._by_id.get(session_id)
            if found is None:
                return None
            if found[0] <= self._clock():
                del self._by_id[session_id]
                return None
            return found[1]

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._by_id.pop(session_id or "", None)

    def __len__(self) -> int:
        return len(self._by_id)

    def _drop_expired(self) -> None:
        # All sessions have the same lifetime, so the oldest expire first.
        now = self._clock()
        while self._by_id and next(iter(self._by_id.values()))[0] <= now:
            self._by_id.popitem(last=False)
