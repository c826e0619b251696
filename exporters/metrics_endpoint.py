"""GET /metrics on the API port: the collector's health, the aggregator's, and the usage figures.

The usage figures are read from the rollups when Prometheus scrapes (not counters kept in memory), so every
replica that publishes them shows the same numbers and nothing is lost on restart. The health families are
prometheus-client collectors.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date
from typing import Callable

from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily

from aggregator.api import in_query_thread
from aggregator.refresh import Refresher
from aggregator.snapshot import Snapshots
from plumbing.log_once import RateLimitedLog
from plumbing.metrics_registry import ProcessMetrics
from plumbing.supervisor import TaskStatus
from plumbing.routes import Access, RouteTable
from exporters import text_format
from exporters.prometheus import PREFIX, usage_families
from exporters.usage_metrics import DEFAULT_MAX_NAMES

log = logging.getLogger(__name__)

# The classic text format every Prometheus 2.x reads (prometheus-client's own default now names version 1.0.0).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class UsageExposition:
    """The usage families as of today, read from the rollups.

    The text is kept until the rollups change (a new run) or the day does: scrapes in between read only the
    rollups' version. serve renders it again right after each rollup run (refresh(), in the aggregator's thread).
    A scrape never waits for a re-render: while one runs, or when the scrape is the first to see a new version
    (a rebuild through the API), it gets the previous text, whose figures are right as of the previous version,
    and the new text is rendered in the background. Only the very first scrape after start waits, having nothing
    else to show. A failed read counts a store error (the health families tell why): when the version cannot be
    read, no usage is published; when a re-render fails, the previous text stays and the next scrape retries.
    """

    def __init__(self, snapshots: Snapshots, today: Callable[[], date], day_start: Callable[[date], float],
                 max_user_series: int, max_label_values: int, hash_user_labels: bool, metrics: ProcessMetrics,
                 status: TaskStatus | None = None, max_usage_names: int = DEFAULT_MAX_NAMES):
        self._snapshots = snapshots
        self._today = today
        self._day_start = day_start
        self._max_user_series = max_user_series
        self._max_label_values = max_label_values
        self._max_usage_names = max_usage_names
        self._hash_user_labels = hash_user_labels
        self._metrics = metrics
        self._status = status  # a failing render is shown on /readyz until one succeeds
        self._failure_log = RateLimitedLog(log, logging.ERROR)
        self._rendered: _Rendered | None = None  # replaced whole, so a scrape reads text and state of one render
        # Held while the store is read and the text rendered: one render at a time, and a scrape that finds it
        # held does not read the version either (the client runs one query at a time, the render's first).
        self._rendering = threading.Lock()
        self._closed = False  # set under the lock: the store client is about to close, read it no more

    def render(self) -> bytes:
        """The usage text for a scrape."""
        rendered = self._rendered
        if not self._rendering.acquire(blocking=rendered is None):
            return rendered.text  # a re-render is running: the previous text, right away
        try:
            if self._closed:
                return rendered.text if rendered else b""
            state = self._state()
            if self._rendered is None:
                self._render(state)
            elif state != self._rendered.state:
                threading.Thread(target=self.refresh, name="metrics-render", daemon=True).start()
            elif self._status:
                self._status.progressed()  # the store answers and the text is current
        except Exception as error:  # the store may be down: publish health, which tells so, and no usage
            self._read_failed(error)
            return b""
        finally:
            self._rendering.release()
        return self._rendered.text

    def refresh(self) -> None:
        """Render the text again if the rollups or the day changed since; waits for a render in progress."""
        try:
            with self._rendering:
                if self._closed:
                    return
                state = self._state()
                if self._rendered is None or state != self._rendered.state:
                    self._render(state)
        except Exception as error:
            self._read_failed(error)

    def close(self) -> None:
        """Wait for a render in progress, then read the store no more: its client closes next (a background
        re-render started by a scrape just before a stop would otherwise fail on the closed client)."""
        with self._rendering:
            self._closed = True

    def _state(self) -> tuple[date, tuple[int, int]]:
        return self._today(), self._snapshots.version()

    def _render(self, state: tuple[date, tuple[int, int]]) -> None:
        snapshot = self._snapshots.as_of(state[0], self._max_user_series)
        text = text_format.render(usage_families(snapshot, self._hash_user_labels, self._day_start,
                                                    self._max_label_values, self._max_usage_names))
        self._rendered = _Rendered(state, text)
        if self._status:
            self._status.progressed()

    def _read_failed(self, error: Exception) -> None:
        self._metrics.store_errors.labels("read").inc()
        if self._status:
            self._status.failed(error)
        self._failure_log.log(type(error).__name__, "cannot read the rollups for /metrics: %s", error)


@dataclass(frozen=True)
class _Rendered:
    state: tuple[date, tuple[int, int]]  # (today, rollup version) the text is of
    text: bytes


class RollupHealthCollector:
    def __init__(self, refresher: Refresher):
        self._refresher = refresher

    def collect(self):
        if self._refresher.last_success is None:
            return
        success = GaugeMetricFamily(PREFIX + "rollup_last_success_timestamp_seconds",
                                    "When the rollup timer last finished a run (unix seconds).")
        success.add_metric([], self._refresher.last_success)
        duration = GaugeMetricFamily(PREFIX + "rollup_duration_seconds", "Seconds the last rollup run took.")
        duration.add_metric([], self._refresher.last_run_seconds)
        backlog = GaugeMetricFamily(PREFIX + "rollup_backlog",
                                    "Days with late records waiting for the next rollup runs (each run rebuilds "
                                    "at most --aggregate-max-days days).")
        backlog.add_metric([], self._refresher.backlog_days)
        yield success
        yield duration
        yield backlog


def routes(process_metrics: ProcessMetrics, usage: UsageExposition | None, refresher: Refresher | None) -> RouteTable:
    """GET /metrics; with a refresher, its health is in the exposition too."""
    if refresher is not None:
        process_metrics.registry.register(RollupHealthCollector(refresher))

    def exposition() -> bytes:
        return generate_latest(process_metrics.registry) + (usage.render() if usage else b"")

    table = RouteTable()

    @table.get("/metrics", Access.ADMIN)
    async def scrape(request: web.Request) -> web.Response:
        body = await in_query_thread(request, exposition)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return table
