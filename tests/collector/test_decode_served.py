"""What decode refuses and what it stores once, through a real serve over both transports, down to the daily
figures: values the figures cannot use are refused in partial_success with their reason and their neighbours
kept, the rollup then runs for every org; a retried export (records without a time of their own, attributes in
another order) counts once."""

from __future__ import annotations

import math
import uuid

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.support.claude_records import DAY, MODEL, at, event, identity, lines, point
from tests.support.exports import post_export
from tests.support.otlp_messages import export_request
from tests.support.polling import wait_until
from tests.support.serve_process import ServeProcess

pytestmark = pytest.mark.slow

TRANSPORTS = ("http", "grpc")
RESOURCE = {"service.name": "claude-code", "team": "payments", "os.type": "linux"}
SCOPE = {"a": "1", "b": "2"}


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    process = ServeProcess(tmp_path_factory.mktemp("decode") / "data", ("--aggregate-interval", "0")).start()
    yield process
    process.stop()


def new_org() -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


def metrics(*records, resource: dict = RESOURCE, scope: dict = SCOPE) -> ExportMetricsServiceRequest:
    return export_request(ExportMetricsServiceRequest, list(records), resource, "com.anthropic.claude_code",
                          scope_attributes=scope)


def logs(*records, resource: dict = RESOURCE, scope: dict = SCOPE) -> ExportLogsServiceRequest:
    return export_request(ExportLogsServiceRequest, list(records), resource, "com.anthropic.claude_code.events",
                          scope_attributes=scope)


def partial_success(serve, request, transport: str):
    """(rejected count, error message) the serve answered, over either transport."""
    answer = post_export(serve, request, transport)
    assert answer.ok, (answer.status, answer.details)
    response_type = (ExportMetricsServiceResponse if isinstance(request, ExportMetricsServiceRequest)
                     else ExportLogsServiceResponse)
    partial = response_type.FromString(answer.body).partial_success
    rejected = partial.rejected_data_points if response_type is ExportMetricsServiceResponse \
        else partial.rejected_log_records
    return rejected, partial.error_message


def settle(serve, transport: str) -> None:
    """Wait until every export sent before is in the store: the writer inserts in order, so a last export's
    point and event being readable means those before them are too."""
    org = new_org()
    who = identity(org=org, session="settle")
    for request in (metrics(lines(1, at(DAY, 6), at(DAY, 5), org=org, session="settle")),
                    logs(event("user_prompt", at(DAY, 6), **who))):
        assert partial_success(serve, request, transport) == (0, "")
    stored = f"(SELECT count() FROM metric_points WHERE org_id = '{org}') + " \
             f"(SELECT count() FROM events WHERE org_id = '{org}') AS n"
    assert wait_until(lambda: serve.scalar(f"SELECT {stored}") == 2, timeout=60)


def aggregate_day(serve) -> None:
    serve.api("POST", "/api/v1/aggregate", **{"from": str(DAY), "to": str(DAY)})


def org_figures(serve, org: str) -> dict:
    rows = serve.query(f"SELECT * FROM daily_org FINAL WHERE day = '{DAY}' AND org_id = '{org}'")
    assert len(rows) == 1, rows
    return rows[0]


# --- values the figures cannot use -------------------------------------------------------------------------------

def lines_point(value, org: str, minute: int):
    return lines(value, at(DAY, 9, minute), at(DAY, 9, minute - 1) if minute else at(DAY, 8, 59), org=org)


BAD_POINTS = [
    pytest.param(lambda org: lines_point(math.nan, org, 10), "its value is nan", id="nan"),
    pytest.param(lambda org: lines_point(math.inf, org, 10), "its value is inf", id="plus-inf"),
    pytest.param(lambda org: lines_point(-math.inf, org, 10), "its value is -inf", id="minus-inf"),
    pytest.param(lambda org: lines_point(2**63 - 1, org, 10), "is larger than 1e+11", id="2^63-1"),
    pytest.param(lambda org: lines_point(1e300, org, 10), "its value 1e+300 is larger than 1e+11", id="1e300"),
    pytest.param(lambda org: lines_point(-3, org, 10), "its value -3.0 is negative", id="negative-delta"),
    pytest.param(lambda org: lines_point(2.5, org, 10), "its value 2.5 is not a whole number", id="half-a-line"),
    pytest.param(lambda org: point("cost.usage", math.nan, at(DAY, 9, 10), at(DAY, 9, 9), **identity(org=org),
                                   model=MODEL), "its value is nan", id="nan-cost"),
    pytest.param(lambda org: point("active_time.total", math.inf, at(DAY, 9, 10), at(DAY, 9, 9),
                                   **identity(org=org), type="cli"), "its value is inf", id="inf-active-time"),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_values_the_figures_cannot_use_are_refused_and_every_org_still_rolls_up(serve, transport):
    sent = []
    for case in BAD_POINTS:
        make_bad, reason = case.values
        org = new_org()
        good = [lines_point(5, org, 1), point("cost.usage", 0.25, at(DAY, 9, 2), at(DAY, 9, 1),
                                               **identity(org=org), model=MODEL)]
        rejected, message = partial_success(serve, metrics(good[0], make_bad(org), good[1]), transport)
        assert rejected == 1, (case.id, message)
        assert message.startswith("1 rejected: metric claude_code.") and reason in message, (case.id, message)
        sent.append(org)
    settle(serve, transport)

    aggregate_day(serve)  # before the fix: "Cannot convert NaN/infinity to Int64" for every org, or a wrapped sum
    for org in sent:
        figures = org_figures(serve, org)
        assert (figures["lines_accepted"], figures["cost_usd"], figures["active_time_cli_seconds"],
                figures["records"]) == (5, 0.25, 0, 2), org


# --- retried exports ------------------------------------------------------------------------------------------------

def shuffled(attributes: dict) -> list[KeyValue]:
    """The same attributes in reverse order, one of them sent twice."""
    pairs = [KeyValue(key=key, value=AnyValue(string_value=str(value))) for key, value in attributes.items()]
    return pairs[::-1] + pairs[-1:]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_retried_export_counts_once(serve, transport):
    org = new_org()
    who = identity(org=org)
    untimed_point = point("commit.count", 1, 0, at(DAY, 8), **who)
    timed_point = lines(4, at(DAY, 10), at(DAY, 9), org=org)
    # a record without time_unix_nano: the observed time, else Claude Code's event.timestamp, never the receive time
    observed_only = event("user_prompt", 0, **who, prompt_length="5")
    observed_only.observed_time_unix_nano = at(DAY, 10, 1)
    stamped_only = event("api_request", 0, **who, **{"event.timestamp": f"{DAY}T10:02:00.250Z"})
    for attempt in range(3):
        rejected, message = partial_success(serve, metrics(untimed_point, timed_point), transport)
        assert (rejected, message) == (1, "1 rejected: metric claude_code.commit.count data point: its "
                                          "time_unix_nano is 0; OTLP requires the time of every data point")
        assert partial_success(serve, logs(observed_only, stamped_only), transport) == (0, "")

    # the same records again, every attribute map in another order and a key sent twice
    reordered_point = lines(4, at(DAY, 10), at(DAY, 9), org=org)
    reordered_point.sum.data_points[0].ClearField("attributes")
    reordered_point.sum.data_points[0].attributes.extend(shuffled({**who, "type": "added", "model": MODEL}))
    reordered_event = event("api_request", 0)
    reordered_event.ClearField("attributes")
    reordered_event.attributes.extend(shuffled({"event.name": "api_request", **who,
                                                "event.timestamp": f"{DAY}T10:02:00.250Z"}))
    reversed_resource = dict(reversed(RESOURCE.items()))
    reversed_scope = dict(reversed(SCOPE.items()))
    assert partial_success(serve, metrics(reordered_point, resource=reversed_resource, scope=reversed_scope),
                           transport) == (0, "")
    assert partial_success(serve, logs(reordered_event, resource=reversed_resource, scope=reversed_scope),
                           transport) == (0, "")
    settle(serve, transport)
    stored = f"SELECT count() AS n FROM {{table}} FINAL WHERE org_id = '{org}'"
    assert (serve.scalar(stored.format(table="metric_points")), serve.scalar(stored.format(table="events"))) == (1, 2)

    aggregate_day(serve)
    figures = org_figures(serve, org)
    assert (figures["lines_accepted"], figures["commits"], figures["prompts"], figures["api_requests"],
            figures["records"]) == (4, 0, 1, 1, 3)
