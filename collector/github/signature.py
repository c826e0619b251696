"""GitHub's webhook signature: X-Hub-Signature-256 is `sha256=` and the HMAC-SHA256 of the raw body, keyed with
the webhook's secret.

The secrets file holds one secret per line (blank lines and lines starting with `#` ignored; surrounding
whitespace is not part of a secret), several during a rotation: a delivery signed with any of them is accepted.
Every secret is compared, in constant time, whether or not an earlier one matched, so the time an answer takes
says nothing about which secret, or how much of a signature, was right. SHA-1 signatures (X-Hub-Signature alone)
are refused: GitHub sends both headers, and only the SHA-256 one is worth checking.
"""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE_HEADER = "X-Hub-Signature-256"
SHA1_SIGNATURE_HEADER = "X-Hub-Signature"
_SIGNATURE = re.compile(r"sha256=([0-9a-f]{64})")


class SecretFileError(ValueError):
    """The secrets file cannot be used; the message names the file and says why."""


class SignatureRefused(Exception):
    """A delivery whose signature does not prove it came from GitHub. `kind` names the problem for the log and
    the counters (missing, sha1_only, malformed, wrong); the message is the client's answer."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def load_secrets(path: str) -> tuple[bytes, ...]:
    """The secrets of the file, in order; a file that cannot be read or holds none stops serve at start."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise SecretFileError(f"cannot read the GitHub webhook secrets file {path}: {reason}") from None
    secrets = tuple(line.strip().encode() for line in lines if line.strip() and not line.strip().startswith("#"))
    if not secrets:
        raise SecretFileError(f"the GitHub webhook secrets file {path} holds no secret: every delivery would be "
                              "refused; write the secret of the webhook's settings on a line of its own")
    return secrets


def signature_of(secret: bytes, body: bytes) -> str:
    """The X-Hub-Signature-256 value GitHub sends for body signed with secret."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def check_signature(secrets: tuple[bytes, ...], body: bytes, signature: str | None, sha1_signature: str | None) -> None:
    """Return if signature (the X-Hub-Signature-256 header) signs body with one of secrets; else raise
    SignatureRefused."""
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
    matches = [hmac.compare_digest(signature_of(secret, body)[len("sha256="):].encode(), presented)
               for secret in secrets]
    if not any(matches):
        raise SignatureRefused("wrong", f"{SIGNATURE_HEADER} does not match the body signed with the secret of "
                                        "--github-webhook-secret-file")
