"""Metric families as Prometheus text (format 0.0.4), written directly.

prometheus-client's generate_latest takes half a second for the ~70,000 samples of 10,000 members; this writer
does the same job in a fraction of it (values are sums, never NaN or infinite, and few label values need escaping).
"""

from __future__ import annotations

from typing import Iterable

from prometheus_client.core import Metric
from prometheus_client.utils import floatToGoString


def render(families: Iterable[Metric]) -> bytes:
    out: list[str] = []
    for family in families:
        name = family.name + "_total" if family.type == "counter" else family.name
        out.append(f"# HELP {name} {_escape_help(family.documentation)}\n# TYPE {name} {family.type}\n")
        for sample in family.samples:
            out.append(f"{series(sample.name, sample.labels.items())} {number(sample.value)}\n")
    return "".join(out).encode()


def series(name: str, labels: Iterable[tuple[str, str]]) -> str:
    """`name{key="value",...}`, or the bare name without labels; the same in the text and OpenMetrics formats."""
    pairs = ",".join(f'{key}="{_escape(value)}"' for key, value in labels)
    return f"{name}{{{pairs}}}" if pairs else name


def number(value) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(value) if value == value and abs(value) != float("inf") else floatToGoString(value)


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")
