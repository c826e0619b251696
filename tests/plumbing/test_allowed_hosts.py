"""DNS rebinding: without tokens, the API answers only requests addressed to an IP address, localhost or a name
given with --allowed-hosts; a page that pointed its own name at serve is refused even though it is same-origin."""

from __future__ import annotations

import http.client
import json
import secrets

import pytest

from plumbing.allowed_hosts import host_name


def request(serve, method: str, path: str, host: str, body: bytes | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection(serve.host, serve.api_port, timeout=60)
    try:
        connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


@pytest.mark.parametrize("header, name", [("127.0.0.1:9464", "127.0.0.1"), ("[::1]:9464", "::1"), ("::1", "::1"),
                                          ("LocalHost", "localhost"), ("evil.example:80", "evil.example")])
def test_host_name(header, name):
    assert host_name(header) == name


def test_a_rebinding_page_is_refused_and_the_machines_own_names_answer(serve_factory, tmp_path):
    serve = serve_factory("--allowed-hosts", "analytics.internal, Other.Example")
    port = serve.api_port
    rebinding = f"evil.example:{port}"
    # The attack: a page on evil.example, its name now resolving to 127.0.0.1, reads and posts as same-origin.
    status, body = request(serve, "GET", "/api/v1/users?month=2026-12", rebinding)
    assert status == 403 and "--allowed-hosts" in json.loads(body)["error"]
    status, _ = request(serve, "POST", "/api/v1/query", rebinding, b"SELECT 1",
                        {"Origin": f"http://{rebinding}", "Content-Type": "application/sql"})
    assert status == 403
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"analytics.internal:{port}",
                 f"other.example:{port}"):
        assert request(serve, "GET", "/api/v1/users?month=2026-12", host)[0] == 200, host


def test_with_tokens_any_host_is_answered_since_a_page_cannot_know_a_token(serve_factory, tmp_path):
    admin = secrets.token_hex(16)
    (tmp_path / "tokens").write_text(f"* {admin}\n")
    serve = serve_factory("--auth-tokens", str(tmp_path / "tokens"))
    host = f"evil.example:{serve.api_port}"
    assert request(serve, "GET", "/api/v1/users?month=2026-12", host)[0] == 401
    assert request(serve, "GET", "/api/v1/users?month=2026-12", host, headers={"Authorization": f"Bearer {admin}"})[0] == 200
