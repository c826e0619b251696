"""A real `cc-analytics serve` in a subprocess for benchmarks: its ports, its CPU time and memory, a clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parent.parent
READY = re.compile(r"cc-analytics ready: OTLP/gRPC on (\S+):(\d+), OTLP/HTTP on (\S+):(\d+), API on (\S+):(\d+)")
STOPPED = re.compile(r"stopped; (\d+) rows stored in (\d+) batches")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class CollectorProcess:
    """`python -m cc_analytics serve` on loopback, ephemeral ports, its own data dir and no rollup timer."""

    def __init__(self, data_dir: str, extra_args: tuple[str, ...] = (), ports: tuple[int, int, int] = (0, 0, 0)):
        self.data_dir = data_dir
        self.ports = ports  # gRPC, HTTP, API; 0: ephemeral
        self.extra_args = extra_args
        self.log_lines: list[str] = []
        self.peak_rss_bytes = 0
        self._ready = threading.Event()

    def start(self, timeout: float = 60) -> "CollectorProcess":
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CC_ANALYTICS_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cc_analytics", "serve", "--data-dir", self.data_dir,
             "--grpc-port", str(self.ports[0]), "--http-port", str(self.ports[1]), "--api-port", str(self.ports[2]),
             "--aggregate-interval", "0", *self.extra_args],
            cwd=REPO, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # The log must be read all along: a full pipe would block serve's logging, and so serve.
        self._log_reader = threading.Thread(target=self._read_log, daemon=True)
        self._log_reader.start()
        if not self._ready.wait(timeout):
            self.process.kill()
            raise RuntimeError("serve did not start:\n" + "".join(self.log_lines))
        return self

    def _read_log(self) -> None:
        for line in self.process.stderr:
            self.log_lines.append(line)
            match = READY.search(line)
            if match:
                host, grpc_port, _, http_port, _, api_port = match.groups()
                self.bound_ports = (int(grpc_port), int(http_port), int(api_port))
                self.grpc_target = f"{host}:{grpc_port}"
                self.http_url = f"http://{host}:{http_port}"
                self.api_url = f"http://{host}:{api_port}"
                self._ready.set()

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User and system time of every thread of serve and of its decoding worker processes so far
        (/proc/PID/stat utime + stime)."""
        return _process_cpu_seconds(self.pid) + sum(map(_process_cpu_seconds, self._children()))

    def _children(self) -> list[int]:
        """serve's child processes (the decoding workers, multiprocessing's resource tracker)."""
        children = []
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                children += [int(pid) for pid in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
        return children

    def thread_cpu_seconds(self) -> dict[str, float]:
        """CPU time so far by kind of thread: the main thread runs the asyncio loop (receivers, decoding, writer
        bookkeeping); other Python threads are the store writer's insert thread; ClickHouse and gRPC name theirs."""
        kinds: dict[str, float] = {}
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                name = (task / "comm").read_text().strip()
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue  # the thread ended meanwhile
            kind = _thread_kind(int(task.name), name, self.pid)
            kinds[kind] = kinds.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        kinds["decoding worker processes"] = sum(map(_process_cpu_seconds, self._children()))
        return kinds

    def _note_peak_rss(self) -> None:
        """VmHWM: the most resident memory serve has had plus each decoding worker's (peaks added: an upper
        bound); read while it still runs."""
        try:
            peak = sum(_peak_rss_bytes(pid) for pid in (self.pid, *self._children()))
        except (FileNotFoundError, ProcessLookupError):
            return
        self.peak_rss_bytes = max(self.peak_rss_bytes, peak)

    def insert_figures(self) -> dict[str, float]:
        """The writer's batches, rows and seconds spent in inserts, summed over tables, from serve's /metrics."""
        with urllib.request.urlopen(self.api_url + "/metrics", timeout=60) as reply:
            text = reply.read().decode()
        figures = {"batches": 0.0, "rows": 0.0, "insert_seconds": 0.0}
        wanted = {"cc_analytics_collector_insert_batches_total": "batches",
                  "cc_analytics_collector_insert_rows_total": "rows",
                  "cc_analytics_collector_insert_duration_seconds_sum": "insert_seconds"}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in wanted:
                    figures[wanted[sample.name]] += sample.value
        return figures

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM, as an operator stops it: serve flushes what it acknowledged, then exits. Returns its exit code."""
        self._note_peak_rss()
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                break
            self._note_peak_rss()
            time.sleep(0.05)
        code = self.process.wait()
        self._log_reader.join(timeout=5)  # its last lines, "stopped; ...", included
        return code

    def stopped_line(self) -> tuple[int, int] | None:
        """(rows, batches) from serve's last log line, once it stopped."""
        for line in reversed(self.log_lines):
            match = STOPPED.search(line)
            if match:
                return int(match.group(1)), int(match.group(2))
        return None


def _thread_kind(thread_id: int, name: str, pid: int) -> str:
    if thread_id == pid:
        return "main thread (asyncio loop)"
    if name.startswith("python"):
        return "other Python threads (insert)"
    if name.startswith(("event_engine", "grpc")):
        return "gRPC threads"
    return "chDB threads"


def _process_cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0  # a child that ended meanwhile
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _peak_rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0
