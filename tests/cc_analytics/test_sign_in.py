"""Signing a browser in with a token, against real serve processes over real HTTP (http.client: every header as
sent and received): the session cookie and its attributes, the cookie in place of the bearer header, CSRF on
state-changing requests a cookie authenticates, sign-out, the bound on wrong tokens, and no token in any answer
or log line."""

from __future__ import annotations

import http.client
import json
import subprocess
import urllib.parse
from http.cookies import SimpleCookie

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from plumbing.sessions import SESSION_COOKIE
from plumbing.sign_in_attempts import DEFAULT_MAX_FAILURES
from tests.support.claude_records import DAY, at, event, identity, lines
from tests.support.exports import assert_stored
from tests.support.otlp_messages import export_request
from tests.support.tools import require_tool

pytestmark = pytest.mark.slow

TOKENS = {"org-a": "token-of-org-a-0123456789abcdef", "org-b": "token-of-org-b-0123456789abcdef",
          "*": "admin-token-0123456789abcdef0123"}
ADMIN = TOKENS["*"]
DAY_QUERY = urllib.parse.urlencode({"from": DAY.isoformat(), "to": DAY.isoformat(), "month": f"{DAY:%Y-%m}"})


class Reply:
    def __init__(self, response: http.client.HTTPResponse):
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()

    @property
    def cookie(self) -> SimpleCookie:
        jar = SimpleCookie()
        for value in self.headers.get_all("Set-Cookie") or ():
            jar.load(value)
        return jar


def request(serve, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None) -> Reply:
    connection = http.client.HTTPConnection(serve.host, serve.api_port, timeout=120)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        return Reply(connection.getresponse())
    finally:
        connection.close()


def own_origin(serve) -> str:
    return f"http://{serve.host}:{serve.api_port}"


def sign_in(serve, token: str, origin: str | None = "own") -> Reply:
    """POST the sign-in form as a browser on serve's own page does (its Origin), or with the origin given."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if origin:
        headers["Origin"] = own_origin(serve) if origin == "own" else origin
    return request(serve, "POST", "/signin", body=urllib.parse.urlencode({"token": token}).encode(), headers=headers)


def session_of(reply: Reply) -> str:
    assert reply.status == 303 and reply.headers["Location"] == "/", (reply.status, reply.body)
    return reply.cookie[SESSION_COOKIE].value


def with_cookie(session: str, **headers: str) -> dict:
    return {"Cookie": f"{SESSION_COOKIE}={session}", **headers}


def tokened_serve(serve_factory, tmp_path, *extra: str):
    (tmp_path / "tokens").write_text("".join(f"{org} {token}\n" for org, token in TOKENS.items()))
    serve = serve_factory("--auth-tokens", str(tmp_path / "tokens"), "--aggregate-interval", "0", *extra)
    for org in ("org-a", "org-b"):
        who = dict(email=f"dev@{org}.example.com", session=f"{org}-s1", org=org)
        assert_stored(serve, export_request(ExportMetricsServiceRequest, [lines(40, at(DAY, 9), at(DAY, 8), **who)]),
                      token=ADMIN)
        assert_stored(serve, export_request(ExportLogsServiceRequest,
                                            [event("user_prompt", at(DAY, 9), **identity(**who))]), token=ADMIN)
    assert request(serve, "POST", f"/api/v1/aggregate?{DAY_QUERY}",
                   headers={"Authorization": f"Bearer {ADMIN}"}).status == 200
    return serve


def test_the_form_signs_in_with_a_cookie_that_reads_the_org_and_signs_out(serve_factory, tmp_path):
    serve = tokened_serve(serve_factory, tmp_path)
    answers = []

    form = request(serve, "GET", "/signin")
    answers.append(form)
    assert form.status == 200 and form.headers["Content-Type"].startswith("text/html")
    assert b'<form method="post" action="/signin">' in form.body and b'type="password"' in form.body

    reply = sign_in(serve, TOKENS["org-a"])
    answers.append(reply)
    session = session_of(reply)
    morsel = reply.cookie[SESSION_COOKIE]
    assert (morsel["httponly"], morsel["samesite"], morsel["path"], morsel["secure"]) == (True, "Strict", "/", "")
    assert int(morsel["max-age"]) == 12 * 3600
    assert TOKENS["org-a"] not in session and len(session) >= 40

    users = request(serve, "GET", f"/api/v1/users?{DAY_QUERY}", headers=with_cookie(session))
    answers.append(users)
    assert users.status == 200
    assert {row["org_id"] for row in json.loads(users.body)["data"]} == {"org-a"}
    other = request(serve, "GET", f"/api/v1/users?{DAY_QUERY}&org=org-b", headers=with_cookie(session))
    assert other.status == 403
    whoami = request(serve, "GET", "/api/v1/whoami", headers=with_cookie(session))
    assert json.loads(whoami.body) == {"kind": "org", "org": "org-a", "member": None, "orgs": None}
    # a made-up session id is nobody
    assert request(serve, "GET", "/api/v1/whoami", headers=with_cookie("x" * 43)).status == 401

    out = request(serve, "POST", "/signout", headers=with_cookie(session, Origin=own_origin(serve)))
    answers.append(out)
    assert out.status == 303 and out.headers["Location"] == "/signin"
    assert out.cookie[SESSION_COOKIE].value == "" and out.cookie[SESSION_COOKIE]["max-age"] == "0"
    gone = request(serve, "GET", f"/api/v1/users?{DAY_QUERY}", headers=with_cookie(session))
    answers.append(gone)
    assert gone.status == 401 and b"sign in at /signin" in gone.body

    wrong = sign_in(serve, TOKENS["org-a"][:-1] + "x")
    answers.append(wrong)
    assert wrong.status == 401 and b"That token is not valid" in wrong.body and b"<form" in wrong.body
    assert SESSION_COOKIE not in wrong.cookie

    everything = b"".join(reply.body + str(reply.headers).encode() for reply in answers)
    log = serve.log_text()
    assert "refused a sign-in from 127.0.0.1: the token is not in the tokens file" in log
    for token in TOKENS.values():
        assert token.encode() not in everything and token not in log


def test_an_admin_session_picks_any_org_and_changes_state_only_from_its_own_page(serve_factory, tmp_path):
    serve = tokened_serve(serve_factory, tmp_path)
    session = session_of(sign_in(serve, ADMIN))
    assert json.loads(request(serve, "GET", "/api/v1/whoami", headers=with_cookie(session)).body) == {
        "kind": "admin", "org": None, "member": None, "orgs": ["org-a", "org-b"]}
    for org in ("org-a", "org-b"):
        users = request(serve, "GET", f"/api/v1/users?{DAY_QUERY}&org={org}", headers=with_cookie(session))
        assert {row["org_id"] for row in json.loads(users.body)["data"]} == {org}

    aggregate = f"/api/v1/aggregate?{DAY_QUERY}"
    # a cookie alone proves nothing about the page that sent it: no Origin, a foreign one, a cross-site fetch
    for headers in ({}, {"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Sec-Fetch-Site": "same-site"}, {"Origin": "null"}):
        refused = request(serve, "POST", aggregate, headers=with_cookie(session, **headers))
        assert refused.status == 403, (headers, refused.body)
    assert b"with a session cookie must come from this server's own page" in request(
        serve, "POST", aggregate, headers=with_cookie(session)).body
    for headers in ({"Origin": own_origin(serve)}, {"Sec-Fetch-Site": "same-origin"}):
        assert request(serve, "POST", aggregate, headers=with_cookie(session, **headers)).status == 200, headers
    # scripts keep the bearer header, which a page elsewhere cannot send
    assert request(serve, "POST", aggregate, headers={"Authorization": f"Bearer {ADMIN}"}).status == 200
    # a session of an org token is still no admin
    org_session = session_of(sign_in(serve, TOKENS["org-a"]))
    assert request(serve, "POST", aggregate,
                   headers=with_cookie(org_session, Origin=own_origin(serve))).status == 403


def test_another_sites_page_cannot_sign_a_browser_in_or_out(serve_factory, tmp_path):
    serve = tokened_serve(serve_factory, tmp_path)
    refused = sign_in(serve, TOKENS["org-a"], origin="http://evil.example")
    assert refused.status == 403 and SESSION_COOKIE not in refused.cookie
    session = session_of(sign_in(serve, TOKENS["org-a"]))
    out = request(serve, "POST", "/signout", headers=with_cookie(session, Origin="http://evil.example"))
    assert out.status == 403
    assert request(serve, "GET", "/api/v1/whoami", headers=with_cookie(session)).status == 200


def test_wrong_tokens_from_one_address_are_bounded(serve_factory, tmp_path):
    serve = tokened_serve(serve_factory, tmp_path)
    for attempt in range(DEFAULT_MAX_FAILURES):
        assert sign_in(serve, f"wrong-token-{attempt:02d}-0123456789").status == 401
    blocked = sign_in(serve, TOKENS["org-a"])  # even the right one, until the window ends
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0
    assert b"Too many wrong tokens" in blocked.body and SESSION_COOKIE not in blocked.cookie
    log = serve.log_text()
    # once per kind and interval, not once per attempt
    assert log.count("refused a sign-in from 127.0.0.1: the token is not in the tokens file") == 1
    assert "wrong-token" not in log and TOKENS["org-a"] not in log


def test_under_tls_the_cookie_is_secure_and_lives_for_session_hours(serve_factory, tmp_path):
    openssl = require_tool("openssl", "install it: apt-get install openssl")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(tmp_path / "server.key"), "-out", str(tmp_path / "server.pem")],
                   check=True, capture_output=True)
    (tmp_path / "tokens").write_text(f"org-a {TOKENS['org-a']}\n")
    serve = serve_factory("--auth-tokens", str(tmp_path / "tokens"), "--tls-cert", str(tmp_path / "server.pem"),
                          "--tls-key", str(tmp_path / "server.key"), "--session-hours", "1")
    morsel = sign_in(serve, TOKENS["org-a"]).cookie[SESSION_COOKIE]
    assert (morsel["secure"], morsel["max-age"]) == (True, "3600")


def test_without_tokens_there_is_nothing_to_sign_in_to(serve_factory):
    serve = serve_factory()
    form = request(serve, "GET", "/signin")
    assert form.status == 200 and b"no --auth-tokens" in form.body and b"<form" not in form.body
    assert json.loads(request(serve, "GET", "/api/v1/whoami").body) == {
        "kind": "open", "org": None, "member": None, "orgs": None}
    assert sign_in(serve, TOKENS["org-a"]).status == 404
