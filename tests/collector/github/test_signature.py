"""GitHub's webhook signature: its documented vector, every kind of bad signature refused, several secrets for a
rotation (each compared every time), and the secrets file read as documented."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from collector.github import signature
from collector.github.signature import (SecretFileError, SignatureRefused, WebhookSecret, check_signature, load_secrets,
                                        signature_of)

# https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
VECTOR_SECRET = b"It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_documented_vector_passes():
    assert signature_of(VECTOR_SECRET, VECTOR_BODY) == VECTOR_SIGNATURE
    check_signature((WebhookSecret(VECTOR_SECRET),), VECTOR_BODY, VECTOR_SIGNATURE, None)
    check_signature((WebhookSecret(VECTOR_SECRET),), VECTOR_BODY, VECTOR_SIGNATURE.upper().replace("SHA256", "sha256"), None)


@pytest.mark.parametrize("sent, sha1, kind", [
    (None, None, "missing"),
    (None, "sha1=" + hmac.new(VECTOR_SECRET, VECTOR_BODY, hashlib.sha1).hexdigest(), "sha1_only"),
    ("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", None, "malformed"),  # no sha256=
    ("sha256=757107ea", None, "malformed"),
    ("sha256=" + "z" * 64, None, "malformed"),
    ("sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", None, "malformed"),
    ("sha256=" + "0" * 64, None, "wrong"),
    (signature_of(b"another secret", VECTOR_BODY), None, "wrong"),
    (signature_of(VECTOR_SECRET, VECTOR_BODY + b" "), None, "wrong"),  # a body changed after signing
])
def test_bad_signatures_are_refused_with_their_kind(sent, sha1, kind):
    with pytest.raises(SignatureRefused) as refused:
        check_signature((WebhookSecret(VECTOR_SECRET),), VECTOR_BODY, sent, sha1)
    assert refused.value.kind == kind
    assert "Hello" not in str(refused.value)


def test_during_a_rotation_either_secret_passes_and_every_secret_is_compared(monkeypatch):
    secrets = tuple(WebhookSecret(secret) for secret in (b"old secret", b"new secret", b"third"))
    compared = []
    compare_digest = hmac.compare_digest

    def counting_compare(a, b):
        compared.append(a)
        return compare_digest(a, b)

    monkeypatch.setattr(signature.hmac, "compare_digest", counting_compare)
    for secret in secrets:
        compared.clear()
        assert check_signature(secrets, VECTOR_BODY, signature_of(secret.secret, VECTOR_BODY), None) == secret
        assert len(compared) == len(secrets)  # no early exit on the first match
    with pytest.raises(SignatureRefused):
        check_signature(secrets, VECTOR_BODY, signature_of(b"retired", VECTOR_BODY), None)


def test_the_secrets_file_has_one_secret_a_line_without_blanks_and_comments(tmp_path):
    path = tmp_path / "secrets"
    path.write_text("# rotated 2026-11-01\n\n  It's a Secret to Everybody  \nnew-secret\n   \n# end\n")
    assert load_secrets(str(path)) == (WebhookSecret(b"It's a Secret to Everybody"), WebhookSecret(b"new-secret"))


def test_a_secret_can_be_limited_to_one_owner(tmp_path):
    path = tmp_path / "secrets"
    path.write_text("@Acme acme's secret\n@beta-corp s3cret\nshared secret\n")
    assert load_secrets(str(path)) == (WebhookSecret(b"acme's secret", "acme"), WebhookSecret(b"s3cret", "beta-corp"),
                                       WebhookSecret(b"shared secret"))


@pytest.mark.parametrize("text, reason", [
    ("@acme\n", "@OWNER SECRET"), ("@ secret\n", "@OWNER SECRET"), ("@acme/widgets secret\n", "@OWNER SECRET"),
    ("", "holds no secret"), ("\n\n", "holds no secret"), ("# only a comment\n  \n", "holds no secret"),
])
def test_a_secrets_file_without_a_usable_secret_is_refused(tmp_path, text, reason):
    path = tmp_path / "secrets"
    path.write_text(text)
    with pytest.raises(SecretFileError, match=reason):
        load_secrets(str(path))


def test_an_unreadable_secrets_file_is_refused(tmp_path):
    with pytest.raises(SecretFileError, match="cannot read .*missing"):
        load_secrets(str(tmp_path / "missing"))
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SecretFileError, match="cannot read"):
        load_secrets(str(tmp_path / "binary"))
