"""/readyz of a real serve says why it is not ready and turns ready again by itself: here the write-ahead queue
cannot record its checkpoint (a directory stands where its temporary file goes, as a full queue disk would
refuse it) while exports keep being stored."""

from __future__ import annotations

import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from tests.support.claude_records import event, identity
from tests.support.exports import assert_stored
from tests.support.otlp_messages import export_request
from tests.support.polling import wait_until


def test_a_checkpoint_that_cannot_be_written_is_shown_on_readyz_until_it_is(serve_factory, tmp_path):
    queue_dir = tmp_path / "queue"
    blocker = queue_dir / "checkpoint.tmp"
    queue_dir.mkdir()
    blocker.mkdir()
    serve = serve_factory("--queue-dir", str(queue_dir), "--aggregate-interval", "0")

    def prompt(session: str):
        return export_request(ExportLogsServiceRequest, [event("user_prompt", time.time_ns(),
                                                               **identity("ada@example.com", session))])

    assert_stored(serve, prompt("s-1"))
    assert wait_until(lambda: serve.readiness()[0] == 503)
    status, body = serve.readiness()
    assert any("cannot record its checkpoint" in problem for problem in body["problems"]), body
    assert "cannot record the checkpoint" in serve.log_text()
    assert_stored(serve, prompt("s-2"))
    assert serve.scalar("SELECT count() FROM events FINAL") == 2  # inserts do not wait for the checkpoint

    blocker.rmdir()
    assert wait_until(lambda: serve.readiness()[0] == 200), serve.readiness()
    assert (queue_dir / "checkpoint").read_text() == "2"
    assert serve.alive()
