"""Building OTLP export requests in tests, and reading a decoded batch back as one dict per row."""

from __future__ import annotations

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from collector.tables import TABLE_COLUMNS

# (resource blocks, scope blocks, records) field names of each signal's request
REQUEST_FIELDS = {
    ExportLogsServiceRequest: ("resource_logs", "scope_logs", "log_records"),
    ExportMetricsServiceRequest: ("resource_metrics", "scope_metrics", "metrics"),
    ExportTraceServiceRequest: ("resource_spans", "scope_spans", "spans"),
}


def any_value(python: object) -> AnyValue:
    """A Python value as the AnyValue a client would send (None: an AnyValue with nothing set)."""
    if python is None:
        return AnyValue()
    if isinstance(python, bool):
        return AnyValue(bool_value=python)
    if isinstance(python, int):
        return AnyValue(int_value=python)
    if isinstance(python, float):
        return AnyValue(double_value=python)
    if isinstance(python, str):
        return AnyValue(string_value=python)
    if isinstance(python, bytes):
        return AnyValue(bytes_value=python)
    if isinstance(python, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(item) for item in python]))
    if isinstance(python, dict):
        return AnyValue(kvlist_value=KeyValueList(values=key_values(python)))
    raise TypeError(python)


def key_values(attributes: dict | list[KeyValue] | None) -> list[KeyValue]:
    if isinstance(attributes, list):
        return attributes
    return [KeyValue(key=key, value=any_value(value)) for key, value in (attributes or {}).items()]


def export_request(request_type: type, records: list, resource: dict | list[KeyValue] | None = None,
                   scope_name: str = "", scope_version: str = "2.1.197",
                   scope_attributes: dict | list[KeyValue] | None = None):
    """One resource block holding one scope block with the records, for any of the three signals."""
    resource_field, scope_field, records_field = REQUEST_FIELDS[request_type]
    request = request_type()
    block = getattr(request, resource_field).add()
    block.resource.attributes.extend(key_values(resource))
    scope_block = getattr(block, scope_field).add()
    scope_block.scope.name = scope_name
    scope_block.scope.version = scope_version
    scope_block.scope.attributes.extend(key_values(scope_attributes))
    getattr(scope_block, records_field).extend(records)
    return request


def rows_as_dicts(batch, table: str) -> list[dict]:
    """A decoded batch's rows keyed by column name, checking each row fills every column of its table."""
    assert batch.table == table
    columns = TABLE_COLUMNS[table]
    for row in batch.rows:
        assert len(row) == len(columns)
    return [dict(zip(columns, row)) for row in batch.rows]
