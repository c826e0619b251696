"""The cc-analytics command as a user meets it: help, configuration from flags and environment, claude-env,
query, migrate, and clear failures instead of tracebacks."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.command_line import run

SUBCOMMANDS = ("serve", "migrate", "claude-env", "query", "purge")


def exported(output: str) -> dict[str, str]:
    return dict(line.removeprefix("export ").split("=", 1) for line in output.splitlines()
                if line.startswith("export "))


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "cc-analytics"
    assert script.exists()
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("cc-analytics ")


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_command_explains_itself(command):
    result = run(command, "--help")
    assert result.returncode == 0
    if command in ("serve", "claude-env", "query"):
        assert "--grpc-port" in result.stdout and "CC_ANALYTICS_GRPC_PORT" in result.stdout
    if command in ("serve", "migrate", "query", "purge"):
        assert "--data-dir" in result.stdout and "--clickhouse-url" in result.stdout


def test_claude_env_defaults_to_grpc_on_loopback():
    result = run("claude-env")
    assert result.returncode == 0
    assert exported(result.stdout) == {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
        "OTEL_METRICS_INCLUDE_REPOSITORY": "1",
    }


def test_claude_env_leaves_the_repository_out_when_asked():
    variables = exported(run("claude-env", "--include-repository", "no").stdout)
    assert "OTEL_METRICS_INCLUDE_REPOSITORY" not in variables
    assert variables["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    settings = json.loads(run("claude-env", "--format", "settings-json").stdout)
    assert settings["env"]["OTEL_METRICS_INCLUDE_REPOSITORY"] == "1"


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_claude_env_http_protocols_use_the_http_port(protocol):
    variables = exported(run("claude-env", "--protocol", protocol, "--http-port", "14318").stdout)
    assert variables["OTEL_EXPORTER_OTLP_PROTOCOL"] == protocol
    assert variables["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:14318"


def test_a_flag_beats_the_environment_which_beats_the_default():
    from_env = exported(run("claude-env", env={"CC_ANALYTICS_GRPC_PORT": "5317"}).stdout)
    assert from_env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:5317"
    from_flag = exported(run("claude-env", "--grpc-port", "6317", env={"CC_ANALYTICS_GRPC_PORT": "5317"}).stdout)
    assert from_flag["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:6317"


def test_claude_env_settings_json_and_wildcard_bind():
    result = run("claude-env", "--format", "settings-json", "--host", "0.0.0.0")
    settings = json.loads(result.stdout)
    endpoint = settings["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert endpoint.startswith("http://") and endpoint.endswith(":4317")
    assert "0.0.0.0" not in endpoint, "clients cannot connect to a wildcard address"
    advertised = exported(run("claude-env", "--host", "0.0.0.0", "--advertise-host", "otel.corp").stdout)
    assert advertised["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel.corp:4317"


@pytest.mark.parametrize("args,env,named", [
    (("--grpc-port", "70000"), {}, "--grpc-port"),
    (("--log-level", "loud"), {}, "--log-level"),
    (("--log-format", "xml"), {}, "--log-format"),
    (("--queue-max-bytes", "0"), {}, "--queue-max-bytes"),
    (("--aggregate-max-days", "2"), {}, "--aggregate-max-days"),
    ((), {"CC_ANALYTICS_BATCH_MAX_ROWS": "0"}, "CC_ANALYTICS_BATCH_MAX_ROWS"),
    ((), {"CC_ANALYTICS_HTTP_PORT": "many"}, "CC_ANALYTICS_HTTP_PORT"),
])
def test_bad_configuration_exits_2_naming_the_culprit(args, env, named, tmp_path):
    result = run("serve", "--data-dir", str(tmp_path), *args, env=env)
    assert result.returncode == 2
    assert named in result.stderr and "Traceback" not in result.stderr


def test_migrate_is_idempotent(tmp_path):
    first = run("migrate", "--data-dir", str(tmp_path / "store"))
    assert first.returncode == 0 and "applied collector/0001_raw_events" in first.stdout
    second = run("migrate", "--data-dir", str(tmp_path / "store"))
    assert second.returncode == 0 and "schema is up to date" in second.stdout


def test_query_goes_through_a_running_serve_then_reads_the_store_directly(serve):
    common = ("--data-dir", str(serve.data_dir), "--api-port", str(serve.api_port))
    through_api = run("query", *common, "--format", "TabSeparatedWithNames", "SELECT count() AS n FROM events")
    assert through_api.returncode == 0 and through_api.stdout == "n\n0\n"

    refused = run("query", *common, "INSERT INTO events (org_id) VALUES ('x')")
    assert refused.returncode == 1 and "not one SELECT" in refused.stderr
    assert run("query", *common, "--format", "Parquet", "SELECT 1").returncode == 2

    assert serve.stop() == 0
    direct = run("query", *common, "--format", "JSONEachRow", "SELECT count() AS n FROM spans")
    assert direct.returncode == 0 and json.loads(direct.stdout) == {"n": 0}


def test_a_second_serve_on_an_owned_store_fails_clearly(serve):
    result = run("serve", "--data-dir", str(serve.data_dir), "--grpc-port", "0", "--http-port", "0",
                 "--api-port", "0")
    assert result.returncode == 3
    assert "one owner" in result.stderr and str(serve.data_dir) in result.stderr
    assert "Traceback" not in result.stderr
    assert serve.alive()


@pytest.mark.parametrize("port_flag", ["--grpc-port", "--http-port", "--api-port"])
def test_a_port_in_use_fails_clearly(port_flag, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = {"--grpc-port": "0", "--http-port": "0", "--api-port": "0", port_flag: str(taken.getsockname()[1])}
        result = run("serve", "--data-dir", str(tmp_path), *(x for pair in ports.items() for x in pair))
    assert result.returncode == 3
    assert "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr


def test_json_logs_are_one_object_per_line(serve_factory):
    serve = serve_factory("--log-format", "json")
    lines = [json.loads(line) for line in serve.log_text().splitlines()]
    ready = [line for line in lines if line["message"].startswith("cc-analytics ready")]
    assert len(ready) == 1 and ready[0]["level"] == "info" and ready[0]["logger"] == "cc_analytics.serve"
    assert ready[0]["time"].endswith("Z")
