"""decode_metrics: hand-built OTLP metrics of every type, and a real Claude Code export -> metric_points rows."""

from __future__ import annotations

import json
import math

import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    Exemplar,
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    SummaryDataPoint,
)

from collector.decode import DecodeContext, Limits, decode_metrics
from collector.decode.privacy import PrivacyPolicy
from collector.decode.common import MAX_TIMESTAMP_NS
from collector.decode.point_values import FIGURE_METRICS, LARGEST_AMOUNT, LARGEST_COUNT
from tests.support.otlp_messages import export_request, key_values, rows_as_dicts
from tests.support.paths import FIXTURES

RECEIVED_AT_NS = 1_795_577_800_000_000_000
START_NS = 1_795_577_745_382_000_000
TIME_NS = 1_795_577_745_573_000_000
DEFAULT_ORG = "fallback-org"
# Decoding is tested on values as sent; redaction has its own tests (test_decode_privacy.py).
AS_SENT = PrivacyPolicy(store_prompts=True)
CONTEXT = DecodeContext(Limits(), DEFAULT_ORG, RECEIVED_AT_NS, privacy=AS_SENT)
DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE

FIXTURE = FIXTURES / "0002-metrics-grpc.json"


def number_point(attributes: dict[str, str] | None = None, **fields) -> NumberDataPoint:
    fields.setdefault("time_unix_nano", TIME_NS)
    fields.setdefault("start_time_unix_nano", START_NS)
    return NumberDataPoint(attributes=key_values(attributes or {}), **fields)


def sum_metric(name: str, *points: NumberDataPoint, temporality=DELTA, monotonic=True, unit="",
               description="") -> Metric:
    metric = Metric(name=name, unit=unit, description=description)
    metric.sum.aggregation_temporality = temporality
    metric.sum.is_monotonic = monotonic
    metric.sum.data_points.extend(points)
    return metric


def metrics_request(*metrics: Metric, resource: dict[str, str] | None = None) -> ExportMetricsServiceRequest:
    return export_request(ExportMetricsServiceRequest, list(metrics), resource or {"service.name": "claude-code"},
                          "com.anthropic.claude_code")


def point_rows(batch) -> list[dict]:
    return rows_as_dicts(batch, "metric_points")


def only_point(*metrics: Metric) -> dict:
    batch = decode_metrics(metrics_request(*metrics), CONTEXT)
    assert batch.rejected == 0, batch.reasons
    rows = point_rows(batch)
    assert len(rows) == 1
    return rows[0]


def exemplar(value: float) -> Exemplar:
    return Exemplar(as_double=value, time_unix_nano=TIME_NS - 1,
                    trace_id=bytes.fromhex("0af7651916cd43dd8448eb211c80319c"),
                    span_id=bytes.fromhex("b7ad6b7169203331"),
                    filtered_attributes=key_values({"tool_name": "Edit"}))


def check_exemplar(detail: str, value: float) -> None:
    (found,) = json.loads(detail)["exemplars"]
    assert found["asDouble"] == value
    assert int(found["timeUnixNano"]) == TIME_NS - 1
    assert found["traceId"] == "0af7651916cd43dd8448eb211c80319c"
    assert found["spanId"] == "b7ad6b7169203331"
    assert found["filteredAttributes"] == [{"key": "tool_name", "value": {"stringValue": "Edit"}}]


# --- sums and gauges ----------------------------------------------------------------------------------------------

def test_delta_sum_of_integers():
    point = only_point(sum_metric("claude_code.commit.count", number_point(as_int=5), unit="{commit}",
                                  description="Number of git commits created"))

    assert (point["metric_name"], point["metric_type"]) == ("claude_code.commit.count", "sum")
    assert (point["metric_unit"], point["metric_description"]) == ("{commit}", "Number of git commits created")
    assert (point["temporality"], point["is_monotonic"]) == ("delta", 1)
    assert point["value"] == 5.0 and isinstance(point["value"], float)
    assert (point["timestamp"], point["start_timestamp"]) == (TIME_NS, START_NS)
    # no histogram parts on a sum
    assert point["point_count"] == 0 and math.isnan(point["point_min"]) and math.isnan(point["point_max"])
    assert (point["bucket_counts"], point["explicit_bounds"], point["point_detail"]) == ([], [], "")


def test_cumulative_sum_of_doubles():
    metric = sum_metric("claude_code.cost.usage", number_point(as_double=0.02805), temporality=CUMULATIVE,
                        monotonic=False, unit="USD")
    point = only_point(metric)

    assert (point["temporality"], point["is_monotonic"]) == ("cumulative", 0)
    assert point["value"] == 0.02805
    assert point["start_timestamp"] == START_NS


def test_sum_without_temporality_is_unspecified():
    point = only_point(sum_metric("x", number_point(as_int=1),
                                  temporality=AggregationTemporality.AGGREGATION_TEMPORALITY_UNSPECIFIED))

    assert point["temporality"] == "unspecified"


def test_largest_integer_value_is_kept_as_a_float():
    point = only_point(sum_metric("x", number_point(as_int=2**62)))

    assert point["value"] == float(2**62)


def test_gauge_has_no_temporality_and_is_not_monotonic():
    metric = Metric(name="queue.depth")
    metric.gauge.data_points.extend([number_point(as_double=-3.25, start_time_unix_nano=0)])
    point = only_point(metric)

    assert (point["metric_type"], point["temporality"], point["is_monotonic"]) == ("gauge", "", 0)
    assert (point["value"], point["start_timestamp"]) == (-3.25, 0)


def test_point_without_time_is_rejected_not_given_the_receive_time():
    # the receive time would differ on each retry of the export, so each retry would be counted again
    metric = sum_metric("claude_code.commit.count", number_point(as_int=1, time_unix_nano=0), number_point(as_int=2))

    batch = decode_metrics(metrics_request(metric), CONTEXT)

    assert [(point["value"], point["timestamp"]) for point in point_rows(batch)] == [(2.0, TIME_NS)]
    assert batch.rejected == 1
    assert batch.reasons == ["metric claude_code.commit.count data point: its time_unix_nano is 0; "
                             "OTLP requires the time of every data point"]


# --- histograms and summaries -------------------------------------------------------------------------------------

def test_histogram_keeps_count_sum_min_max_and_buckets():
    metric = Metric(name="claude_code.api.duration", unit="ms")
    metric.histogram.aggregation_temporality = DELTA
    metric.histogram.data_points.extend([HistogramDataPoint(
        time_unix_nano=TIME_NS, start_time_unix_nano=START_NS, count=6, sum=1234.5, min=12.0, max=800.0,
        bucket_counts=[1, 2, 3, 0], explicit_bounds=[10.0, 100.0, 1000.0])])
    point = only_point(metric)

    assert (point["metric_type"], point["temporality"], point["is_monotonic"]) == ("histogram", "delta", 0)
    assert (point["value"], point["point_count"]) == (1234.5, 6)
    assert (point["point_min"], point["point_max"]) == (12.0, 800.0)
    assert point["bucket_counts"] == [1, 2, 3, 0]
    assert point["explicit_bounds"] == [10.0, 100.0, 1000.0]
    assert point["point_detail"] == ""


def test_histogram_without_min_and_max_stores_nan():
    metric = Metric(name="h")
    metric.histogram.aggregation_temporality = CUMULATIVE
    metric.histogram.data_points.extend([HistogramDataPoint(time_unix_nano=TIME_NS, count=1, sum=2.0,
                                                            bucket_counts=[1])])
    point = only_point(metric)

    assert point["temporality"] == "cumulative"
    assert math.isnan(point["point_min"]) and math.isnan(point["point_max"])
    assert (point["bucket_counts"], point["explicit_bounds"]) == ([1], [])


def test_exponential_histogram_buckets_go_to_point_detail():
    metric = Metric(name="latency")
    metric.exponential_histogram.aggregation_temporality = DELTA
    data_point = ExponentialHistogramDataPoint(time_unix_nano=TIME_NS, start_time_unix_nano=START_NS, count=7,
                                               sum=40.0, min=0.5, max=20.0, scale=3, zero_count=1,
                                               zero_threshold=0.001)
    data_point.positive.offset = 4
    data_point.positive.bucket_counts.extend([2, 3])
    data_point.negative.offset = -2
    data_point.negative.bucket_counts.extend([1])
    metric.exponential_histogram.data_points.extend([data_point])
    point = only_point(metric)

    assert (point["metric_type"], point["temporality"]) == ("exponential_histogram", "delta")
    assert (point["value"], point["point_count"], point["point_min"], point["point_max"]) == (40.0, 7, 0.5, 20.0)
    assert (point["bucket_counts"], point["explicit_bounds"]) == ([], [])
    detail = json.loads(point["point_detail"])
    assert detail["scale"] == 3
    assert detail["zero_count"] == 1
    assert detail["zero_threshold"] == 0.001
    assert detail["positive"]["offset"] == 4
    assert detail["positive"]["bucket_counts"] == [2, 3]
    assert detail["negative"]["offset"] == -2
    assert detail["negative"]["bucket_counts"] == [1]
    # what has a column of its own is not repeated in the detail
    assert not {"count", "sum", "min", "max", "attributes", "time_unix_nano", "start_time_unix_nano"} & set(detail)


def test_summary_keeps_count_sum_and_quantiles():
    metric = Metric(name="rpc.duration")
    data_point = SummaryDataPoint(time_unix_nano=TIME_NS, start_time_unix_nano=START_NS, count=4, sum=10.0)
    data_point.quantile_values.add(quantile=0.5, value=2.0)
    data_point.quantile_values.add(quantile=0.99, value=4.5)
    metric.summary.data_points.extend([data_point])
    point = only_point(metric)

    assert (point["metric_type"], point["temporality"], point["is_monotonic"]) == ("summary", "", 0)
    assert (point["value"], point["point_count"]) == (10.0, 4)
    assert math.isnan(point["point_min"]) and math.isnan(point["point_max"])
    assert json.loads(point["point_detail"]) == {"quantile_values": [{"quantile": 0.5, "value": 2.0},
                                                                      {"quantile": 0.99, "value": 4.5}]}


def test_exemplars_of_a_sum_are_kept_in_point_detail():
    point = only_point(sum_metric("x", number_point(as_int=3, exemplars=[exemplar(3.0)])))

    check_exemplar(point["point_detail"], 3.0)


def test_exemplars_of_a_histogram_are_kept_in_point_detail():
    metric = Metric(name="h")
    metric.histogram.data_points.extend([HistogramDataPoint(time_unix_nano=TIME_NS, count=1, sum=7.0,
                                                            exemplars=[exemplar(7.0)])])

    check_exemplar(only_point(metric)["point_detail"], 7.0)


def test_exemplars_of_an_exponential_histogram_are_kept_beside_its_buckets():
    metric = Metric(name="e")
    data_point = ExponentialHistogramDataPoint(time_unix_nano=TIME_NS, count=1, sum=7.0, scale=1,
                                               exemplars=[exemplar(7.0)])
    data_point.positive.bucket_counts.extend([1])
    metric.exponential_histogram.data_points.extend([data_point])
    detail = only_point(metric)["point_detail"]

    check_exemplar(detail, 7.0)
    assert json.loads(detail)["scale"] == 1


# --- attributes, identity -----------------------------------------------------------------------------------------

def test_typed_columns_come_from_the_point_attributes():
    attributes = {"model": "claude-sonnet-4-5", "type": "added", "tool_name": "Edit", "decision": "accept",
                  "source": "user_temporary", "language": "TypeScript", "terminal.type": "vscode",
                  "app.version": "2.1.197", "team": "payments"}
    point = only_point(sum_metric("claude_code.code_edit_tool.decision", number_point(attributes, as_int=1)))

    assert (point["model"], point["type"], point["tool_name"]) == ("claude-sonnet-4-5", "added", "Edit")
    assert (point["decision"], point["decision_source"], point["language"]) == ("accept", "user_temporary",
                                                                                "TypeScript")
    assert (point["terminal_type"], point["app_version"]) == ("vscode", "2.1.197")
    assert point["attributes"] == attributes


def test_decision_source_column_reads_only_the_source_attribute():
    # metrics call it `source`; `decision_source` is the tool_result event's name and is not read here
    point = only_point(sum_metric("x", number_point({"decision_source": "config"}, as_int=1)))

    assert point["decision_source"] == ""
    assert point["attributes"] == {"decision_source": "config"}


@pytest.mark.parametrize("attributes, user_key, org", [
    ({"user.email": "a@example.com", "user.account_uuid": "acc", "user.id": "uid", "organization.id": "o"},
     "a@example.com", "o"),
    ({"user.account_uuid": "acc", "user.id": "uid"}, "acc", DEFAULT_ORG),
    ({"user.id": "uid"}, "uid", DEFAULT_ORG),
])
def test_identity_of_a_point(attributes, user_key, org):
    point = only_point(sum_metric("x", number_point({**attributes, "session.id": "s"}, as_int=1)))

    assert (point["user_key"], point["org_id"], point["session_id"]) == (user_key, org, "s")
    assert point["user_id"] == attributes["user.id"]


def test_resource_and_scope_are_kept():
    batch = decode_metrics(metrics_request(sum_metric("x", number_point(as_int=1)),
                                           resource={"service.name": "claude-code", "service.version": "2.1.197",
                                                     "team": "payments"}), CONTEXT)
    (point,) = point_rows(batch)

    assert point["resource_attributes"] == {"service.name": "claude-code", "service.version": "2.1.197",
                                            "team": "payments"}
    assert (point["service_name"], point["service_version"]) == ("claude-code", "2.1.197")
    assert (point["scope_name"], point["scope_version"], point["scope_attributes"]) == (
        "com.anthropic.claude_code", "2.1.197", {})


# --- rejected points ----------------------------------------------------------------------------------------------

def test_points_of_a_metric_without_name_are_rejected():
    nameless = sum_metric("", number_point(as_int=1), number_point(as_int=2))
    named = sum_metric("claude_code.session.count", number_point(as_int=1))

    batch = decode_metrics(metrics_request(nameless, named), CONTEXT)

    assert [point["metric_name"] for point in point_rows(batch)] == ["claude_code.session.count"]
    assert batch.rejected == 2
    assert any("no name" in reason for reason in batch.reasons)


def test_point_without_value_is_rejected_and_the_others_kept():
    metric = sum_metric("claude_code.token.usage", number_point({"type": "input"}, as_int=10),
                        number_point({"type": "output"}), number_point({"type": "cacheRead"}, as_double=2.0))

    batch = decode_metrics(metrics_request(metric), CONTEXT)

    assert [(point["type"], point["value"]) for point in point_rows(batch)] == [("input", 10.0), ("cacheRead", 2.0)]
    assert batch.rejected == 1
    assert "claude_code.token.usage" in batch.reasons[0]
    assert "1 rejected" in batch.summary(CONTEXT.limits)


def test_point_past_the_last_storable_time_is_rejected():
    metric = sum_metric("x", number_point(as_int=1, time_unix_nano=MAX_TIMESTAMP_NS + 1), number_point(as_int=2),
                        number_point(as_int=3, start_time_unix_nano=MAX_TIMESTAMP_NS + 1))

    batch = decode_metrics(metrics_request(metric), CONTEXT)

    assert [point["value"] for point in point_rows(batch)] == [2.0]
    assert batch.rejected == 2


def histogram_metric(name: str = "claude_code.api.duration", **fields) -> Metric:
    metric = Metric(name=name)
    metric.histogram.aggregation_temporality = DELTA
    fields = {"time_unix_nano": TIME_NS, "count": 1, "sum": 2.0, **fields}
    metric.histogram.data_points.extend([HistogramDataPoint(**fields)])
    return metric


def rejected_reasons(*metrics: Metric) -> tuple[list[float], int, list[str]]:
    """Values kept, how many points were rejected and why, for metrics each followed by a good neighbour."""
    neighbour = sum_metric("claude_code.session.count", number_point(as_int=1))
    batch = decode_metrics(metrics_request(*metrics, neighbour), CONTEXT)
    return [point["value"] for point in point_rows(batch)], batch.rejected, batch.reasons


NON_FINITE = [pytest.param(math.nan, id="nan"), pytest.param(math.inf, id="inf"),
              pytest.param(-math.inf, id="minus-inf")]


@pytest.mark.parametrize("number", NON_FINITE)
@pytest.mark.parametrize("make_metric", [
    pytest.param(lambda n: sum_metric("claude_code.cost.usage", number_point(as_double=n)), id="sum"),
    pytest.param(lambda n: sum_metric("x", number_point(as_double=n), monotonic=False), id="non-monotonic-sum"),
    pytest.param(lambda n: Metric(name="g", gauge={"data_points": [number_point(as_double=n)]}), id="gauge"),
    pytest.param(lambda n: histogram_metric(sum=n), id="histogram-sum"),
    pytest.param(lambda n: histogram_metric(min=n), id="histogram-min"),
    pytest.param(lambda n: histogram_metric(max=n), id="histogram-max"),
    pytest.param(lambda n: Metric(name="e", exponential_histogram={"data_points": [
        ExponentialHistogramDataPoint(time_unix_nano=TIME_NS, count=1, sum=n)]}), id="exponential-sum"),
    pytest.param(lambda n: Metric(name="s", summary={"data_points": [
        SummaryDataPoint(time_unix_nano=TIME_NS, count=1, sum=n)]}), id="summary-sum"),
    pytest.param(lambda n: Metric(name="s", summary={"data_points": [SummaryDataPoint(
        time_unix_nano=TIME_NS, count=1, sum=1.0, quantile_values=[{"quantile": 0.5, "value": n}])]}),
        id="summary-quantile"),
])
def test_non_finite_numbers_are_rejected_in_every_metric_type(make_metric, number):
    values, rejected, reasons = rejected_reasons(make_metric(number))

    assert (values, rejected) == ([1.0], 1)
    assert f"is {number!r}; only finite numbers can be stored" in reasons[0]


@pytest.mark.parametrize("point, reason", [
    pytest.param(number_point(as_int=-3), "its value -3.0 is negative", id="negative-int"),
    pytest.param(number_point(as_double=-0.5), "its value -0.5 is negative", id="negative-double"),
    pytest.param(number_point(as_int=2**63 - 1), "larger than 1e+11", id="largest-int64"),
    pytest.param(number_point(as_double=1e300), "its value 1e+300 is larger than 1e+11", id="1e300"),
    pytest.param(number_point(as_double=LARGEST_COUNT + 1), "larger than 1e+11", id="just-over-the-bound"),
    pytest.param(number_point(as_double=2.5), "its value 2.5 is not a whole number, and "
                 "claude_code.lines_of_code.count counts", id="half-a-line"),
])
def test_counts_the_figures_cannot_use_are_rejected(point, reason):
    values, rejected, reasons = rejected_reasons(sum_metric("claude_code.lines_of_code.count", point))

    assert (values, rejected) == ([1.0], 1)
    assert reason in reasons[0] and reasons[0].startswith("metric claude_code.lines_of_code.count data point: ")


def test_the_largest_count_and_amount_are_kept():
    assert only_point(sum_metric("claude_code.token.usage", number_point(as_double=LARGEST_COUNT)))["value"] \
        == LARGEST_COUNT
    assert only_point(sum_metric("claude_code.cost.usage", number_point(as_double=LARGEST_AMOUNT)))["value"] \
        == LARGEST_AMOUNT
    values, rejected, _ = rejected_reasons(sum_metric("claude_code.cost.usage",
                                                      number_point(as_double=LARGEST_AMOUNT * 2)))
    assert (values, rejected) == ([1.0], 1)


def test_amounts_may_be_fractions_and_other_metrics_any_finite_value():
    assert only_point(sum_metric("claude_code.cost.usage", number_point(as_double=0.0281)))["value"] == 0.0281
    assert only_point(sum_metric("claude_code.active_time.total", number_point(as_double=1.5)))["value"] == 1.5
    assert only_point(sum_metric("other.counter", number_point(as_double=1e300)))["value"] == 1e300
    assert only_point(sum_metric("other.updown", number_point(as_int=-4), monotonic=False))["value"] == -4.0
    gauge = Metric(name="queue.depth", gauge={"data_points": [number_point(as_double=-2.5)]})
    assert only_point(gauge)["value"] == -2.5


def test_a_figure_metric_sent_as_another_type_is_checked_too():
    # the rollup adds the value of every non-cumulative point of a figure metric, whatever its type
    gauge = Metric(name="claude_code.commit.count", gauge={"data_points": [number_point(as_double=-1.0)]})
    values, rejected, reasons = rejected_reasons(gauge, histogram_metric("claude_code.token.usage", sum=1e300))

    assert (values, rejected) == ([1.0], 2)
    assert "negative" in reasons[0] and "larger than" in reasons[1]


def test_every_whole_number_figure_metric_is_checked_as_a_whole_number():
    from aggregator import figures  # tests may look across packages: the collector's table must match the figures

    whole = {figures.LINES, figures.EDIT_DECISION, figures.COMMITS, figures.PULL_REQUESTS, figures.TOKENS}
    assert whole <= {name for name, metric in FIGURE_METRICS.items() if metric.whole}
    assert {figures.COST, figures.ACTIVE_TIME} <= {name for name, metric in FIGURE_METRICS.items()
                                                   if not metric.whole}


def test_a_point_gives_the_same_row_whatever_the_order_of_its_attributes():
    attributes = {"user.email": "a@example.com", "session.id": "s", "type": "added", "model": "m"}
    shuffled = dict(reversed(attributes.items()))
    rows = [only_point(sum_metric("claude_code.lines_of_code.count", number_point(order, as_int=3)))
            for order in (attributes, shuffled)]

    assert [list(row["attributes"].items()) for row in rows] == [sorted(attributes.items())] * 2
    assert rows[0] == rows[1]


def test_metric_without_data_yields_nothing():
    batch = decode_metrics(metrics_request(Metric(name="empty")), CONTEXT)

    assert (batch.rows, batch.rejected) == ([], 0)


# --- a real Claude Code export ------------------------------------------------------------------------------------

def text_of(value: dict) -> str:
    """The stored text of an OTLP JSON AnyValue of the scalar kinds Claude Code sends."""
    ((kind, scalar),) = value.items()
    if kind == "boolValue":
        return "true" if scalar else "false"
    if kind == "doubleValue":
        return repr(float(scalar))
    return str(scalar)


def points_in(document: dict) -> list[dict]:
    """Every data point of the JSON document, flattened with its metric's fields."""
    found = []
    for resource in document["resourceMetrics"]:
        for scope in resource["scopeMetrics"]:
            for metric in scope["metrics"]:
                (kind,) = {"sum", "gauge", "histogram", "exponentialHistogram", "summary"} & set(metric)
                for point in metric[kind]["dataPoints"]:
                    found.append({
                        "name": metric["name"], "unit": metric.get("unit", ""), "kind": kind,
                        "temporality": metric[kind].get("aggregationTemporality"),
                        "value": float(point.get("asDouble", point.get("asInt", "nan"))),
                        "time": int(point["timeUnixNano"]), "start": int(point["startTimeUnixNano"]),
                        "attributes": {a["key"]: text_of(a["value"]) for a in point["attributes"]},
                        "resource": {a["key"]: text_of(a["value"]) for a in resource["resource"]["attributes"]},
                        "scope": (scope["scope"]["name"], scope["scope"].get("version", "")),
                    })
    return found


@pytest.fixture(scope="module")
def recorded() -> tuple[list[dict], list[dict]]:
    if not FIXTURE.is_file():
        pytest.skip(f"{FIXTURE} is not present")
    document = json.loads(FIXTURE.read_text())
    request = ParseDict(document, ExportMetricsServiceRequest())
    batch = decode_metrics(request, CONTEXT)
    assert batch.rejected == 0 and batch.truncated_values == 0 and batch.dropped_attributes == 0
    return points_in(document), point_rows(batch)


def test_recorded_export_every_point_becomes_one_row(recorded):
    expected, rows = recorded

    assert len(rows) == len(expected) > 0
    assert [(row["metric_name"], row["value"], row["timestamp"], row["start_timestamp"], row["attributes"])
            for row in rows] == [(point["name"], point["value"], point["time"], point["start"], point["attributes"])
                                 for point in expected]


def test_recorded_export_metadata(recorded):
    expected, rows = recorded

    for point, row in zip(expected, rows):
        assert row["metric_type"] == point["kind"] == "sum"
        assert point["temporality"] == "AGGREGATION_TEMPORALITY_DELTA" and row["temporality"] == "delta"
        assert row["is_monotonic"] == 1
        assert row["metric_unit"] == point["unit"]
        assert row["resource_attributes"] == point["resource"]
        assert (row["service_name"], row["service_version"]) == (point["resource"]["service.name"],
                                                                 point["resource"]["service.version"])
        assert (row["scope_name"], row["scope_version"]) == point["scope"]
        # an API-key login: no email, no account, so the install id is the user key
        assert "user.email" not in point["attributes"]
        assert row["user_key"] == row["user_id"] == point["attributes"]["user.id"]
        assert row["session_id"] == point["attributes"]["session.id"]
        assert row["terminal_type"] == point["attributes"]["terminal.type"]
        assert row["org_id"] == DEFAULT_ORG


def test_recorded_export_lines_of_code(recorded):
    expected, rows = recorded
    lines = {row["type"]: row["value"] for row in rows if row["metric_name"] == "claude_code.lines_of_code.count"}
    expected_lines = {point["attributes"]["type"]: point["value"] for point in expected
                      if point["name"] == "claude_code.lines_of_code.count"}

    assert lines == expected_lines
    assert lines["added"] == 8.0


def test_recorded_export_typed_columns(recorded):
    expected, rows = recorded

    for point, row in zip(expected, rows):
        attributes = point["attributes"]
        assert (row["model"], row["type"], row["tool_name"]) == (
            attributes.get("model", ""), attributes.get("type", ""), attributes.get("tool_name", ""))
        assert (row["decision"], row["decision_source"], row["language"]) == (
            attributes.get("decision", ""), attributes.get("source", ""), attributes.get("language", ""))
    decisions = [row for row in rows if row["metric_name"] == "claude_code.code_edit_tool.decision"]
    assert [(row["tool_name"], row["decision"], row["decision_source"], row["language"], row["value"])
            for row in decisions] == [("Write", "accept", "config", "Python", 1.0)]
