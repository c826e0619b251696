"""The ingest benchmark measures what it says: its requests are Claude Code's, and a short run loses nothing."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from benchmarks.claude_requests import METRIC_POINTS_PER_REQUEST, RequestFactory
from collector.decode import DecodeContext, Limits
from collector.decode.payload import parse_protobuf
from collector.signals import LOGS, METRICS
from collector.tables import EVENT_COLUMNS, METRIC_POINT_COLUMNS
from tests.support.paths import REPO


def decoded(signal, body: bytes):
    context = DecodeContext(Limits(), "default", time.time_ns(), 400)
    batch = signal.decode(parse_protobuf(body, signal.request_type), context)
    assert batch.rejected == 0 and not batch.summary(Limits())
    return batch.rows


def test_every_request_decodes_to_new_sessions_of_consistent_developers():
    factory = RequestFactory(worker=3, now_ns=time.time_ns(), events_per_request=10)
    session = EVENT_COLUMNS.index("session_id")
    attributes = EVENT_COLUMNS.index("attributes")
    rows = [decoded(LOGS, factory.body("logs", number)) for number in range(300)]
    assert all(len(request) == 10 for request in rows)
    events = [row for request in rows for row in request]
    assert {row[EVENT_COLUMNS.index("event_name")] for row in events} == {
        "user_prompt", "api_request", "tool_decision", "tool_result", "assistant_response"}
    assert 19 <= sum(len(row[attributes]) for row in events) / len(events) <= 22  # about 20 per record, as sent
    assert len({request[0][session] for request in rows}) == 300  # a new session per request
    # No two records alike, so the store's deduplication (a hash over time and attributes) keeps every one.
    assert len({tuple(sorted(row[attributes].items())) for row in events}) == len(events)
    # A developer keeps the org and team of their template, over the requests they appear in.
    orgs_of = {}
    for row in events:
        orgs_of.setdefault(row[EVENT_COLUMNS.index("user_key")], set()).add(
            (row[0], row[attributes]["team"]))
    assert all(len(orgs) == 1 for orgs in orgs_of.values())

    points = decoded(METRICS, factory.body("metrics", 7))
    assert len(points) == METRIC_POINTS_PER_REQUEST
    assert {row[METRIC_POINT_COLUMNS.index("temporality")] for row in points} == {"delta"}
    assert factory.body("metrics", 7) != factory.body("metrics", 8)


@pytest.mark.slow
def test_a_short_run_acknowledges_records_and_loses_none():
    run = subprocess.run([sys.executable, "-m", "benchmarks.ingest", "--seconds", "2", "--connections", "4",
                          "--workers", "1"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    acknowledged = re.search(r"acknowledged: ([\d,]+) events .*?, ([\d,]+) metric points", run.stdout)
    stored = re.search(r"stored after SIGTERM \(FINAL\): ([\d,]+) events, ([\d,]+) metric points", run.stdout)
    assert acknowledged and stored, run.stdout
    assert int(acknowledged.group(1).replace(",", "")) > 0
    assert acknowledged.groups() == stored.groups()
    assert "records lost: 0" in run.stdout
    assert re.search(r"baseline \(.*\): [\d,]+ rows/s", run.stdout)
