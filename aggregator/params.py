"""Query parameters of the read API and the report commands, parsed once with messages that say what is wrong."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

MAX_RANGE_DAYS = 3660
# The days the store can hold (ClickHouse's Date): a day outside them names no data and cannot be computed with.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2149, 6, 6)


class BadParameter(ValueError):
    """A parameter a caller sent cannot be used; the message says which and why (HTTP 400)."""


def parse_day(name: str, text: str | None) -> date:
    if not text:
        raise BadParameter(f"{name} is required, as YYYY-MM-DD")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise BadParameter(f"{name}={text!r} is not a date as YYYY-MM-DD")
    try:
        day = date.fromisoformat(text)
    except ValueError as error:
        raise BadParameter(f"{name}={text!r} is not a calendar date: {error}") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadParameter(f"{name}={text!r} is outside {FIRST_DAY}..{LAST_DAY}, the days the store can hold")
    return day


def parse_month(name: str, text: str | None) -> date:
    if not text:
        raise BadParameter(f"{name} is required, as YYYY-MM")
    match = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if not match:
        raise BadParameter(f"{name}={text!r} is not a month as YYYY-MM")
    year, month = map(int, match.groups())
    if not 1 <= month <= 12:
        raise BadParameter(f"{name}={text!r}: the month must be 01 to 12")
    if not (FIRST_DAY.year, FIRST_DAY.month) <= (year, month) <= (LAST_DAY.year, LAST_DAY.month):
        raise BadParameter(f"{name}={text!r} is outside {FIRST_DAY:%Y-%m}..{LAST_DAY:%Y-%m}, the months the "
                           "store can hold")
    return date(year, month, 1)


def parse_range(first_text: str | None, last_text: str | None) -> tuple[date, date]:
    first, last = parse_day("from", first_text), parse_day("to", last_text)
    if last < first:
        raise BadParameter(f"to={last} is before from={first}")
    if last - first > timedelta(days=MAX_RANGE_DAYS):
        raise BadParameter(f"from={first} to={last} spans more than {MAX_RANGE_DAYS} days")
    return first, last


def parse_limit(text: str | None, default: int, maximum: int) -> int:
    if text is None:
        return default
    try:
        limit = int(text)
    except ValueError:
        raise BadParameter(f"limit={text!r} is not a whole number") from None
    if not 1 <= limit <= maximum:
        raise BadParameter(f"limit={limit} is outside 1..{maximum}")
    return limit


def parse_choice(name: str, text: str | None, choices: tuple[str, ...], default: str) -> str:
    value = default if text is None else text
    if value not in choices:
        raise BadParameter(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def json_value(name: str, text: str):
    """text parsed as JSON; nesting too deep for the parser is as bad as broken JSON (not a crash)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BadParameter(f"{name} is not JSON this API can read") from None


def parse_repository(text: str | None) -> str | None:
    """A repository as OWNER/NAME, lower-cased as the contribution tables key it; None when not given."""
    if not text:
        return None
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", text):
        raise BadParameter(f"repo={text!r} is not a GitHub repository as OWNER/NAME")
    return text.lower()
