"""Claude-Code-shaped OTLP records built by hand (metric points and events with its names and attributes), for
tests that need exact control over timestamps, start times and temporality."""

from __future__ import annotations

from datetime import date, datetime, timezone

from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric, NumberDataPoint, Sum

from tests.support.otlp_messages import any_value, key_values

DAY = date(2026, 11, 2)
NEXT_DAY = date(2026, 11, 3)
MODEL = "claude-sonnet-4-5-20250929"


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> int:
    """ns since the epoch of a UTC time."""
    return int(datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=timezone.utc).timestamp()) \
        * 1_000_000_000


def identity(email: str = "ada@example.com", session: str = "s-1", org: str = "org-a", **extra) -> dict:
    who = {"organization.id": org, "session.id": session, "user.id": "f" * 64, "terminal.type": "vscode"}
    if email:
        who["user.email"] = email
    return {**who, **extra}


def point(name: str, value: float, time_ns: int, start_ns: int, cumulative: bool = False, **attributes) -> Metric:
    temporality = (AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE if cumulative
                   else AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA)
    number = NumberDataPoint(time_unix_nano=time_ns, start_time_unix_nano=start_ns,
                             attributes=key_values(attributes))
    if isinstance(value, float):
        number.as_double = value
    else:
        number.as_int = value
    return Metric(name=f"claude_code.{name}", sum=Sum(data_points=[number], aggregation_temporality=temporality,
                                                       is_monotonic=True))


def event(name: str, time_ns: int, **attributes) -> LogRecord:
    return LogRecord(time_unix_nano=time_ns, body=any_value(f"claude_code.{name}"),
                     attributes=key_values({"event.name": name, **attributes}))


def lines(value, time_ns, start_ns, cumulative=False, kind="added", **who):
    return point("lines_of_code.count", value, time_ns, start_ns, cumulative, **identity(**who), type=kind,
                 model=MODEL)
