"""ExportTraceServiceRequest -> rows of the spans table (Claude Code's traces beta)."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector.decode.common import (
    DecodeContext,
    DecodedBatch,
    Origin,
    RecordRejected,
    append_or_reject,
    attribute_map,
    checked_record_time,
    checked_time,
    dropped_attribute_count,
    hex_id,
    identity_of,
    records_with_origin,
)

SPAN_KIND = {value: name.removeprefix("SPAN_KIND_").lower() for name, value in Span.SpanKind.items()}
STATUS_CODE = {value: name.removeprefix("STATUS_CODE_").lower() for name, value in Status.StatusCode.items()}


def decode_traces(request: ExportTraceServiceRequest, context: DecodeContext) -> DecodedBatch:
    batch = DecodedBatch("spans")
    for origin, span in records_with_origin(request.resource_spans, "scope_spans", "spans", context, batch):
        append_or_reject(batch, f"span {span.name!r}", lambda: _span_row(span, origin, context, batch))
    return batch


def _span_row(span: Span, origin: Origin, context: DecodeContext, batch: DecodedBatch) -> tuple:
    if len(span.trace_id) != 16 or len(span.span_id) != 8:
        raise RecordRejected("trace_id must be 16 bytes and span_id 8 bytes")
    limits, privacy = context.limits, origin.privacy
    attributes = attribute_map(span.attributes, limits, batch, privacy)
    who = identity_of(attributes, origin.resource, context.default_org_id)
    if not span.start_time_unix_nano:
        raise RecordRejected("its start_time_unix_nano is 0; OTLP requires the start of every span")
    start = checked_record_time(span.start_time_unix_nano, context)
    end = checked_time(span.end_time_unix_nano, "end_time_unix_nano")
    return (
        who.org_id, start, end, max(end - start, 0),
        hex_id(span.trace_id), hex_id(span.span_id), hex_id(span.parent_span_id), span.trace_state,
        span.name, SPAN_KIND.get(span.kind, str(span.kind)),
        STATUS_CODE.get(span.status.code, str(span.status.code)), privacy.text("", span.status.message),
        *who.columns(),
        attributes.get("model", ""), attributes.get("tool_name", ""),
        who.terminal_type, who.app_version, *origin.service, span.flags,
        attributes, origin.resource, *origin.scope,
        [checked_time(event.time_unix_nano, "span event time") for event in span.events],
        [event.name for event in span.events],
        [attribute_map(event.attributes, limits, batch, privacy) for event in span.events],
        [hex_id(link.trace_id) for link in span.links],
        [hex_id(link.span_id) for link in span.links],
        [link.trace_state for link in span.links],
        [attribute_map(link.attributes, limits, batch, privacy) for link in span.links],
        dropped_attribute_count(span.dropped_attributes_count, span.attributes, limits),
        span.dropped_events_count, span.dropped_links_count,
        context.received_at_ms,
    )
