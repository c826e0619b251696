"""serve's background work, watched: the batch writer, the rollup timer and the /metrics render.

A task that raises is logged (once per kind, with its traceback), shown on /readyz until it makes progress again,
and restarted with backoff, so nothing waits for a restart of the process. A task that handles its own failures
(the rollup timer retries on its next tick) reports them through its TaskStatus, so /readyz shows them too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from plumbing.log_once import RateLimitedLog

log = logging.getLogger(__name__)

RESTART_FIRST_SECONDS = 0.5
RESTART_MAX_SECONDS = 30.0


class TaskStatus:
    """What one background task reports: it failed (why), or it made progress (the failure is over)."""

    def __init__(self, name: str, failing: dict[str, str]):
        self.name = name
        self._failing = failing

    def failed(self, error: BaseException) -> None:
        self._failing[self.name] = f"{type(error).__name__}: {str(error).strip() or 'no message'}"

    def progressed(self) -> None:
        self._failing.pop(self.name, None)


class Supervisor:
    def __init__(self) -> None:
        self._failing: dict[str, str] = {}
        self._failure_log = RateLimitedLog(log, logging.ERROR)

    @property
    def failing(self) -> dict[str, str]:
        """Task name -> why it is failing, for the tasks failing now."""
        return dict(self._failing)

    def status(self, name: str) -> TaskStatus:
        return TaskStatus(name, self._failing)

    def spawn(self, name: str, run: Callable[[TaskStatus], Awaitable[None]]) -> asyncio.Task:
        """Run run(status) until it returns or is cancelled; after an exception, again after a backoff."""
        return asyncio.get_running_loop().create_task(self._supervise(name, run), name=name)

    async def _supervise(self, name: str, run: Callable[[TaskStatus], Awaitable[None]]) -> None:
        status = self.status(name)
        backoff = RESTART_FIRST_SECONDS
        while True:
            try:
                await run(status)
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # whatever it was, the task must run again
                status.failed(error)
                self._failure_log.log(f"{name}:{type(error).__name__}", "%s failed, restarting it in %.1f s: %s",
                                      name, backoff, error, exc_info=error)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RESTART_MAX_SECONDS)
