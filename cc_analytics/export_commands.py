"""`cc-analytics export openmetrics`: the daily history for Prometheus backfill.

Like `report`, it asks a running serve (whose --timezone applies) for each day's figures, or reads the store
itself when none runs; the OpenMetrics text is written here.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import sys
import time
from datetime import date
from typing import Iterator
from zoneinfo import ZoneInfo

from aggregator.refresh import days_between
from aggregator.rollup import day_bounds_ns
from aggregator.snapshot import Snapshot, Snapshots, snapshot_from_json
from cc_analytics import local_api
from cc_analytics.report_commands import EXIT_USAGE, day_range
from cc_analytics.config import Settings
from cc_analytics.progress import ProgressBar
from cc_analytics.store import open_store
from exporters.openmetrics_history import write_history

def parse_step(text: str) -> int:
    """Seconds, or a number with s, m or h."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1)
    try:
        seconds = int(number) * unit
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 300, 5m or 1h") from None
    if not 1 <= seconds <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 1 second and 1 day")
    return seconds


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    if not (bounds := day_range(args, "export")):
        return EXIT_USAGE
    first, last = bounds
    days = days_between(first, last)
    bar = ProgressBar(len(days), "days")
    try:
        with contextlib.ExitStack() as stack:
            snapshots, zone = _snapshots(settings, days, stack)
            now = time.time()
            history = []
            for number, snapshot in enumerate(snapshots, 1):
                start, end = (ns / 1e9 for ns in day_bounds_ns(snapshot.day, zone))
                history.append((snapshot, start, min(end, now)))
                bar.update(number, str(snapshot.day))
    except local_api.ApiError as error:
        print(f"cc-analytics export: {error}", file=sys.stderr)
        return 1
    with _output(args.output) as out:
        samples = write_history(history, settings.hash_user_labels,
                                lambda day: day_bounds_ns(day, zone)[0] / 1e9, args.step, out)
    where = "stdout" if args.output == "-" else args.output
    print(f"wrote {samples} samples of {len(days)} days, {first} to {last}, every {args.step} s, to {where}",
          file=sys.stderr)
    return 0


def _snapshots(settings: Settings, days: list[date],
               stack: contextlib.ExitStack) -> tuple[Iterator[Snapshot], ZoneInfo]:
    """Each day's snapshot (lazily, so the progress bar moves) and the time zone its days are in."""
    def via_api(day: date) -> dict:
        return json.loads(local_api.call(settings, "GET", "/api/v1/snapshot",
                                         {"day": day.isoformat(), "limit": settings.max_user_series}))

    try:
        first = via_api(days[0])
    except local_api.NoServeRunning:
        client = stack.enter_context(open_store(settings))
        snapshots = Snapshots(client, settings.database)
        return (snapshots.as_of(day, settings.max_user_series) for day in days), ZoneInfo(settings.timezone)
    rest = (snapshot_from_json(via_api(day)["snapshot"]) for day in days[1:])
    return itertools.chain([snapshot_from_json(first["snapshot"])], rest), ZoneInfo(first["time_zone"])


@contextlib.contextmanager
def _output(path: str):
    if path == "-":
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8") as out:
        yield out
