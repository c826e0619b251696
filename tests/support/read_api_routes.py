"""The read API app serve builds, built by the same function on real parts (nothing started), and its route table:
what the access tests walk, so a route added to serve is checked without anyone listing it."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from aggregator.refresh import Refresher
from aggregator.rollup import Rollup
from cc_analytics.backend import purger
from cc_analytics.config import Settings
from cc_analytics.read_api import build_read_api
from collector.health import CollectorHealth
from collector.pipeline import BatchSettings, QueueSettings, build_pipeline
from collector.request_decoder import RequestDecoder
from plumbing.metrics_registry import ProcessMetrics
from plumbing.routes import ROUTE_ACCESS, Access
from plumbing.supervisor import Supervisor
from tests.support.claude_records import DAY

# Accepted by every report, ignored by the other routes: each answers with the fed day.
DAY_PARAMETERS = {"from": DAY.isoformat(), "to": DAY.isoformat(), "month": f"{DAY:%Y-%m}",
                  "starting_at": DAY.isoformat(), "day": DAY.isoformat()}


def serves_read_api(store, tmp_path):
    settings = Settings(database=store.database, aggregate_interval=0)
    pipeline = build_pipeline(queue=QueueSettings(str(tmp_path / "queue"), 1 << 20),
                              batches=BatchSettings(10, 1, 10), insert_columns=lambda *_: None,
                              decoder=RequestDecoder(), health=CollectorHealth())
    rollup = Rollup(store.client, store.database)
    return build_read_api(store.client, settings, refresher=Refresher(rollup), tokens=None, queue=pipeline.queue,
                          writer=pipeline.writer, ping_store=lambda: store.client.command("SELECT 1"),
                          background=Supervisor(), purger=purger(store.client, settings), metrics=ProcessMetrics(),
                          usage=None)


def declared_routes(app) -> dict[tuple[str, str], Access]:
    """(method, path) -> level of every route a client calls (HEAD is GET's twin)."""
    levels = app[ROUTE_ACCESS]
    return {(route.method, route.resource.canonical): levels[route] for route in app.router.routes()
            if route.method != "HEAD"}


def call(serve, method: str, path: str, token: str | None = None, **parameters) -> tuple[int, bytes]:
    url = f"http://{serve.host}:{serve.api_port}{path}?{urllib.parse.urlencode({**DAY_PARAMETERS, **parameters})}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, method=method, headers=headers, data=None)
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
