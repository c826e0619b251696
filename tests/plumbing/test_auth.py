"""The tokens file's three line forms (org, admin, member), its errors, and the lookup of a token."""

from __future__ import annotations

import pytest

from collector.decode.privacy import email_pseudonym
from plumbing.auth import Caller, TokenFileError, TokenTable

ORG, ADMIN, MEMBER = "token-of-org-a-0123456789abcdef", "admin-token-0123456789abcdef0123", "member-token-0123456789ab"


def table(tmp_path, text: str, **options) -> TokenTable:
    path = tmp_path / "tokens"
    path.write_text(text)
    return TokenTable.from_file(str(path), **options)


def test_each_line_form_names_its_caller(tmp_path):
    tokens = table(tmp_path, f"# comment\norg-a {ORG}\n* {ADMIN}  # admin\norg-a {MEMBER} member=Ada@example.com\n")
    assert tokens.caller(f"Bearer {ORG}") == Caller("org-a")
    assert tokens.caller(f"bearer {ADMIN}").kind == "admin"
    member = tokens.caller_of_token(f" {MEMBER} ")
    assert (member.kind, member.org_id, member.member, member.member_key) == (
        "member", "org-a", "Ada@example.com", "Ada@example.com")
    assert tokens.caller(f"Basic {ORG}") is None and tokens.caller("Bearer ") is None
    assert tokens.caller_of_token(ORG[:-1]) is None and tokens.caller_of_token("") is None
    assert tokens.orgs() == ["org-a"]


def test_a_member_key_is_the_email_as_the_tables_hold_it(tmp_path):
    def hashed(email: str) -> str:
        return email_pseudonym(email, "salt")

    tokens = table(tmp_path, f"org-a {MEMBER} member=Ada@example.com\n", stored_email=hashed)
    assert tokens.caller_of_token(MEMBER).member_key == email_pseudonym("ada@example.com", "salt")


@pytest.mark.parametrize("line, words", [
    (f"org-a {ORG} extra-field-{MEMBER}", "the third field must be member=EMAIL"),
    (f"org-a {ORG} member=", "the third field must be member=EMAIL"),
    (f"* {MEMBER} member=ada@example.com", "a member token belongs to one org, not to * (admin)"),
    (f"org-a {ORG} member=ada@example.com more", "got 4 fields"),
    ("org-a short member=ada@example.com", "shorter than 16 characters"),
])
def test_a_bad_line_is_refused_with_the_forms_and_without_the_token(tmp_path, line, words):
    with pytest.raises(TokenFileError) as refused:
        table(tmp_path, f"org-a {ADMIN}\n{line}\n")
    message = str(refused.value)
    assert "line 2" in message and words in message
    assert ORG not in message and MEMBER not in message and "short " not in message
    if "fields" in words or "third" in words:
        assert "ORG_ID TOKEN member=EMAIL" in message


def test_one_token_cannot_name_two_callers(tmp_path):
    with pytest.raises(TokenFileError, match="line 2: this token is already given to another org or member"):
        table(tmp_path, f"org-a {ORG}\norg-a {ORG} member=ada@example.com\n")
