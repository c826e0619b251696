"""ExportLogsServiceRequest -> rows of the events table (Claude Code events are OTLP log records)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from collector.decode.common import (
    DecodeContext,
    DecodedBatch,
    Origin,
    RecordRejected,
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

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


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
                                    or observed or _event_timestamp(attributes), context)
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


def _event_timestamp(attributes: dict[str, str]) -> int:
    """The event.timestamp attribute (ISO 8601, which Claude Code sends) in ns, for a record without times. Never
    the receive time: each retry of the export would then be a new event, counted again."""
    text = attributes.get("event.timestamp", "")
    if not text:
        raise RecordRejected("it has no time: time_unix_nano and observed_time_unix_nano are 0 and there is no "
                             "event.timestamp attribute")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RecordRejected(f"it has no time but an event.timestamp that is not ISO 8601: {text[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    nanos = (moment - _EPOCH) // timedelta(microseconds=1) * 1000
    if nanos <= 0:
        raise RecordRejected(f"its event.timestamp {text[:40]!r} is not after 1970")
    return nanos


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

