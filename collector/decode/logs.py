"""ExportLogsServiceRequest -> rows of the events table (Claude Code events are OTLP log records)."""

from __future__ import annotations

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from collector.decode.common import (
    DecodeContext,
    DecodedBatch,
    Origin,
    any_value_python,
    append_or_reject,
    attribute_map,
    checked_record_time,
    checked_time,
    dropped_attribute_count,
    hex_id,
    identity_of,
    records_with_origin,
)
from collector.decode.privacy import EVENT_BODY_PREFIX, as_text


def decode_logs(request: ExportLogsServiceRequest, context: DecodeContext) -> DecodedBatch:
    batch = DecodedBatch("events")
    for origin, record in records_with_origin(request.resource_logs, "scope_logs", "log_records", context, batch):
        append_or_reject(batch, "log record", lambda: _event_row(record, origin, context, batch))
    return batch


def _event_row(record: LogRecord, origin: Origin, context: DecodeContext, batch: DecodedBatch) -> tuple:
    attributes = attribute_map(record.attributes, context.limits, batch, origin.privacy)
    who = identity_of(attributes, origin.resource, context.default_org_id)
    observed = checked_time(record.observed_time_unix_nano, "observed_time_unix_nano")
    timestamp = checked_record_time(checked_time(record.time_unix_nano, "time_unix_nano")
                                    or observed or context.received_at_ns, context)
    body = _body_value(record)
    event_name = event_name_of(attributes, record, body if isinstance(body, str) else "")
    body = as_text(origin.privacy.log_body(body, event_name))
    return (
        who.org_id, timestamp, observed, event_name,
        *who.columns(), attributes.get("prompt.id", ""),
        attributes.get("model", ""), attributes.get("tool_name", ""),
        attributes.get("decision") or attributes.get("decision_type", ""),
        attributes.get("source") or attributes.get("decision_source", ""),
        who.terminal_type, who.app_version, *origin.service,
        record.severity_number, record.severity_text, body,
        hex_id(record.trace_id), hex_id(record.span_id), record.flags,
        attributes, origin.resource, *origin.scope,
        dropped_attribute_count(record.dropped_attributes_count, record.attributes, context.limits),
        context.received_at_ms,
    )


def event_name_of(attributes: dict[str, str], record: LogRecord, body: str) -> str:
    """Claude Code leaves the LogRecord event_name empty: read the attribute, then the field, then the body."""
    name = attributes.get("event.name") or record.event_name
    if name:
        return name.removeprefix(EVENT_BODY_PREFIX)
    if body.startswith(EVENT_BODY_PREFIX):
        return body[len(EVENT_BODY_PREFIX):]
    return ""


def _body_value(record: LogRecord) -> object:
    return any_value_python(record.body) if record.HasField("body") else ""

