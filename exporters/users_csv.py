"""The members report as CSV: one row per member, email first, lines accepted second, then every other figure."""

from __future__ import annotations

import csv
import io
from datetime import date

from aggregator.figures import SUMMED_FIGURES

COLUMNS = ("email", "lines_accepted", "org_id", "user_key", "team", "days_active", "sessions",
           *(f.name for f in SUMMED_FIGURES if f.name != "lines_accepted"), "accept_rate")


def file_name(month: date) -> str:
    return f"cc-analytics-users-{month:%Y-%m}.csv"


def render(users: list[dict]) -> bytes:
    """Members without an email (API-key, Bedrock, Vertex users) are listed under their user key."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for user in users:
        row = {**user, "email": user["email"] or user["user_key"]}
        writer.writerow([_cell(row[column]) for column in COLUMNS])
    return out.getvalue().encode("utf-8")


def _cell(value: object) -> object:
    if value is None:
        return ""
    # Emails, keys and team names come from clients: one starting like a formula must not run in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
