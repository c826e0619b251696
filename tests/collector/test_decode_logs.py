"""decode_logs: hand-built OTLP log records (Claude Code events) -> rows of the events table."""

from __future__ import annotations

import base64
import json
import math

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from collector.decode import DecodeContext, Limits, decode_logs
from collector.decode.privacy import PrivacyPolicy
from collector.decode.common import DAY_NS, MAX_TIMESTAMP_NS
from tests.support.otlp_messages import any_value, export_request, key_values, rows_as_dicts

RECEIVED_AT_NS = 1_795_577_800_123_456_789
EVENT_TIME_NS = 1_795_577_745_573_000_000
DEFAULT_ORG = "fallback-org"
# Decoding is tested on values as sent; redaction has its own tests (test_decode_privacy.py).
AS_SENT = PrivacyPolicy(store_prompts=True)
CONTEXT = DecodeContext(Limits(), DEFAULT_ORG, RECEIVED_AT_NS, privacy=AS_SENT)


def log_record(attributes: dict | None = None, time_unix_nano: int = EVENT_TIME_NS, **fields) -> LogRecord:
    return LogRecord(attributes=key_values(attributes or {}), time_unix_nano=time_unix_nano, **fields)


def logs_request(*records: LogRecord, resource: dict | None = None,
                 scope_name: str = "com.anthropic.claude_code.events", scope_version: str = "2.1.197",
                 scope_attributes: dict | None = None) -> ExportLogsServiceRequest:
    return export_request(ExportLogsServiceRequest, list(records), resource, scope_name, scope_version,
                          scope_attributes)


def event_rows(batch) -> list[dict]:
    return rows_as_dicts(batch, "events")


def only_event(request: ExportLogsServiceRequest, context: DecodeContext = CONTEXT) -> dict:
    batch = decode_logs(request, context)
    assert batch.table == "events"
    assert batch.rejected == 0, batch.reasons
    rows = event_rows(batch)
    assert len(rows) == 1
    return rows[0]


# --- attribute values ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    pytest.param(AnyValue(string_value="hello"), "hello", id="string"),
    pytest.param(AnyValue(string_value=""), "", id="empty-string"),
    pytest.param(AnyValue(string_value="héllo ✓ 日本"), "héllo ✓ 日本", id="unicode-string"),
    pytest.param(AnyValue(int_value=42), "42", id="int"),
    pytest.param(AnyValue(int_value=-7), "-7", id="negative-int"),
    pytest.param(AnyValue(int_value=2**63 - 1), "9223372036854775807", id="largest-int"),
    pytest.param(AnyValue(double_value=1.5), "1.5", id="double"),
    pytest.param(AnyValue(double_value=0.1), "0.1", id="double-shortest-repr"),
    pytest.param(AnyValue(double_value=2.0), "2.0", id="integral-double"),
    pytest.param(AnyValue(double_value=1e300), "1e+300", id="huge-double"),
    pytest.param(AnyValue(double_value=math.inf), "inf", id="infinite-double"),
    pytest.param(AnyValue(bool_value=True), "true", id="true"),
    pytest.param(AnyValue(bool_value=False), "false", id="false"),
    pytest.param(any_value([1, "a", True, 2.5]), '[1,"a",true,2.5]', id="array"),
    pytest.param(any_value([]), "[]", id="empty-array"),
    pytest.param(any_value({"a": 1, "b": ["x", None]}), '{"a":1,"b":["x",null]}', id="kvlist"),
    pytest.param(any_value({}), "{}", id="empty-kvlist"),
    pytest.param(any_value(["é"]), '["é"]', id="array-not-ascii-escaped"),
    pytest.param(any_value([math.nan, math.inf]), '["nan","inf"]', id="array-non-finite-as-strings"),
    # 00 ff 68 69 -> 000000 001111 111101 101000 011010 010000 -> A P 9 o a Q, two bytes of padding
    pytest.param(AnyValue(bytes_value=b"\x00\xffhi"), "AP9oaQ==", id="bytes-base64"),
    pytest.param(AnyValue(), "", id="empty-any-value"),
])
def test_every_attribute_value_type_is_kept_as_text(value, text):
    record = LogRecord(time_unix_nano=EVENT_TIME_NS, attributes=[KeyValue(key="k", value=value)])

    assert only_event(logs_request(record))["attributes"] == {"k": text}


def test_structured_values_are_valid_json():
    nested = {"tools": ["Edit", "Write"], "limits": {"max": 3, "ratio": 0.25}, "on": False}
    event = only_event(logs_request(log_record({"nested": nested})))

    assert json.loads(event["attributes"]["nested"]) == nested


def test_all_attributes_of_a_record_are_kept_including_unknown_ones():
    attributes = {"event.name": "brand_new_event", "prompt_length": 12, "success": "true", "some.future.key": "x"}
    event = only_event(logs_request(log_record(attributes)))

    assert event["attributes"] == {"event.name": "brand_new_event", "prompt_length": "12", "success": "true",
                                   "some.future.key": "x"}
    assert event["event_name"] == "brand_new_event"


def test_resource_and_scope_attributes_are_kept_verbatim():
    resource = {"service.name": "claude-code", "service.version": "2.1.197", "os.type": "linux",
                "team": "payments", "cost_center": 42}
    request = logs_request(log_record(), resource=resource, scope_name="com.anthropic.claude_code.events",
                           scope_version="2.1.197", scope_attributes={"scope.flag": True})
    event = only_event(request)

    assert event["resource_attributes"] == {"service.name": "claude-code", "service.version": "2.1.197",
                                            "os.type": "linux", "team": "payments", "cost_center": "42"}
    assert (event["service_name"], event["service_version"]) == ("claude-code", "2.1.197")
    assert (event["scope_name"], event["scope_version"]) == ("com.anthropic.claude_code.events", "2.1.197")
    assert event["scope_attributes"] == {"scope.flag": "true"}
    # resource attributes stay on the resource: they are not copied into the record's own map
    assert event["attributes"] == {}


def test_each_record_carries_the_resource_it_was_sent_under():
    request = logs_request(log_record({"n": 1}), resource={"service.name": "claude-code"})
    other = request.resource_logs.add()
    other.resource.attributes.extend(key_values({"service.name": "claude-code-desktop"}))
    other.scope_logs.add().log_records.extend([log_record({"n": 2})])

    events = event_rows(decode_logs(request, CONTEXT))

    assert {event["attributes"]["n"]: event["service_name"] for event in events} == {
        "1": "claude-code", "2": "claude-code-desktop"}
    assert events[1]["scope_name"] == ""


# --- identity -----------------------------------------------------------------------------------------------------

USER_ID = "70e762ec7c54b8dfcbcdc53f6f6451562f4185309c9e4efbe16824d2cde2fe56"
ACCOUNT = "5c2a8f0e-1111-4222-8333-944455556666"
EMAIL = "dev@example.com"


@pytest.mark.parametrize("attributes, user_key", [
    pytest.param({"user.email": EMAIL, "user.account_uuid": ACCOUNT, "user.id": USER_ID}, EMAIL, id="email"),
    pytest.param({"user.account_uuid": ACCOUNT, "user.id": USER_ID}, ACCOUNT, id="account-uuid"),
    pytest.param({"user.email": "", "user.account_uuid": ACCOUNT, "user.id": USER_ID}, ACCOUNT, id="empty-email"),
    pytest.param({"user.id": USER_ID}, USER_ID, id="install-id"),
    pytest.param({}, "", id="nobody"),
])
def test_user_key_falls_back_from_email_to_account_to_install_id(attributes, user_key):
    event = only_event(logs_request(log_record({**attributes, "session.id": "s-1"})))

    assert event["user_key"] == user_key
    assert event["user_email"] == attributes.get("user.email", "")
    assert event["user_account_uuid"] == attributes.get("user.account_uuid", "")
    assert event["user_id"] == attributes.get("user.id", "")
    assert event["session_id"] == "s-1"


def test_identity_is_read_from_the_resource_when_the_record_lacks_it():
    resource = {"user.email": EMAIL, "user.id": USER_ID, "session.id": "s-r", "organization.id": "org-r",
                "terminal.type": "vscode", "app.version": "2.1.197"}
    event = only_event(logs_request(log_record({"event.name": "user_prompt"}), resource=resource))

    assert (event["user_key"], event["user_email"], event["user_id"]) == (EMAIL, EMAIL, USER_ID)
    assert (event["session_id"], event["org_id"]) == ("s-r", "org-r")
    assert (event["terminal_type"], event["app_version"]) == ("vscode", "2.1.197")


def test_identity_on_the_record_wins_over_the_resource():
    resource = {"user.email": "resource@example.com", "organization.id": "org-resource", "session.id": "s-resource"}
    record = log_record({"user.email": EMAIL, "organization.id": "org-record", "session.id": "s-record"})
    event = only_event(logs_request(record, resource=resource))

    assert (event["user_key"], event["org_id"], event["session_id"]) == (EMAIL, "org-record", "s-record")


def test_resource_email_beats_a_record_account_uuid():
    # Each attribute falls back on its own, then the key chooses: an email anywhere is the user key.
    event = only_event(logs_request(log_record({"user.account_uuid": ACCOUNT}), resource={"user.email": EMAIL}))

    assert event["user_key"] == EMAIL
    assert event["user_account_uuid"] == ACCOUNT


def test_org_is_the_organization_id_else_the_configured_default():
    with_org = only_event(logs_request(log_record({"organization.id": "org-42"})))
    without_org = only_event(logs_request(log_record({"user.id": USER_ID})))
    other_default = only_event(logs_request(log_record()),
                               DecodeContext(Limits(), "acme", RECEIVED_AT_NS, privacy=AS_SENT))

    assert with_org["org_id"] == "org-42"
    assert without_org["org_id"] == DEFAULT_ORG
    assert other_default["org_id"] == "acme"


# --- event name, body, time ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("attributes, field, body, name", [
    pytest.param({"event.name": "user_prompt"}, "tool_result", "claude_code.api_request", "user_prompt",
                 id="attribute-first"),
    pytest.param({}, "tool_result", "claude_code.api_request", "tool_result", id="then-record-field"),
    pytest.param({}, "", "claude_code.api_error", "api_error", id="then-body"),
    pytest.param({"event.name": ""}, "", "claude_code.tool_decision", "tool_decision", id="empty-attribute-skipped"),
    pytest.param({}, "claude_code.user_prompt", "", "user_prompt", id="prefixed-field-stripped"),
    pytest.param({}, "", "an ordinary log line", "", id="body-without-prefix"),
    pytest.param({}, "", None, "", id="nothing"),
])
def test_event_name_comes_from_attribute_then_field_then_body(attributes, field, body, name):
    record = log_record(attributes, event_name=field)
    if body is not None:
        record.body.CopyFrom(AnyValue(string_value=body))

    assert only_event(logs_request(record))["event_name"] == name


@pytest.mark.parametrize("body, text", [
    pytest.param(AnyValue(string_value="claude_code.user_prompt"), "claude_code.user_prompt", id="string"),
    pytest.param(any_value({"a": [1, 2]}), '{"a":[1,2]}', id="kvlist-as-json"),
    pytest.param(AnyValue(int_value=5), "5", id="int"),
    pytest.param(None, "", id="absent"),
])
def test_body_is_stored_as_text(body, text):
    record = log_record()
    if body is not None:
        record.body.CopyFrom(body)

    assert only_event(logs_request(record))["body"] == text


EVENT_TIMESTAMP = "2026-11-25T03:35:45.573Z"  # EVENT_TIME_NS as Claude Code writes its event.timestamp


@pytest.mark.parametrize("time_ns, observed_ns, timestamp", [
    pytest.param(EVENT_TIME_NS, EVENT_TIME_NS + 5, EVENT_TIME_NS, id="record-time"),
    pytest.param(0, EVENT_TIME_NS + 5, EVENT_TIME_NS + 5, id="observed-time"),
    pytest.param(0, 0, EVENT_TIME_NS, id="event-timestamp-attribute"),
])
def test_timestamp_falls_back_to_observed_then_the_event_timestamp(time_ns, observed_ns, timestamp):
    record = log_record({"event.timestamp": EVENT_TIMESTAMP}, time_unix_nano=time_ns,
                        observed_time_unix_nano=observed_ns)
    event = only_event(logs_request(record))

    assert event["timestamp"] == timestamp
    assert event["observed_timestamp"] == observed_ns
    assert event["received_at"] == RECEIVED_AT_NS // 1_000_000


@pytest.mark.parametrize("text, timestamp", [
    pytest.param("2026-11-25T03:35:45.573+00:00", EVENT_TIME_NS, id="offset"),
    pytest.param("2026-11-25T04:35:45.573+01:00", EVENT_TIME_NS, id="other-zone"),
    pytest.param("2026-11-25T03:35:45.573", EVENT_TIME_NS, id="no-zone-is-utc"),
    pytest.param("2026-11-25T03:35:45.573123Z", EVENT_TIME_NS + 123_000, id="microseconds"),
])
def test_event_timestamp_forms(text, timestamp):
    record = log_record({"event.timestamp": text}, time_unix_nano=0)

    assert only_event(logs_request(record))["timestamp"] == timestamp


@pytest.mark.parametrize("attributes, reason", [
    pytest.param({}, "it has no time: time_unix_nano and observed_time_unix_nano are 0 and there is no "
                 "event.timestamp attribute", id="no-time-at-all"),
    pytest.param({"event.timestamp": "yesterday"}, "it has no time but an event.timestamp that is not ISO 8601: "
                 "'yesterday'", id="not-iso-8601"),
    pytest.param({"event.timestamp": "1970-01-01T00:00:00Z"}, "is not after 1970", id="epoch"),
    pytest.param({"event.timestamp": "9999-01-01T00:00:00Z"}, "past 2149-06-06", id="past-the-last-day"),
])
def test_record_without_a_usable_time_is_rejected_never_given_the_receive_time(attributes, reason):
    # the receive time would differ on each retry of the export, so each retry would be counted again
    batch = decode_logs(logs_request(log_record(attributes, time_unix_nano=0), log_record()), CONTEXT)

    assert [event["timestamp"] for event in event_rows(batch)] == [EVENT_TIME_NS]
    assert batch.rejected == 1
    assert batch.reasons[0].startswith("log record: ") and reason in batch.reasons[0]


def test_a_record_gives_the_same_row_whatever_the_order_of_its_attributes():
    attributes = {"event.name": "user_prompt", "session.id": "s", "user.email": "a@example.com", "prompt_length": 5}
    resource = {"service.name": "claude-code", "team": "payments", "os.type": "linux"}
    scope = {"b": "2", "a": "1"}
    rows = [only_event(logs_request(log_record(dict(order(attributes.items()))),
                                    resource=dict(order(resource.items())), scope_attributes=dict(order(scope.items()))))
            for order in (iter, reversed)]

    assert rows[0] == rows[1]
    for column in ("attributes", "resource_attributes", "scope_attributes"):
        assert list(rows[0][column]) == sorted(rows[0][column])


def test_a_key_sent_twice_keeps_one_value_whatever_the_order():
    copies = [KeyValue(key="team", value=AnyValue(string_value=team)) for team in ("payments", "search")]
    rows = [only_event(logs_request(log_record(key_values({"session.id": "s"}) + order)))
            for order in (copies, copies[::-1], copies[:1] * 2)]

    assert [row["attributes"] for row in rows] == [{"session.id": "s", "team": "search"}] * 2 + [
        {"session.id": "s", "team": "payments"}]


# --- typed columns ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("attributes, decision, source", [
    pytest.param({"decision": "accept", "source": "config"}, "accept", "config", id="tool_decision"),
    pytest.param({"decision_type": "reject", "decision_source": "user_reject"}, "reject", "user_reject",
                 id="tool_result"),
    pytest.param({"decision": "accept", "decision_type": "reject", "source": "hook", "decision_source": "config"},
                 "accept", "hook", id="decision-and-source-win"),
    pytest.param({}, "", "", id="neither"),
])
def test_decision_columns(attributes, decision, source):
    event = only_event(logs_request(log_record(attributes)))

    assert (event["decision"], event["decision_source"]) == (decision, source)


def test_prompt_model_and_tool_columns():
    attributes = {"event.name": "tool_result", "prompt.id": "p-9", "model": "claude-opus-4-8",
                  "tool_name": "Edit", "terminal.type": "xterm", "app.version": "2.1.197"}
    event = only_event(logs_request(log_record(attributes)))

    assert (event["prompt_id"], event["model"], event["tool_name"]) == ("p-9", "claude-opus-4-8", "Edit")
    assert (event["terminal_type"], event["app_version"]) == ("xterm", "2.1.197")


def test_record_fields_trace_and_span_ids_are_hex():
    trace_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    span_id = bytes.fromhex("b7ad6b7169203331")
    record = log_record(trace_id=trace_id, span_id=span_id, severity_number=9, severity_text="INFO", flags=1,
                        dropped_attributes_count=3)
    event = only_event(logs_request(record))

    assert event["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert event["span_id"] == "b7ad6b7169203331"
    assert (event["severity_number"], event["severity_text"]) == (9, "INFO")
    assert (event["flags"], event["dropped_attributes_count"]) == (1, 3)


def test_record_without_ids_has_empty_id_columns():
    event = only_event(logs_request(log_record()))

    assert (event["trace_id"], event["span_id"]) == ("", "")


# --- rejected records ---------------------------------------------------------------------------------------------

def test_record_past_the_last_storable_time_is_rejected_and_its_neighbours_kept():
    too_late = MAX_TIMESTAMP_NS + 1
    request = logs_request(log_record({"n": 1}), log_record({"n": 2}, time_unix_nano=too_late), log_record({"n": 3}))

    batch = decode_logs(request, CONTEXT)

    assert [event["attributes"]["n"] for event in event_rows(batch)] == ["1", "3"]
    assert batch.rejected == 1
    assert len(batch.reasons) == 1 and str(too_late) in batch.reasons[0]
    assert "1 rejected" in batch.summary(CONTEXT.limits) and str(too_late) in batch.summary(CONTEXT.limits)


def test_the_last_storable_nanosecond_is_accepted():
    assert only_event(logs_request(log_record(time_unix_nano=MAX_TIMESTAMP_NS)))["timestamp"] == MAX_TIMESTAMP_NS


def test_observed_time_past_the_last_storable_time_is_rejected():
    batch = decode_logs(logs_request(log_record(observed_time_unix_nano=2**64 - 1)), CONTEXT)

    assert (batch.rows, batch.rejected) == ([], 1)
    assert "observed_time_unix_nano" in batch.reasons[0]


@pytest.mark.parametrize("severity", [-1, 256, 2**31 - 1])
def test_severity_number_outside_the_named_levels_is_kept_as_sent(severity):
    # severity_number is an open enum: a value no level names is odd but harmless, so the record is kept.
    batch = decode_logs(logs_request(log_record({"n": 1}, severity_number=severity)), CONTEXT)

    assert [event["severity_number"] for event in event_rows(batch)] == [severity]
    assert batch.rejected == 0


def test_records_older_than_the_retention_are_rejected():
    context = DecodeContext(Limits(), DEFAULT_ORG, RECEIVED_AT_NS, retention_days=30, privacy=AS_SENT)
    old = log_record({"n": "old"}, time_unix_nano=RECEIVED_AT_NS - 31 * DAY_NS)
    recent = log_record({"n": "recent"}, time_unix_nano=RECEIVED_AT_NS - 29 * DAY_NS)

    batch = decode_logs(logs_request(old, recent), context)

    assert [event["attributes"]["n"] for event in event_rows(batch)] == ["recent"]
    assert batch.rejected == 1 and "30-day retention" in batch.reasons[0]


def test_a_clean_batch_has_an_empty_summary():
    batch = decode_logs(logs_request(log_record({"a": "b"})), CONTEXT)

    assert (batch.rejected, batch.truncated_values, batch.dropped_attributes) == (0, 0, 0)
    assert batch.summary(CONTEXT.limits) == ""


# --- limits -------------------------------------------------------------------------------------------------------

def test_long_values_are_truncated_and_counted():
    limits = Limits(max_attribute_value_length=8)
    context = DecodeContext(limits, DEFAULT_ORG, RECEIVED_AT_NS, privacy=AS_SENT)
    record = log_record({"long": "x" * 20, "exact": "y" * 8, "accents": "é" * 9, "short": "ok"})

    batch = decode_logs(logs_request(record), context)

    attributes = event_rows(batch)[0]["attributes"]
    assert attributes == {"long": "x" * 8, "exact": "y" * 8, "accents": "é" * 8, "short": "ok"}
    assert batch.truncated_values == 2
    summary = batch.summary(limits)
    assert "2 attribute values" in summary and "8 characters" in summary and "truncated" in summary
    assert "rejected" not in summary


def test_a_rejected_record_adds_nothing_to_the_truncation_count():
    context = DecodeContext(Limits(max_attribute_value_length=8, max_attributes_per_record=1), DEFAULT_ORG,
                            RECEIVED_AT_NS, privacy=AS_SENT)
    stored = log_record({"long": "x" * 20})
    refused = log_record({"long": "x" * 20, "extra": "y"}, time_unix_nano=MAX_TIMESTAMP_NS + 1)

    batch = decode_logs(logs_request(stored, refused), context)

    assert (len(batch.rows), batch.rejected) == (1, 1)
    assert (batch.truncated_values, batch.dropped_attributes) == (1, 0)


def test_long_resource_values_are_truncated_too():
    limits = Limits(max_attribute_value_length=4)
    request = logs_request(log_record(), resource={"team": "payments-platform"})

    batch = decode_logs(request, DecodeContext(limits, DEFAULT_ORG, RECEIVED_AT_NS, privacy=AS_SENT))

    assert event_rows(batch)[0]["resource_attributes"] == {"team": "paym"}
    assert batch.truncated_values == 1


def test_attributes_beyond_the_per_record_limit_are_dropped_and_counted():
    limits = Limits(max_attributes_per_record=3)
    context = DecodeContext(limits, DEFAULT_ORG, RECEIVED_AT_NS, privacy=AS_SENT)
    five = {f"a{n}": n for n in range(5)}

    batch = decode_logs(logs_request(log_record(five), log_record(five)), context)

    for event in event_rows(batch):
        assert event["attributes"] == {"a0": "0", "a1": "1", "a2": "2"}
        assert event["dropped_attributes_count"] == 2, "the record itself says what it lost"
    assert batch.dropped_attributes == 4
    assert batch.rejected == 0
    summary = batch.summary(limits)
    assert "4 attributes" in summary and "3" in summary and "dropped" in summary


def test_decoded_values_are_base64_of_the_exact_bytes():
    payload = bytes(range(256))
    event = only_event(logs_request(log_record({"blob": payload})))

    assert base64.b64decode(event["attributes"]["blob"]) == payload


def test_an_unexpected_error_in_one_record_rejects_only_that_record():
    from collector.decode.common import DecodedBatch, append_or_reject

    batch = DecodedBatch("events")
    append_or_reject(batch, "log record", lambda: ("good",))
    append_or_reject(batch, "log record", lambda: {}["missing"])
    append_or_reject(batch, "log record", lambda: ("also good",))
    assert batch.rows == [("good",), ("also good",)]
    assert batch.rejected == 1 and batch.reasons == ["log record: could not be decoded (KeyError: 'missing')"]


def test_dropped_attributes_count_stays_within_what_the_column_holds():
    # The client's own count plus ours could pass UInt32 and fail the whole batch's insert.
    context = DecodeContext(Limits(max_attributes_per_record=1), DEFAULT_ORG, RECEIVED_AT_NS, privacy=AS_SENT)
    record = log_record({"a": 1, "b": 2}, dropped_attributes_count=2**32 - 1)

    (event,) = event_rows(decode_logs(logs_request(record), context))

    assert event["dropped_attributes_count"] == 2**32 - 1
