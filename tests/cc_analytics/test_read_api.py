"""Every route of the read API serve builds declares an access level, and each level holds against real serve
processes: without --auth-tokens nothing asks for a token; with them, open routes stay open, the others need a
token, admin routes refuse an org token, and org-scoped routes show an org token only its own org."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from plumbing.routes import Access, undeclared
from tests.support.read_api_routes import DAY_PARAMETERS, call, declared_routes, serves_read_api
from tests.support.claude_records import DAY, at, event, identity, lines
from tests.support.contribution_rows import Seed, seed_data_dir
from tests.support.otlp_messages import export_request
from tests.support.exports import assert_stored
from tests.support.hostile_api_input import BODIES, PARAMETERS, cursor_of, nested_brackets
from tests.support.hostile_messages import FUZZ_SETTINGS

pytestmark = pytest.mark.slow

ORG_SCOPED = (Access.ORG, Access.MEMBER)
TOKENS = {"org-a": "token-of-org-a-0123456789abcdef", "*": "admin-token-0123456789abcdef0123"}



@pytest.fixture
def read_api(store, tmp_path):
    """The app serve builds, from the same function, on real parts (nothing started)."""
    return serves_read_api(store, tmp_path)


def contributions_of_two_orgs(tmp_path):
    """A data directory holding a merged PR of each org, so the contribution routes have both orgs to tell apart."""
    seed = Seed()
    for number, org in enumerate(("org-a", "org-b"), 1):
        seed.add_daily(DAY, org, "", f"dev@{org}.example.com", "dev", f"{org}/widgets", merged=1, with_cc=1)
        seed.add_pull_request(DAY, org, f"{org}/widgets", number, login="dev", member=f"dev@{org}.example.com",
                              team="", level="with_claude_code", lines=3, lines_with_cc=3)
    seed_data_dir(tmp_path / "data", seed)
    return tmp_path / "data"


def feed_two_orgs(serve, token: str | None) -> None:
    for org in ("org-a", "org-b"):
        who = dict(email=f"dev@{org}.example.com", session=f"{org}-s1", org=org)
        assert_stored(serve, export_request(ExportMetricsServiceRequest, [lines(40, at(DAY, 9), at(DAY, 8), **who)]),
                      token=token)
        assert_stored(serve, export_request(ExportLogsServiceRequest,
                                            [event("user_prompt", at(DAY, 9), **identity(**who)),
                                             event("tool_result", at(DAY, 9, 1), **identity(**who), tool_name="Bash",
                                                   success="true")]), token=token)
    assert call(serve, "POST", "/api/v1/aggregate", token)[0] == 200


def test_every_route_serve_builds_declares_an_access_level(read_api):
    assert undeclared(read_api) == []
    routes = declared_routes(read_api)
    assert routes[("GET", "/healthz")] is Access.OPEN and routes[("GET", "/readyz")] is Access.OPEN
    assert {path for (_, path), level in routes.items() if level is Access.ORG} == {
        "/v1/organizations/usage_report/claude_code", "/api/v1/freshness"}
    # org-scoped routes that also answer a member token, narrowed to that member (test_member_tokens.py)
    assert {path for (_, path), level in routes.items() if level is Access.MEMBER} == {
        "/api/v1/daily", "/api/v1/users", "/api/v1/contributions", "/api/v1/contributions/pull_requests",
        "/api/v1/value", "/api/v1/value/forecast", "/api/v1/usage", "/api/v1/usage/adoption", "/api/v1/repositories",
        "/api/v1/whoami"}
    assert (routes[("GET", "/signin")], routes[("POST", "/signin")], routes[("POST", "/signout")]) == (
        Access.OPEN, Access.OPEN, Access.OPEN)
    assert {path for (_, path), level in routes.items() if level is Access.OPEN} >= {
        "/", "/assets/page.js", "/assets/api.js", "/assets/page.css", "/assets/vendor/plotly.min.js"}


def test_without_tokens_no_route_asks_for_one(read_api, serve_factory, tmp_path):
    serve = serve_factory("--aggregate-interval", "0", data_dir=contributions_of_two_orgs(tmp_path))
    feed_two_orgs(serve, None)
    for (method, path), level in declared_routes(read_api).items():
        status, body = call(serve, method, path)
        assert status not in (401, 403), (method, path, level, status, body)
        if level in ORG_SCOPED and path != "/api/v1/whoami":
            assert b"org-a" in body and b"org-b" in body, (path, body)


def test_with_tokens_each_level_holds(read_api, serve_factory, tmp_path):
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text("".join(f"{org} {token}\n" for org, token in TOKENS.items()))
    serve = serve_factory("--auth-tokens", str(tokens_file), "--aggregate-interval", "0",
                          data_dir=contributions_of_two_orgs(tmp_path))
    feed_two_orgs(serve, TOKENS["*"])
    org_token, admin_token = TOKENS["org-a"], TOKENS["*"]
    for (method, path), level in declared_routes(read_api).items():
        where = (method, path, level)
        if level in (Access.OPEN, Access.SIGNED):
            # a sign-in without a token is a wrong token, 401 (tests/cc_analytics/test_sign_in.py)
            assert call(serve, method, path)[0] not in ((403,) if path == "/signin" else (401, 403)), where
            continue
        status, body = call(serve, method, path)
        assert status == 401 and b"a valid token is required" in body, where
        assert call(serve, method, path, admin_token)[0] not in (401, 403), where
        status, body = call(serve, method, path, org_token)
        if level is Access.ADMIN:
            assert status == 403 and b"needs an admin token" in body, where
        else:
            assert status == 200 and b"org-a" in body and b"org-b" not in body, (where, body)
            status, body = call(serve, method, path, org_token, org="org-b")
            assert status == 403 and b"not org-b" in body, where


def request_status(serve, method: str, path: str, token: str | None, parameters: dict, body: bytes | None):
    """The status and body of one request with exactly these parameters and body; a server that answers before it
    read the whole body (a refusal) is heard out, not taken for a failure."""
    connection = http.client.HTTPConnection(serve.host, serve.api_port, timeout=120)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None:  # a body without a type is refused (415) before its route reads it
        headers["Content-Type"] = "application/json"
    try:
        try:
            connection.request(method, f"{path}?{urllib.parse.urlencode(parameters)}", body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # its answer is read below
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


def tokened_serve(serve_factory, tmp_path):
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text("".join(f"{org} {token}\n" for org, token in TOKENS.items()))
    serve = serve_factory("--auth-tokens", str(tokens_file), "--aggregate-interval", "0")
    feed_two_orgs(serve, TOKENS["*"])
    return serve


# Each made a 500 (RecursionError, OverflowError) or read a body of any size.
BAD_INPUTS = [
    ("GET", "/v1/organizations/usage_report/claude_code", {"page": cursor_of(nested_brackets(2_000))}, None,
     "is not a cursor"),
    ("GET", "/api/v1/snapshot", {"day": "0001-01-01"}, None, "outside 1970-01-01..2149-06-06"),
    ("GET", "/api/v1/snapshot", {"day": "9999-12-31"}, None, "outside 1970-01-01..2149-06-06"),
    ("GET", "/api/v1/snapshot", {"day": "1969-12-31"}, None, "outside 1970-01-01..2149-06-06"),
    ("GET", "/api/v1/daily", {"from": "0001-01-01", "to": "0001-01-02"}, None, "outside 1970-01-01"),
    ("GET", "/api/v1/users", {"month": "9999-12"}, None, "outside 1970-01..2149-06"),
    ("GET", "/api/v1/contributions", {"from": "0001-01-01", "to": "0001-01-02"}, None, "outside 1970-01-01"),
    ("GET", "/api/v1/contributions", {"repo": "../../etc/passwd"}, None, "is not a GitHub repository"),
    ("GET", "/api/v1/contributions/pull_requests", {"level": "\x00"}, None, "is not one of"),
    ("POST", "/api/v1/purge", {}, ('{"user":' * 5_000 + "1" + "}" * 5_000).encode(), "is not JSON"),
    ("POST", "/api/v1/purge", {}, b"[" * 50_000, "is not JSON"),
    ("POST", "/api/v1/purge", {}, json.dumps({"user": "x" * (1 << 20)}).encode(), "over 65536 bytes"),
]


def test_bad_inputs_that_made_500s_are_a_400_with_a_message(serve_factory, tmp_path):
    serve = tokened_serve(serve_factory, tmp_path)
    for method, path, parameters, body, words in BAD_INPUTS:
        for token in (TOKENS["*"], TOKENS["org-a"]) if path.startswith("/v1/") else (TOKENS["*"],):
            status, answer = request_status(serve, method, path, token, {**DAY_PARAMETERS, **parameters}, body)
            assert status == 400 and words in json.loads(answer)["error"], (path, parameters, status, answer[:300])
    assert serve.alive() and crashes_logged(serve.log_text()) == []


def test_no_parameter_or_body_makes_any_route_answer_5xx(read_api, serve_factory, tmp_path):
    """Every route serve builds, any token, hostile parameters and bodies: never a 5xx, and serve keeps answering."""
    serve = tokened_serve(serve_factory, tmp_path)
    routes = sorted(declared_routes(read_api))
    tokens = st.sampled_from([TOKENS["*"], TOKENS["*"], TOKENS["org-a"], None, "not-a-token"])

    @FUZZ_SETTINGS
    @given(route=st.sampled_from(routes), token=tokens, parameters=PARAMETERS, body=BODIES,
           with_days=st.booleans())
    def one_request(route, token, parameters, body, with_days):
        method, path = route
        query = {**DAY_PARAMETERS, **parameters} if with_days else parameters
        status, answer = request_status(serve, method, path, token, query, body if method == "POST" else None)
        assert status < 500, (method, path, query, body[:200], status, answer[:500])

    one_request()
    assert call(serve, "GET", "/healthz")[0] == 200
    assert crashes_logged(serve.log_text()) == [], serve.log_text()[-3000:]


def crashes_logged(log: str) -> list[str]:
    """The exception of each traceback in the log, but aiohttp's own refusals of a malformed request (a URL over
    its line limit): those it answers 400 (and logs with a traceback)."""
    lines = log.splitlines()
    ends = [next((line for line in lines[start + 1:] if line and not line.startswith(" ")), "")
            for start, line in enumerate(lines) if line.startswith("Traceback")]
    return [end for end in ends if not end.startswith("aiohttp.http_exceptions.")]
