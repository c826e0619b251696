"""Bearer tokens: which organization, or which member of one, a client speaks for.

The tokens file has one token a line (# starts a comment; an org may have several tokens):
- `ORG_ID TOKEN`: an org token, it reads every figure of its org and stores exports under it;
- `* TOKEN`: an admin token, it reads every org and may run SQL, aggregations and purges;
- `ORG_ID TOKEN member=EMAIL`: a member token, it reads only that member's own figures in ORG_ID (the hosted
  self-view) and stores nothing.
A presented token is looked up by its SHA-256 digest and then compared with hmac.compare_digest, so the time an
answer takes says nothing about how close a wrong token came; tokens are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Callable

ADMIN = "*"
MIN_TOKEN_LENGTH = 16
MEMBER_FIELD = "member="
LINE_FORMS = "`ORG_ID TOKEN`, `* TOKEN` (admin) or `ORG_ID TOKEN member=EMAIL` (a member's own figures)"


class TokenFileError(ValueError):
    """The tokens file cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Caller:
    """Who presented a valid token: one org, an admin (org None), or one member of an org."""

    org_id: str | None
    member: str | None = None  # the member's email as the tokens file gives it
    # the member's user key as the tables hold it (the email's pseudonym under --hash-emails)
    member_key: str | None = field(default=None, repr=False)

    @property
    def is_admin(self) -> bool:
        return self.org_id is None

    @property
    def is_member(self) -> bool:
        return self.member is not None

    @property
    def kind(self) -> str:
        return "admin" if self.is_admin else "member" if self.is_member else "org"


class TokenTable:
    def __init__(self, callers_by_token: dict[str, Caller]):
        self._by_digest = {_digest(token): (token, caller) for token, caller in callers_by_token.items()}

    @classmethod
    def from_file(cls, path: str, stored_email: Callable[[str], str] = str) -> "TokenTable":
        """stored_email: an email as the tables hold it (PrivacyPolicy.stored_email), for member tokens."""
        try:
            with open(path, encoding="utf-8") as file:
                lines = file.readlines()
        except OSError as error:
            raise TokenFileError(f"cannot read the tokens file {path}: {error.strerror or error}") from None
        callers: dict[str, Caller] = {}
        for number, line in enumerate(lines, 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            caller, token = _parse_line(fields, f"{path} line {number}", stored_email)
            if callers.get(token, caller) != caller:
                raise TokenFileError(f"{path} line {number}: this token is already given to another org or member")
            callers[token] = caller
        if not callers:
            raise TokenFileError(f"{path} has no tokens: every export would be refused")
        return cls(callers)

    def caller(self, authorization: str | None) -> Caller | None:
        """The caller an `Authorization: Bearer TOKEN` value names, or None when it names nobody."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.caller_of_token(token)

    def caller_of_token(self, token: str) -> Caller | None:
        """The caller a bare token (a bearer header's, or the sign-in form's) names, or None."""
        token = token.strip()
        if not token:
            return None
        found = self._by_digest.get(_digest(token))
        if found is None or not hmac.compare_digest(found[0].encode(), token.encode()):
            return None
        return found[1]

    def orgs(self) -> list[str]:
        """The orgs the tokens name, sorted (an admin's org picker)."""
        return sorted({caller.org_id for _, caller in self._by_digest.values() if caller.org_id is not None})


def _parse_line(fields: list[str], where: str, stored_email: Callable[[str], str]) -> tuple[Caller, str]:
    if len(fields) not in (2, 3):
        raise TokenFileError(f"{where}: expected {LINE_FORMS}, got {len(fields)} fields")
    org, token = fields[:2]
    if len(token) < MIN_TOKEN_LENGTH:
        raise TokenFileError(f"{where}: the token of {org} is shorter than {MIN_TOKEN_LENGTH} characters; use a "
                             "random one (openssl rand -hex 32)")
    if len(fields) == 2:
        return Caller(None if org == ADMIN else org), token
    email = fields[2][len(MEMBER_FIELD):] if fields[2].startswith(MEMBER_FIELD) else ""
    if not email:
        raise TokenFileError(f"{where}: the third field must be member=EMAIL (the member whose own figures the "
                             f"token reads); expected {LINE_FORMS}")
    if org == ADMIN:
        raise TokenFileError(f"{where}: a member token belongs to one org, not to * (admin)")
    return Caller(org, email, stored_email(email)), token


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
