"""GitHub's webhook signature: X-Hub-Signature-256 is `sha256=` and the HMAC-SHA256 of the raw body, keyed with
the webhook's secret.

The secrets file holds one secret per line (blank lines and lines starting with `#` ignored; surrounding
whitespace is not part of a secret), several during a rotation: a delivery signed with any of them is accepted.
Every secret is compared, in constant time, whether or not an earlier one matched, so the time an answer takes
says nothing about which secret, or how much of a signature, was right. SHA-1 signatures (X-Hub-Signature alone)
are refused: GitHub sends both headers, and only the SHA-256 one is worth checking.

A line `@OWNER SECRET` gives a secret that signs the deliveries of one repository owner only. When several GitHub
organizations send to one serve (several cc-analytics orgs under --auth-tokens), each gets a secret of its own
that way, so whoever configured one organization's webhook cannot sign deliveries for another's repositories.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

SIGNATURE_HEADER = "X-Hub-Signature-256"
SHA1_SIGNATURE_HEADER = "X-Hub-Signature"
_SIGNATURE = re.compile(r"sha256=([0-9a-f]{64})")
_LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


class SecretFileError(ValueError):
    """The secrets file cannot be used; the message names the file and says why."""


class SignatureRefused(Exception):
    """A delivery whose signature does not prove it came from GitHub. `kind` names the problem for the log and
    the counters (missing, sha1_only, malformed, wrong); the message is the client's answer."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class WebhookSecret:
    secret: bytes = field(repr=False)
    owner: str = ""  # lower-cased; "" signs for every owner

    @staticmethod
    def of_line(line: str) -> WebhookSecret:
        """A line of the secrets file, stripped; ValueError for an @ line without a login and a secret."""
        if not line.startswith("@"):
            return WebhookSecret(line.encode())
        owner, _, secret = line[1:].partition(" ")
        if not _LOGIN.fullmatch(owner) or not secret.strip():
            raise ValueError("write @OWNER SECRET: a GitHub login, a space and the secret")
        return WebhookSecret(secret.strip().encode(), owner.lower())


def load_secrets(path: str) -> tuple[WebhookSecret, ...]:
    """The secrets of the file, in order; a file that cannot be read or holds none stops serve at start."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise SecretFileError(f"cannot read the GitHub webhook secrets file {path}: {reason}") from None
    secrets = []
    for number, line in enumerate(lines, 1):
        if line.strip() and not line.strip().startswith("#"):
            try:
                secrets.append(WebhookSecret.of_line(line.strip()))
            except ValueError as error:  # the line itself is a secret: never quoted
                raise SecretFileError(f"the GitHub webhook secrets file {path}, line {number}: {error}") from None
    if not secrets:
        raise SecretFileError(f"the GitHub webhook secrets file {path} holds no secret: every delivery would be "
                              "refused; write the secret of the webhook's settings on a line of its own")
    return tuple(secrets)


def signature_of(secret: bytes, body: bytes) -> str:
    """The X-Hub-Signature-256 value GitHub sends for body signed with secret."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def check_signature(secrets: tuple[WebhookSecret, ...], body: bytes, signature: str | None,
                    sha1_signature: str | None) -> WebhookSecret:
    """The secret with which signature (the X-Hub-Signature-256 header) signs body; SignatureRefused if none."""
    if signature is None:
        if sha1_signature is not None:
            raise SignatureRefused("sha1_only", f"only an {SHA1_SIGNATURE_HEADER} (SHA-1) signature was sent; "
                                                f"{SIGNATURE_HEADER} (SHA-256) is required")
        raise SignatureRefused("missing", f"no {SIGNATURE_HEADER} header: set the webhook's secret on GitHub")
    match = _SIGNATURE.fullmatch(signature.strip().lower())
    if match is None:
        raise SignatureRefused("malformed", f"{SIGNATURE_HEADER} is not sha256= and 64 hex digits")
    presented = match.group(1).encode()
    # A list, not a generator: every secret is compared, also after a match.
    matches = [hmac.compare_digest(signature_of(secret.secret, body)[len("sha256="):].encode(), presented)
               for secret in secrets]
    if not any(matches):
        raise SignatureRefused("wrong", f"{SIGNATURE_HEADER} does not match the body signed with the secret of "
                                        "--github-webhook-secret-file")
    return secrets[matches.index(True)]
