"""`cc-analytics serve`: receivers, writer and read API in one process, around one store.

One process because the embedded chDB store has one owner; against a ClickHouse server the same code runs as
many stateless collector replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import signal
import ssl
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from aggregator.readonly_sql import connect_readonly
from aggregator.refresh import Refresher
from aggregator.rollup import Rollup
from aggregator.snapshot import Snapshots
from cc_analytics import claude_env
from cc_analytics.backend import contributions_for
from cc_analytics.config import Settings
from cc_analytics.github_fetching import GitHubFetching, github_fetching
from cc_analytics.page import PageFacts
from cc_analytics.read_api import build_read_api, serve_purger
from cc_analytics.store import migrate, store_target
from plumbing import malformed_requests
from plumbing.auth import TokenTable
from plumbing.connection_limits import ConnectionGuard, ConnectionLimits, connections_per_port, raise_open_file_limit
from collector.decode import Limits
from collector.github.delivery_counts import DeliveryCounts
from collector.github.signature import WebhookSecret, load_secrets
from collector.github.webhook import WebhookReceiver, stored_delivery_lookup
from collector.ingest import Ingestor
from collector.github import backfill_routes
from collector.grpc_receiver import bind, build_grpc_server
from collector.decoder_pool import DecoderPool
from collector.export_decoding import ExportDecoder
from collector.health import CollectorHealth
from collector.http_receiver import build_http_app
from collector.pipeline import BatchSettings, QueueSettings, build_pipeline
from collector.request_decoder import RequestDecoder
from plumbing.metrics_registry import ProcessMetrics
from plumbing.supervisor import Supervisor, TaskStatus
from plumbing.store.client import StoreTarget, connect, insert_columns
from collector.store.last_record import last_record_by_org
from plumbing.tls import TlsFiles
from collector.writer import BatchWriter
from exporters import metrics_endpoint

log = logging.getLogger("cc_analytics.serve")

SHUTDOWN_GRACE_SECONDS = 10
# How long each port's requests in flight may take to finish after a stop signal; then they are cut off (a client
# dribbling its body must not hold the stop), so the three ports and the flush stay within the grace.
RECEIVER_GRACE_SECONDS = 3
# How long a read waits for the requests acknowledged before it to reach the store (longer only in an outage).
READ_AFTER_WRITE_SECONDS = 5
# OTLP/gRPC, OTLP/HTTP and the API share the connections' part of the open-file limit.
RECEIVING_PORTS = 3


async def serve(settings: Settings) -> None:
    # Whatever has started is stopped in reverse order, on a clean stop and on a failed start alike:
    # receivers first, then the writer flushes what they accepted, then the store clients close.
    # Access files first: a bad token or certificate file stops serve before it opens the store.
    malformed_requests.install()
    connections = connection_limits(settings, raise_open_file_limit())
    tokens = (TokenTable.from_file(settings.auth_tokens, settings.privacy.stored_email) if settings.auth_tokens
              else None)
    webhook_secrets = load_secrets(settings.github_webhook_secret_file) if settings.github_webhook_secret_file else ()
    tls = settings.tls
    tls_context = tls.ssl_context() if tls else None
    async with contextlib.AsyncExitStack() as running:
        target = store_target(settings)
        write_client = connect(target)
        running.callback(write_client.close)
        migrate(write_client, settings)
        read_client = connect(target, use_database=True)
        running.callback(read_client.close)
        metrics = ProcessMetrics()
        supervisor = Supervisor()
        health = CollectorHealth(metrics, max_orgs=settings.max_label_values)
        health.seen_before(last_record_by_org(read_client, settings.database))

        decoder = RequestDecoder(decode_limits(settings), settings.default_org_id, settings.raw_ttl_days,
                                 settings.privacy)
        pipeline = build_pipeline(
            queue=QueueSettings(settings.queue_path, settings.queue_max_bytes, settings.queue_sync),
            batches=BatchSettings(settings.batch_max_rows, settings.batch_max_delay_ms / 1000,
                                  settings.queue_memory_rows),
            insert_columns=functools.partial(insert_columns, write_client, database=settings.database),
            decoder=decoder, health=health)
        running.push_async_callback(pipeline.close, SHUTDOWN_GRACE_SECONDS)
        pipeline.start(supervisor)
        writer, queue, ingestor = pipeline.writer, pipeline.queue, pipeline.ingestor

        rollup = rollup_for(settings, connect(target, use_database=True), running)
        usage = usage_exposition(target, settings, rollup, metrics, running, supervisor.status("metrics render"))
        refresher = Refresher(rollup, on_failure=metrics.store_errors.labels("rollup").inc,
                              after_run=usage.refresh if usage else None,
                              max_days_per_run=settings.aggregate_max_days,
                              contributions=contributions_for(settings, rollup))
        if settings.aggregate_interval:
            await _start_refreshing(running, refresher, settings.aggregate_interval, supervisor)
        github = _start_github(running, settings, target, pipeline, supervisor) if settings.github_token_file else None
        if settings.github_label_prs and github is None:
            log.warning("--github-label-prs does nothing without --github-token-file: no PR is labelled")
        backfills = backfill_routes.BackfillJobs(github.backfill if github else None,
                                                 settings.github_org_policy.refused)
        running.push_async_callback(backfills.stop)  # before the GitHub client and the queue close
        sql_client = connect_readonly(target) if settings.sql_endpoint else None
        if sql_client is not None:
            running.callback(sql_client.close)
        page_facts = PageFacts(settings.timezone)
        api = build_read_api(read_client, settings, refresher=refresher, tokens=tokens, queue=queue, writer=writer,
                             ping_store=lambda: write_client.command("SELECT 1"), background=supervisor,
                             purger=serve_purger(target, settings, rollup, running), metrics=metrics, usage=usage,
                             sql_client=sql_client,
                             github_webhook=github_webhook_receiver(target, settings, webhook_secrets, ingestor,
                                                                    metrics, running),
                             more_routes=(backfills.routes(),), health=health, page_facts=page_facts)
        api.middlewares.append(reads_after_queued_writes(writer))
        api_port = await _start_site(running, api, settings.host, settings.api_port, "API", limits=connections)
        decoders = DecoderPool(ExportDecoder(decoder, settings.max_request_bytes), workers=settings.decode_workers,
                               max_held_bytes=settings.decode_queue_bytes)
        await decoders.start()
        running.push_async_callback(decoders.close)  # after the receivers: what they hold is answered first
        grpc_server = build_grpc_server(ingestor, decoders, settings.max_request_bytes, tokens,
                                        connections=connections)
        running.push_async_callback(grpc_server.stop, RECEIVER_GRACE_SECONDS)
        grpc_port = bind(grpc_server, settings.host, settings.grpc_port, tls)
        await grpc_server.start()
        http_port = await _start_site(running, build_http_app(ingestor, decoders, settings.max_request_bytes, tokens),
                                      settings.host, settings.http_port, "OTLP/HTTP",
                                      tls_context, limits=connections)
        page_facts.claude_env = page_claude_env(settings, grpc_port, http_port)
        log.info("cc-analytics ready: OTLP/gRPC on %s:%d, OTLP/HTTP on %s:%d, API on %s:%d; %s; %s; %s",
                 settings.host, grpc_port, settings.host, http_port, settings.host, api_port, target.description,
                 _access_description(tokens, tls), decoders.description)

        await _wait_for_stop_signal()
        log.info("stopping: finishing requests in flight and flushing the write batch")
    log.info("stopped; %d rows stored in %d batches", writer.stats.rows, writer.stats.batches)


def page_claude_env(settings: Settings, grpc_port: int, http_port: int) -> str:
    """The block `cc-analytics claude-env` prints for this serve, with the ports it bound (0 asks for any)."""
    bound = dataclasses.replace(settings, grpc_port=grpc_port, http_port=http_port)
    return claude_env.render(claude_env.reachable_host(settings.host), bound, "grpc", "shell")


def decode_limits(settings: Settings) -> Limits:
    return Limits(settings.max_attribute_value_length, settings.max_attributes_per_record,
                  max_records_per_request=settings.max_records_per_request,
                  max_attributes_per_request=settings.max_attributes_per_request)


def connection_limits(settings: Settings, open_file_limit: int) -> ConnectionLimits:
    """The limits of each port: by default the ports share half the open-file limit, the rest is the store's."""
    limits = ConnectionLimits(settings.max_connections or connections_per_port(open_file_limit, RECEIVING_PORTS),
                              settings.header_timeout, settings.idle_timeout)
    log.info("open-file limit %d; at most %d connections on each of the %d ports, request headers within %d s, "
             "idle connections closed after %d s", open_file_limit, limits.max_connections, RECEIVING_PORTS,
             settings.header_timeout, settings.idle_timeout)
    return limits


def _access_description(tokens: TokenTable | None, tls: TlsFiles | None) -> str:
    auth = "bearer tokens required" if tokens else "no auth tokens"
    return f"{auth}, {'mutual TLS' if tls and tls.mutual else 'TLS' if tls else 'no TLS'} on the OTLP receivers"


def reads_after_queued_writes(writer: BatchWriter):
    """Reads and aggregations see every export acknowledged before them: they wait for the queue to be inserted."""

    @web.middleware
    async def settled_first(request: web.Request, handler):
        if request.path.startswith(("/api/", "/v1/")):
            await writer.settled(READ_AFTER_WRITE_SECONDS)
        return await handler(request)

    return settled_first


def github_webhook_receiver(target: StoreTarget, settings: Settings, secrets: tuple[WebhookSecret, ...],
                            ingestor: Ingestor, metrics: ProcessMetrics,
                            running: contextlib.AsyncExitStack) -> WebhookReceiver | None:
    """POST /github/webhook's receiver, when serve has secrets to check deliveries with."""
    if not secrets:
        return None
    orgs = settings.github_org_policy
    if len(set(orgs.org_by_owner.values())) > 1 and any(not secret.owner for secret in secrets):
        log.warning("a GitHub webhook secret without @OWNER signs deliveries for every owner of --github-orgs, "
                    "so whoever knows it can store rows in each of their orgs; give each owner a secret of its own "
                    "(@OWNER SECRET lines)")
    # Its own client: the redelivery lookup never waits behind the API's reads.
    client = connect(target, use_database=True)
    running.callback(client.close)
    receiver = WebhookReceiver(secrets=secrets, ingestor=ingestor, orgs=orgs,
                               privacy=settings.privacy,
                               counts=DeliveryCounts(metrics, stored_delivery_lookup(client, settings.database)))
    running.callback(receiver.close)
    return receiver


def rollup_for(settings: Settings, client, running: contextlib.AsyncExitStack) -> Rollup:
    # Its own client: a long rebuild never holds up inserts or API reads.
    running.callback(client.close)
    return Rollup(client, settings.database, settings.timezone, settings.team_attribute)


def usage_exposition(target: StoreTarget, settings: Settings, rollup: Rollup, metrics: ProcessMetrics,
                     running: contextlib.AsyncExitStack, status: TaskStatus) -> metrics_endpoint.UsageExposition | None:
    if not settings.usage_metrics:
        return None
    # Its own client: the rollup timer renders it too, and a render never holds up API reads.
    client = connect(target, use_database=True)
    running.callback(client.close)
    usage = metrics_endpoint.UsageExposition(
        Snapshots(client, settings.database), rollup.today, lambda day: rollup.day_bounds_ns(day)[0] / 1e9,
        settings.max_user_series, settings.max_label_values, settings.hash_user_labels, metrics, status,
        max_usage_names=settings.max_usage_names)
    running.callback(usage.close)  # unwound before the client closes
    return usage


async def _start_refreshing(running: contextlib.AsyncExitStack, refresher: Refresher, interval: int,
                            supervisor: Supervisor) -> None:
    """Refresh the rollups on a timer, under the supervisor, until the stack unwinds; a run in progress finishes
    first."""
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aggregate")
    running.callback(thread.shutdown, wait=True)
    loop = asyncio.get_running_loop()
    task = supervisor.spawn("rollup timer", lambda status: refresher.run_every(
        interval, lambda work: loop.run_in_executor(thread, work), status))
    _cancel_on_unwind(running, task)


def _start_github(running: contextlib.AsyncExitStack, settings: Settings, target: StoreTarget, pipeline,
                  supervisor: Supervisor) -> GitHubFetching:
    """The REST fetcher (and labeller) every --github-fetch-interval seconds, under the supervisor; its rows go
    through the write-ahead queue like an export's. Raises GitHubTokenError for a token file it cannot use."""
    client = connect(target, use_database=True)  # its own: a slow work-list query holds no API read
    running.callback(client.close)
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="github")
    running.callback(thread.shutdown, wait=True)
    loop = asyncio.get_running_loop()
    fetching = github_fetching(settings, client, pipeline.ingestor.store_rows,
                               run_blocking=lambda work: loop.run_in_executor(thread, work),
                               settle=lambda: pipeline.writer.settled(READ_AFTER_WRITE_SECONDS))
    running.push_async_callback(fetching.github.close)
    after_pass = fetching.labeller.label if fetching.labeller else None
    task = supervisor.spawn("github fetcher", lambda status: fetching.fetcher.run_every(
        settings.github_fetch_interval, status, after_pass))
    _cancel_on_unwind(running, task)
    return fetching


def _cancel_on_unwind(running: contextlib.AsyncExitStack, task: asyncio.Task) -> None:
    """Cancel the task when the stack unwinds, and wait until it has stopped."""

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    running.push_async_callback(stop)


async def _start_site(running: contextlib.AsyncExitStack, app: web.Application, host: str, port: int,
                      what: str, ssl_context: ssl.SSLContext | None = None, *, limits: ConnectionLimits) -> int:
    """Serve app on host:port, within the connection limits, until the stack unwinds; returns the port bound."""
    guard = ConnectionGuard(limits, what)
    # Bodies are decompressed by the receiver itself, under its size limit.
    runner = guard.runner(app, auto_decompress=False, access_log=None, handle_signals=False,
                          shutdown_timeout=RECEIVER_GRACE_SECONDS)
    await runner.setup()
    running.push_async_callback(runner.cleanup)
    try:
        await guard.site(runner, host, port, ssl_context).start()
    except OSError as error:
        raise OSError(f"cannot listen for {what} on {host}:{port}: {error.strerror or error}") from None
    return runner.addresses[0][1]


async def _wait_for_stop_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
