"""The members report as CSV: one row per member, email first, lines accepted second, then every other figure and
the member's merged pull requests and lines of the month. `write_rows` is the one CSV writer of the reports."""

from __future__ import annotations

import csv
import io
from datetime import date

from aggregator.contributions.report import MEMBER_COLUMNS
from aggregator.figures import SUMMED_FIGURES

COLUMNS = ("email", "lines_accepted", "org_id", "user_key", "team", "days_active", "sessions",
           *(f.name for f in SUMMED_FIGURES if f.name != "lines_accepted"), "accept_rate",
           *MEMBER_COLUMNS)


def file_name(month: date) -> str:
    return f"cc-analytics-users-{month:%Y-%m}.csv"


def render(users: list[dict]) -> bytes:
    """Members without an email (API-key, Bedrock, Vertex users) are listed under their user key."""
    return write_rows([{**user, "email": user["email"] or user["user_key"]} for user in users], COLUMNS)


def write_rows(rows: list[dict], columns: tuple[str, ...]) -> bytes:
    """The rows' columns as CSV (UTF-8, CRLF), a header first; text that a spreadsheet would run is quoted off."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[column]) for column in columns])
    return out.getvalue().encode("utf-8")


def _cell(value: object) -> object:
    if value is None:
        return ""
    # Emails, keys, team names, logins and repository names come from clients: one starting like a formula must
    # not run in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
