"""The identity map (--identity-map): who a GitHub login is and which team they are in, with dated history.

A CSV with the header `email,github_login,team[,from]`; each row says that from `from` on (YYYY-MM-DD; empty or
absent: since always) the login is the person with that email, in that team. A login may have several rows, one
per change. Logins and emails are matched without regard to case. Parsing is pure; a bad file is refused whole,
with the line number of the first problem, so serve and aggregate stop at start instead of attributing wrongly.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Callable

HEADER = ("email", "github_login", "team")
OPTIONAL_COLUMN = "from"


class IdentityMapError(ValueError):
    """The identity map cannot be used; the message names the file's line and what to fix."""


@dataclass(frozen=True)
class Identity:
    email: str  # lower-cased; the stored form (pseudonym) once with_emails has run
    login: str  # lower-cased
    team: str
    since: date | None  # None: in effect from the beginning


class IdentityMap:
    def __init__(self, identities: tuple[Identity, ...] = ()):
        self.identities = identities
        history: dict[str, list[Identity]] = {}
        for identity in identities:
            history.setdefault(identity.login, []).append(identity)
        # each login's rows, oldest first: the one in effect on a day is the last that started on or before it
        self._history = {login: sorted(rows, key=lambda row: row.since or date.min) for login, rows in history.items()}

    def on(self, login: str, day: date) -> Identity | None:
        """The row in effect for the login on the day, or None when the map does not name it then."""
        current = None
        for identity in self._history.get(login.lower(), ()):
            if (identity.since or date.min) <= day:
                current = identity
        return current

    def with_emails(self, stored_form: Callable[[str], str]) -> "IdentityMap":
        """The same map with each email as the store holds it (e.g. the pseudonym under --hash-emails)."""
        return IdentityMap(tuple(Identity(stored_form(row.email), row.login, row.team, row.since)
                                 for row in self.identities))

    def __len__(self) -> int:
        return len(self.identities)


def parse_identity_map(text: str, name: str = "the identity map") -> IdentityMap:
    """The map of a CSV text; IdentityMapError for the first bad line."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    columns = tuple(cell.strip().lower() for cell in header or ())
    if columns not in (HEADER, HEADER + (OPTIONAL_COLUMN,)):
        raise IdentityMapError(f"{name}, line 1: the header must be {','.join(HEADER)}[,{OPTIONAL_COLUMN}], "
                               f"not {','.join(columns) or 'empty'}")
    identities = []
    seen: dict[tuple[str, date | None], int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        identity = _identity(cells, len(columns), f"{name}, line {line}")
        if (identity.login, identity.since) in seen:
            raise IdentityMapError(f"{name}, line {line}: {identity.login} already has a row from "
                                   f"{identity.since or 'the beginning'} (line {seen[identity.login, identity.since]})")
        seen[identity.login, identity.since] = line
        identities.append(identity)
    return IdentityMap(tuple(identities))


def load_identity_map(path: str) -> IdentityMap:
    """The map in a file (an empty path: no map)."""
    if not path:
        return IdentityMap()
    try:
        with open(path, encoding="utf-8", newline="") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as error:
        raise IdentityMapError(f"cannot read the identity map {path}: {error}") from None
    return parse_identity_map(text, path)


def _identity(cells: list[str], width: int, where: str) -> Identity:
    cells = [cell.strip() for cell in cells]
    if len(cells) < len(HEADER) or len(cells) > width:
        names = ",".join((HEADER + (OPTIONAL_COLUMN,))[:width])
        raise IdentityMapError(f"{where}: expected {width} columns ({names}), found {len(cells)}")
    email, login, team = cells[:3]
    if "@" not in email:
        raise IdentityMapError(f"{where}: {email!r} is not an email address")
    if not login:
        raise IdentityMapError(f"{where}: the github_login is empty")
    since = None
    if len(cells) > 3 and cells[3]:
        try:
            since = date.fromisoformat(cells[3])
        except ValueError:
            raise IdentityMapError(f"{where}: from must be a day as YYYY-MM-DD, not {cells[3]!r}") from None
    return Identity(email.lower(), login.lower(), team, since)
