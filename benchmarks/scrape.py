"""How long Prometheus waits for /metrics when 10,000 developers are active.

Fills an embedded store with 31 days of rollups for USERS members (5 orgs, 50 teams, 3 models, 4 edit tools in 2
languages each), starts a real `cc-analytics serve` on it and times GET /metrics as Prometheus would send it: cold (the first
scrape after the rollups changed, which reads and renders them), warm (the rollups unchanged since) and during a
re-render (records rolled up through the API while serve runs: scrapes until the new text shows).
Baseline, in the same run: prometheus-client rendering the very same samples held in memory (what an exporter of
counters kept in process would cost), so the ratio shows what reading the rollups at scrape time adds.

    python -m benchmarks.scrape [--users 10000] [--scrapes 20] [--cold 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.claude_requests import RequestFactory

DAYS = 31
# Prometheus scrapes every 15 s; this often, many scrapes land in one re-render without starving it of CPU.
RERENDER_SCRAPE_INTERVAL = 0.05


def fill_store(data_dir: str, users: int, today: date) -> None:
    """Rollup rows written with INSERT ... SELECT (in a child process: chDB locks its directory)."""
    from cc_analytics.config import Settings
    from cc_analytics.store import migrate
    from plumbing.store.client import StoreTarget, connect

    client = connect(StoreTarget(data_dir=data_dir))
    migrate(client, Settings(data_dir=data_dir))
    first = today - timedelta(days=DAYS - 1)
    each_user_day = f"WITH toDate('{first}') + intDiv(number, {users}) AS day, number % {users} AS user"
    rows = f"FROM numbers({users * DAYS})"
    identity = ("day, concat('org-', toString(user % 5)) AS org_id, concat('dev', toString(user), '@example.com') "
                "AS user_key, concat('team-', toString(user % 50)) AS team")
    client.command(f"""INSERT INTO cc_analytics.daily_user
        (day, org_id, user_key, team, user_email, sessions, session_ids, lines_accepted, lines_removed, edits_accepted,
         edits_rejected, commits, input_tokens, output_tokens, cache_read_tokens, cost_usd, prompts, api_requests,
         records, version)
        {each_user_day} SELECT {identity}, user_key, 2, [concat(user_key, toString(day), 'a'), concat(user_key, toString(day), 'b')],
               rand() % 400, rand(1) % 100, rand(2) % 30, rand(3) % 5, rand(4) % 3, rand(5) % 100000,
               rand(6) % 20000, rand(7) % 900000, (rand(8) % 1000) / 100, rand(9) % 40, rand(10) % 80, 500, 1
        {rows}""")
    client.command(f"""INSERT INTO cc_analytics.daily_model
        (day, org_id, user_key, team, model, input_tokens, output_tokens, cache_read_tokens, cost_usd, version)
        {each_user_day} SELECT {identity}, arrayJoin(['claude-sonnet-4-5', 'claude-opus-4-1', 'claude-haiku-4-5']),
               rand() % 30000, rand(1) % 7000, rand(2) % 300000, (rand(3) % 300) / 100, 1
        {rows}""")
    client.command(f"""INSERT INTO cc_analytics.daily_edit_tool
        (day, org_id, user_key, team, tool_name, language, accepted, rejected, version)
        {each_user_day} SELECT {identity}, arrayJoin(['Edit', 'Write', 'MultiEdit', 'NotebookEdit']) AS tool_name,
               arrayJoin(['Python', 'TypeScript']), rand() % 10, rand(1) % 3, 1
        {rows}""")
    client.close()


def serve(data_dir: str, users: int) -> tuple[subprocess.Popen, int, int]:
    """A serve on the store; returns it, its API port and its OTLP/HTTP port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cc_analytics", "serve", "--data-dir", data_dir, "--grpc-port", "0", "--http-port",
         "0", "--api-port", "0", "--aggregate-interval", "0", "--max-user-series", str(users)],
        stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        if "cc-analytics ready" in line:
            return process, _port(line, "API on "), _port(line, "OTLP/HTTP on ")
    raise RuntimeError("serve did not start")


def _port(ready_line: str, after: str) -> int:
    return int(ready_line.split(after)[1].split(";")[0].split(",")[0].rsplit(":", 1)[1])


def scrape(port: int) -> tuple[float, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                     headers={"Accept": "text/plain;version=0.0.4"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as reply:
        body = reply.read()
    return time.perf_counter() - started, body


def usage_text(body: bytes) -> bytes:
    """The usage part of /metrics (the health families before it change with every request)."""
    return body[body.index(b"# HELP cc_analytics_lines_accepted_total"):]


def scrapes_during_rerender(api_port: int, http_port: int, today: date) -> tuple[list[float], float]:
    """Records rolled up through the API (the rollups' version moves), then scrapes every RERENDER_SCRAPE_INTERVAL
    until the new text shows: the times of those scrapes (the one showing it included), and the seconds until then."""
    before = usage_text(scrape(api_port)[1])
    export = RequestFactory(worker=0, now_ns=time.time_ns(), events_per_request=1).body("metrics", 0)
    _post(f"http://127.0.0.1:{http_port}/v1/metrics", export, "application/x-protobuf")
    _post(f"http://127.0.0.1:{api_port}/api/v1/aggregate?from={today}&to={today}", b"", "text/plain")
    started, during = time.perf_counter(), []
    while True:
        seconds, body = scrape(api_port)
        during.append(seconds)
        if usage_text(body) != before:
            return during, time.perf_counter() - started
        time.sleep(RERENDER_SCRAPE_INTERVAL)


def _post(url: str, body: bytes, content_type: str) -> None:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    with urllib.request.urlopen(request, timeout=120) as reply:
        reply.read()


class _Replay:
    """The scraped families as an in-memory collector: the baseline."""

    def __init__(self, families):
        self._families = families

    def collect(self):
        return self._families


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=20, help="warm scrapes per start")
    parser.add_argument("--cold", type=int, default=3,
                        help="serve starts, each timing one cold scrape; as many re-renders after the last")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        data_dir = str(Path(work) / "data")
        started = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(target=fill_store,
                                                              args=(data_dir, args.users, date.today()))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit("filling the store failed (see above)")
        print(f"store: {args.users} members x {DAYS} days of rollups written in {time.perf_counter() - started:.1f} s")
        # Cold: the first scrape after the rollups changed (here: after a start) reads them all and renders.
        cold, during, rerenders = [], [], []
        for start in range(args.cold):
            process, port, http_port = serve(data_dir, args.users)
            try:
                cold.append(scrape(port)[0])
                # Warm: later scrapes while the rollups stay as they are (the timer runs once a minute).
                warm, body = [], b""
                for _ in range(args.scrapes):
                    seconds, body = scrape(port)
                    warm.append(seconds)
                # After the cold runs (a rebuild changes today's rows): scrapes while the new text renders.
                for _ in range(args.cold if start == args.cold - 1 else 0):
                    scrapes, seconds = scrapes_during_rerender(port, http_port, date.today())
                    during.extend(scrapes)
                    rerenders.append(seconds)
            finally:
                process.terminate()
                process.wait()
    families = list(text_string_to_metric_families(body.decode()))
    samples = sum(len(family.samples) for family in families)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Replay(families))
    baseline = []
    for _ in range(args.scrapes):
        started = time.perf_counter()
        generate_latest(registry)
        baseline.append(time.perf_counter() - started)
    baseline_median = statistics.median(baseline)
    print(f"/metrics: {len(body) / 1e6:.1f} MB, {samples} samples, "
          f"{sum(1 for f in families if f.name.startswith('cc_analytics_user_'))} per-member families")
    print(f"cold scrape (first after the rollups changed), {args.cold} runs: median "
          f"{statistics.median(cold) * 1000:.0f} ms, max {max(cold) * 1000:.0f} ms")
    print(f"warm scrape, {args.scrapes} scrapes: median {statistics.median(warm) * 1000:.0f} ms, "
          f"max {max(warm) * 1000:.0f} ms")
    print(f"scrape during a re-render, {len(during)} scrapes in {len(rerenders)} re-renders: median "
          f"{statistics.median(during) * 1000:.0f} ms, max {max(during) * 1000:.0f} ms; new text after median "
          f"{statistics.median(rerenders) * 1000:.0f} ms")
    print(f"baseline (the same samples rendered by prometheus-client from memory): median "
          f"{baseline_median * 1000:.0f} ms")
    print(f"ratio cold / baseline: {statistics.median(cold) / baseline_median:.2f}x; "
          f"warm / baseline: {statistics.median(warm) / baseline_median:.2f}x")

if __name__ == "__main__":
    main()
