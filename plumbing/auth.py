"""Bearer tokens: which organization a client speaks for.

The tokens file has one `ORG_ID TOKEN` pair per line (# starts a comment; an org may have several tokens). The org
`*` marks an admin token: it reads every org and may run SQL, aggregations and purges. A presented token is looked
up by its SHA-256 digest and then compared with hmac.compare_digest, so the time an answer takes says nothing
about how close a wrong token came; tokens are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

ADMIN = "*"
MIN_TOKEN_LENGTH = 16


class TokenFileError(ValueError):
    """The tokens file cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Caller:
    """Who presented a valid token: one org, or an admin (org None)."""

    org_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.org_id is None


class TokenTable:
    def __init__(self, orgs_by_token: dict[str, str]):
        self._by_digest = {_digest(token): (token, org) for token, org in orgs_by_token.items()}

    @classmethod
    def from_file(cls, path: str) -> "TokenTable":
        try:
            with open(path, encoding="utf-8") as file:
                lines = file.readlines()
        except OSError as error:
            raise TokenFileError(f"cannot read the tokens file {path}: {error.strerror or error}") from None
        orgs_by_token: dict[str, str] = {}
        for number, line in enumerate(lines, 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) != 2:
                raise TokenFileError(f"{path} line {number}: expected `ORG_ID TOKEN`, got {len(fields)} fields")
            org, token = fields
            if len(token) < MIN_TOKEN_LENGTH:
                raise TokenFileError(f"{path} line {number}: the token of {org} is shorter than "
                                     f"{MIN_TOKEN_LENGTH} characters; use a random one (openssl rand -hex 32)")
            if orgs_by_token.get(token, org) != org:
                raise TokenFileError(f"{path} line {number}: this token is already given to another org")
            orgs_by_token[token] = org
        if not orgs_by_token:
            raise TokenFileError(f"{path} has no tokens: every export would be refused")
        return cls(orgs_by_token)

    def caller(self, authorization: str | None) -> Caller | None:
        """The caller an `Authorization: Bearer TOKEN` value names, or None when it names nobody."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        token = token.strip()
        found = self._by_digest.get(_digest(token))
        if found is None or not hmac.compare_digest(found[0].encode(), token.encode()):
            return None
        return Caller(None if found[1] == ADMIN else found[1])


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
