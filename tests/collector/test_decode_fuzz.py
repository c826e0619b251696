"""Property tests: whatever a client sends, every row a decoder produces can be inserted into the real tables.

This matters because the writer inserts many requests' rows in one batch: a single row ClickHouse refuses would
fail everybody's batch, and the client's retry would fail it again. So hypothesis builds hostile but valid OTLP
messages (every AnyValue kind nested, extreme integers and times, NaN and infinities, ids of wrong length, open
enum values, every metric type) and mutates real Claude Code exports byte by byte; each decoded batch must
account for every record (stored or rejected with a reason) and insert into chDB, and the stored maps and
times must read back exactly as decoded.
"""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from cc_analytics.config import Settings
from cc_analytics.store import migrate
from collector.decode import DecodeContext, Limits
from collector.decode.common import MAX_REASONS
from collector.decode.payload import MalformedPayload, parse_json, parse_protobuf
from collector.signals import SIGNALS
from plumbing.store.client import insert_columns
from collector.tables import TABLE_COLUMNS
from tests.support.hostile_messages import (
    FUZZ_SETTINGS,
    JSON_VALUES,
    LOG_RECORDS,
    METRICS,
    MUTATIONS,
    NOW_NS,
    RECORDED,
    SPANS,
    mutated,
    requests_of,
)
from tests.support.otlp_messages import REQUEST_FIELDS

LIMITS = Limits(max_attribute_value_length=40, max_attributes_per_record=5)
def record_count(request) -> int:
    """What the client sent: log records, data points or spans."""
    resource_field, scope_field, records_field = REQUEST_FIELDS[type(request)]
    records = [record for block in getattr(request, resource_field) for scope in getattr(block, scope_field)
               for record in getattr(scope, records_field)]
    if isinstance(request, ExportMetricsServiceRequest):
        return sum(len(getattr(metric, metric.WhichOneof("data")).data_points)
                   for metric in records if metric.WhichOneof("data"))
    return len(records)


DECODERS = {signal.request_type: signal.decode for signal in SIGNALS}


@pytest.fixture(scope="module")
def fuzz_store(chdb_client):
    """The real raw tables, plus a plain MergeTree copy of each (same columns, partition and day expression) where
    nothing is deduplicated, so what was inserted can be read back row for row."""
    database = f"fuzz_{uuid.uuid4().hex[:12]}"
    migrate(chdb_client, Settings(database=database))
    for table in TABLE_COLUMNS:
        chdb_client.command(f"CREATE TABLE `{database}`.`{table}_copy` AS `{database}`.`{table}` ENGINE = MergeTree "
                            "PARTITION BY toYYYYMM(timestamp) ORDER BY (org_id, toDate(timestamp))")
    yield chdb_client, database
    chdb_client.command(f"DROP DATABASE IF EXISTS `{database}`")


def decode_and_store(fuzz_store, request) -> None:
    client, database = fuzz_store
    context = DecodeContext(LIMITS, "default-org", NOW_NS, retention_days=400)
    batch = DECODERS[type(request)](request, context)
    assert len(batch.rows) + batch.rejected == record_count(request), batch.reasons
    assert len(batch.reasons) <= MAX_REASONS and all(batch.reasons) and (batch.rejected == 0) == (not batch.reasons)
    columns = TABLE_COLUMNS[batch.table]
    assert all(len(row) == len(columns) for row in batch.rows)
    event(f"{batch.table}: {'some' if batch.rows else 'no'} rows stored, "
          f"{'some' if batch.rejected else 'none'} rejected")
    if not batch.rows:
        return
    by_column = list(zip(*batch.rows))  # as the writer does
    insert_columns(client, batch.table, columns, by_column, database)
    client.command(f"TRUNCATE TABLE `{database}`.`{batch.table}_copy`")
    insert_columns(client, f"{batch.table}_copy", columns, by_column, database)
    stored = client.query(f"SELECT toUnixTimestamp64Nano(timestamp), org_id, user_key, attributes, "
                          f"resource_attributes FROM `{database}`.`{batch.table}_copy`").result_rows
    position = {name: index for index, name in enumerate(columns)}
    decoded = [(row[position["timestamp"]], row[position["org_id"]], row[position["user_key"]],
                row[position["attributes"]], row[position["resource_attributes"]]) for row in batch.rows]
    assert sorted(map(_comparable, stored)) == sorted(map(_comparable, decoded))


def _comparable(row: tuple) -> tuple:
    return tuple(sorted(value.items()) if isinstance(value, dict) else value for value in row)


@FUZZ_SETTINGS
@given(request=requests_of(ExportLogsServiceRequest, LOG_RECORDS))
def test_any_log_request_decodes_to_storable_rows(fuzz_store, request):
    decode_and_store(fuzz_store, request)


@FUZZ_SETTINGS
@given(request=requests_of(ExportMetricsServiceRequest, METRICS))
def test_any_metrics_request_decodes_to_storable_rows(fuzz_store, request):
    decode_and_store(fuzz_store, request)


@FUZZ_SETTINGS
@given(request=requests_of(ExportTraceServiceRequest, SPANS))
def test_any_trace_request_decodes_to_storable_rows(fuzz_store, request):
    decode_and_store(fuzz_store, request)


@pytest.mark.skipif(not RECORDED, reason="../shared/fixtures/claude-code-2.1.197 is not present")
@FUZZ_SETTINGS
@given(recorded=st.sampled_from(RECORDED or [None]), mutations=MUTATIONS)
def test_mutated_claude_code_exports_are_refused_or_stored(fuzz_store, recorded, mutations):
    request_type, body = recorded
    try:
        request = parse_protobuf(mutated(body, mutations), request_type)
    except MalformedPayload as error:
        assert str(error)
        return
    decode_and_store(fuzz_store, request)


@FUZZ_SETTINGS
@given(document=JSON_VALUES, request_type=st.sampled_from(list(DECODERS)))
def test_any_json_body_is_refused_with_a_reason_or_stored(fuzz_store, document, request_type):
    body = json.dumps(document).encode()
    try:
        request = parse_json(body, request_type)
    except MalformedPayload as error:
        assert str(error)
        return
    decode_and_store(fuzz_store, request)
