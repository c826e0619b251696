"""GET /metrics on the API port: the collector's health, the aggregator's, and the usage figures.

The usage figures are read from the rollups when Prometheus scrapes (not counters kept in memory), so every
replica that publishes them shows the same numbers and nothing is lost on restart. The health families are
prometheus-client collectors.
"""

from __future__ import annotations

import logging
import threading
from datetime import date
from typing import Callable

from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily

from aggregator.api import in_query_thread
from aggregator.refresh import Refresher
from aggregator.snapshot import Snapshots
from collector.health import CollectorHealth
from collector.log_once import RateLimitedLog
from exporters import text_format
from exporters.prometheus import PREFIX, usage_families

log = logging.getLogger(__name__)

# The classic text format every Prometheus 2.x reads (prometheus-client's own default now names version 1.0.0).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class UsageExposition:
    """The usage families as of today, read from the rollups when Prometheus scrapes.

    The text is kept until the rollups change (a new run) or the day does: scrapes in between read only the
    rollups' version. serve renders it again right after each rollup run, so scrapes rarely wait for it. A failed read publishes no usage (the health families tell why) and counts a store error.
    """

    def __init__(self, snapshots: Snapshots, today: Callable[[], date], day_start: Callable[[date], float],
                 max_user_series: int, hash_user_labels: bool, health: CollectorHealth):
        self._snapshots = snapshots
        self._today = today
        self._day_start = day_start
        self._max_user_series = max_user_series
        self._hash_user_labels = hash_user_labels
        self._health = health
        self._failure_log = RateLimitedLog(log, logging.ERROR)
        self._text = b""
        self._text_of: tuple[date, int] | None = None
        self._rendering = threading.Lock()  # scrapes and the rollup timer both call render()

    def render(self) -> bytes:
        try:
            with self._rendering:
                state = (self._today(), self._snapshots.version())
                if state != self._text_of:
                    snapshot = self._snapshots.as_of(state[0], self._max_user_series)
                    self._text = text_format.render(
                        usage_families(snapshot, self._hash_user_labels, self._day_start))
                    self._text_of = state
        except Exception as error:  # the store may be down: publish health, which tells so, and no usage
            self._health.store_errors.labels("read").inc()
            self._failure_log.log(type(error).__name__, "cannot read the rollups for /metrics: %s", error)
            return b""
        return self._text


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
        yield success
        yield duration


def add_routes(app: web.Application, health: CollectorHealth, usage: UsageExposition | None,
               refresher: Refresher | None) -> None:
    if refresher is not None:
        health.registry.register(RollupHealthCollector(refresher))

    def exposition() -> bytes:
        return generate_latest(health.registry) + (usage.render() if usage else b"")

    async def metrics(request: web.Request) -> web.Response:
        body = await in_query_thread(request, exposition)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/metrics", metrics)
