"""No client text can forge a log line or steer a terminal: escaped in both log formats, cut to a sane length,
and a real serve fed hostile rejected names writes one line per kind."""

from __future__ import annotations

import json
import logging
import re
import sys
import time

import pytest
from hypothesis import given, settings, strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint

from cc_analytics.log_format import CONTINUATION, JsonLines, TextLines
from plumbing.log_text import CLIENT_TEXT_LIMIT, client_text, escape_control
from tests.support.exports import post_export
from tests.support.otlp_messages import export_request

# Every character some tool ends a line at (str.splitlines), and the terminal's escape.
LINE_BREAKERS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
HOSTILE = st.text(alphabet=st.sampled_from([*LINE_BREAKERS, "\x1b", "\x00", "\x7f", "\x9b", "a", "é", "[", "\\"]))
FORGED = "2026-12-02 01:00:00,000 ERROR cc_analytics: forged"


def record(message: str, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("collector.ingest", logging.WARNING, __file__, 1, message, args, exc_info)


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_text_format_writes_any_message_on_one_line_without_control_characters(text):
    line = TextLines().format(record("rejected %s", text))
    assert len(line.splitlines()) == 1
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029]", line)


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_json_format_writes_any_message_on_one_line_that_reads_back(text):
    line = JsonLines().format(record("rejected %s", text))
    assert len(line.splitlines()) == 1
    assert json.loads(line)["message"] == f"rejected {text}"


def test_a_traceback_is_indented_under_its_record_so_its_message_forges_nothing():
    try:
        raise ValueError(f"bad name\n{FORGED}\x1b[2J")
    except ValueError:
        line = TextLines().format(record("unexpected error", exc_info=sys.exc_info()))
    first, *details = line.split("\n")
    assert first.endswith("unexpected error") and details
    assert all(detail.startswith(CONTINUATION) for detail in details)
    assert "\x1b" not in line and f"\n{CONTINUATION}{FORGED}\\x1b[2J" in line


def test_escapes_are_readable_and_long_client_text_is_cut():
    assert escape_control("a\nb\tc\x1b[31m\u2028") == "a\\nb\\tc\\x1b[31m\\u2028"
    assert client_text("x" * 10_000) == "x" * CLIENT_TEXT_LIMIT + f"... ({10_000 - CLIENT_TEXT_LIMIT} more characters)"


def valueless_metrics(names: list[str]) -> ExportMetricsServiceRequest:
    """Points without a value: each rejected with its metric's name in the reason."""
    now = time.time_ns()
    return export_request(ExportMetricsServiceRequest, [
        Metric(name=name, gauge=Gauge(data_points=[NumberDataPoint(time_unix_nano=now)])) for name in names])


@pytest.mark.slow
def test_serve_logs_hostile_rejected_names_once_per_kind_and_escaped(serve):
    exports = 60
    for number in range(exports):
        names = [f"bad-{number}-{part}\n{FORGED} {number}\r\x1b[2J\x1b]0;owned\x07\u2028{'y' * 5_000}"
                 for part in range(3)]
        answer = post_export(serve, valueless_metrics(names), "grpc" if number % 2 else "http")
        assert answer.ok
    assert serve.alive()
    log = serve.log_text()
    lines = log.splitlines()
    # One partial-success line (its kind) within the minute, whatever 60 exports of varying names said.
    assert len([line for line in lines if "metrics export from" in line]) == 1
    assert not any(line.startswith(FORGED[:23]) and "forged" in line for line in lines)
    assert not any("forged" in line and not line.startswith("20") for line in lines)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]", log)
    assert max(len(line) for line in lines) < 4 * CLIENT_TEXT_LIMIT
