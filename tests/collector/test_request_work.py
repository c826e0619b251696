"""The per-request bound on work: records (points, blocks) and attributes counted from a parsed request and refused
before decoding, without walking what lies past the bound."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from collector.decode import Limits
from collector.decode.request_work import TooMuchWork, check_request_work

LIMITS = Limits(max_records_per_request=100, max_attributes_per_request=1000)


def logs(records: int, attributes_each: int = 0, blocks: int = 1) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    for _ in range(blocks):
        scope = request.resource_logs.add().scope_logs.add()
        for _ in range(records):
            scope.log_records.add(attributes=[KeyValue(key=f"k{n}") for n in range(attributes_each)])
    return request


def metrics(points_per_metric: list[int]) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add().scope_metrics.add()
    for points in points_per_metric:
        metric = scope.metrics.add(name="m")
        if points:
            for _ in range(points):
                metric.sum.data_points.add(as_int=1)
    return request


@pytest.mark.parametrize("request_message", [
    pytest.param(logs(98), id="logs-at-the-bound-with-their-two-blocks"),
    pytest.param(metrics([49, 49]), id="points-of-two-metrics"),
    pytest.param(logs(10, attributes_each=99), id="attributes-under-the-bound"),
    pytest.param(ExportTraceServiceRequest(), id="empty"),
])
def test_a_request_within_the_bound_passes(request_message):
    check_request_work(request_message, LIMITS)


@pytest.mark.parametrize("request_message,what", [
    pytest.param(logs(99), "100 records", id="one-log-record-too-many"),
    pytest.param(metrics([60, 60]), "100 records", id="points-of-two-metrics"),
    pytest.param(metrics([0] * 99), "100 records", id="metrics-without-points-count-too"),
    pytest.param(logs(0, blocks=51), "100 records", id="empty-blocks-count-too"),
    pytest.param(logs(10, attributes_each=101), "1000 attributes", id="attributes"),
])
def test_a_request_over_the_bound_is_refused_saying_which(request_message, what):
    with pytest.raises(TooMuchWork, match=f"more than {what}.*send smaller batches"):
        check_request_work(request_message, LIMITS)


def test_records_over_the_bound_are_refused_before_their_attributes_are_counted():
    request = metrics([150])
    for point in request.resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points:
        point.attributes.add(key="k")
    with pytest.raises(TooMuchWork, match="records"):
        check_request_work(request, Limits(max_records_per_request=100, max_attributes_per_request=10))
