"""A member token (`ORG_ID TOKEN member=EMAIL`) sees only its member's own figures, on every route serve builds,
with and without --hash-emails: against real serve processes.

The ground truth of a member's answer is the org's answer on a store that holds that member alone: every
member-scoped route must give the member token on the whole store exactly what the org token gives on that one.
Every other route that needs a token refuses it, and so does the OTLP receiver (a member token stores nothing).
"""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from collector.decode.privacy import email_pseudonym
from plumbing.routes import Access
from tests.cc_analytics.test_read_api import call, declared_routes, read_api  # noqa: F401 (read_api: a fixture)
from tests.support.claude_records import DAY, at, event, identity, lines
from tests.support.contribution_rows import Seed, seed_data_dir
from tests.support.exports import assert_stored, post_export
from tests.support.otlp_messages import export_request

pytestmark = pytest.mark.slow

SALT = "member-test-salt-0123456789"
ALICE, BOB, CAROL = "Alice@org-a.example.com", "bob@org-a.example.com", "carol@org-b.example.com"
# member -> (org, lines accepted, the tool it uses): each figure differs, so a leak shows in any sum
MEMBERS = {ALICE: ("org-a", 40, "Bash"), BOB: ("org-a", 7, "Read"), CAROL: ("org-b", 5, "Grep")}
TOKENS = {"org": "token-of-org-a-0123456789abcdef", "admin": "admin-token-0123456789abcdef0123",
          "alice": "member-token-of-alice-0123456789"}
TOKENS_FILE = (f"org-a {TOKENS['org']}\n* {TOKENS['admin']}\n"
               f"org-a {TOKENS['alice']} member={ALICE}  # Alice's own figures\n")


def stored(email: str, hashed: bool) -> str:
    return email_pseudonym(email, SALT) if hashed else email


def member_serve(serve_factory, tmp_path, name: str, members: list[str], hashed: bool):
    """A serve holding the members' records (telemetry, and a merged PR each), with the tokens above."""
    seed = Seed()
    for number, email in enumerate(members, 1):
        org = MEMBERS[email][0]
        seed.add_daily(DAY, org, "", stored(email, hashed), f"dev{number}", f"{org}/widgets", merged=number,
                       with_cc=1)
        seed.add_pull_request(DAY, org, f"{org}/widgets", number, login=f"dev{number}", member=stored(email, hashed),
                              team="", level="with_claude_code", lines=3, lines_with_cc=3)
    folder = tmp_path / name
    folder.mkdir()
    seed_data_dir(folder / "data", seed)
    (folder / "tokens").write_text(TOKENS_FILE)
    privacy = ("--hash-emails", "--email-hash-salt", SALT) if hashed else ()
    serve = serve_factory("--auth-tokens", str(folder / "tokens"), "--aggregate-interval", "0", *privacy,
                          data_dir=folder / "data")
    for number, email in enumerate(members, 1):
        org, accepted, tool = MEMBERS[email]
        who = dict(email=email, session=f"session-{number}", org=org)
        assert_stored(serve, export_request(ExportMetricsServiceRequest,
                                            [lines(accepted, at(DAY, 9), at(DAY, 8), **who)]), token=TOKENS["admin"])
        assert_stored(serve, export_request(ExportLogsServiceRequest, [
            event("user_prompt", at(DAY, 9), **identity(**who)),
            event("tool_result", at(DAY, 9, 1), **identity(**who), tool_name=tool, success="true")]),
            token=TOKENS["admin"])
    assert call(serve, "POST", "/api/v1/aggregate", TOKENS["admin"])[0] == 200
    return serve


@pytest.mark.parametrize("hashed", [False, True], ids=["emails", "hashed-emails"])
def test_a_member_token_sees_only_its_member_on_every_route(read_api, serve_factory, tmp_path, hashed):  # noqa: F811
    everyone = member_serve(serve_factory, tmp_path, "everyone", list(MEMBERS), hashed)
    alice_alone = member_serve(serve_factory, tmp_path, "alice", [ALICE], hashed)
    checked = set()
    for (method, path), level in declared_routes(read_api).items():
        if level in (Access.OPEN, Access.SIGNED) or path == "/api/v1/whoami":
            continue
        status, body = call(everyone, method, path, TOKENS["alice"])
        if level is not Access.MEMBER:
            assert status == 403 and b"a member token reads its member's own figures through" in body, \
                (method, path, status, body)
            continue
        truth_status, truth = call(alice_alone, method, path, TOKENS["org"])
        assert (status, json.loads(body)) == (truth_status, json.loads(truth)) == (200, json.loads(truth)), path
        assert stored(BOB, hashed).encode() not in body and b"org-b" not in body, path
        checked.add(path)
    assert checked == {"/api/v1/daily", "/api/v1/users", "/api/v1/value", "/api/v1/value/forecast", "/api/v1/usage"}

    # the CSV of the members report, the page's Export, is narrowed too
    assert call(everyone, "GET", "/api/v1/users", TOKENS["alice"], format="csv") == \
        call(alice_alone, "GET", "/api/v1/users", TOKENS["org"], format="csv")
    status, body = call(everyone, "GET", "/api/v1/users", TOKENS["alice"])
    assert [row["user_key"] for row in json.loads(body)["data"]] == [stored(ALICE, hashed)]
    # the org's token on the same store still sees both of its members
    status, body = call(everyone, "GET", "/api/v1/users", TOKENS["org"])
    assert sorted(row["lines_accepted"] for row in json.loads(body)["data"]) == [7, 40]


def test_a_member_token_names_its_member_reads_no_other_org_and_stores_nothing(serve_factory, tmp_path):
    serve = member_serve(serve_factory, tmp_path, "everyone", [ALICE, CAROL], hashed=False)
    status, body = call(serve, "GET", "/api/v1/whoami", TOKENS["alice"])
    assert (status, json.loads(body)) == (200, {"kind": "member", "org": "org-a", "member": ALICE, "orgs": None})
    assert json.loads(call(serve, "GET", "/api/v1/whoami", TOKENS["org"])[1]) == {
        "kind": "org", "org": "org-a", "member": None, "orgs": None}
    assert json.loads(call(serve, "GET", "/api/v1/whoami", TOKENS["admin"])[1]) == {
        "kind": "admin", "org": None, "member": None, "orgs": ["org-a"]}
    status, body = call(serve, "GET", "/api/v1/users", TOKENS["alice"], org="org-b")
    assert status == 403 and b"not org-b" in body
    status, body = call(serve, "GET", "/v1/organizations/usage_report/claude_code", TOKENS["alice"])
    assert status == 403, body

    who = dict(email=ALICE, session="alice-writes", org="org-a")
    answer = post_export(serve, export_request(ExportMetricsServiceRequest,
                                               [lines(1000, at(DAY, 10), at(DAY, 9), **who)]), token=TOKENS["alice"])
    assert answer.status == 401 and not answer.ok
    assert call(serve, "POST", "/api/v1/aggregate", TOKENS["admin"])[0] == 200
    status, body = call(serve, "GET", "/api/v1/users", TOKENS["alice"])
    assert [row["lines_accepted"] for row in json.loads(body)["data"]] == [40]
    log = serve.log_text()
    assert not any(token in log for token in TOKENS.values())
