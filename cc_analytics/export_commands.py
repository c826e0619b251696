"""`cc-analytics export openmetrics`: the daily history for Prometheus backfill.

Like `report`, it asks the backend, a running serve (whose --timezone applies) or else the store, for each day's
figures; the OpenMetrics text is written here.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from aggregator.refresh import days_between
from aggregator.rollup import day_bounds_ns
from cc_analytics.backend import Refused, open_backend
from cc_analytics.report_commands import EXIT_USAGE, day_range
from cc_analytics.config import Settings
from cc_analytics.progress import ProgressBar
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
    history = []
    try:
        with open_backend(settings) as backend:
            now = time.time()
            for number, day in enumerate(days, 1):
                snapshot, zone = backend.snapshot(day, settings.max_user_series)
                start, end = (ns / 1e9 for ns in day_bounds_ns(day, zone))
                history.append((snapshot, start, min(end, now)))
                bar.update(number, str(day))
    except Refused as error:
        print(f"cc-analytics export: {error}", file=sys.stderr)
        return 1
    with _output(args.output) as out:
        samples = write_history(history, settings.hash_user_labels,
                                lambda day: day_bounds_ns(day, zone)[0] / 1e9, args.step, out,
                                settings.max_label_values, settings.max_usage_names)
    where = "stdout" if args.output == "-" else args.output
    print(f"wrote {samples} samples of {len(days)} days, {first} to {last}, every {args.step} s, to {where}",
          file=sys.stderr)
    return 0


@contextlib.contextmanager
def _output(path: str):
    if path == "-":
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8") as out:
        yield out
