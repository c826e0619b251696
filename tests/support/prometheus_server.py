"""A real Prometheus (Debian's package) on loopback for integration tests: scrape config, HTTP API queries."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from tests.support.tools import require_tool


PROMETHEUS_PACKAGE = "apt-get install prometheus (Debian's package ships prometheus and promtool; .ci/run does)"


def prometheus_tool(name: str) -> str:
    return require_tool(name, PROMETHEUS_PACKAGE)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrometheusServer:
    def __init__(self, work_dir: Path, scrape_target: str, rule_files: list[Path] = (),
                 scrape_interval: str = "1s", lookback: str = "5m"):
        self.work_dir = work_dir
        self.data_dir = work_dir / "tsdb"
        self.port = free_port()
        self.lookback = lookback
        config = {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [{"job_name": "cc-analytics", "static_configs": [{"targets": [scrape_target]}]}],
        }
        self.config_file = work_dir / "prometheus.yml"
        self.config_file.write_text(yaml.safe_dump(config))
        self.process: subprocess.Popen | None = None
        self.log_file = work_dir / "prometheus.log"

    def backfill(self, openmetrics_file: Path) -> str:
        """Turn an OpenMetrics file into TSDB blocks in the data dir (before start)."""
        result = subprocess.run([prometheus_tool("promtool"), "tsdb", "create-blocks-from", "openmetrics",
                                 str(openmetrics_file), str(self.data_dir)], capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, f"promtool backfill failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def start(self, timeout: float = 60) -> "PrometheusServer":
        self.process = subprocess.Popen(
            [prometheus_tool("prometheus"), f"--config.file={self.config_file}",
             f"--storage.tsdb.path={self.data_dir}", f"--web.listen-address=127.0.0.1:{self.port}",
             f"--query.lookback-delta={self.lookback}", "--storage.tsdb.retention.time=400d"],
            stdout=subprocess.DEVNULL, stderr=self.log_file.open("w"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"prometheus exited:\n{self.log()}"
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as reply:
                    if reply.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"prometheus did not become ready:\n{self.log()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")[-5000:]

    def api(self, path: str, **parameters) -> dict:
        """The `data` of a successful API call; an error status or a failed query fails the test with its reason."""
        url = f"{self.url}{path}?{urllib.parse.urlencode(parameters)}"
        try:
            with urllib.request.urlopen(url, timeout=60) as reply:
                body = json.loads(reply.read())
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{path} {parameters}: {error.code} {error.read().decode(errors='replace')}") from None
        assert body["status"] == "success", body
        return body["data"]

    def instant(self, expr: str, at: float | None = None) -> list[dict]:
        parameters = {"query": expr} if at is None else {"query": expr, "time": at}
        return self.api("/api/v1/query", **parameters)["result"]

    def range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        return self.api("/api/v1/query_range", query=expr, start=start, end=end, step=step)["result"]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
