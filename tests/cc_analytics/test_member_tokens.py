"""A member token (`ORG_ID TOKEN member=EMAIL`) sees only its member's own figures, on every route serve builds,
with and without --hash-emails: against real serve processes.

The ground truth of a member's answer is the org's answer on a store that holds that member alone: every
member-scoped route must give the member token on the whole store exactly what the org token gives on that one.
Every other route that needs a token refuses it, and so does the OTLP receiver (a member token stores nothing).
"""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from plumbing.routes import Access
from tests.support.claude_records import DAY, at, lines
from tests.support.exports import post_export
from tests.support.member_stores import ALICE, BOB, CAROL, MEMBERS, TOKENS, member_serve, stored
from tests.support.otlp_messages import export_request
from tests.support.read_api_routes import call, declared_routes, serves_read_api

pytestmark = pytest.mark.slow

@pytest.mark.parametrize("hashed", [False, True], ids=["emails", "hashed-emails"])
def test_a_member_token_sees_only_its_member_on_every_route(store, serve_factory, tmp_path, hashed):
    read_api = serves_read_api(store, tmp_path)
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
    assert checked == {"/api/v1/daily", "/api/v1/users", "/api/v1/contributions", "/api/v1/contributions/pull_requests",
                       "/api/v1/value", "/api/v1/value/forecast", "/api/v1/usage", "/api/v1/usage/adoption",
                       "/api/v1/repositories"}
    # the other groupings narrow too
    for path, group in (("/api/v1/contributions", "user"), ("/api/v1/contributions", "repo"),
                        ("/api/v1/usage", "user")):
        assert call(everyone, "GET", path, TOKENS["alice"], group=group) == \
            call(alice_alone, "GET", path, TOKENS["org"], group=group), (path, group)

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
