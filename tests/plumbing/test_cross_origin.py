"""A page of another site cannot make a visitor's browser change anything on a real serve: cross-origin form
POSTs to SQL, aggregation and purge are refused and have no effect, with and without --auth-tokens; simple content
types are refused even without an Origin; same-origin pages and clients that are not browsers still work; the
OTLP/HTTP port stores no browser form as an export."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from tests.support.claude_records import at, event, identity
from tests.support.exports import JSON, assert_stored, post_export
from tests.support.otlp_messages import export_request
from tests.support.read_api import send
from tests.support.serve_process import start_serve_for_admin

pytestmark = pytest.mark.slow

ADMIN_TOKEN = "admin-token-0123456789abcdef0123"
EVIL = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
FORM_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
EMAIL = "victim@example.com"


@pytest.fixture(scope="module", params=["no tokens", "admin token"])
def fed_serve(request, tmp_path_factory):
    serve = start_serve_for_admin(tmp_path_factory.mktemp("serve"),
                                  ADMIN_TOKEN if request.param == "admin token" else None, "--aggregate-interval", "0")
    today = datetime.now(timezone.utc).date()
    assert_stored(serve, export_request(ExportLogsServiceRequest, [
        event("user_prompt", at(today, 9), **identity(email=EMAIL, session="victim-session"))]),
        token=ADMIN_TOKEN if serve.token else None)
    serve.today = today.isoformat()
    yield serve
    serve.stop()


def count(serve, sql: str) -> int:
    status, body = send(serve, "POST", "/api/v1/query", sql.encode(),
                        {"Content-Type": "application/sql", **serve.token}, format="JSONEachRow")
    assert status == 200, body
    return json.loads(body)["n"]


@pytest.mark.parametrize("content_type", FORM_TYPES)
def test_a_cross_site_form_changes_nothing(fed_serve, content_type, tmp_path):
    headers = {**EVIL, "Content-Type": content_type, **fed_serve.token}
    path = tmp_path / "written"
    status, body = send(fed_serve, "POST", "/api/v1/query", f"SELECT 1 INTO OUTFILE '{path}'".encode(), headers)
    assert status == 403 and "evil.example" in json.loads(body)["error"]
    status, _ = send(fed_serve, "POST", "/api/v1/aggregate", b"", headers,
                     **{"from": fed_serve.today, "to": fed_serve.today})
    assert status == 403
    status, _ = send(fed_serve, "POST", "/api/v1/purge", json.dumps({"user": EMAIL}).encode(), headers)
    assert status == 403
    assert not path.exists()
    assert count(fed_serve, "SELECT count() AS n FROM daily_user") == 0  # aggregate did not run
    assert count(fed_serve, "SELECT count() AS n FROM events WHERE session_id = 'victim-session'") == 1


def test_a_cross_site_fetch_metadata_alone_is_refused(fed_serve):
    status, _ = send(fed_serve, "POST", "/api/v1/query", b"SELECT 1",
                     {"Sec-Fetch-Site": "same-site", "Content-Type": "application/sql", **fed_serve.token})
    assert status == 403


@pytest.mark.parametrize("content_type", FORM_TYPES)
def test_simple_content_types_are_refused_without_an_origin(fed_serve, content_type):
    status, body = send(fed_serve, "POST", "/api/v1/query", b"SELECT 1",
                        {"Content-Type": content_type, **fed_serve.token})
    assert status == 415 and "application/sql" in json.loads(body)["error"]
    status, _ = send(fed_serve, "POST", "/api/v1/query", b"SELECT 1", fed_serve.token)  # a body of no type
    assert status == 415


def test_same_origin_pages_and_other_clients_still_work(fed_serve):
    own = {"Origin": f"http://{fed_serve.host}:{fed_serve.api_port}", "Sec-Fetch-Site": "same-origin"}
    for headers in (own, {}):
        status, body = send(fed_serve, "POST", "/api/v1/query", b"SELECT 7 AS n",
                            {**headers, "Content-Type": "application/sql", **fed_serve.token}, format="JSONEachRow")
        assert status == 200 and json.loads(body) == {"n": 7}, body
        status, body = send(fed_serve, "POST", "/api/v1/aggregate", None, {**headers, **fed_serve.token},
                            **{"from": fed_serve.today, "to": fed_serve.today})
        assert status == 200, body
    # reads stay readable from anywhere a token allows: only state-changing requests are guarded
    status, _ = send(fed_serve, "GET", "/healthz", None, EVIL)
    assert status == 200


@pytest.mark.parametrize("content_type", FORM_TYPES)
def test_the_otlp_http_port_stores_no_browser_form(fed_serve, content_type):
    request = export_request(ExportLogsServiceRequest, [
        event("user_prompt", at(datetime.now(timezone.utc).date(), 10),
              **identity(email="form@example.com", session="form-session"))])
    token = ADMIN_TOKEN if fed_serve.token else None
    answer = post_export(fed_serve, request, content_type=JSON, token=token,
                         headers={**EVIL, "Content-Type": content_type})
    assert answer.status == 415, answer.body[:300]
    assert count(fed_serve, "SELECT count() AS n FROM events WHERE session_id = 'form-session'") == 0
