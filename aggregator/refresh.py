"""Keeping the rollups current: rebuild a range of days on request, and on a timer the days that can have changed.

The timer rebuilds today and yesterday (a session runs over midnight; clients export late) and the days that
received records since its previous scan (late data), but at most max_days_per_run days a run: the rest of the
late days wait in a backlog for the next runs, oldest first and taken in turn from each org, so one export with a
point on each of 400 past days neither holds the rollup for minutes nor delays another org's late day.

Where the scan resumes after a restart is saved in the store (rollup_cursor): the receive time of the oldest
backlog entry, so a backlog left by a stopped serve is found again; before the first save, the latest version
in the rollups (records that arrived before the aggregator existed are rolled up without a manual backfill).

With a ContributionRollup, each rebuild of a range rebuilds its contribution days too, and the timer rebuilds the
contribution days that can have changed (aggregator.contributions.changes): merge and creation days of PRs whose
GitHub rows arrived since the previous scan, and the days whose PRs read telemetry of a day that received records
(that day - 3 to + 22). Rather than "the last 23 days whenever telemetry arrives", this follows the records' own
days, so late telemetry for an old day reaches the PRs it bears on, and a minute of today's telemetry rebuilds four
days, not 23. Those days wait in a backlog of their own, newest first, at most CONTRIBUTION_DAYS_PER_RUN a run,
kept in the saved cursor like the late days.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from datetime import date, timedelta
from typing import Callable, Iterable

from aggregator.contributions.changes import days_near_telemetry
from aggregator.contributions.rollup import ContributionRollup
from aggregator.rollup import DayRebuilt, Rollup, runs_of_days
from plumbing.log_once import RateLimitedLog
from plumbing.supervisor import TaskStatus

log = logging.getLogger(__name__)

# Records are stamped received_at before their batch is inserted; look back this far behind the previous run's start
# so a record stamped just before it but inserted after it is not missed. Rebuilding a day twice is harmless.
RECEIVE_MARGIN_MS = 5 * 60 * 1000

# Days one timer run rebuilds at most, today and yesterday included (--aggregate-max-days).
DEFAULT_MAX_DAYS_PER_RUN = 16
# Today, yesterday, and at least one backlog day: fewer would let a backlog wait forever.
MIN_DAYS_PER_RUN = 3
# Contribution days one timer run rebuilds at most (a contribution day reads only its PRs and their telemetry).
CONTRIBUTION_DAYS_PER_RUN = 64


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class Refresher:
    def __init__(self, rollup: Rollup, on_failure: Callable[[], None] | None = None,
                 after_run: Callable[[], None] | None = None, max_days_per_run: int = DEFAULT_MAX_DAYS_PER_RUN,
                 contributions: ContributionRollup | None = None):
        if max_days_per_run < MIN_DAYS_PER_RUN:
            raise ValueError(f"a run must rebuild at least {MIN_DAYS_PER_RUN} days, not {max_days_per_run}")
        self.rollup = rollup
        self.max_days_per_run = max_days_per_run
        self._scanned_ns: int | None = None  # start of the latest scan for late records; the first reads the cursor
        # Late days waiting for a timer run: day -> org -> start of the scan that found it (the cursor is the
        # oldest). Only the timer's thread touches it.
        self._backlog: dict[date, dict[str, int]] = {}
        # The latest receive time (ms) already scheduled of each (org, day) the scan window still reaches: the
        # window overlaps the previous one (RECEIVE_MARGIN_MS), and a day is scheduled again only for records
        # received later than those, not once per run while the margin lasts.
        self._scheduled: dict[tuple[str, date], int] = {}
        self.contributions = contributions
        # Contribution days waiting for a timer run: day -> start of the scan that found it; and, as _scheduled,
        # the latest GitHub receive time already scheduled of each day.
        self._contribution_backlog: dict[date, int] = {}
        self._github_scheduled: dict[date, int] = {}
        self._failure_log = RateLimitedLog(log, logging.ERROR)
        self._on_failure = on_failure
        self._after_run = after_run  # e.g. render /metrics now, in this thread, rather than in a scrape
        # Of the latest timer run that succeeded (unix seconds, seconds): what the health metrics show.
        self.last_success: float | None = None
        self.last_run_seconds: float | None = None

    @property
    def backlog_days(self) -> int:
        """Late days found but not yet rebuilt, carried to the next runs."""
        return len(self._backlog)

    def rebuild(self, first: date, last: date,
                progress: Callable[[DayRebuilt, int, int], None] | None = None) -> list[DayRebuilt]:
        """Rebuild every day of [first, last]; the same result however often it runs."""
        days = days_between(first, last)
        done = []
        for run in runs_of_days(days):
            rebuilt_run = self.rollup.rebuild_days(run)
            if self.contributions:
                self.contributions.rebuild_days(run)
            for rebuilt in rebuilt_run:
                done.append(rebuilt)
                if progress:
                    progress(rebuilt, len(done), len(days))
        return done

    def days_to_refresh(self) -> list[date]:
        """Today and yesterday, then backlog days fairly between orgs, max_days_per_run in all; scans first for
        records received since the previous scan."""
        self._scan_for_late_days()
        today = self.rollup.today()
        routine = [today - timedelta(days=1), today]
        waiting = {day: orgs for day, orgs in self._backlog.items() if day not in routine}
        return sorted(routine + fair_share(waiting, self.max_days_per_run - len(routine)))

    def _scan_for_late_days(self) -> None:
        started_ns = time.time_ns()
        if self._scanned_ns is None:
            saved = self.rollup.saved_cursor()
            self._scanned_ns = saved if saved is not None else self.rollup.last_run_version()
        since_ms = max(self._scanned_ns // 1_000_000 - RECEIVE_MARGIN_MS, 0)
        today = self.rollup.today()
        found = self.rollup.org_days_received_since(since_ms)
        for (org, day), received_ms in found.items():
            # Nothing is rolled up for days in the future of the aggregation time zone: a client clock that is
            # wrong. Today's run rebuilds the day when it comes.
            if day <= today and received_ms > self._scheduled.get((org, day), -1):
                self._backlog.setdefault(day, {}).setdefault(org, self._scanned_ns)
                if self.contributions:
                    self._schedule_contributions(days_near_telemetry(day))
        self._scheduled = found
        if self.contributions:
            github = self.contributions.days_with_github_rows_since(since_ms)
            self._schedule_contributions(day for day, received_ms in github.items()
                                         if received_ms > self._github_scheduled.get(day, -1))
            self._github_scheduled = github
        self._scanned_ns = started_ns

    def _schedule_contributions(self, days: Iterable[date]) -> None:
        today = self.rollup.today()
        for day in days:
            if day <= today:
                self._contribution_backlog.setdefault(day, self._scanned_ns)

    def _refresh_contributions(self) -> None:
        """The waiting contribution days, newest first (today's figures matter most), a bounded number a run."""
        if not self.contributions:
            return
        days = sorted(self._contribution_backlog, reverse=True)[:CONTRIBUTION_DAYS_PER_RUN]
        for run in runs_of_days(days):
            self.contributions.rebuild_days(run)
            for day in run:
                self._contribution_backlog.pop(day, None)

    def refresh(self) -> list[DayRebuilt]:
        started_ns = time.time_ns()
        rebuilt = []
        # one bounded step at a time: the lock is taken per run of consecutive days, so a manual aggregate, a
        # purge or a /metrics render waits for one step, not for the whole run
        for run in runs_of_days(self.days_to_refresh()):
            rebuilt += self.rollup.rebuild_days(run)
            for day in run:
                self._backlog.pop(day, None)
        self._refresh_contributions()
        waiting = [found for orgs in self._backlog.values() for found in orgs.values()]
        self.rollup.save_cursor(min(waiting + list(self._contribution_backlog.values()), default=self._scanned_ns))
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
                _log_run(rebuilt, routine={self.rollup.today(), self.rollup.today() - timedelta(days=1)},
                         backlog_days=self.backlog_days)
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


def fair_share(waiting: dict[date, dict[str, int]], count: int) -> list[date]:
    """Up to count of the waiting days: each org's oldest in turn (the org with the oldest day first), so an org
    with hundreds of late days takes one day a turn like every other. A day rebuilt serves every org."""
    days_of_org: dict[str, list[date]] = defaultdict(list)
    for day in sorted(waiting):
        for org in waiting[day]:
            days_of_org[org].append(day)
    queues = sorted(days_of_org.values(), key=lambda days: days[0])
    chosen: list[date] = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            while queue and queue[0] in chosen:
                queue.pop(0)
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def _log_run(rebuilt: Iterable[DayRebuilt], routine: set[date], backlog_days: int = 0) -> None:
    """Rebuilding today and yesterday is routine (debug); late data and backfills are worth an info line."""
    rebuilt = [day for day in rebuilt if day.records]
    if rebuilt:
        level = logging.DEBUG if {day.day for day in rebuilt} <= routine else logging.INFO
        log.log(level, "aggregated %s: %d records, %d user-days in %.2f s",
                ", ".join(str(day.day) for day in rebuilt), sum(day.records for day in rebuilt),
                sum(day.users for day in rebuilt), sum(day.seconds for day in rebuilt))
    if backlog_days:
        log.info("%d late days wait for the next rollup runs", backlog_days)
