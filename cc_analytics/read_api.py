"""The read API on the API port, assembled in one place from the route tables of the modules that answer on it.

Each module declares its routes next to their handlers, with their access level (plumbing/routes.py); this joins
the aggregator's reports and purge, the collector's readiness probe, and the exporters' Admin-API shape and
/metrics, behind the token check when serve has --auth-tokens.
"""

from __future__ import annotations

import contextlib
import functools
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

from aiohttp import web

from aggregator import api, purge, usage_api, value_api
from aggregator.api import ContributionFormat, UserFormat
from aggregator.refresh import Refresher
from aggregator.rollup import Rollup, last_run_version
from cc_analytics import page, sign_in
from cc_analytics.backend import purger
from cc_analytics.config import Settings
from collector import readiness
from collector.github import webhook
from collector.github.webhook import WebhookReceiver
from collector.health import CollectorHealth
from collector.write_ahead_log import QueueDiskRefused, WriteAheadLog
from collector.writer import BatchWriter
from exporters import admin_api, metrics_endpoint, users_csv
from plumbing.access import access_control
from plumbing.allowed_hosts import refuse_unknown_hosts
from plumbing.auth import TokenTable
from plumbing.metrics_registry import ProcessMetrics
from plumbing.routes import RouteTable, mount
from plumbing.sessions import Sessions
from plumbing.sign_in_attempts import SignInAttempts
from plumbing.store.client import StoreTarget, connect
from plumbing.supervisor import Supervisor

# How long a purge waits for the writer to store what is queued before it (longer only in a store outage).
PURGE_SETTLE_SECONDS = 30

CSV = "text/csv; charset=utf-8"
USER_FORMATS = {"csv": UserFormat(users_csv.render, CSV, users_csv.file_name)}
CONTRIBUTION_FORMATS = {"csv": ContributionFormat(users_csv.write_rows, CSV, "csv")}


def build_read_api(client, settings: Settings, *, refresher: Refresher | None, tokens: TokenTable | None,
                   queue: WriteAheadLog, writer: BatchWriter, ping_store: Callable[[], None], background: Supervisor,
                   purger: purge.Purger, metrics: ProcessMetrics, usage: metrics_endpoint.UsageExposition | None,
                   sql_client=None, github_webhook: WebhookReceiver | None = None,
                   more_routes: tuple[RouteTable, ...] = (), health: CollectorHealth | None = None,
                   page_facts: page.PageFacts | None = None) -> web.Application:
    """Every route of the API port; it refuses to start if one was added without an access level. SQL runs on
    sql_client when given (serve gives it its own), so a slow query holds no other read. Without github_webhook
    (no --github-webhook-secret-file) POST /github/webhook answers 404 naming the flag. The page at / shows
    page_facts (serve fills its claude-env block once the receivers listen) and health's last records."""
    # With tokens a rebinding page cannot call anything (it has no token, and the cookie of a signed-in browser
    # is SameSite=Strict, for this host only); without, only known hosts are answered.
    sessions = Sessions(settings.session_hours * 3600)
    guard = access_control(tokens, sessions) if tokens else refuse_unknown_hosts(settings.allowed_host_names)
    app = api.new_api_app(client, settings.database, [guard])
    mount(app, (
        api.routes(client, settings.database, refresher, USER_FORMATS, sql_client, CONTRIBUTION_FORMATS),
        usage_api.routes(client, settings.database, CONTRIBUTION_FORMATS),
        purge.routes(purger, store_queued=functools.partial(store_queued_records, queue, writer),
                     forget_stored=queue.forget_confirmed),
        readiness.routes(queue, writer, ping_store, background),
        admin_api.routes(),
        metrics_endpoint.routes(metrics, usage, refresher if settings.aggregate_interval else None),
        webhook.routes(github_webhook),
        value_api.routes(client, settings.database, lambda: datetime.now(ZoneInfo(settings.timezone)).date(),
                         CONTRIBUTION_FORMATS),
        page.routes(page_facts or page.PageFacts(settings.timezone), health.last_records if health else dict,
                    functools.partial(last_run_version, client, settings.database)),
        sign_in.routes(tokens, sessions, SignInAttempts(), secure_cookie=settings.tls is not None),
        *more_routes,
    ))
    return app


async def store_queued_records(queue: WriteAheadLog, writer: BatchWriter) -> bool:
    """Before a purge: what is queued goes into the store (and is then confirmed); the roll first puts it in
    segments of its own, which the confirm deletes, so none of it stays in the queue's directory."""
    try:
        queue.roll()
    except QueueDiskRefused:  # logged by the queue; the purge is refused with a retry, like an export
        return False
    return await writer.settled(PURGE_SETTLE_SECONDS)


def serve_purger(target: StoreTarget, settings: Settings, rollup: Rollup,
                 running: contextlib.AsyncExitStack) -> purge.Purger:
    """serve's purger for POST /api/v1/purge: its own store client, holding the rollup's lock while it deletes."""
    client = connect(target, use_database=True)
    running.callback(client.close)
    return purger(client, settings, rollup.lock)
