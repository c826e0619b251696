"""A real `python -m cc_analytics serve` process on loopback, with ephemeral ports and its own data dir."""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.support.paths import REPO

_READY = re.compile(r"OTLP/gRPC on (\S+):(\d+), OTLP/HTTP on \S+:(\d+), API on \S+:(\d+)")


class ServeProcess:
    """A real `python -m cc_analytics serve` on loopback with ephemeral ports and its own data dir."""

    def __init__(self, data_dir: Path, extra_args: tuple[str, ...] = (), env: dict | None = None):
        self.data_dir = data_dir
        self.extra_args = extra_args
        self.env = env or {}
        self.process: subprocess.Popen | None = None
        self.log_lines: list[str] = []
        self.token: str | None = None  # sent as a bearer token by api() and query() (and by the fleet's exporters)

    def start(self, timeout: float = 60) -> "ServeProcess":
        command = [sys.executable, "-m", "cc_analytics", "serve", "--data-dir", str(self.data_dir),
                   "--grpc-port", "0", "--http-port", "0", "--api-port", "0", *self.extra_args]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CC_ANALYTICS_")}
        environment.update(self.env)
        self.process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        self.log_lines = []
        ready = threading.Event()

        def read_log():
            for line in self.process.stderr:
                self.log_lines.append(line)
                match = _READY.search(line)
                if match:
                    self.host = match.group(1)
                    self.grpc_port, self.http_port, self.api_port = map(int, match.groups()[1:])
                    ready.set()

        threading.Thread(target=read_log, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("serve did not start:\n" + "".join(self.log_lines))
        return self

    @property
    def grpc_endpoint(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def with_token(self, token: str) -> "ServeProcess":
        """This same serve as a client holding token sees it (with --auth-tokens)."""
        client = copy.copy(self)
        client.token = token
        return client

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def query(self, sql: str) -> list[dict]:
        """Rows of a read-only query through the running serve's API, as dicts (64-bit integers as numbers)."""
        request = urllib.request.Request(f"http://{self.host}:{self.api_port}/api/v1/query?format=JSONEachRow",
                                         data=sql.encode(),
                                         headers={"Content-Type": "application/sql", **self._headers()})
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return [json.loads(line) for line in reply.read().decode().splitlines() if line]
        except urllib.error.HTTPError as error:
            raise AssertionError(f"query failed: {error.read().decode()}") from None

    def api(self, method: str, path: str, **parameters) -> bytes:
        """The body of a successful read-API call (None parameters left out); any error status fails the test."""
        query = urllib.parse.urlencode({k: v for k, v in parameters.items() if v is not None})
        url = f"http://{self.host}:{self.api_port}{path}?{query}"
        request = urllib.request.Request(url, method=method, data=None, headers=self._headers())
        try:
            with urllib.request.urlopen(request, timeout=120) as reply:
                assert reply.status == 200, f"{method} {url}: {reply.status}"
                return reply.read()
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} {url}: {error.code} {error.read().decode(errors='replace')}") from None

    def readiness(self) -> tuple[int, dict]:
        """/readyz: its status and its JSON body (503 is an answer here, not an error)."""
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.api_port}/readyz", timeout=10) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def scalar(self, sql: str):
        rows = self.query(sql)
        return next(iter(rows[0].values()))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log_text(self) -> str:
        return "".join(self.log_lines)


def start_serve_for_admin(data: Path, admin_token: str | None, *extra_args: str) -> ServeProcess:
    """A serve without --auth-tokens, or with one admin token; its `token` holds the Authorization header the
    API then needs (empty without tokens)."""
    if admin_token:
        (data / "tokens").write_text(f"* {admin_token}\n")
        extra_args = (*extra_args, "--auth-tokens", str(data / "tokens"))
    serve = ServeProcess(data / "data", extra_args).start()
    serve.token = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
    return serve
