"""How much work a parsed export request asks for, refused before decoding when over the per-request bound.

Counted from the lengths of the message's repeated fields, block by block, and stopped at the bound: a request of
800,000 points is refused after one len(), not after walking them. A record is a log record, a span or a metric
data point; a resource block, a scope block and a metric without points count one too, as decoding walks them.
Attributes are those of the resources, scopes and records (span events' and links' are not counted); their bytes
are bounded by --max-request-bytes already.
"""

from __future__ import annotations

from google.protobuf.message import Message

from collector.decode.common import Limits


class TooMuchWork(ValueError):
    """The request carries more records or attributes than one request may; the message says what to do."""


# Per request type: (resource blocks, scope blocks, records) fields, the shape every OTLP signal shares.
_SHAPES = {
    "ExportLogsServiceRequest": ("resource_logs", "scope_logs", "log_records"),
    "ExportMetricsServiceRequest": ("resource_metrics", "scope_metrics", "metrics"),
    "ExportTraceServiceRequest": ("resource_spans", "scope_spans", "spans"),
}


def check_request_work(request: Message, limits: Limits) -> None:
    """Raise TooMuchWork when the request is over limits.max_records_per_request or max_attributes_per_request."""
    resources_field, scopes_field, records_field = _SHAPES[type(request).__name__]
    records = attributes = 0
    for block in getattr(request, resources_field):
        records += 1  # an empty block is walked too: a body of nothing else must not be free
        attributes += len(block.resource.attributes)
        for scope_block in getattr(block, scopes_field):
            records += 1
            attributes += len(scope_block.scope.attributes)
            for count, group in _record_groups(scope_block, records_field):
                records += count
                _check_records(records, limits)
                attributes += sum(len(record.attributes) for record in group)
                _check_attributes(attributes, limits)
        _check_records(records, limits)
        _check_attributes(attributes, limits)


def _record_groups(scope_block, records_field: str):
    """(how many records, the records) of a scope block in one group, or of a metrics block metric by metric: a
    metric without points counts one, as decoding walks it."""
    if records_field != "metrics":
        records = getattr(scope_block, records_field)
        yield len(records), records
        return
    for metric in scope_block.metrics:
        kind = metric.WhichOneof("data")
        points = getattr(metric, kind).data_points if kind else ()
        yield max(len(points), 1), points


def _check_records(records: int, limits: Limits) -> None:
    if records > limits.max_records_per_request:
        raise TooMuchWork(f"the request carries more than {limits.max_records_per_request} records (log records, "
                          "spans or metric data points), the most one request may carry: send smaller batches")


def _check_attributes(attributes: int, limits: Limits) -> None:
    if attributes > limits.max_attributes_per_request:
        raise TooMuchWork(f"the request carries more than {limits.max_attributes_per_request} attributes, the most "
                          "one request may carry: send smaller batches")
