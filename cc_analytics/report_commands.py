"""`cc-analytics aggregate` and `cc-analytics report`: through a running serve's API, or on the store directly.

An embedded store has one owner. When a serve runs, these commands ask it (its --timezone and --team-attribute
apply); when none runs, they open the store themselves.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import date

from aggregator.params import BadParameter, parse_month, parse_range
from aggregator.refresh import Refresher, days_between
from aggregator.reports import Filters, Reports
from aggregator.rollup import Rollup
from cc_analytics import local_api
from cc_analytics.config import Settings
from cc_analytics.progress import ProgressBar
from cc_analytics.store import open_store, store_target
from exporters import users_csv

EXIT_USAGE = 2

USER_TABLE = (("member", lambda r: r["email"] or r["user_key"]), ("org", "org_id"), ("team", "team"),
              ("lines accepted", "lines_accepted"), ("accept rate", lambda r: _rate(r["accept_rate"])),
              ("edits", "edits_accepted"), ("sessions", "sessions"), ("days", "days_active"), ("commits", "commits"),
              ("PRs", "pull_requests"), ("cost USD", "cost_usd"))
DAILY_TABLE = (("date", "date"), ("org", "org_id"), ("active users", "active_users"), ("sessions", "sessions"),
               ("lines accepted", "lines_accepted"), ("accept rate", lambda r: _rate(r["accept_rate"])),
               ("commits", "commits"), ("PRs", "pull_requests"), ("prompts", "prompts"), ("cost USD", "cost_usd"))


def day_range(args: argparse.Namespace, command: str) -> tuple[date, date] | None:
    """--from and --to, or None once the reason they cannot be used is printed."""
    try:
        return parse_range(args.first, args.last)
    except BadParameter as error:
        print(f"cc-analytics {command}: {error}", file=sys.stderr)
        return None


def run_aggregate(args: argparse.Namespace, settings: Settings) -> int:
    if not (bounds := day_range(args, "aggregate")):
        return EXIT_USAGE
    first, last = bounds
    days = days_between(first, last)
    bar = ProgressBar(len(days), "days")
    records = user_days = 0
    try:
        for number, day in enumerate(days, 1):
            reply = json.loads(local_api.call(settings, "POST", "/api/v1/aggregate",
                                              {"from": day.isoformat(), "to": day.isoformat()}))
            records, user_days = records + reply["records"], user_days + reply["user_days"]
            bar.update(number, f"{day}: {reply['records']} records")
        where = "through the running serve"
    except local_api.ApiError as error:
        print(f"cc-analytics aggregate: {error}", file=sys.stderr)
        return 1
    except local_api.NoServeRunning:
        def progress(rebuilt, number, total):
            bar.update(number, f"{rebuilt.day}: {rebuilt.records} records")

        with open_store(settings) as client:
            rollup = Rollup(client, settings.database, settings.timezone, settings.team_attribute)
            rebuilt = Refresher(rollup).rebuild(first, last, progress)
        records, user_days = sum(d.records for d in rebuilt), sum(d.users for d in rebuilt)
        where = store_target(settings).description
    print(f"aggregated {len(days)} days, {first} to {last}: {records} records, {user_days} user-days ({where})")
    return 0


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    """The same question asked of a running serve's API, or of the Reports on the store when none runs."""
    try:
        if args.report == "users":
            month = parse_month("--month", args.month or f"{date.today():%Y-%m}")
            filters = Filters(org=args.org, team=args.team, search=args.search)
            parameters = {"month": f"{month:%Y-%m}", "q": args.search}
            path, columns = "/api/v1/users", USER_TABLE

            def from_store(reports: Reports) -> list[dict]:
                return reports.users(month, filters)
        else:
            first, last = parse_range(args.first, args.last)
            filters = Filters(org=args.org, team=args.team)
            parameters = {"from": first.isoformat(), "to": last.isoformat()}
            path, columns = "/api/v1/daily", DAILY_TABLE

            def from_store(reports: Reports) -> list[dict]:
                return reports.daily(first, last, filters)
    except BadParameter as error:
        print(f"cc-analytics report {args.report}: {error}", file=sys.stderr)
        return EXIT_USAGE
    parameters.update(org=args.org, team=args.team)
    try:
        rows = json.loads(local_api.call(settings, "GET", path, parameters))["data"]
    except local_api.ApiError as error:
        print(f"cc-analytics report {args.report}: {error}", file=sys.stderr)
        return 1
    except local_api.NoServeRunning:
        with open_store(settings) as client:
            rows = from_store(Reports(client, settings.database))
    sys.stdout.write(render(rows, args.report, args.output_format, columns))
    return 0


def render(rows: list[dict], report: str, output_format: str, columns) -> str:
    if output_format == "json":
        return json.dumps(rows, indent=2) + "\n"
    if output_format == "csv":
        if report == "users":
            return users_csv.render(rows).decode()
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["date"], lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    return text_table(rows, columns)


def text_table(rows: list[dict], columns) -> str:
    if not rows:
        return "no data for this period (is serve running, or has `cc-analytics aggregate` been run?)\n"
    cells = [[_text(column(row) if callable(column) else row[column]) for _, column in columns] for row in rows]
    headers = [title for title, _ in columns]
    widths = [max(len(line[i]) for line in [headers, *cells]) for i in range(len(headers))]
    lines = ["  ".join(text.ljust(width) if i < 3 else text.rjust(width)
                       for i, (text, width) in enumerate(zip(line, widths))) for line in [headers, *cells]]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


def _text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
