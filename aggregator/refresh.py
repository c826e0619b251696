"""Keeping the rollups current: rebuild a range of days on request, and on a timer the days that can have changed.

The timer rebuilds today and yesterday (a session runs over midnight; clients export late) and every other day
that received records since the previous run started, so late data for an earlier day is picked up too. On start,
"the previous run" is the latest version in the rollups, so records that arrived while serve was down, or before
the aggregator existed, are rolled up without a manual backfill.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import date, timedelta
from typing import Callable, Iterable

from aggregator.rollup import DayRebuilt, Rollup, runs_of_days
from plumbing.log_once import RateLimitedLog
from plumbing.supervisor import TaskStatus

log = logging.getLogger(__name__)

# Records are stamped received_at before their batch is inserted; look back this far behind the previous run's start
# so a record stamped just before it but inserted after it is not missed. Rebuilding a day twice is harmless.
RECEIVE_MARGIN_MS = 5 * 60 * 1000


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class Refresher:
    def __init__(self, rollup: Rollup, on_failure: Callable[[], None] | None = None,
                 after_run: Callable[[], None] | None = None):
        self.rollup = rollup
        self._previous_run_ns: int | None = None
        self._failure_log = RateLimitedLog(log, logging.ERROR)
        self._on_failure = on_failure
        self._after_run = after_run  # e.g. render /metrics now, in this thread, rather than in a scrape
        # Of the latest timer run that succeeded (unix seconds, seconds): what the health metrics show.
        self.last_success: float | None = None
        self.last_run_seconds: float | None = None

    def rebuild(self, first: date, last: date,
                progress: Callable[[DayRebuilt, int, int], None] | None = None) -> list[DayRebuilt]:
        """Rebuild every day of [first, last]; the same result however often it runs."""
        days = days_between(first, last)
        done = []
        for run in runs_of_days(days):
            for rebuilt in self.rollup.rebuild_days(run):
                done.append(rebuilt)
                if progress:
                    progress(rebuilt, len(done), len(days))
        return done

    def days_to_refresh(self) -> list[date]:
        if self._previous_run_ns is None:
            self._previous_run_ns = self.rollup.last_run_version()
        since_ms = max(self._previous_run_ns // 1_000_000 - RECEIVE_MARGIN_MS, 0)
        today = self.rollup.today()
        # Nothing is rolled up for days in the future of the aggregation time zone: a client clock that is wrong.
        late = {day for day in self.rollup.days_received_since(since_ms) if day <= today}
        return sorted(late | {today - timedelta(days=1), today})

    def refresh(self) -> list[DayRebuilt]:
        started_ns = time.time_ns()
        rebuilt = self.rollup.rebuild_days(self.days_to_refresh())
        self._previous_run_ns = started_ns
        self.last_success = time.time()
        self.last_run_seconds = (time.time_ns() - started_ns) / 1e9
        return rebuilt

    async def run_every(self, interval_seconds: float, run_in_thread, status: TaskStatus | None = None) -> None:
        """Refresh now and then every interval until cancelled; a failed run is logged, reported to status (so
        /readyz shows it) and retried next time."""
        while True:
            try:
                rebuilt = await run_in_thread(self.refresh)
                if self._after_run:
                    await run_in_thread(self._after_run)
                _log_run(rebuilt, routine={self.rollup.today(), self.rollup.today() - timedelta(days=1)})
                if status:
                    status.progressed()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the store may be down for a while: keep serving, try again later
                if status:
                    status.failed(error)
                if self._on_failure:
                    self._on_failure()
                self._failure_log.log(type(error).__name__, "aggregation failed, retrying in %s s: %s",
                                      interval_seconds, error)
            await asyncio.sleep(interval_seconds)


def _log_run(rebuilt: Iterable[DayRebuilt], routine: set[date]) -> None:
    """Rebuilding today and yesterday is routine (debug); late data and backfills are worth an info line."""
    rebuilt = [day for day in rebuilt if day.records]
    if rebuilt:
        level = logging.DEBUG if {day.day for day in rebuilt} <= routine else logging.INFO
        log.log(level, "aggregated %s: %d records, %d user-days in %.2f s",
                 ", ".join(str(day.day) for day in rebuilt), sum(day.records for day in rebuilt),
                 sum(day.users for day in rebuilt), sum(day.seconds for day in rebuilt))
