"""What a write-ahead queue entry holds: the acknowledged rows, redacted and with emails hashed like the tables,
read back exactly; and an entry of the previous version (the request's bytes) still replays."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from collector.decode.privacy import PrivacyPolicy, email_pseudonym
from collector.health import CollectorHealth
from collector.pipeline import BatchSettings, QueueSettings, build_pipeline
from collector.queued_request import QueuedRequest, QueuedRows, decode_entry
from collector.request_decoder import RequestDecoder
from collector.signals import LOGS
from collector.write_ahead_log import WriteAheadLog
from plumbing.store.client import insert_columns
from tests.support.claude_records import event, identity
from tests.support.otlp_messages import export_request

PROMPT = "zq-prompt: rename parse() in /home/ada/parser.py"
EMAIL = "Ada.Lovelace@Example.com"
POLICY = PrivacyPolicy(hash_emails=True, email_hash_salt="pepper")


def conversation(now_ns: int) -> ExportLogsServiceRequest:
    who = identity(EMAIL, "s-queue")
    return export_request(ExportLogsServiceRequest, [
        event("user_prompt", now_ns, **who, prompt=PROMPT, prompt_text=PROMPT),
        event("tool_result", now_ns + 1, **who, tool_name="Edit", tool_input=f'{{"new_string": "{PROMPT}"}}')],
        {"service.name": "claude-code", "user.email": EMAIL})


def pipeline_on(queue_dir: Path, insert, decoder: RequestDecoder):
    return build_pipeline(queue=QueueSettings(str(queue_dir), 1 << 24), batches=BatchSettings(1000, 0.05, 10_000),
                          insert_columns=insert, decoder=decoder, health=CollectorHealth())


def queue_bytes(queue_dir: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(queue_dir.iterdir()) if path.is_file())


def stored_rows(store) -> list[tuple]:
    return store.rows("SELECT event_name, user_email, user_key, attributes, resource_attributes, body "
                      "FROM {db}.events FINAL ORDER BY event_name")


def test_the_queue_holds_no_prompt_and_no_plain_email_and_replays_the_acknowledged_rows(store, tmp_path):
    def store_is_down(table, column_names, columns):
        raise RuntimeError("the store is down")

    async def acknowledged_while_the_store_is_down():
        pipeline = pipeline_on(tmp_path, store_is_down, RequestDecoder(privacy=POLICY))
        pipeline.start()
        await pipeline.ingestor.export(LOGS, conversation(time.time_ns()), "test", "grpc")
        held = queue_bytes(tmp_path)
        await pipeline.close(grace_seconds=0.2)
        return held

    held = asyncio.run(acknowledged_while_the_store_is_down())
    for secret in (PROMPT, EMAIL, EMAIL.lower(), "parser.py"):
        assert secret.encode() not in held, secret
    assert email_pseudonym(EMAIL, "pepper").encode() in held

    async def replayed_by_a_collector_that_would_store_prompts():
        # replay stores the acknowledged rows as they are: it does not decode again under another policy
        pipeline = pipeline_on(tmp_path, lambda *args: insert_columns(store.client, *args, store.database),
                               RequestDecoder(privacy=PrivacyPolicy(store_prompts=True)))
        assert len(pipeline.unconfirmed) == 1
        pipeline.start()
        await pipeline.close()

    asyncio.run(replayed_by_a_collector_that_would_store_prompts())
    rows = stored_rows(store)
    assert [row[0] for row in rows] == ["tool_result", "user_prompt"]
    assert {row[1] for row in rows} == {row[2] for row in rows} == {email_pseudonym(EMAIL, "pepper")}
    assert PROMPT not in repr(rows) and "@" not in repr(rows)


def test_an_entry_of_the_previous_version_still_replays_under_todays_policy(store, tmp_path):
    async def written_by_the_previous_version():
        queue = WriteAheadLog(str(tmp_path), 1 << 24)
        queue.open()
        queue.start()
        request = conversation(time.time_ns())
        await queue.append(QueuedRequest(LOGS, time.time_ns(), "org-of-token", request.SerializeToString()).encode())
        await queue.close()

    asyncio.run(written_by_the_previous_version())

    async def replayed():
        pipeline = pipeline_on(tmp_path, lambda *args: insert_columns(store.client, *args, store.database),
                               RequestDecoder(privacy=POLICY))
        assert len(pipeline.unconfirmed) == 1
        pipeline.start()
        await pipeline.close()

    asyncio.run(replayed())
    rows = store.rows("SELECT org_id, event_name, user_email, attributes['prompt'] FROM {db}.events FINAL "
                      "ORDER BY event_name")
    assert [(org, name, email) for org, name, email, _ in rows] == [
        ("org-of-token", "tool_result", email_pseudonym(EMAIL, "pepper")),
        ("org-of-token", "user_prompt", email_pseudonym(EMAIL, "pepper"))]
    assert rows[1][3].startswith("<redacted length=")


def test_rows_read_back_exactly_as_they_were_written():
    rows = [("org", 1_795_577_800_123_456_789, math.nan, -math.inf, 2**64 - 1, "naïve ✓ \ud800", True, None,
             {"a": "b"}, [{"k": "v"}], [1.5, 2.5], [], "")]
    entry = decode_entry(QueuedRows("metric_points", rows).encode())
    assert isinstance(entry, QueuedRows) and entry.table == "metric_points"
    (back,) = entry.rows
    assert math.isnan(back[2]) and back[3:] == rows[0][3:] and back[:2] == rows[0][:2]
