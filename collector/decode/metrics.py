"""ExportMetricsServiceRequest -> rows of the metric_points table, one row per data point of any metric type."""

from __future__ import annotations

import json
import math
from typing import NamedTuple

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from collector.decode.common import (
    DecodeContext,
    DecodedBatch,
    Origin,
    RecordRejected,
    append_or_reject,
    attribute_map,
    checked_record_time,
    checked_time,
    identity_of,
    records_with_origin,
)
from collector.decode.point_values import check_finite, check_value

TEMPORALITY = {
    AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA: "delta",
    AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE: "cumulative",
    AggregationTemporality.AGGREGATION_TEMPORALITY_UNSPECIFIED: "unspecified",
}


class MetricHead(NamedTuple):
    """The columns every point of one metric shares, in table order."""

    name: str
    unit: str
    description: str
    kind: str
    temporality: str
    is_monotonic: int


def decode_metrics(request: ExportMetricsServiceRequest, context: DecodeContext) -> DecodedBatch:
    batch = DecodedBatch("metric_points")
    for origin, metric in records_with_origin(request.resource_metrics, "scope_metrics", "metrics", context, batch):
        _decode_metric(metric, origin, context, batch)
    return batch


def _decode_metric(metric: Metric, origin: Origin, context: DecodeContext, batch: DecodedBatch) -> None:
    kind = metric.WhichOneof("data")
    points = getattr(metric, kind).data_points if kind else ()
    if not metric.name:
        for _ in points:
            batch.reject("metric data point: the metric has no name")
        return
    data = getattr(metric, kind) if kind else None
    temporality = TEMPORALITY.get(getattr(data, "aggregation_temporality", None), "")
    head = MetricHead(metric.name, metric.unit, metric.description, kind or "", temporality,
                      int(kind == "sum" and data.is_monotonic))
    for point in points:
        append_or_reject(batch, f"metric {metric.name} data point",
                         lambda: _point_row(kind, point, head, origin, context, batch))


def _point_row(kind: str, point, head: MetricHead, origin: Origin, context: DecodeContext,
               batch: DecodedBatch) -> tuple:
    if not point.time_unix_nano:
        # the receive time instead would make each retry of the export a new point, counted again
        raise RecordRejected("its time_unix_nano is 0; OTLP requires the time of every data point")
    timestamp = checked_record_time(checked_time(point.time_unix_nano, "time_unix_nano"), context)
    start = checked_time(point.start_time_unix_nano, "start_time_unix_nano")
    value, count, minimum, maximum, buckets, bounds, detail = _point_values(kind, point)
    check_value(head.name, value, monotonic=bool(head.is_monotonic))
    attributes = attribute_map(point.attributes, context.limits, batch, origin.privacy)
    who = identity_of(attributes, origin.resource, context.default_org_id)
    return (
        who.org_id, timestamp, start, *head, value,
        *who.columns(),
        attributes.get("model", ""), attributes.get("type", ""), attributes.get("tool_name", ""),
        attributes.get("decision", ""), attributes.get("source", ""), attributes.get("language", ""),
        who.terminal_type, who.app_version, *origin.service,
        count, minimum, maximum, buckets, bounds, detail, point.flags,
        attributes, origin.resource, *origin.scope,
        context.received_at_ms,
    )


def _point_values(kind: str, point) -> tuple:
    """(value, count, min, max, bucket_counts, explicit_bounds, detail JSON) for one point of a metric type."""
    detail: dict = {}
    if kind != "summary" and point.exemplars:  # summary points have no exemplars field
        detail["exemplars"] = [_exemplar_detail(exemplar) for exemplar in point.exemplars]
    if kind in ("sum", "gauge"):
        which = point.WhichOneof("value")
        if which is None:
            raise RecordRejected("it has neither asInt nor asDouble")
        value = float(getattr(point, which))
        check_finite((("value", value),))
        return value, 0, math.nan, math.nan, [], [], _json(detail)
    minimum = point.min if kind != "summary" and point.HasField("min") else math.nan
    maximum = point.max if kind != "summary" and point.HasField("max") else math.nan
    check_finite(_stored_numbers(kind, point))
    if kind == "histogram":
        return (point.sum, point.count, minimum, maximum, list(point.bucket_counts), list(point.explicit_bounds),
                _json(detail))
    if kind == "exponential_histogram":
        detail.update(scale=point.scale, zero_count=point.zero_count, zero_threshold=point.zero_threshold,
                      positive=_exponential_buckets(point.positive), negative=_exponential_buckets(point.negative))
        return point.sum, point.count, minimum, maximum, [], [], _json(detail)
    # summary
    detail["quantile_values"] = [{"quantile": q.quantile, "value": q.value} for q in point.quantile_values]
    return point.sum, point.count, minimum, maximum, [], [], _json(detail)


def _stored_numbers(kind: str, point) -> list[tuple[str, float]]:
    """The numbers of a histogram or summary point that are stored (an absent min or max is no number)."""
    numbers = [("sum", point.sum)]
    if kind == "summary":
        numbers += [(f"quantile {q.quantile!r}", q.value) for q in point.quantile_values]
    else:
        numbers += [(name, getattr(point, name)) for name in ("min", "max") if point.HasField(name)]
    if kind == "exponential_histogram":
        numbers.append(("zero_threshold", point.zero_threshold))
    return numbers


def _exponential_buckets(buckets) -> dict:
    return {"offset": buckets.offset, "bucket_counts": list(buckets.bucket_counts)}


def _exemplar_detail(exemplar) -> dict:
    """An exemplar as JSON, its trace and span ids in hex like every other id we store, so they join with spans."""
    detail = MessageToDict(exemplar)
    for key, raw in (("traceId", exemplar.trace_id), ("spanId", exemplar.span_id)):
        if raw:
            detail[key] = raw.hex()
    return detail


def _json(detail: dict) -> str:
    return json.dumps(detail, separators=(",", ":")) if detail else ""
