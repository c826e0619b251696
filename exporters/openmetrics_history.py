"""The daily history as OpenMetrics text, for `promtool tsdb create-blocks-from openmetrics` (backfill).

Prometheus only has what it scraped; this writes what /metrics would have shown on each past day, so dashboards
and week-over-week alerts have history from the first start. Each day's figures as they stood at the end of the
day are repeated every `step` seconds through that day: the lookback of a Prometheus query (5 minutes by
default) finds a sample at any time as long as step is not longer. Figures of windows that include the current
day (today, 7d, 28d, month, the totals) show the whole day's value from its first sample on: the rollups keep no
time of day. `yesterday` figures and the per-member figures of past days are exact at every sample.
"""

from __future__ import annotations

from datetime import date
from typing import Callable, Iterable, TextIO

from aggregator.snapshot import Snapshot
from exporters import text_format
from exporters.prometheus import usage_families
from exporters.usage_metrics import DEFAULT_MAX_NAMES


def write_history(days: Iterable[tuple[Snapshot, float, float]], hash_user_labels: bool,
                  day_start: Callable[[date], float], step_seconds: int, out: TextIO, max_label_values: int,
                  max_usage_names: int = DEFAULT_MAX_NAMES) -> int:
    """Write days of (snapshot, first timestamp, end timestamp) as one OpenMetrics document; returns samples."""
    families: dict[str, tuple[str, str, dict]] = {}  # name -> (type, help, series -> [(start, end, value)])
    for snapshot, start, end in days:
        for family in usage_families(snapshot, hash_user_labels, day_start, max_label_values,
                                     max_usage_names):
            _, _, series = families.setdefault(family.name, (family.type, family.documentation, {}))
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                series.setdefault(key, []).append((start, end, sample.value))
    written = 0
    # OpenMetrics wants each family in one piece, and each series in time order.
    for name, (kind, help_text, series) in families.items():
        out.write(f"# HELP {name} {_escape(help_text)}\n# TYPE {name} {kind}\n")
        for (sample_name, labels), days_of_values in series.items():
            prefix = text_format.series(sample_name, labels) + " "
            for start, end, value in days_of_values:
                text = text_format.number(value)
                for moment in range(int(start), int(end), step_seconds):
                    out.write(f"{prefix}{text} {moment}\n")
                    written += 1
    out.write("# EOF\n")
    return written


def _escape(text: str) -> str:
    # OpenMetrics escapes quotes in HELP too (the text format does not).
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
