"""The ingest benchmark's load while faults are injected: nothing acknowledged may be lost.

Runs the load of benchmarks.ingest (Claude Code exports over many gRPC and HTTP connections, every record unique)
against a real serve and, meanwhile:
- kills serve with SIGKILL at --kill-at seconds and starts it again on the same ports and data directory (the
  write-ahead queue replays what was acknowledged but not yet inserted);
- with --outage-at, fills the store's disk (a tmpfs mounted for the run; needs root) for --outage-seconds, so
  every insert fails with ENOSPC while the queue, on another disk, keeps taking exports;
- with --queue-full-at, fills the write-ahead queue's own disk (another tmpfs) for --queue-full-seconds, so
  appends fail with ENOSPC and exports are refused for a retry (503 / UNAVAILABLE), never acknowledged and lost.
The load workers send every refused or failed-to-connect export again, as the OpenTelemetry exporters do. At the
end serve stops with SIGTERM and the store is counted with FINAL: records acknowledged but not stored are lost
(must be 0); duplicates from exports sent again after the kill collapse.

    python -m benchmarks.faults [--seconds 60] [--connections 64] [--rate 10000] [--kill-at 15]
                                [--outage-at 30 --outage-seconds 20] [--queue-full-at 45 --queue-full-seconds 8]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.collector_process import CollectorProcess
from benchmarks.ingest import LoadTotals, drive_load, in_child_process, worker_plans
from benchmarks.store_side import count_stored


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="how long the load runs (default 60)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default 64)")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes (default 2)")
    parser.add_argument("--rate", type=float, default=10_000, help="events/s offered (default 10000; 0: closed loop)")
    parser.add_argument("--events-per-request", type=int, default=10)
    parser.add_argument("--batch-max-rows", type=int, default=50_000)
    parser.add_argument("--kill-at", type=float, default=15, help="SIGKILL serve this many seconds in (0: never)")
    parser.add_argument("--outage-at", type=float, default=30,
                        help="fill the store's disk this many seconds in (0: no outage; needs root for a tmpfs)")
    parser.add_argument("--outage-seconds", type=float, default=20, help="how long the store's disk stays full")
    parser.add_argument("--queue-full-at", type=float, default=0,
                        help="fill the write-ahead queue's disk this many seconds in (0: never; needs root)")
    parser.add_argument("--queue-full-seconds", type=float, default=8, help="how long the queue's disk stays full")
    return parser.parse_args()


class Faults:
    """Injects the faults on a timer while the load runs, and notes what happened when."""

    def __init__(self, args: argparse.Namespace, collector: CollectorProcess, store_disk: Path | None,
                 queue_disk: Path | None):
        self.args = args
        self.collector = collector
        self.store_disk = store_disk
        self.queue_disk = queue_disk
        self.log: list[str] = []
        self.started = time.monotonic()

    def run(self) -> None:
        events = sorted([(self.args.kill_at, self._kill_and_restart)] * bool(self.args.kill_at)
                        + [(self.args.outage_at, self._outage)] * bool(self.args.outage_at and self.store_disk)
                        + [(self.args.queue_full_at, self._queue_full)]
                        * bool(self.args.queue_full_at and self.queue_disk))
        for at, fault in events:
            time.sleep(max(0.0, self.started + at - time.monotonic()))
            fault()

    def _note(self, what: str) -> None:
        self.log.append(f"{time.monotonic() - self.started:6.1f} s  {what}")

    def _kill_and_restart(self) -> None:
        ports = self.collector.bound_ports
        self.collector.process.send_signal(signal.SIGKILL)
        self.collector.process.wait()
        self._note("serve killed with SIGKILL")
        self.collector = CollectorProcess(self.collector.data_dir, self.collector.extra_args, ports).start()
        replayed = [line.strip() for line in self.collector.log_lines if "replaying" in line]
        self._note("serve started again on the same ports" + (f": {replayed[0].split(': ', 1)[1]}" if replayed else ""))

    def _outage(self) -> None:
        ballast = fill_disk(self.store_disk)
        self._note("the store's disk is full: every insert fails")
        time.sleep(self.args.outage_seconds)
        shutil.rmtree(ballast)
        self._note("the store's disk has room again")

    def _queue_full(self) -> None:
        ballast = fill_bytes(self.queue_disk)
        self._note("the write-ahead queue's disk is full: exports are refused for a retry")
        time.sleep(self.args.queue_full_seconds)
        ballast.unlink()
        self._note("the write-ahead queue's disk has room again")


def main() -> None:
    args = parse_arguments()
    now_ns = time.time_ns()
    with tempfile.TemporaryDirectory(prefix="cc-analytics-faults-") as work:
        store_disk = mount_tmpfs(Path(work) / "store-disk", "size=2g,nr_inodes=200000") if args.outage_at else None
        queue_disk = mount_tmpfs(Path(work) / "queue-disk", "size=512m") if args.queue_full_at else None
        data_dir = str((store_disk or Path(work)) / "serve")
        extra = ("--batch-max-rows", str(args.batch_max_rows), "--queue-dir", str((queue_disk or Path(work)) / "queue"))
        collector = CollectorProcess(data_dir, extra).start()
        faults = Faults(args, collector, store_disk, queue_disk)
        injecting = threading.Thread(target=faults.run, daemon=True)
        try:
            plans = worker_plans(args, collector, now_ns)
            injecting.start()
            totals = drive_load(plans)
            injecting.join()
        finally:
            exit_code = faults.collector.stop()
        stored = in_child_process(count_stored, data_dir)
        for disk in (store_disk, queue_disk):
            if disk:
                subprocess.run(["umount", "-l", str(disk)], check=False)
    print_report(args, totals, stored, faults.log, exit_code, faults.collector.peak_rss_bytes)


def fill_disk(folder: Path) -> Path:
    """Take every free inode of folder's file system, so creating any file fails with ENOSPC (no space left on
    device); returns the ballast directory whose removal frees them again.

    Inodes rather than bytes: ClickHouse then cannot create a new part's files, while files already being written
    (a merge in progress) complete. A disk that runs out of bytes in the middle of a merge can leave chDB with a
    part whose marks file is empty, which every later read of the table refuses (CORRUPTED_DATA); that is
    chDB's to fix, and operators must keep the store's disk from filling up (the README says so)."""
    ballast = folder / "ballast"
    ballast.mkdir()
    number = 0
    try:
        while True:
            (ballast / str(number)).touch()
            number += 1
    except OSError:
        pass
    return ballast


def fill_bytes(folder: Path) -> Path:
    """Write a ballast file until folder's file system has no byte left (ENOSPC); returns it, to delete later."""
    ballast = folder / "ballast"
    with open(ballast, "wb", buffering=0) as file:
        for chunk in (b"\0" * (1 << 20), b"\0" * 4096, b"\0"):
            try:
                while True:
                    file.write(chunk)
            except OSError:
                pass
    return ballast


def mount_tmpfs(path: Path, options: str) -> Path | None:
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True,
                             text=True)
    if mounted.returncode:
        print(f"no disk fault at {path.name}: cannot mount a tmpfs ({mounted.stderr.strip()}); run as root")
        return None
    return path


def print_report(args, totals: LoadTotals, stored: dict[str, int], faults: list[str], exit_code: int,
                 peak_rss_bytes: int) -> None:
    acknowledged = {"events": totals.records("logs"), "metric_points": totals.records("metrics")}
    lost = {table: acknowledged[table] - stored.get(table, 0) for table in acknowledged}
    print(f"load: {args.seconds:.0f} s, {args.connections} connections, offering "
          f"{args.rate:,.0f} events/s" if args.rate else f"load: {args.seconds:.0f} s, closed loop")
    print("faults:")
    for line in faults:
        print("  " + line)
    print(f"acknowledged: {acknowledged['events']:,} events, {acknowledged['metric_points']:,} metric points; "
          f"sent again after a refusal or a failed connection: {totals.total('refused'):,}, given up: "
          f"{totals.total('given_up'):,}; failed: {totals.failures()}")
    print(f"stored after SIGTERM (FINAL): {stored.get('events', 0):,} events, {stored.get('metric_points', 0):,} "
          f"metric points; records lost: {sum(lost.values())} ({'met' if not any(lost.values()) else 'MISSED'}); "
          f"serve exit code {exit_code}, peak RSS of the last serve {peak_rss_bytes / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
