"""decode_traces: hand-built OTLP spans (Claude Code's traces beta) -> rows of the spans table."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector.decode import DecodeContext, Limits, decode_traces
from collector.decode.privacy import PrivacyPolicy
from collector.decode.common import MAX_TIMESTAMP_NS
from collector.tables import TABLE_COLUMNS
from tests.support.otlp_messages import export_request, key_values, rows_as_dicts

RECEIVED_AT_NS = 1_795_577_800_000_000_000
START_NS = 1_795_577_745_000_000_000
DEFAULT_ORG = "fallback-org"
# Decoding is tested on values as sent; redaction has its own tests (test_decode_privacy.py).
AS_SENT = PrivacyPolicy(store_prompts=True)
CONTEXT = DecodeContext(Limits(), DEFAULT_ORG, RECEIVED_AT_NS, privacy=AS_SENT)

TRACE_HEX = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_HEX = "00f067aa0ba902b7"
PARENT_HEX = "53995c3f42cd8ad8"


def make_span(name: str = "claude_code.interaction", trace_id: bytes = bytes.fromhex(TRACE_HEX),
              span_id: bytes = bytes.fromhex(SPAN_HEX), start: int = START_NS, end: int = START_NS + 1_500_000,
              attributes: dict | None = None, **fields) -> Span:
    return Span(name=name, trace_id=trace_id, span_id=span_id, start_time_unix_nano=start, end_time_unix_nano=end,
                attributes=key_values(attributes or {}), **fields)


def traces_request(*spans: Span, resource: dict | None = None) -> ExportTraceServiceRequest:
    return export_request(ExportTraceServiceRequest, list(spans), resource or {"service.name": "claude-code"},
                          "com.anthropic.claude_code.tracing")


def span_rows(batch) -> list[dict]:
    return rows_as_dicts(batch, "spans")


def only_span(*spans: Span, **request_fields) -> dict:
    batch = decode_traces(traces_request(*spans, **request_fields), CONTEXT)
    assert batch.rejected == 0, batch.reasons
    (row,) = span_rows(batch)
    return row


def test_span_ids_times_and_duration():
    row = only_span(make_span(parent_span_id=bytes.fromhex(PARENT_HEX), trace_state="vendor=1", flags=0x101))

    assert (row["trace_id"], row["span_id"], row["parent_span_id"]) == (TRACE_HEX, SPAN_HEX, PARENT_HEX)
    assert (row["timestamp"], row["end_timestamp"], row["duration_ns"]) == (START_NS, START_NS + 1_500_000,
                                                                           1_500_000)
    assert (row["span_name"], row["trace_state"], row["flags"]) == ("claude_code.interaction", "vendor=1", 0x101)
    assert row["received_at"] == RECEIVED_AT_NS // 1_000_000


def test_root_span_has_an_empty_parent():
    assert only_span(make_span())["parent_span_id"] == ""


def test_span_ending_before_it_starts_has_zero_duration():
    assert only_span(make_span(start=START_NS, end=START_NS - 10))["duration_ns"] == 0


def test_unfinished_span_has_zero_duration():
    row = only_span(make_span(end=0))

    assert (row["end_timestamp"], row["duration_ns"]) == (0, 0)


@pytest.mark.parametrize("kind, name", [
    (Span.SPAN_KIND_UNSPECIFIED, "unspecified"),
    (Span.SPAN_KIND_INTERNAL, "internal"),
    (Span.SPAN_KIND_SERVER, "server"),
    (Span.SPAN_KIND_CLIENT, "client"),
    (Span.SPAN_KIND_PRODUCER, "producer"),
    (Span.SPAN_KIND_CONSUMER, "consumer"),
    (42, "42"),  # an enum value from a newer protocol version is kept as its number
])
def test_span_kind_names(kind, name):
    assert only_span(make_span(kind=kind))["span_kind"] == name


@pytest.mark.parametrize("code, name, message", [
    (Status.STATUS_CODE_UNSET, "unset", ""),
    (Status.STATUS_CODE_OK, "ok", ""),
    (Status.STATUS_CODE_ERROR, "error", "API returned 529 overloaded"),
])
def test_status_names_and_message(code, name, message):
    row = only_span(make_span(status=Status(code=code, message=message)))

    assert (row["status_code"], row["status_message"]) == (name, message)


def test_span_events_become_parallel_arrays():
    span = make_span()
    span.events.add(time_unix_nano=START_NS + 10, name="tool.start", attributes=key_values({"tool_name": "Edit"}))
    span.events.add(time_unix_nano=START_NS + 20, name="tool.end", attributes=key_values({"success": True}))
    row = only_span(span)

    assert row["event_timestamps"] == [START_NS + 10, START_NS + 20]
    assert row["event_names"] == ["tool.start", "tool.end"]
    assert row["event_attributes"] == [{"tool_name": "Edit"}, {"success": "true"}]


def test_span_links_become_parallel_arrays_with_hex_ids():
    span = make_span()
    span.links.add(trace_id=bytes.fromhex("0af7651916cd43dd8448eb211c80319c"),
                   span_id=bytes.fromhex("b7ad6b7169203331"), trace_state="a=b",
                   attributes=key_values({"link.reason": "resume"}))
    span.links.add(trace_id=bytes(range(16)), span_id=bytes(range(8)))
    row = only_span(span)

    assert row["link_trace_ids"] == ["0af7651916cd43dd8448eb211c80319c", "000102030405060708090a0b0c0d0e0f"]
    assert row["link_span_ids"] == ["b7ad6b7169203331", "0001020304050607"]
    assert row["link_trace_states"] == ["a=b", ""]
    assert row["link_attributes"] == [{"link.reason": "resume"}, {}]


def test_span_without_events_or_links_has_empty_arrays():
    row = only_span(make_span())

    assert [row[column] for column in TABLE_COLUMNS["spans"] if column.startswith(("event_", "link_"))] == [[]] * 7


def test_attributes_identity_and_typed_columns():
    attributes = {"user.email": "dev@example.com", "user.id": "uid", "session.id": "s-1", "organization.id": "org-7",
                  "model": "claude-opus-4-8", "tool_name": "Bash", "terminal.type": "xterm",
                  "app.version": "2.1.197", "attempt": 2}
    row = only_span(make_span(attributes=attributes, dropped_attributes_count=1, dropped_events_count=2,
                              dropped_links_count=3),
                    resource={"service.name": "claude-code", "service.version": "2.1.197", "team": "payments"})

    assert (row["org_id"], row["user_key"], row["user_email"], row["user_id"], row["session_id"]) == (
        "org-7", "dev@example.com", "dev@example.com", "uid", "s-1")
    assert (row["model"], row["tool_name"], row["terminal_type"], row["app_version"]) == (
        "claude-opus-4-8", "Bash", "xterm", "2.1.197")
    assert row["attributes"] == {**attributes, "attempt": "2"}
    assert row["resource_attributes"] == {"service.name": "claude-code", "service.version": "2.1.197",
                                          "team": "payments"}
    assert (row["service_name"], row["service_version"]) == ("claude-code", "2.1.197")
    assert (row["scope_name"], row["scope_version"]) == ("com.anthropic.claude_code.tracing", "2.1.197")
    assert (row["dropped_attributes_count"], row["dropped_events_count"], row["dropped_links_count"]) == (1, 2, 3)


def test_span_without_identity_gets_the_default_org():
    row = only_span(make_span())

    assert (row["org_id"], row["user_key"]) == (DEFAULT_ORG, "")


@pytest.mark.parametrize("trace_id, span_id", [
    pytest.param(b"", bytes.fromhex(SPAN_HEX), id="no-trace-id"),
    pytest.param(bytes(15), bytes.fromhex(SPAN_HEX), id="short-trace-id"),
    pytest.param(bytes(17), bytes.fromhex(SPAN_HEX), id="long-trace-id"),
    pytest.param(bytes.fromhex(TRACE_HEX), b"", id="no-span-id"),
    pytest.param(bytes.fromhex(TRACE_HEX), bytes(7), id="short-span-id"),
    pytest.param(bytes.fromhex(TRACE_HEX), bytes(16), id="span-id-of-trace-length"),
])
def test_ids_of_the_wrong_length_are_rejected_and_neighbours_kept(trace_id, span_id):
    request = traces_request(make_span("before"), make_span("bad", trace_id=trace_id, span_id=span_id),
                             make_span("after"))

    batch = decode_traces(request, CONTEXT)

    assert [row["span_name"] for row in span_rows(batch)] == ["before", "after"]
    assert batch.rejected == 1
    assert "'bad'" in batch.reasons[0] and "16 bytes" in batch.reasons[0]


@pytest.mark.parametrize("fields", [
    pytest.param({"start": MAX_TIMESTAMP_NS + 1}, id="start"),
    pytest.param({"end": MAX_TIMESTAMP_NS + 1}, id="end"),
])
def test_times_past_the_last_storable_time_are_rejected(fields):
    batch = decode_traces(traces_request(make_span("bad", **fields), make_span("good")), CONTEXT)

    assert [row["span_name"] for row in span_rows(batch)] == ["good"]
    assert batch.rejected == 1 and str(MAX_TIMESTAMP_NS + 1) in batch.reasons[0]


def test_span_without_a_start_time_is_rejected_and_neighbours_kept():
    # 0 is no time: OTLP requires it, and no stand-in (the receive time) would stay the same across retries
    batch = decode_traces(traces_request(make_span(start=0), make_span(span_id=bytes.fromhex(PARENT_HEX))), CONTEXT)

    assert [span["span_id"] for span in span_rows(batch)] == [PARENT_HEX]
    assert batch.reasons == ["span 'claude_code.interaction': its start_time_unix_nano is 0; "
                             "OTLP requires the start of every span"]


def test_span_event_past_the_last_storable_time_rejects_its_span():
    bad = make_span("bad")
    bad.events.add(time_unix_nano=MAX_TIMESTAMP_NS + 1, name="late")

    batch = decode_traces(traces_request(bad, make_span("good")), CONTEXT)

    assert [row["span_name"] for row in span_rows(batch)] == ["good"]
    assert batch.rejected == 1 and "span event time" in batch.reasons[0]


def test_event_and_link_attributes_count_against_the_limits():
    limits = Limits(max_attribute_value_length=3, max_attributes_per_record=1)
    span = make_span()
    span.events.add(time_unix_nano=START_NS, name="e", attributes=key_values({"a": "long", "b": "x"}))
    span.links.add(trace_id=bytes(16), span_id=bytes(8), attributes=key_values({"c": "y", "d": "z"}))

    context = DecodeContext(limits, DEFAULT_ORG, RECEIVED_AT_NS, privacy=AS_SENT)
    batch = decode_traces(traces_request(span, resource={"os": "mac"}), context)

    (row,) = span_rows(batch)
    assert row["event_attributes"] == [{"a": "lon"}]
    assert row["link_attributes"] == [{"c": "y"}]
    assert (batch.truncated_values, batch.dropped_attributes) == (1, 2)
