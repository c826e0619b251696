"""How long the daily rollup takes: 10 million raw records of 1,000 members, in one day and over 30 days.

Two embedded stores are filled with Claude-Code-shaped raw rows (benchmarks.raw_fill: 70% events, 30% metric
points, mostly delta with some cumulative series, 5 orgs, 50 teams, 3 sessions per member-day):
- one day holding all RECORDS: Rollup.rebuild_day of that day, timed REPEAT times (target: under 5 s);
- RECORDS spread over DAYS days: every day rebuilt once, as `cc-analytics aggregate --from --to` does
  (Refresher.rebuild: consecutive days together, a week at most per run).
Each statement the rollup sends is timed by wrapping the client's methods in this process (the library is
unchanged). Baseline, in the same run: a plain count() and sum(value) of the same days' raw rows, what merely
reading them costs. Then every rollup figure is checked against sums computed independently from the raw rows.
Generation and measurement run in spawned child processes (chDB locks its data directory per process), so the
peak RSS printed for a rebuild is that of a process that did nothing else.

    python -m benchmarks.aggregate [--quick] [--records 10000000] [--users 1000] [--days 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import resource
import statistics
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from aggregator.rollup import MAX_DAYS_PER_RUN
from benchmarks.raw_fill import Shape

TARGET_SECONDS = 5.0

# What each statement of a rebuild does, recognised by its SQL (first match wins).
STEP_LABELS = (
    (r"INSERT INTO \S+_rollup_staging_\d+`.*attribute_team", "staging <- record attribute team (no resource team)"),
    (r"INSERT INTO \S+_rollup_staging_\d+`.*metric_points FINAL PREWHERE temporality = 'cumulative'",
     "staging <- metric_points FINAL, cumulative (window per series)"),
    (r"INSERT INTO \S+_rollup_staging_\d+`.*metric_points FINAL", "staging <- metric_points FINAL, delta"),
    (r"INSERT INTO \S+_rollup_staging_\d+`.*events FINAL", "staging <- events FINAL"),
    (r"INSERT INTO \S+\.daily_user\b", "INSERT daily_user (join of member-days)"),
    (r"INSERT INTO \S+\.daily_org\b", "INSERT daily_org"),
    (r"INSERT INTO \S+\.daily_model\b", "INSERT daily_model (join of user teams)"),
    (r"INSERT INTO \S+\.daily_edit_tool\b", "INSERT daily_edit_tool (join of user teams)"),
    (r"INSERT INTO \S+\.daily_repository\b", "INSERT daily_repository (join of user teams)"),
    (r"min\(start_timestamp\)", "lookback of cumulative series"),
    (r"sum\(record_count\), uniqExact\(user_key\)", "count staging rows"),
    (r"HAVING max\(untagged_time\)", "look for members whose latest record has no resource team"),
    (r"^DELETE FROM", "DELETE older rows of the day"),
    (r"SELECT count\(\) FROM \S+\.daily_\w+ WHERE day", "look for older rows to delete"),
    (r"^CREATE TABLE|^DROP TABLE", "create and drop the staging table"),
)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class StatementTimer:
    """Adds the time of every statement sent through a client to its step; wraps the methods of this client only."""

    def __init__(self, client):
        self.seconds: dict[str, float] = defaultdict(float)
        for method in ("command", "query"):
            setattr(client, method, self._timed(getattr(client, method)))

    def _timed(self, send):
        def timed(sql, *args, **kwargs):
            started = time.perf_counter()
            try:
                return send(sql, *args, **kwargs)
            finally:
                self.seconds[_step(sql)] += time.perf_counter() - started
        return timed

    def take(self) -> dict[str, float]:
        taken, self.seconds = dict(self.seconds), defaultdict(float)
        return taken


def _step(sql: str) -> str:
    text = " ".join(sql.split())
    return next((label for pattern, label in STEP_LABELS if re.search(pattern, text)), "other")


@dataclass
class Generated:
    events: int
    metric_points: int
    seconds: float
    parts: dict
    peak_rss_mb: float


@dataclass
class Measured:
    rebuild_seconds: list[float]  # one per rebuild: repeats of one day, or each day of a range
    steps: dict[str, float]  # per step, summed over the timed rebuild(s) reported
    baseline_seconds: list[float]
    baseline_final_seconds: list[float]  # the same reads with FINAL, as the rollup must read
    records_per_rebuild: list[int]
    peak_rss_mb: float
    granules: str  # "selected/total": events granules of the last day's month the primary key leaves to read
    checked: int = 0
    differences: list = field(default_factory=list)  # rollup_check.Difference


def generate(data_dir: str, shape: Shape) -> Generated:
    """In a child process: create the schema and write the raw rows."""
    from benchmarks.raw_fill import fill
    from cc_analytics.config import Settings
    from cc_analytics.store import migrate
    from plumbing.store.client import StoreTarget, connect

    client = connect(StoreTarget(data_dir=data_dir))
    migrate(client, Settings(data_dir=data_dir))
    started = time.perf_counter()
    fill(client, shape)
    seconds = time.perf_counter() - started
    settle_merges(client)
    events = client.query("SELECT count() FROM cc_analytics.events").result_rows[0][0]
    points = client.query("SELECT count() FROM cc_analytics.metric_points").result_rows[0][0]
    parts = dict(client.query("SELECT table, count() FROM system.parts WHERE active AND database = 'cc_analytics' "
                              "AND table IN ('events', 'metric_points') GROUP BY table").result_rows)
    client.close()
    return Generated(events, points, seconds, parts, _peak_rss_mb())


def settle_merges(client, quiet_seconds: int = 5, limit_seconds: int = 600) -> None:
    """Wait for the background merges the inserts started, so they do not run during the measurement."""
    quiet, deadline = 0, time.monotonic() + limit_seconds
    while quiet < quiet_seconds and time.monotonic() < deadline:
        running = client.query("SELECT count() FROM system.merges WHERE database = 'cc_analytics'").result_rows[0][0]
        quiet = 0 if running else quiet + 1
        time.sleep(1)


_BASELINE = ("SELECT count(), sum(value) FROM cc_analytics.metric_points WHERE timestamp >= fromUnixTimestamp64Nano"
             "({start:Int64}) AND timestamp < fromUnixTimestamp64Nano({end:Int64})",
             "SELECT count() FROM cc_analytics.events WHERE timestamp >= fromUnixTimestamp64Nano({start:Int64}) "
             "AND timestamp < fromUnixTimestamp64Nano({end:Int64})")


def read_days(client, rollup, days: list[date], final: bool = False) -> float:
    """The baseline: count and sum the days' raw rows, one day at a time as the rollup reads them."""
    started = time.perf_counter()
    for day in days:
        start, end = rollup.day_bounds_ns(day)
        for sql in _BASELINE:
            client.query(sql.replace(" WHERE", " FINAL WHERE") if final else sql,
                         parameters={"start": start, "end": end})
    return time.perf_counter() - started


def granules_read(client, rollup, day: date) -> str:
    """How many granules of the events table the primary key leaves to read for one day (the rollup's condition)."""
    start, end = rollup.day_bounds_ns(day)
    # with FINAL, as the rollup reads (without it, count() may be answered from part metadata alone)
    plan = client.query("EXPLAIN indexes = 1 " + _BASELINE[1].replace(" WHERE", " FINAL WHERE"),
                        parameters={"start": start, "end": end}).result_rows
    return [line[0].split(":")[1].strip() for line in plan if "Granules:" in line[0]][-1]


def measure(data_dir: str, days: list[date], repeat: int) -> Measured:
    """In a child process: baseline, then the rebuilds (every day of `days`, `repeat` times), then the check."""
    from aggregator.refresh import Refresher
    from aggregator.rollup import Rollup
    from benchmarks.rollup_check import check
    from plumbing.store.client import StoreTarget, connect

    client = connect(StoreTarget(data_dir=data_dir))
    timer = StatementTimer(client)
    rollup = Rollup(client, "cc_analytics", "UTC")
    baseline = [read_days(client, rollup, days) for _ in range(repeat)]
    baseline_final = [read_days(client, rollup, days, final=True) for _ in range(repeat)]
    timer.take()
    rebuilds, steps = [], defaultdict(float)
    for _ in range(repeat):
        rebuilt = [rollup.rebuild_day(days[0])] if len(days) == 1 else Refresher(rollup).rebuild(days[0], days[-1])
        rebuilds.append(rebuilt)
        for label, seconds in timer.take().items():
            steps[label] += seconds / repeat
    peak = _peak_rss_mb()
    granules = granules_read(client, rollup, days[-1])
    result = check(client, days[0], days[-1])
    client.close()
    # One day: each repeat is a rebuild. A range: each day's share of its run, from the last repeat.
    seconds = [sum(r.seconds for r in run) for run in rebuilds] if len(days) == 1 else \
        [r.seconds for r in rebuilds[-1]]
    return Measured(seconds, dict(steps), baseline, baseline_final, [r.records for r in rebuilds[-1]], peak,
                    granules, result.compared, result.differences)


def run_child(function, *args):
    """Run a function in a fresh spawned process (its own chDB, its own peak RSS)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def print_generated(title: str, shape: Shape, generated: Generated) -> None:
    total = generated.events + generated.metric_points
    print(f"\n== {title}: {total:,} raw records ({generated.events:,} events, {generated.metric_points:,} metric "
          f"points), {shape.users:,} members in 5 orgs and 50 teams, {shape.days} day(s) from {shape.first_day}")
    print(f"generated in {generated.seconds:.1f} s ({total / generated.seconds / 1e6:.2f} M records/s); "
          f"active parts after merges settled: {generated.parts}; "
          f"generating process peak RSS {generated.peak_rss_mb:,.0f} MB")


def print_steps(steps: dict[str, float], total: float, per: str) -> None:
    print(f"where the time goes ({per}):")
    for label, seconds in sorted(steps.items(), key=lambda item: -item[1]):
        print(f"  {seconds:7.2f} s  {seconds / total:4.0%}  {label}")


def print_check(measured: Measured) -> None:
    if not measured.differences:
        print(f"check: ok ({measured.checked:,} rollup figures equal the sums of the raw rows)")
        return
    kinds = defaultdict(int)
    for difference in measured.differences:
        kinds[f"{difference.table} {difference.figure}" + (f" ({difference.kind})" if difference.kind else "")] += 1
    print(f"check: {len(measured.differences):,} of {measured.checked:,} figures DIFFER from the raw rows:")
    for kind, count in sorted(kinds.items()):
        print(f"  {count:6,}  {kind}")
    for difference in measured.differences[:12]:
        print(f"  e.g. {difference}")


def report_one_day(measured: Measured) -> None:
    runs = measured.rebuild_seconds
    median = statistics.median(runs)
    baseline = statistics.median(measured.baseline_seconds)
    verdict = "met" if median < TARGET_SECONDS else "MISSED"
    print(f"rebuild of the day ({measured.records_per_rebuild[0]:,} records rolled up), {len(runs)} runs: "
          f"{', '.join(f'{s:.2f} s' for s in runs)}; median {median:.2f} s "
          f"(target < {TARGET_SECONDS:.0f} s: {verdict})")
    print(f"baseline (count() and sum(value) of the day's raw rows, no FINAL): median {baseline:.3f} s; "
          f"ratio rebuild / baseline: {median / baseline:.1f}x")
    print(f"  the same with FINAL: median {statistics.median(measured.baseline_final_seconds):.3f} s")
    print_steps(measured.steps, sum(measured.steps.values()), "mean of the runs")
    print(f"events granules the primary key leaves to read for the day, of those of its month: {measured.granules}")
    print(f"peak RSS of the rebuilding process: {measured.peak_rss_mb:,.0f} MB")
    print_check(measured)


def report_range(measured: Measured) -> None:
    days = measured.rebuild_seconds
    total = sum(days)
    baseline = statistics.median(measured.baseline_seconds)
    runs = -(-len(days) // MAX_DAYS_PER_RUN)
    verdict = "met" if total < TARGET_SECONDS else "MISSED"
    print(f"full rebuild of {len(days)} days ({sum(measured.records_per_rebuild):,} records rolled up): {total:.2f} s "
          f"in {runs} runs of up to {MAX_DAYS_PER_RUN} days, {total / len(days):.2f} s a day "
          f"(target < {TARGET_SECONDS:.0f} s: {verdict})")
    print(f"baseline (count() and sum(value) of each day's raw rows, no FINAL): {baseline:.2f} s for the {len(days)} "
          f"days; ratio rebuild / baseline: {total / baseline:.1f}x")
    print(f"  the same with FINAL: {statistics.median(measured.baseline_final_seconds):.2f} s")
    print_steps(measured.steps, sum(measured.steps.values()), f"summed over the {len(days)} days")
    print(f"events granules the primary key leaves to read for the last day, of those of its month: "
          f"{measured.granules}")
    print(f"peak RSS of the rebuilding process: {measured.peak_rss_mb:,.0f} MB")
    print_check(measured)


def run_scenario(work: Path, title: str, shape: Shape, repeat: int, report) -> None:
    data_dir = str(work / title.replace(" ", "-"))
    print_generated(title, shape, run_child(generate, data_dir, shape))
    days = [shape.first_day + timedelta(days=n) for n in range(shape.days)]
    report(run_child(measure, data_dir, days, repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000_000, help="raw records per store (default 10M)")
    parser.add_argument("--users", type=int, default=1_000, help="members (default 1000)")
    parser.add_argument("--days", type=int, default=30, help="days of the spread-out store (default 30)")
    parser.add_argument("--repeat", type=int, default=3, help="rebuilds of the one-day store, and baselines")
    parser.add_argument("--quick", action="store_true", help="1M records per store, for a try-out")
    args = parser.parse_args()
    records = 1_000_000 if args.quick else args.records
    # Recent days: the raw tables' TTL (400 days by default) would drop older rows at once.
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    # Other processes on the machine slow every figure: the load average says whether there were any.
    print(f"{os.cpu_count()} cores; load average (1 min) at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as work:
        run_scenario(Path(work), "one day", Shape(records, 1, args.users, yesterday), args.repeat, report_one_day)
        run_scenario(Path(work), f"{args.days} days", Shape(records, args.days, args.users,
                                                            yesterday - timedelta(days=args.days - 1)),
                     1, report_range)
    print(f"\nload average (1 min) at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
