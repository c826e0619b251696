"""The `cc-analytics` command: serve, migrate, aggregate, report, export, claude-env, query."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from importlib.metadata import PackageNotFoundError, version

from aggregator.readonly_sql import QUERY_FORMATS
from aggregator.usage import KINDS as USAGE_KINDS
from aggregator.usage_report import GROUPS as USAGE_GROUPS
from cc_analytics import (claude_env, export_commands, github_command, log_format, purge_command, report_commands,
                          value_command)
from cc_analytics.backend import Refused, open_backend
from cc_analytics.config import (
    AGGREGATE_OPTIONS,
    ACCESS_OPTIONS,
    CLIENT_OPTIONS,
    EMAIL_OPTIONS,
    GITHUB_SERVE_OPTIONS,
    IDENTITY_OPTIONS,
    INGEST_OPTIONS,
    LOGGING_OPTIONS,
    MEMBER_SERIES_OPTIONS,
    METRICS_OPTIONS,
    NETWORK_OPTIONS,
    PRIVACY_OPTIONS,
    SCHEDULE_OPTIONS,
    STORE_OPTIONS,
    ConfigError,
    Settings,
    add_options,
    build_settings,
)
from cc_analytics.store import migrate, store_target
from plumbing.store.client import StoreUnavailable, connect
from collector.github.signature import SecretFileError
from plumbing.auth import TokenFileError
from plumbing.tls import TlsFileError
from collector.github.rest_client import GitHubTokenError
from collector.write_ahead_log import QueueUnavailable

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
    log_format.configure(settings.log_level, settings.log_format)
    try:
        return args.run(args, settings)
    except (StoreUnavailable, QueueUnavailable, OSError) as error:
        log.error("%s", error)
        return EXIT_UNAVAILABLE
    except (TokenFileError, TlsFileError, SecretFileError, GitHubTokenError) as error:
        log.error("%s", error)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cc-analytics",
        description="Self-hosted usage analytics for Claude Code: an OpenTelemetry (OTLP) collector that stores "
                    "everything Claude Code sends in ClickHouse (an embedded chDB store by default) and rolls it "
                    "up into daily org, team and member figures.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve", help="run the OTLP receivers, the writer, the aggregator and the read API in one process",
        description="Receive Claude Code telemetry over OTLP/gRPC and OTLP/HTTP and store every event, metric point "
                    "and span in ClickHouse; keep the daily rollups current (today, yesterday and days that "
                    "received late records, every --aggregate-interval seconds) and answer the read API: "
                    "/api/v1/daily, /api/v1/users, /api/v1/contributions, /api/v1/repositories, "
                    "/v1/organizations/usage_report/claude_code, "
                    "POST /api/v1/aggregate, and Prometheus /metrics. Applies pending migrations first. Stops cleanly on SIGINT/SIGTERM, "
                    "after flushing what it accepted.")
    for options, title in ((NETWORK_OPTIONS, "network"), (ACCESS_OPTIONS, "access"), (STORE_OPTIONS, "store"),
                           (INGEST_OPTIONS, "ingest"), (PRIVACY_OPTIONS, "privacy"),
                           (AGGREGATE_OPTIONS + SCHEDULE_OPTIONS + IDENTITY_OPTIONS, "aggregation"),
                           (METRICS_OPTIONS, "metrics"), (GITHUB_SERVE_OPTIONS, "github"),
                           (LOGGING_OPTIONS, "logging")):
        add_options(serve, options, title)
    serve.set_defaults(run=_run_serve)

    migrate_cmd = commands.add_parser(
        "migrate", help="create or update the ClickHouse tables, then exit",
        description="Apply the numbered schema migrations not yet recorded in <database>.schema_migrations. "
                    "Safe to run again; serve runs it on start.")
    add_options(migrate_cmd, STORE_OPTIONS, "store")
    add_options(migrate_cmd, LOGGING_OPTIONS, "logging")
    migrate_cmd.set_defaults(run=_run_migrate)

    aggregate_cmd = commands.add_parser(
        "aggregate", help="rebuild the daily rollups of a range of days (backfill), then exit",
        description="Rebuild every daily figure of the days from --from to --to (inclusive) from the raw rows. "
                    "Idempotent: running it again gives the same result. Goes through a running serve (whose "
                    "--timezone, --team-attribute and --identity-map apply), else opens the store itself. "
                    "Rebuilds the contribution figures of PRs opened or merged on those days too. Shows a "
                    "progress bar.")
    _add_day_range(aggregate_cmd)
    for options, title in ((NETWORK_OPTIONS + CLIENT_OPTIONS, "network"), (STORE_OPTIONS, "store"),
                           (EMAIL_OPTIONS, "privacy"), (AGGREGATE_OPTIONS + IDENTITY_OPTIONS, "aggregation"),
                           (LOGGING_OPTIONS, "logging")):
        add_options(aggregate_cmd, options, title)
    aggregate_cmd.set_defaults(run=report_commands.run_aggregate)

    report_cmd = commands.add_parser(
        "report", help="print the members report of a month, the daily org figures or the contributions",
        description="Read the daily rollups: `report users` lists every member month to date, lines accepted "
                    "first; `report daily` prints one row per day and org; `report contributions` the merged pull "
                    "requests and lines with and without Claude Code; `report usage` the skills, MCP servers, "
                    "agents and tools used; `report value` and `report forecast` the cost per unit and the month's spend. "
                    "Through a running serve, else from "
                    "the store directly.")
    kinds = report_cmd.add_subparsers(title="reports", metavar="REPORT", dest="report", required=True)
    users_cmd = kinds.add_parser("users", help="every member's figures month to date",
                                 description="Every member's figures for a month, lines accepted first.")
    users_cmd.add_argument("--month", metavar="YYYY-MM", help="the month [default: this month]")
    users_cmd.add_argument("--search", metavar="TEXT", help="only members whose email or user key contains TEXT")
    daily_cmd = kinds.add_parser("daily", help="org figures per day",
                                 description="One row per day and organization.")
    _add_day_range(daily_cmd)
    contributions_cmd = kinds.add_parser(
        "contributions", help="merged pull requests and lines with and without Claude Code",
        description="Pull requests merged (with Claude Code, assisted, all), their lines, PRs opened and merged "
                    "PRs per active member, from GitHub's webhooks and REST API joined with the telemetry.")
    _add_day_range(contributions_cmd)
    contributions_cmd.add_argument("--group", choices=("day", "user", "repo"), default="day",
                                   help="one row per day and org, per member, or per repository [default day]")
    contributions_cmd.add_argument("--repo", metavar="OWNER/NAME", help="only this GitHub repository")
    repositories_cmd = kinds.add_parser(
        "repositories", help="figures per repository (OTEL_METRICS_INCLUDE_REPOSITORY=1)",
        description="Lines, edits, commits, PRs, tokens, cost, sessions and members per org and repository, lines "
                    "accepted first; the repository \"\" is what was done where Claude Code reported none.")
    _add_day_range(repositories_cmd)
    repositories_cmd.add_argument("--repo", metavar="OWNER/NAME", help="only this repository")
    value_cmd = kinds.add_parser(
        "value", help="what Claude Code costs per session, commit, PR, line and member, and who spends most",
        description="Per organization over the days: spend, cost per session, commit, pull request, accepted "
                    "line, active member and merged PR with Claude Code, the top spenders and how concentrated "
                    "the spend is.")
    _add_day_range(value_cmd)
    value_cmd.add_argument("--top", type=int, default=10, help="top spenders listed per org [default 10]")
    forecast_cmd = kinds.add_parser(
        "forecast", help="this month's spend so far and its month-end forecast",
        description="Per organization: the month's estimated cost to date (today included) and its forecast for "
                    "the whole month: each day left gets the average spend of the same weekday over the 28 days "
                    "ending yesterday.")
    forecast_cmd.add_argument("--month", metavar="YYYY-MM", help="the month [default: this month]")
    usage_cmd = kinds.add_parser(
        "usage", help="skills, MCP servers, agents, tools, hooks ... used, and feature adoption",
        description="Uses, successes, failures, durations, cost and tokens per skill, MCP server and tool, plugin, "
                    "agent, query source, tool, hook, permission mode and slash command; or, with --adoption, the "
                    "share of active members who used skills, MCP, subagents, hooks and plan mode per day and team.")
    _add_day_range(usage_cmd)
    usage_cmd.add_argument("--kind", choices=USAGE_KINDS, help="only this kind")
    usage_cmd.add_argument("--group", choices=USAGE_GROUPS, default="name",
                           help="one row per kind and name, or per member, kind and name [default name]")
    usage_cmd.add_argument("--adoption", action="store_true", help="feature adoption per day, org and team instead")
    for kind in (users_cmd, daily_cmd, contributions_cmd, repositories_cmd, value_cmd, forecast_cmd, usage_cmd):
        kind.add_argument("--format", dest="output_format", choices=("table", "csv", "json"), default="table",
                          help="table for reading, csv for spreadsheets, json for scripts [default table]")
        kind.add_argument("--org", metavar="ID", help="only this organization.id")
        kind.add_argument("--team", metavar="TEAM", help="only members of this team")
        add_options(kind, NETWORK_OPTIONS + CLIENT_OPTIONS, "network")
        add_options(kind, STORE_OPTIONS, "store")
        kind.set_defaults(run=report_commands.run_report)
    value_cmd.set_defaults(run=value_command.run_value_report)
    forecast_cmd.set_defaults(run=value_command.run_forecast_report)

    export_cmd = commands.add_parser(
        "export", help="write the daily history in another format (OpenMetrics for Prometheus backfill)")
    formats = export_cmd.add_subparsers(title="formats", metavar="FORMAT", dest="export_format", required=True)
    openmetrics_cmd = formats.add_parser(
        "openmetrics", help="the /metrics usage families of each past day, for promtool backfill",
        description="Write what /metrics would have shown on each day from --from to --to as OpenMetrics text, "
                    "each day's figures repeated every --step, for `promtool tsdb create-blocks-from openmetrics "
                    "FILE DATA_DIR`, so Prometheus has history from its first start. Goes through a running serve, "
                    "else reads the store directly.")
    _add_day_range(openmetrics_cmd)
    openmetrics_cmd.add_argument("--step", type=export_commands.parse_step, default=300, metavar="DURATION",
                                 help="time between samples of a day, e.g. 300, 5m, 1h; keep it at or below "
                                      "Prometheus' query lookback (5m by default) so graphs have no gaps "
                                      "[default 5m]")
    openmetrics_cmd.add_argument("--output", "-o", default="-", metavar="FILE",
                                 help="file to write, - for stdout [default -]")
    for options, title in ((NETWORK_OPTIONS + CLIENT_OPTIONS, "network"), (STORE_OPTIONS, "store"),
                           (AGGREGATE_OPTIONS, "aggregation"), (MEMBER_SERIES_OPTIONS, "metrics")):
        add_options(openmetrics_cmd, options, title)
    openmetrics_cmd.set_defaults(run=export_commands.run_export)

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
    env_cmd.add_argument("--include-repository", choices=("yes", "no"), default="yes",
                         help="yes: Claude Code names the git repository (owner/name of the origin) on each "
                              "record, for the repository figures and the contributions' assisted level "
                              "(OTEL_METRICS_INCLUDE_REPOSITORY=1) [default yes]")
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
    add_options(query_cmd, NETWORK_OPTIONS + CLIENT_OPTIONS, "network")
    add_options(query_cmd, STORE_OPTIONS, "store")
    query_cmd.set_defaults(run=_run_query)

    purge_command.add_parser(commands)
    github_command.add_parser(commands)
    return parser


def _add_day_range(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="first", required=True, metavar="YYYY-MM-DD", help="first day")
    parser.add_argument("--to", dest="last", required=True, metavar="YYYY-MM-DD", help="last day (inclusive)")


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
    print(claude_env.render(host, settings, args.protocol, args.output_format, args.include_repository == "yes"))
    return 0


def _run_query(args: argparse.Namespace, settings: Settings) -> int:
    if args.output_format not in QUERY_FORMATS:
        print(f"unknown --format {args.output_format!r}; use one of {', '.join(QUERY_FORMATS)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with open_backend(settings) as backend:
            sys.stdout.buffer.write(backend.query(args.sql, args.output_format))
    except Refused as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def _version() -> str:
    try:
        return version("cc-analytics")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
