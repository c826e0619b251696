"""The `cc-analytics` command: serve, migrate, claude-env, query."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import urllib.error
import urllib.request
from importlib.metadata import PackageNotFoundError, version

from cc_analytics import claude_env
from cc_analytics.config import (
    INGEST_OPTIONS,
    LOGGING_OPTIONS,
    NETWORK_OPTIONS,
    STORE_OPTIONS,
    ConfigError,
    Settings,
    add_options,
    build_settings,
)
from cc_analytics.store import migrate, store_target
from collector.store.client import StoreUnavailable, connect

log = logging.getLogger("cc_analytics")

EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = build_settings(args)
    except ConfigError as error:
        parser.error(str(error))
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return args.run(args, settings)
    except (StoreUnavailable, OSError) as error:
        log.error("%s", error)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cc-analytics",
        description="Self-hosted usage analytics for Claude Code: an OpenTelemetry (OTLP) collector that stores "
                    "everything Claude Code sends in ClickHouse (an embedded chDB store by default).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve", help="run the OTLP receivers, the writer and the read API in one process",
        description="Receive Claude Code telemetry over OTLP/gRPC and OTLP/HTTP and store every event, metric point "
                    "and span in ClickHouse. Applies pending migrations first. Stops cleanly on SIGINT/SIGTERM, "
                    "after flushing what it accepted.")
    for options, title in ((NETWORK_OPTIONS, "network"), (STORE_OPTIONS, "store"),
                           (INGEST_OPTIONS, "ingest"), (LOGGING_OPTIONS, "logging")):
        add_options(serve, options, title)
    serve.set_defaults(run=_run_serve)

    migrate_cmd = commands.add_parser(
        "migrate", help="create or update the ClickHouse tables, then exit",
        description="Apply the numbered schema migrations not yet recorded in <database>.schema_migrations. "
                    "Safe to run again; serve runs it on start.")
    add_options(migrate_cmd, STORE_OPTIONS, "store")
    add_options(migrate_cmd, LOGGING_OPTIONS, "logging")
    migrate_cmd.set_defaults(run=_run_migrate)

    env_cmd = commands.add_parser(
        "claude-env", help="print the environment that points Claude Code at this collector",
        description="Print the environment variables that make Claude Code send its telemetry here, for the "
                    "configured host and ports (same flags and CC_ANALYTICS_* variables as serve).")
    env_cmd.add_argument("--protocol", choices=claude_env.PROTOCOLS, default="grpc",
                         help="OTLP protocol Claude Code should use [default grpc]")
    env_cmd.add_argument("--format", choices=("shell", "settings-json"), default="shell", dest="output_format",
                         help="shell: export lines for a profile; settings-json: the env block of Claude Code's "
                              "settings.json (managed settings roll it out to a whole org) [default shell]")
    env_cmd.add_argument("--advertise-host", metavar="HOST",
                         help="host name clients use to reach the collector [default: the bind host, or this "
                              "machine's name when bound to all interfaces]")
    add_options(env_cmd, NETWORK_OPTIONS, "network")
    env_cmd.set_defaults(run=_run_claude_env)

    query_cmd = commands.add_parser(
        "query", help="run a read-only SQL query on the stored data",
        description="Run a read-only SQL query (the tables are events, metric_points and spans). Goes through the "
                    "API of a running serve, which owns the embedded store; opens the store directly when none runs.")
    query_cmd.add_argument("sql", help="the query, e.g. \"SELECT event_name, count() FROM events GROUP BY 1\"")
    query_cmd.add_argument("--format", dest="output_format", default="PrettyCompactMonoBlock",
                           help="ClickHouse output format: PrettyCompactMonoBlock, TabSeparatedWithNames, "
                                "CSVWithNames, JSONEachRow or JSON [default PrettyCompactMonoBlock]")
    add_options(query_cmd, NETWORK_OPTIONS, "network")
    add_options(query_cmd, STORE_OPTIONS, "store")
    query_cmd.set_defaults(run=_run_query)
    return parser


def _run_serve(_: argparse.Namespace, settings: Settings) -> int:
    from cc_analytics.serve import serve

    asyncio.run(serve(settings))
    return 0


def _run_migrate(_: argparse.Namespace, settings: Settings) -> int:
    target = store_target(settings)
    client = connect(target)
    try:
        applied = migrate(client, settings)
    finally:
        client.close()
    print(f"{target.description}: " + (f"applied {', '.join(applied)}" if applied else "schema is up to date"))
    return 0


def _run_claude_env(args: argparse.Namespace, settings: Settings) -> int:
    host = args.advertise_host or claude_env.reachable_host(settings.host)
    print(claude_env.render(host, settings, args.protocol, args.output_format))
    return 0


def _run_query(args: argparse.Namespace, settings: Settings) -> int:
    from aggregator.api import QUERY_FORMATS, run_readonly_query

    if args.output_format not in QUERY_FORMATS:
        print(f"unknown --format {args.output_format!r}; use one of {', '.join(QUERY_FORMATS)}", file=sys.stderr)
        return EXIT_USAGE
    host = claude_env.reachable_host(settings.host, local=True)
    url = f"http://{host}:{settings.api_port}/api/v1/query?format={args.output_format}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=args.sql.encode()), timeout=60) as reply:
            sys.stdout.buffer.write(reply.read())
        return 0
    except urllib.error.HTTPError as error:
        print(error.read().decode(errors="replace"), file=sys.stderr)
        return 1
    except (urllib.error.URLError, ConnectionError):
        pass  # no serve running: read the store directly
    client = connect(store_target(settings), use_database=True)
    try:
        sys.stdout.buffer.write(run_readonly_query(client, args.sql, args.output_format))
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


def _version() -> str:
    try:
        return version("cc-analytics")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
