"""The official OpenTelemetry SDK exporters, over a real gRPC channel and real HTTP, into a running serve:
every metric point and event arrives with the right typed columns and its full attribute maps."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.support.otel_sdk import (
    CLIENT_VERSION,
    EVENT_SCOPE,
    METER_NAME,
    log_exporter,
    metric_exporter,
    send_claude_events,
    send_claude_metrics,
)


@pytest.fixture
def serve(serve_factory):
    # The attribute maps are compared as sent (made-up keys included): what redaction keeps has its own tests.
    return serve_factory("--store-prompts")


def claude_identity(org: str = "org-acme") -> dict:
    return {
        "organization.id": org,
        "user.email": "ada@example.com",
        "user.account_uuid": str(uuid.uuid4()),
        "user.id": uuid.uuid4().hex * 2,
        "session.id": str(uuid.uuid4()),
        "terminal.type": "vscode",
        "team": "payments",
    }


@pytest.mark.parametrize("transport", ["grpc", "http"])
@pytest.mark.parametrize("temporality", ["delta", "cumulative"])
def test_sdk_metric_points_are_stored_with_typed_columns_and_full_attributes(serve, transport, temporality):
    identity = claude_identity()
    rounds = 2
    sent = send_claude_metrics(metric_exporter(transport, serve, temporality), identity, rounds)

    rows = serve.query(f"""
        SELECT metric_name, metric_type, metric_unit, temporality, is_monotonic, value,
               toUnixTimestamp64Nano(timestamp) AS time_ns, toUnixTimestamp64Nano(start_timestamp) AS start_ns,
               org_id, user_key, user_email, user_account_uuid, user_id, session_id, terminal_type,
               model, type, tool_name, decision, decision_source, language, service_name, service_version,
               attributes, resource_attributes, scope_name, scope_version
        FROM metric_points FINAL WHERE session_id = '{identity['session.id']}'""")

    by_series: dict[tuple, list[dict]] = {}
    for row in rows:
        by_series.setdefault((row["metric_name"], tuple(sorted(row["attributes"].items()))), []).append(row)
    assert set(by_series) == set(sent.totals)

    for (name, attributes), points in by_series.items():
        attributes = dict(attributes)
        points.sort(key=lambda p: int(p["time_ns"]))
        total = sent.totals[(name, tuple(sorted(attributes.items())))]
        if temporality == "delta":
            assert len(points) == rounds, "one delta point per series per export"
            assert sum(p["value"] for p in points) == pytest.approx(total)
        else:
            # Shutdown exports every cumulative series once more, so a series has at least one point per round.
            assert len(points) >= rounds
            assert [p["value"] for p in points] == sorted(p["value"] for p in points)
            assert points[-1]["value"] == pytest.approx(total)
            assert len({p["start_ns"] for p in points}) == 1, "a cumulative series keeps its start time"
        for point in points:
            assert point["temporality"] == temporality
            assert (point["metric_type"], point["is_monotonic"]) == ("sum", 1)
            assert int(point["start_ns"]) < int(point["time_ns"])
            assert point["resource_attributes"] == sent.resource_attributes
            assert (point["scope_name"], point["scope_version"]) == (METER_NAME, CLIENT_VERSION)
            assert (point["org_id"], point["user_key"], point["user_email"]) == ("org-acme", "ada@example.com",
                                                                                  "ada@example.com")
            assert point["user_account_uuid"] == identity["user.account_uuid"]
            assert point["user_id"] == identity["user.id"]
            assert point["terminal_type"] == "vscode"
            assert (point["service_name"], point["service_version"]) == ("claude-code", CLIENT_VERSION)
            for column, key in (("model", "model"), ("type", "type"), ("tool_name", "tool_name"),
                                ("decision", "decision"), ("decision_source", "source"), ("language", "language")):
                assert point[column] == attributes.get(key, "")
        unit = {"claude_code.token.usage": "tokens", "claude_code.cost.usage": "USD"}.get(name, "")
        assert points[0]["metric_unit"] == unit


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_sdk_log_events_are_stored_with_typed_columns_and_full_attributes(serve, transport):
    identity = claude_identity()
    start_ns = time.time_ns() - 3 * 86_400 * 10**9  # backdated: the record's own time is kept, not the receive time
    sent, resource_attributes = send_claude_events(log_exporter(transport, serve), identity, start_ns)

    rows = serve.query(f"""
        SELECT event_name, body, toUnixTimestamp64Nano(timestamp) AS time_ns, org_id, user_key, user_email,
               user_account_uuid, user_id, session_id, prompt_id, model, tool_name, decision, decision_source,
               terminal_type, service_name, service_version, attributes, resource_attributes, scope_name
        FROM events FINAL WHERE session_id = '{identity['session.id']}' ORDER BY timestamp""")

    assert [row["event_name"] for row in rows] == [event.name for event in sent]
    for row, event in zip(rows, sent):
        assert int(row["time_ns"]) == event.timestamp_ns
        assert row["body"] == event.body
        assert row["attributes"] == event.attributes, "every record attribute is kept verbatim"
        assert row["resource_attributes"] == resource_attributes
        assert row["scope_name"] == EVENT_SCOPE
        assert (row["org_id"], row["user_key"], row["user_email"]) == ("org-acme", "ada@example.com",
                                                                      "ada@example.com")
        assert (row["user_account_uuid"], row["user_id"]) == (identity["user.account_uuid"], identity["user.id"])
        assert (row["prompt_id"], row["terminal_type"]) == ("p-1", "vscode")
        assert (row["service_name"], row["service_version"]) == ("claude-code", CLIENT_VERSION)
        assert row["model"] == event.attributes.get("model", "")
        assert row["tool_name"] == event.attributes.get("tool_name", "")
        assert row["decision"] == (event.attributes.get("decision") or event.attributes.get("decision_type", ""))
        assert row["decision_source"] == (event.attributes.get("source") or event.attributes.get("decision_source", ""))


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_sdk_spans_are_stored_with_ids_parent_and_events(serve, transport):
    from tests.support.otel_sdk import send_claude_trace, span_exporter

    identity = claude_identity()
    finished = send_claude_trace(span_exporter(transport, serve), identity)
    rows = serve.query(f"""
        SELECT span_name, trace_id, span_id, parent_span_id, toUnixTimestamp64Nano(timestamp) AS start_ns,
               duration_ns, session_id, user_key, tool_name, event_names, event_attributes, attributes
        FROM spans FINAL WHERE session_id = '{identity['session.id']}' ORDER BY timestamp""")
    assert len(rows) == len(finished) == 2
    expected = sorted(finished, key=lambda span: span.start_time)
    for row, span in zip(rows, expected):
        assert row["span_name"] == span.name
        assert row["trace_id"] == format(span.context.trace_id, "032x")
        assert row["span_id"] == format(span.context.span_id, "016x")
        assert row["parent_span_id"] == (format(span.parent.span_id, "016x") if span.parent else "")
        assert int(row["start_ns"]) == span.start_time
        assert int(row["duration_ns"]) == span.end_time - span.start_time
        assert (row["session_id"], row["user_key"]) == (identity["session.id"], "ada@example.com")
        assert row["event_names"] == [event.name for event in span.events]
        assert row["attributes"] == {k: str(v) for k, v in span.attributes.items()}
    assert rows[1]["tool_name"] == "Write"
    assert rows[1]["event_attributes"] == [{"bytes": "120"}]
