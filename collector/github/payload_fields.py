"""Reading the fields of a webhook's JSON as untrusted input: a signed payload can still hold what a table cannot.

Each reader takes an object, a key and the path of the object (for the message) and returns the field in the
type its column takes, or raises PayloadError with a reason a sender can act on: a wrong type, a number out of
range, a time ClickHouse cannot store, a text over its bound. Absent and null fields get the column's empty value
where the tables have one (optional readers) and are refused where a row means nothing without them.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

# Logins, refs, repository names and labels are short on GitHub; a longer text is not a real payload.
MAX_TEXT = 1000
MAX_UINT = 2**63 - 1  # the UInt64 columns, kept within Int64 so any client reads them back
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# DateTime64(3) stores 1900..2299; the project's days stop at 2149-06-06, ClickHouse's last Date.
_LAST_MS = int(datetime(2149, 6, 6, 23, 59, 59, tzinfo=timezone.utc).timestamp() * 1000)


class PayloadError(ValueError):
    """The payload cannot be stored; the message says which field and why."""


def mapping(obj: dict, key: str, where: str) -> dict:
    return as_mapping(obj.get(key), f"{where}.{key}")


def as_mapping(value: object, where: str) -> dict:
    """value itself (an item of an array) as an object."""
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be an object, not {_kind(value)}")
    return value


def optional_mapping(obj: dict, key: str, where: str) -> dict:
    """The object at key, or {} when it is absent or null."""
    return {} if obj.get(key) is None else mapping(obj, key, where)


def array(obj: dict, key: str, where: str, max_items: int) -> list:
    """The list at key ([] when absent or null), of at most max_items."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where}.{key} must be an array, not {_kind(value)}")
    if len(value) > max_items:
        raise PayloadError(f"{where}.{key} has {len(value)} items, more than {max_items}")
    return value


def text(obj: dict, key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise PayloadError(f"{where}.{key} must be a string, not {_kind(value)}")
    if len(value) > MAX_TEXT:
        raise PayloadError(f"{where}.{key} is {len(value)} characters long, more than {MAX_TEXT}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # JSON's \ud800 escapes decode to a lone surrogate, which no column takes
            raise PayloadError(f"{where}.{key} holds a lone UTF-16 surrogate") from None
    return value


def optional_text(obj: dict, key: str, where: str) -> str:
    return "" if obj.get(key) is None else text(obj, key, where)


def any_length_text(obj: dict, key: str, where: str) -> str:
    """A text only read for a mark and then dropped (a PR body, a commit message): any length; '' when null."""
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{where}.{key} must be a string, not {_kind(value)}")
    return value


def count(obj: dict, key: str, where: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{where}.{key} must be a whole number, not {_kind(value)}")
    if not 0 <= value <= MAX_UINT:
        raise PayloadError(f"{where}.{key} is {_number(value)}, outside 0..{MAX_UINT}")
    return value


def optional_count(obj: dict, key: str, where: str) -> int:
    return 0 if obj.get(key) is None else count(obj, key, where)


def flag(obj: dict, key: str, where: str) -> bool:
    """A boolean; False when absent or null (draft and merged are missing from some PR objects)."""
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise PayloadError(f"{where}.{key} must be true or false, not {_kind(value)}")
    return value


def sha(obj: dict, key: str, where: str) -> str:
    value = text(obj, key, where).lower()
    if not _SHA.fullmatch(value):
        raise PayloadError(f"{where}.{key} must be a commit SHA of 40 (or 64) hex digits")
    return value


def optional_sha(obj: dict, key: str, where: str) -> str:
    return "" if obj.get(key) is None else sha(obj, key, where)


def time_ms(obj: dict, key: str, where: str) -> int:
    """An ISO 8601 time (GitHub's `2019-05-15T15:20:33Z`, or with an offset) as ms since the epoch."""
    value = text(obj, key, where)
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise PayloadError(f"{where}.{key} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    ms = int(moment.timestamp() * 1000)
    if not 0 <= ms <= _LAST_MS:
        raise PayloadError(f"{where}.{key} is outside 1970-01-01..2149-06-06")
    return ms


def optional_time_ms(obj: dict, key: str, where: str) -> int:
    """A time, or 0 (1970-01-01, the tables' "not yet") when null."""
    return 0 if obj.get(key) is None else time_ms(obj, key, where)


def _kind(value: object) -> str:
    return "null" if value is None else {bool: "a boolean", int: "a number", float: "a number", str: "a string",
                                         list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


def _number(value: int) -> str:
    digits = str(abs(value)) if abs(value) < 10**30 else f"about 10^{len(str(abs(value))) - 1}"
    return ("-" if value < 0 else "") + digits
