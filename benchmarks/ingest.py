"""How many Claude Code events per second `cc-analytics serve` takes into its embedded chDB store, and how fast.

Load model: a developer's Claude Code exports events every 5 s and metrics every 60 s while active, so 10,000 active
developers send about 2,000 log exports (20,000 events) and 170 metric exports per second at peak. Target: 50,000
events/s sustained with p99 export latency under 50 ms, nothing lost, within 2x of the baseline, RSS under 1 GiB.

Starts a real serve on a temporary data dir with ephemeral ports, and worker processes (benchmarks.load) replaying
Claude Code exports (benchmarks.claude_requests: every request a new session of one of 10,000 developers) over many
gRPC and HTTP/protobuf connections, for --seconds. Then stops serve with SIGTERM (it flushes what it acknowledged)
and counts the rows in its store: records acknowledged but not stored are lost.
Baseline, in the same run: chDB alone inserting the very same rows (decoded once by the collector's own decoders,
not timed) with insert_columns in batches of --batch-max-rows, no network and no decoding; the ratio shows what the
collector's receiving, decoding and batching cost next to the store. And a sample of them in batches of the size
serve actually formed, which separates chDB's cost per insert from the collector's own.

    python -m benchmarks.ingest [--seconds 30] [--connections 256] [--workers 2] [--rate EVENTS_PER_S]
                                [--profile serve.collapsed] [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import profile
from benchmarks.collector_process import CollectorProcess
from benchmarks.load import WorkerPlan, WorkerResult, run_worker
from benchmarks.store_side import BaselinePlan, BaselineResult, baseline_insert, count_stored

TARGET_EVENTS_PER_SECOND = 50_000
TARGET_P99_SECONDS = 0.050
TARGET_BASELINE_RATIO = 0.5
TARGET_RSS_BYTES = 1 << 30
SMALL_BATCH_SAMPLE_BATCHES = 200
SPAWN = multiprocessing.get_context("spawn")


@dataclass
class LoadTotals:
    """All workers' results together."""

    results: list[WorkerResult]

    def total(self, figure: str) -> int:
        return sum(getattr(result, figure) for result in self.results)

    def records(self, kind: str) -> int:
        return sum(result.records[kind] for result in self.results)

    def requests(self) -> int:
        return sum(sum(result.requests.values()) for result in self.results)

    @property
    def wall_seconds(self) -> float:
        return max(result.wall_seconds for result in self.results)

    def latency(self, quantile: float, transport: str = "") -> float:
        latencies = sorted(latency for result in self.results
                           for latency, used in zip(result.latencies, result.transports)
                           if used == transport or not transport)
        if not latencies:
            return float("nan")
        return latencies[min(int(quantile * len(latencies)), len(latencies) - 1)]

    def failures(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for result in self.results:
            for outcome, count in result.failures.items():
                merged[outcome] = merged.get(outcome, 0) + count
        return merged


@dataclass
class ServeFigures:
    cpu_seconds: float
    machine_busy_seconds: float  # every process on the machine, over the same time
    window_seconds: float  # that time: the load workers' start-up and the load
    thread_cpu_seconds: dict[str, float]
    peak_rss_bytes: int
    inserts: dict[str, float]
    exit_code: int


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30, help="how long the load runs (default 30)")
    parser.add_argument("--connections", type=int, default=256,
                        help="concurrent client connections, half gRPC, half HTTP/protobuf (default 256)")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes (default 2)")
    parser.add_argument("--rate", type=float, default=0,
                        help="events per second to offer, e.g. 20000 for 10,000 active developers; "
                             "0 (default): each connection sends as soon as its previous export is answered")
    parser.add_argument("--events-per-request", type=int, default=10,
                        help="events in a log export (default 10: 20,000 events/s over 2,000 exports/s)")
    parser.add_argument("--batch-max-rows", type=int, default=50_000,
                        help="serve's --batch-max-rows, and the baseline's batch size (default 50000)")
    parser.add_argument("--profile", metavar="FILE", help="record what holds serve's GIL during the load with "
                                                          "py-spy into FILE (collapsed stacks); print the hotspots")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5 s, 8 connections, 1 worker")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.connections, args.workers = 5, 8, 1
    return args


def worker_plans(args: argparse.Namespace, collector: CollectorProcess, now_ns: int) -> list[WorkerPlan]:
    """The connections split between gRPC and HTTP, and both spread over the workers as evenly as they go."""
    grpc_total = args.connections // 2
    http_total = args.connections - grpc_total

    def share(total: int, worker: int) -> int:
        return total // args.workers + (worker < total % args.workers)

    return [WorkerPlan(worker, collector.grpc_target, collector.http_url, share(grpc_total, worker),
                       share(http_total, worker), args.seconds, args.events_per_request,
                       args.rate / args.workers, now_ns, phase=worker / args.workers)
            for worker in range(args.workers)]


def drive_load(plans: list[WorkerPlan]) -> LoadTotals:
    """Start the workers, let them build their bodies, start them together, collect their results."""
    pipes, processes = [], []
    for plan in plans:
        ours, theirs = SPAWN.Pipe()
        process = SPAWN.Process(target=run_worker, args=(plan, theirs), daemon=True)
        process.start()
        pipes.append(ours)
        processes.append(process)
    for pipe in pipes:
        if pipe.recv() != "ready":
            raise RuntimeError("a load worker did not start")
    start_at = time.monotonic() + 0.2
    for pipe in pipes:
        pipe.send(start_at)
    results = [pipe.recv() for pipe in pipes]
    for process in processes:
        process.join()
    return LoadTotals(results)


def run_collector_under_load(args: argparse.Namespace, data_dir: str, now_ns: int
                             ) -> tuple[LoadTotals, ServeFigures, list[WorkerPlan]]:
    collector = CollectorProcess(data_dir, ("--batch-max-rows", str(args.batch_max_rows))).start()
    try:
        plans = worker_plans(args, collector, now_ns)
        cpu_before, threads_before = collector.cpu_seconds(), collector.thread_cpu_seconds()
        machine_before, window_started = machine_busy_seconds(), time.monotonic()
        recorder = profile.start_recording(collector.pid, args.seconds, args.profile) if args.profile else None
        totals = drive_load(plans)
        cpu_seconds = collector.cpu_seconds() - cpu_before
        machine, window = machine_busy_seconds() - machine_before, time.monotonic() - window_started
        threads = {kind: seconds - threads_before.get(kind, 0.0)
                   for kind, seconds in collector.thread_cpu_seconds().items()}
        inserts = collector.insert_figures()
        if recorder:
            recorder.wait()
    finally:
        exit_code = collector.stop()
    if exit_code != 0:
        print("".join(collector.log_lines[-20:]))
    figures = ServeFigures(cpu_seconds, machine, window, threads, collector.peak_rss_bytes, inserts, exit_code)
    return totals, figures, plans


def machine_busy_seconds() -> float:
    """CPU time all cores spent on anything but idling and waiting for I/O since boot (/proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def in_child_process(function, *arguments):
    """Run function in a fresh process: chDB hosts one store per process."""
    with SPAWN.Pool(1) as pool:
        return pool.apply(function, arguments)


def main() -> None:
    args = parse_arguments()
    now_ns = time.time_ns()
    with tempfile.TemporaryDirectory(prefix="cc-analytics-ingest-") as work:
        serve_dir = str(Path(work) / "serve")
        totals, serve, plans = run_collector_under_load(args, serve_dir, now_ns)
        stored = in_child_process(count_stored, serve_dir)
        exports = tuple((result_plan.worker, result.requests["logs"], result.requests["metrics"])
                        for result_plan, result in zip(plans, totals.results))
        baseline = in_child_process(baseline_insert, BaselinePlan(str(Path(work) / "baseline"), exports, now_ns,
                                                                  args.events_per_request, args.batch_max_rows))
        # A sample again, in the batches serve actually formed: chDB's cost per insert at that size.
        serve_batch = max(round(serve.inserts["rows"] / max(serve.inserts["batches"], 1)), 1)
        small_batches = in_child_process(baseline_insert, BaselinePlan(
            str(Path(work) / "baseline-small"), exports, now_ns, args.events_per_request, serve_batch,
            max_rows=SMALL_BATCH_SAMPLE_BATCHES * serve_batch))
    print_report(args, plans, totals, serve, stored, baseline, small_batches)
    if args.profile:
        print(profile.report(args.profile, args.seconds))


def print_report(args, plans: list[WorkerPlan], totals: LoadTotals, serve: ServeFigures, stored: dict[str, int],
                 baseline: BaselineResult, small_batches: BaselineResult) -> None:
    wall = totals.wall_seconds
    events, points = totals.records("logs"), totals.records("metrics")
    grpc_connections = sum(plan.grpc_clients for plan in plans)
    mode = f"offering {args.rate:,.0f} events/s" if args.rate else "closed loop (each connection sends when answered)"
    print(f"load: {wall:.1f} s, {args.connections} connections ({grpc_connections} gRPC, "
          f"{args.connections - grpc_connections} HTTP/protobuf) in {args.workers} worker processes, {mode}; "
          f"{args.events_per_request} events per log export, 11 points per metric export")
    print(f"acknowledged: {events:,} events ({events / wall:,.0f}/s), {points:,} metric points "
          f"({points / wall:,.0f}/s), {totals.requests():,} exports ({totals.requests() / wall:,.0f}/s)")
    print(f"export latency (send to answer, acknowledged exports): p50 {totals.latency(0.5) * 1000:.1f} ms, "
          f"p99 {totals.latency(0.99) * 1000:.1f} ms, max {totals.latency(1.0) * 1000:.1f} ms; "
          + ", ".join(f"{transport} p50 {totals.latency(0.5, transport) * 1000:.1f} / p99 "
                      f"{totals.latency(0.99, transport) * 1000:.1f} ms" for transport in ("grpc", "http")))
    lost = {"events": max(events - stored["events"], 0), "metric_points": max(points - stored["metric_points"], 0)}
    print(f"stored after SIGTERM (FINAL): {stored['events']:,} events, {stored['metric_points']:,} metric points; "
          f"records lost: {sum(lost.values())}")
    print(f"refused (UNAVAILABLE/503, sent again): {totals.total('refused')}, given up still refused: "
          f"{totals.total('given_up')}, failed: {totals.failures() or 0}, "
          f"rejected in partial_success: {totals.total('rejected_records')}")
    batches, rows, inserting = serve.inserts["batches"], serve.inserts["rows"], serve.inserts["insert_seconds"]
    print(f"serve: {serve.cpu_seconds:.1f} CPU s ({serve.cpu_seconds / wall:.2f} cores), peak RSS "
          f"{serve.peak_rss_bytes / 2**20:,.0f} MiB, {batches:,.0f} insert batches of {rows / max(batches, 1):,.0f} "
          f"rows on average, {inserting:.1f} s in inserts ({inserting / wall:.0%} of the run), "
          f"exit code {serve.exit_code}")
    print("serve CPU by thread: " + ", ".join(f"{kind} {seconds:.1f} s ({seconds / wall:.0%})" for kind, seconds
                                              in sorted(serve.thread_cpu_seconds.items(), key=lambda item: -item[1])))
    generator_cpu = totals.total("cpu_seconds")
    others = serve.machine_busy_seconds - serve.cpu_seconds - generator_cpu
    print(f"load generator: {generator_cpu:.1f} CPU s ({generator_cpu / wall:.2f} cores); the machine "
          f"({os.cpu_count()} cores) was busy {serve.machine_busy_seconds / serve.window_seconds:.2f} cores over "
          f"{serve.window_seconds:.1f} s, {others / serve.window_seconds:.2f} of them neither serve nor the load "
          f"(its start-up, other processes)")
    baseline_rows = sum(baseline.rows.values())
    print(f"baseline (chDB insert_columns of the same {baseline_rows:,} rows in {baseline.batches} batches of up to "
          f"{args.batch_max_rows:,}, no network, no decoding): {baseline.rows_per_second:,.0f} rows/s; "
          f"transposing them took {baseline.transpose_seconds:.1f} s more, decoding them "
          f"{baseline.decode_seconds:.1f} s ({baseline.decode_seconds / max(baseline_rows, 1) * 1e6:.0f} µs per row)")
    small_rows = sum(small_batches.rows.values())
    print(f"baseline in serve's own mean batch size ({small_rows // max(small_batches.batches, 1):,} rows; "
          f"{small_batches.batches} batches, {small_rows:,} of the rows): {small_batches.rows_per_second:,.0f} rows/s")
    collector_rate = (events + points) / wall
    ratio = collector_rate / baseline.rows_per_second if baseline.rows_per_second else 0.0
    print(f"ratio collector / baseline: {ratio:.2f}x ({collector_rate:,.0f} / {baseline.rows_per_second:,.0f} rows/s)")
    print_target(events / wall, totals.latency(0.99), sum(lost.values()), ratio, serve.peak_rss_bytes)


def print_target(events_per_second: float, p99: float, lost: int, ratio: float, rss: int) -> None:
    checks = [(f"events/s >= {TARGET_EVENTS_PER_SECOND:,}", events_per_second >= TARGET_EVENTS_PER_SECOND),
              (f"p99 < {TARGET_P99_SECONDS * 1000:.0f} ms", p99 < TARGET_P99_SECONDS),
              ("0 lost", lost == 0),
              ("within 2x of the baseline", ratio >= TARGET_BASELINE_RATIO),
              ("RSS < 1 GiB", rss < TARGET_RSS_BYTES)]
    print("target: " + ", ".join(f"{name} {'met' if met else 'MISSED'}" for name, met in checks))


if __name__ == "__main__":
    main()
