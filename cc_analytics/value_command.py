"""`cc-analytics report value` and `report forecast`: the value report and the month-end spend forecast
(aggregator/value.py) through a running serve, else the store.

The table has one row per org; the top spenders of each org follow it. CSV is the org rows as
/api/v1/value?format=csv gives them; JSON the whole answer, as the API's.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from aggregator.params import parse_limit, parse_month, parse_range
from aggregator.reports import Filters
from aggregator.value import VALUE_COLUMNS
from aggregator.value_report import DEFAULT_TOP, FORECAST_COLUMNS, MAX_TOP
from cc_analytics.config import Settings
from cc_analytics.report_commands import run_backend_report, text_table, write_rows

VALUE_TABLE = (("org", "org_id"), ("cost USD", "cost_usd"), ("members", "active_members"),
               *((title, lambda r, name=name: _usd(r[name])) for title, name in (
                   ("per session", "cost_per_session"), ("per commit", "cost_per_commit"),
                   ("per PR", "cost_per_pull_request"), ("per line", "cost_per_line"),
                   ("per member", "cost_per_member"), ("per merged PR w/ CC", "cost_per_merged_pr_with_cc"))),
               ("top 10% share", lambda r: _share(r["top_decile_share"])),
               ("top 10 share", lambda r: _share(r["top10_share"])))
SPENDER_TABLE = (("org", "org_id"), ("member", lambda r: r["email"] or r["user_key"]), ("team", "team"),
                 ("cost USD", "cost_usd"), ("share", lambda r: _share(r["share"])))


def run_value_report(args: argparse.Namespace, settings: Settings) -> int:
    def question() -> tuple:
        top = parse_limit(str(args.top), DEFAULT_TOP, MAX_TOP)
        return (*parse_range(args.first, args.last), Filters(org=args.org or None, team=args.team or None), top)

    def write(answer: dict) -> None:
        if args.output_format == "json":
            sys.stdout.write(json.dumps(answer, indent=2) + "\n")
            return
        write_rows(answer["data"], args.output_format, VALUE_COLUMNS, VALUE_TABLE)
        spenders = [{"org_id": row["org_id"], **spender} for row in answer["data"] for spender in row["top_spenders"]]
        if args.output_format == "table" and spenders:
            sys.stdout.write("\ntop spenders\n" + text_table(spenders, SPENDER_TABLE))

    return run_backend_report("report value", settings, question, "value", write)


FORECAST_TABLE = (("org", "org_id"), ("month", "month"), ("spent to date USD", "month_to_date_usd"),
                  ("days left", "remaining_days"), ("forecast USD", "forecast_usd"))


def run_forecast_report(args: argparse.Namespace, settings: Settings) -> int:
    """This month's (or --month's) spend so far and its month-end forecast per org; the method follows the table."""
    def question() -> tuple:
        month = parse_month("--month", args.month or f"{date.today():%Y-%m}")
        return month, Filters(org=args.org or None, team=args.team or None)

    def write(answer: dict) -> None:
        if args.output_format == "json":
            sys.stdout.write(json.dumps(answer, indent=2) + "\n")
            return
        write_rows(answer["data"], args.output_format, FORECAST_COLUMNS, FORECAST_TABLE)
        if args.output_format == "table":
            print(f"as of {answer['today']}: {answer['forecast_method']}")

    return run_backend_report("report forecast", settings, question, "value_forecast", write)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _usd(value: float | None) -> str:
    """Four decimals: a cost per line is often below a cent."""
    return "-" if value is None else f"{value:.4f}"
