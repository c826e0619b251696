"""Hostile query parameters and bodies for the read API: brackets nested past any parser's depth, cursors made
of them, numbers past every integer type, unicode, days and months outside what the store can hold, deep and
huge JSON."""

from __future__ import annotations

import base64
import json

from hypothesis import strategies as st

PARAMETER_NAMES = ("from", "to", "month", "day", "starting_at", "limit", "page", "org", "team", "q", "format",
                   "user")


def nested_brackets(depth: int) -> str:
    return "[" * depth + "]" * depth


def cursor_of(text: str) -> str:
    """A page cursor as the Admin API spells one (urlsafe base64, no padding) around any text."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# Any text a URL or a JSON body can carry (surrogates cannot be encoded as UTF-8).
CHARACTERS = st.characters(blacklist_categories=("Cs",))
DEPTHS = st.sampled_from([1, 100, 2_000, 10_000, 100_000])  # 2,000 deep still fits in a URL as a cursor
BRACKETS = DEPTHS.map(nested_brackets)
NUMBERS = st.one_of(st.integers(-2**70, 2**70), st.sampled_from([2**63, -2**63 - 1, 2**64, 10**4000])).map(str)
DAYS = st.one_of(
    st.sampled_from(["0001-01-01", "9999-12-31", "1969-12-31", "1970-01-01", "2149-06-06", "2149-06-07",
                     "0000-00-00", "2026-02-30"]),
    st.tuples(st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32)).map(lambda d: "%04d-%02d-%02d" % d))
MONTHS = st.one_of(st.sampled_from(["0000-01", "0001-01", "1969-12", "9999-12", "2149-06", "2149-07", "2026-13"]),
                   st.tuples(st.integers(0, 9999), st.integers(0, 13)).map(lambda m: "%04d-%02d" % m))
VALUES = st.one_of(st.text(CHARACTERS, max_size=40), BRACKETS, BRACKETS.map(cursor_of), NUMBERS, DAYS, MONTHS,
                   st.text(st.characters(min_codepoint=0x80, blacklist_categories=("Cs",)), max_size=20),
                   st.sampled_from(["", "[", "]", "{", "'", "\\", "%", "\x00", "9" * 5000, "json", "csv"]))
# Mostly the parameters the routes read, sometimes any name.
PARAMETERS = st.dictionaries(st.sampled_from(PARAMETER_NAMES) | st.text(CHARACTERS, max_size=10), VALUES, max_size=4)

JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(CHARACTERS, max_size=20))
JSON_VALUES = st.recursive(JSON_LEAVES, lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(st.text(CHARACTERS, max_size=8), children, max_size=3), max_leaves=12)
BODIES = st.one_of(
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.builds(lambda user: json.dumps({"user": user}).encode(), JSON_VALUES | VALUES),
    DEPTHS.map(lambda depth: ('{"user":' * depth + "1" + "}" * depth).encode()),
    BRACKETS.map(str.encode),
    st.binary(max_size=100),
    st.sampled_from([b"", b"\xff\xfe", b"SELECT " + b"(" * 100_000, b"x" * (3 << 20)]),
)
