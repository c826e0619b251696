"""`cc-analytics aggregate` and `cc-analytics report`: asked of the backend (a running serve, else the store).

An embedded store has one owner. When a serve runs, these commands ask it (its --timezone and --team-attribute
apply); when none runs, they open the store themselves (see backend.py).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import date
from typing import Any, Callable

from aggregator.contributions.report import GROUP_COLUMNS, ContributionFilters
from aggregator.params import BadParameter, parse_month, parse_range, parse_repository
from aggregator.refresh import days_between
from aggregator.reports import Filters
from aggregator.repositories import COLUMNS as REPOSITORY_COLUMNS, RepositoryFilters
from aggregator.usage import FEATURES
from aggregator.usage_report import ADOPTION_COLUMNS, GROUP_COLUMNS as USAGE_COLUMNS, UsageFilters
from cc_analytics.backend import Refused, open_backend
from cc_analytics.config import Settings
from cc_analytics.progress import ProgressBar
from exporters import users_csv

EXIT_USAGE = 2

USER_TABLE = (("member", lambda r: r["email"] or r["user_key"]), ("org", "org_id"), ("team", "team"),
              ("lines accepted", "lines_accepted"), ("accept rate", lambda r: _rate(r["accept_rate"])),
              ("edits", "edits_accepted"), ("sessions", "sessions"), ("days", "days_active"), ("commits", "commits"),
              ("PRs", "pull_requests"), ("cost USD", "cost_usd"))
DAILY_TABLE = (("date", "date"), ("org", "org_id"), ("active users", "active_users"), ("sessions", "sessions"),
               ("lines accepted", "lines_accepted"), ("accept rate", lambda r: _rate(r["accept_rate"])),
               ("commits", "commits"), ("PRs", "pull_requests"), ("prompts", "prompts"), ("cost USD", "cost_usd"))

_CONTRIBUTION_FIGURES = (("PRs merged", "prs_merged"), ("with CC", "prs_merged_with_cc"),
                         ("share with CC", lambda r: _rate(r["share_with_cc"])), ("assisted", "prs_merged_assisted"),
                         ("lines merged", "lines_merged"), ("lines with CC", "lines_merged_with_cc"),
                         ("active members", "active_members"), ("PRs per active", "prs_merged_per_active_member"),
                         ("PRs opened", "prs_opened"))
CONTRIBUTION_TABLES = {
    "day": (("date", "date"), ("org", "org_id"), *_CONTRIBUTION_FIGURES),
    "user": (("member", "member"), ("login", "author_login"), ("team", "team"), ("org", "org_id"),
             *_CONTRIBUTION_FIGURES),
    "repo": (("repository", "repository"), ("org", "org_id"), *_CONTRIBUTION_FIGURES),
}

REPOSITORY_TABLE = (("repository", lambda r: r["repository"] or "(not reported)"), ("org", "org_id"),
                    ("lines accepted", "lines_accepted"), ("accept rate", lambda r: _rate(r["accept_rate"])),
                    ("edits", "edits_accepted"), ("commits", "commits"), ("PRs", "pull_requests"),
                    ("sessions", "sessions"), ("members", "members"), ("cost USD", "cost_usd"))


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

    def progress(rebuilt, number, total):
        bar.update(number, f"{rebuilt.day}: {rebuilt.records} records")

    try:
        with open_backend(settings) as backend:
            rebuilt = backend.aggregate(first, last, progress)
    except Refused as error:
        print(f"cc-analytics aggregate: {error}", file=sys.stderr)
        return 1
    records, user_days = sum(day.records for day in rebuilt), sum(day.users for day in rebuilt)
    print(f"aggregated {len(days)} days, {first} to {last}: {records} records, {user_days} user-days "
          f"({backend.where})")
    return 0


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    """The rows of `report users`, `report daily` or `report contributions`, rendered the same whichever backend
    answered."""
    if args.report in OTHER_REPORTS:
        return OTHER_REPORTS[args.report](args, settings)
    if args.report == "users":
        def question() -> tuple:
            return parse_month("--month", args.month or f"{date.today():%Y-%m}"), _filters(args, search=args.search)
        ask, columns = "users", USER_TABLE
    else:
        def question() -> tuple:
            return (*parse_range(args.first, args.last), _filters(args))
        ask, columns = "daily", DAILY_TABLE
    return run_backend_report(f"report {args.report}", settings, question, ask,
                              lambda rows: sys.stdout.write(render(rows, args.report, args.output_format, columns)))


def run_backend_report(command: str, settings: Settings, question: Callable[[], tuple], ask: str,
                       write: Callable[[Any], object]) -> int:
    """One answer from the backend, written out: question() reads the arguments (a BadParameter is a usage error,
    exit 2, before any backend is opened), then the Backend method named ask answers them (a refusal is exit 1)."""
    try:
        arguments = question()
    except BadParameter as error:
        print(f"cc-analytics {command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with open_backend(settings) as backend:
            answer = getattr(backend, ask)(*arguments)
    except Refused as error:
        print(f"cc-analytics {command}: {error}", file=sys.stderr)
        return 1
    write(answer)
    return 0


def write_rows(rows: list[dict], output_format: str, csv_columns: tuple[str, ...], table) -> None:
    """JSON as the API answers, CSV with the API's columns, or a text table."""
    if output_format == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif output_format == "csv":
        sys.stdout.write(users_csv.write_rows(rows, csv_columns).decode())
    else:
        sys.stdout.write(text_table(rows, table))


def run_contributions_report(args: argparse.Namespace, settings: Settings) -> int:
    """Merged PRs and lines with and without Claude Code per day, member or repository; the answer's note (lines
    from GitHub's additions) follows the table, goes to stderr with CSV and stays in the JSON."""
    def question() -> tuple:
        filters = ContributionFilters(org=args.org or None, team=args.team or None,
                                      repository=parse_repository(args.repo))
        return (*parse_range(args.first, args.last), filters, args.group)

    def write(answer: dict) -> None:
        if args.output_format == "json":
            sys.stdout.write(json.dumps(answer, indent=2) + "\n")
            return
        write_rows(answer["data"], args.output_format, GROUP_COLUMNS[args.group], CONTRIBUTION_TABLES[args.group])
        if answer["note"]:
            print(f"note: {answer['note']}", file=sys.stderr if args.output_format == "csv" else sys.stdout)

    return run_backend_report("report contributions", settings, question, "contributions", write)


def run_repositories_report(args: argparse.Namespace, settings: Settings) -> int:
    """The figures per org and repository over the days, lines accepted first."""
    def question() -> tuple:
        filters = RepositoryFilters(org=args.org or None, team=args.team or None,
                                    repository=parse_repository(args.repo))
        return (*parse_range(args.first, args.last), filters)

    return run_backend_report("report repositories", settings, question, "repositories",
                              lambda rows: write_rows(rows, args.output_format, REPOSITORY_COLUMNS, REPOSITORY_TABLE))


_USAGE_FIGURES = (("uses", "uses"), ("ok", "successes"), ("failed", "failures"),
                  ("success rate", lambda r: _rate(r["success_rate"])), ("seconds", lambda r: r["duration_ms"] / 1000),
                  ("cost USD", "cost_usd"), ("input tokens", "input_tokens"), ("output tokens", "output_tokens"))
USAGE_TABLES = {
    "name": (("kind", "kind"), ("name", "name"), ("org", "org_id"), ("members", "members"), *_USAGE_FIGURES),
    "user": (("member", "user_key"), ("kind", "kind"), ("name", "name"), ("team", "team"), ("org", "org_id"),
             *_USAGE_FIGURES),
}
ADOPTION_TABLE = (("date", "date"), ("org", "org_id"), ("team", "team"), ("active", "active_members"),
                  *((feature.replace("_", " "), lambda r, f=feature: _rate(r[f"{f}_share"]))
                    for feature in FEATURES))


def run_usage_report(args: argparse.Namespace, settings: Settings) -> int:
    """The usage per name (or member and name), or with --adoption the features' adoption per day and team."""
    def question() -> tuple:
        filters = UsageFilters(org=args.org or None, team=args.team or None, kind=args.kind or None)
        return (*parse_range(args.first, args.last), filters) + (() if args.adoption else (args.group,))

    if args.adoption:
        ask, columns, table = "usage_adoption", ADOPTION_COLUMNS, ADOPTION_TABLE
    else:
        ask, columns, table = "usage", USAGE_COLUMNS[args.group], USAGE_TABLES[args.group]
    return run_backend_report("report usage", settings, question, ask,
                              lambda rows: write_rows(rows, args.output_format, columns, table))


OTHER_REPORTS = {"contributions": run_contributions_report, "repositories": run_repositories_report,
                 "usage": run_usage_report}


def _filters(args: argparse.Namespace, search: str | None = None) -> Filters:
    """--org, --team (and --search); empty ones are no filter, as the API reads them, so both backends agree."""
    return Filters(org=args.org or None, team=args.team or None, search=search or None)


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
