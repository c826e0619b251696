"""Auth tokens, org isolation, TLS and mutual TLS, against real serve processes and the official OTel exporters."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.support.paths import REPO

from tests.support.tools import require_tool
from tests.support.otel_sdk import EVENT_SCOPE, resource

TOKENS = {"org-a": "token-of-org-a-0123456789abcdef", "org-b": "token-of-org-b-0123456789abcdef",
          "*": "admin-token-0123456789abcdef0123"}
LOGS_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


@pytest.fixture
def tokens_file(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("# org token\n" + "".join(f"{org} {token}\n" for org, token in TOKENS.items()))
    return path


def claimed_org_request(claimed_org: str, session: str, count: int = 2) -> bytes:
    """Records that say they belong to claimed_org."""
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    for n in range(count):
        record = scope.log_records.add(time_unix_nano=time.time_ns() + n)
        record.attributes.extend([KeyValue(key=key, value=AnyValue(string_value=value)) for key, value in (
            ("event.name", "user_prompt"), ("organization.id", claimed_org), ("session.id", session),
            ("user.email", f"{session}@example.com"))])
    return request.SerializeToString()


def grpc_export(serve, body: bytes, token: str | None) -> grpc.StatusCode:
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    with grpc.insecure_channel(serve.grpc_endpoint) as channel:
        try:
            channel.unary_unary(LOGS_METHOD)(body, metadata=metadata, timeout=10)
            return grpc.StatusCode.OK
        except grpc.RpcError as error:
            return error.code()


def http_call(url: str, token: str | None, body: bytes | None = None, content_type: str = "application/x-protobuf",
              method: str | None = None) -> tuple[int, dict, bytes]:
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def stored_orgs(serve) -> dict[str, str]:
    """session -> org_id of every stored event, read with the admin token."""
    status, _, body = http_call(f"http://{serve.host}:{serve.api_port}/api/v1/query?format=JSONEachRow",
                                TOKENS["*"], b"SELECT DISTINCT session_id, org_id FROM events FINAL",
                                content_type="application/sql")
    assert status == 200, body
    rows = [json.loads(line) for line in body.decode().splitlines()]
    return {row["session_id"]: row["org_id"] for row in rows}


def test_exports_need_a_valid_token_and_are_stored_under_its_org(serve_factory, tokens_file):
    serve = serve_factory("--auth-tokens", str(tokens_file))
    http_logs = f"{serve.http_url}/v1/logs"

    assert grpc_export(serve, claimed_org_request("org-a", "grpc-none"), None) == grpc.StatusCode.UNAUTHENTICATED
    assert grpc_export(serve, claimed_org_request("org-a", "grpc-wrong"), TOKENS["org-a"][:-1] + "x") \
        == grpc.StatusCode.UNAUTHENTICATED
    status, headers, _ = http_call(http_logs, None, claimed_org_request("org-a", "http-none"))
    assert (status, headers.get("WWW-Authenticate")) == (401, 'Bearer realm="cc-analytics"')
    assert http_call(http_logs, "Basic " + TOKENS["org-a"], claimed_org_request("org-a", "http-basic"))[0] == 401
    assert http_call(http_logs, TOKENS["org-b"] + "0", claimed_org_request("org-a", "http-longer"))[0] == 401

    # org A's token cannot write as org B: the token's org wins over what the records claim
    assert grpc_export(serve, claimed_org_request("org-b", "grpc-a-claims-b"), TOKENS["org-a"]) == grpc.StatusCode.OK
    assert http_call(http_logs, TOKENS["org-b"], claimed_org_request("org-a", "http-b-claims-a"))[0] == 200
    # an admin token (a trusted gateway) keeps the records' own org
    assert grpc_export(serve, claimed_org_request("org-c", "grpc-admin"), TOKENS["*"]) == grpc.StatusCode.OK

    assert stored_orgs(serve) == {"grpc-a-claims-b": "org-a", "http-b-claims-a": "org-b", "grpc-admin": "org-c"}
    log = serve.log_text()
    assert "no valid bearer token" in log
    assert not any(token in log for token in TOKENS.values())


def test_an_org_token_reads_only_its_own_org(serve_factory, tokens_file, tmp_path):
    serve = serve_factory("--auth-tokens", str(tokens_file), "--aggregate-interval", "0")
    for org in ("org-a", "org-b"):
        assert grpc_export(serve, claimed_org_request(org, f"reader-{org}", 3), TOKENS[org]) == grpc.StatusCode.OK
    api = f"http://{serve.host}:{serve.api_port}"
    today = datetime.now(timezone.utc).date().isoformat()
    day = f"from={today}&to={today}"
    assert http_call(f"{api}/api/v1/aggregate?{day}", TOKENS["org-a"], b"", method="POST")[0] == 403
    assert http_call(f"{api}/api/v1/aggregate?{day}", TOKENS["*"], b"", method="POST")[0] == 200

    def orgs_in(path: str, token: str, key: str = "org_id") -> set[str]:
        status, _, body = http_call(f"{api}{path}", token)
        assert status == 200, body
        document = json.loads(body)
        return {row[key] for row in document["data"]}

    assert orgs_in(f"/api/v1/daily?{day}", TOKENS["*"]) == {"org-a", "org-b"}
    assert orgs_in(f"/api/v1/daily?{day}", TOKENS["org-a"]) == {"org-a"}
    assert orgs_in(f"/api/v1/users?month={today[:7]}", TOKENS["org-b"]) == {"org-b"}
    assert orgs_in(f"/v1/organizations/usage_report/claude_code?starting_at={today}", TOKENS["org-a"],
                   "organization_id") == {"org-a"}
    status, _, csv = http_call(f"{api}/api/v1/users?month={today[:7]}&format=csv", TOKENS["org-a"])
    assert status == 200 and b"reader-org-a@example.com" in csv and b"reader-org-b" not in csv

    # B's data through any other door: another org's parameter, SQL, the snapshot, /metrics
    for path, method in ((f"/api/v1/daily?{day}&org=org-b", "GET"), ("/api/v1/users?org=org-b", "GET"),
                         (f"/v1/organizations/usage_report/claude_code?starting_at={today}&org=org-b", "GET"),
                         ("/api/v1/query", "POST"), (f"/api/v1/snapshot?day={today}", "GET"), ("/metrics", "GET")):
        body = b"SELECT * FROM events" if method == "POST" else None
        status, _, answer = http_call(f"{api}{path}", TOKENS["org-a"], body, "application/sql", method)
        assert status == 403, (path, status, answer)
        assert b"org-b@example.com" not in answer
    for token in (None, "not-a-token-at-all-0123456789"):
        assert http_call(f"{api}/api/v1/daily?{day}", token)[0] == 401
        assert http_call(f"{api}/metrics", token)[0] == 401
    assert http_call(f"{api}/metrics", TOKENS["*"])[0] == 200
    assert http_call(f"{api}/healthz", None)[0] == 200
    assert http_call(f"{api}/readyz", None)[0] == 200

    # the CLI reaches the running serve with its token
    report = subprocess.run(
        [sys.executable, "-m", "cc_analytics", "report", "daily", "--from", today, "--to", today, "--format", "json",
         "--api-port", str(serve.api_port), "--api-token", TOKENS["org-b"], "--data-dir", str(tmp_path / "unused")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    assert {row["org_id"] for row in json.loads(report.stdout)} == {"org-b"}


def test_a_bad_tokens_file_stops_serve_with_the_reason(tmp_path):
    short = tmp_path / "tokens"
    short.write_text("org-a short\n")
    result = subprocess.run([sys.executable, "-m", "cc_analytics", "serve", "--auth-tokens", str(short),
                             "--data-dir", str(tmp_path / "data"), "--grpc-port", "0", "--http-port", "0",
                             "--api-port", "0"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "line 1: the token of org-a is shorter than 16 characters" in result.stderr
    assert "short" not in result.stderr.replace("shorter", "")  # the token itself is not echoed


# --- TLS -----------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def exporters_use_their_certificate_option(monkeypatch):
    # requests lets these variables override the verify= the HTTP exporter passes (a known requests quirk);
    # some machines set them to the system bundle, which does not hold the test CA.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1, a client certificate it signed, and one from a rogue CA."""
    openssl = require_tool("openssl", "install it: apt-get install openssl")
    folder = tmp_path_factory.mktemp("pki")

    def run(*arguments: str) -> None:
        subprocess.run([openssl, *arguments], cwd=folder, check=True, capture_output=True)

    for ca in ("ca", "rogue-ca"):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={ca}",
            "-keyout", f"{ca}.key", "-out", f"{ca}.pem")
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ca, extension in (("server", "ca", ["-extfile", "server.ext"]), ("client", "ca", []),
                                ("rogue-client", "rogue-ca", [])):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
            "-out", f"{name}.csr")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", "2", "-out", f"{name}.pem", *extension)
    return folder


class RecordingExporter(LogRecordExporter):
    """The official exporter, with each export's result kept (the SDK's processors only log a failure)."""

    def __init__(self, exporter):
        self.exporter = exporter
        self.results: list[LogRecordExportResult] = []

    def export(self, batch):
        self.results.append(self.exporter.export(batch))
        return self.results[-1]

    def shutdown(self):
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def send_over_tls(serve, transport: str, certificates, client: str | None, session: str) -> bool:
    """One Claude Code event through the official exporter over TLS; True if the export succeeded."""
    ca = certificates / "ca.pem"
    if transport == "grpc":
        key = (certificates / f"{client}.key").read_bytes() if client else None
        chain = (certificates / f"{client}.pem").read_bytes() if client else None
        credentials = grpc.ssl_channel_credentials(ca.read_bytes(), key, chain)
        exporter = GrpcLogExporter(endpoint=f"127.0.0.1:{serve.grpc_port}", credentials=credentials, timeout=2)
    else:
        files = ({"client_key_file": str(certificates / f"{client}.key"),
                  "client_certificate_file": str(certificates / f"{client}.pem")} if client else {})
        exporter = HttpLogExporter(endpoint=f"https://127.0.0.1:{serve.http_port}/v1/logs",
                                   certificate_file=str(ca), timeout=2, **files)
    recording = RecordingExporter(exporter)
    provider = LoggerProvider(resource=resource())
    provider.add_log_record_processor(SimpleLogRecordProcessor(recording))
    provider.get_logger(EVENT_SCOPE).emit(
        timestamp=time.time_ns(), body="claude_code.user_prompt",
        attributes={"event.name": "user_prompt", "session.id": session, "user.email": f"{session}@example.com"})
    provider.shutdown()
    return recording.results == [LogRecordExportResult.SUCCESS]


def stored_sessions(serve) -> set[str]:
    return {row["session_id"] for row in serve.query("SELECT DISTINCT session_id FROM events FINAL")}


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_tls_exports_work_and_plain_ones_are_refused(serve_factory, certificates, transport):
    serve = serve_factory("--tls-cert", str(certificates / "server.pem"), "--tls-key", str(certificates / "server.key"))
    assert "TLS on the OTLP receivers" in serve.log_text()
    assert send_over_tls(serve, transport, certificates, None, f"tls-{transport}")
    if transport == "grpc":
        assert grpc_export(serve, claimed_org_request("org-a", "plaintext"), None) == grpc.StatusCode.UNAVAILABLE
    else:
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(urllib.request.Request(f"{serve.http_url}/v1/logs", data=b"",
                                                          headers={"Content-Type": "application/x-protobuf"}), timeout=10)
    assert stored_sessions(serve) == {f"tls-{transport}"}


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_mutual_tls_takes_only_clients_with_a_certificate_of_the_ca(serve_factory, certificates, transport):
    serve = serve_factory("--tls-cert", str(certificates / "server.pem"), "--tls-key", str(certificates / "server.key"),
                          "--tls-client-ca", str(certificates / "ca.pem"))
    assert "mutual TLS on the OTLP receivers" in serve.log_text()
    assert send_over_tls(serve, transport, certificates, "client", f"mtls-{transport}")
    assert not send_over_tls(serve, transport, certificates, None, f"no-certificate-{transport}")
    assert not send_over_tls(serve, transport, certificates, "rogue-client", f"rogue-{transport}")
    assert stored_sessions(serve) == {f"mtls-{transport}"}


def test_tls_options_are_checked_before_serve_starts(tmp_path, certificates):
    for arguments, message in (
            (["--tls-cert", str(certificates / "server.pem")], "--tls-cert and --tls-key go together"),
            (["--tls-cert", str(certificates / "server.pem"), "--tls-key", str(tmp_path / "missing.key")],
             "cannot use the TLS files")):
        result = subprocess.run([sys.executable, "-m", "cc_analytics", "serve", "--data-dir", str(tmp_path / "data"),
                                 "--grpc-port", "0", "--http-port", "0", "--api-port", "0", *arguments],
                                cwd=REPO, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr
