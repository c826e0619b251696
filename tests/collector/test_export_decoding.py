"""A request's bytes decoded by the pool, in a worker process or a thread, come to exactly what decoding the
parsed request in this process gives: the same rows, rejections and message; refusals cross the process
boundary as the same exceptions."""

from __future__ import annotations

import asyncio
import gzip
import time

import pytest

from benchmarks.claude_requests import RequestFactory
from collector.decode.payload import MalformedPayload, PayloadTooLarge, parse_protobuf
from collector.decode.request_work import TooMuchWork
from collector.decode import Limits
from collector.decoder_pool import DecoderPool
from collector.export_decoding import ExportBody, ExportDecoder, decode_request
from collector.queued_request import decode_entry
from collector.request_decoder import RequestDecoder
from collector.signals import LOGS

DECODER = RequestDecoder(Limits(max_records_per_request=20), default_org_id="org")
MAX_REQUEST_BYTES = 100_000


def _decoded_by_the_pool(workers: int, *exports: ExportBody) -> list:
    async def run():
        pool = DecoderPool(ExportDecoder(DECODER, MAX_REQUEST_BYTES), workers=workers, max_held_bytes=1 << 20)
        await pool.start()
        try:
            return await asyncio.gather(*(pool.decode(export) for export in exports), return_exceptions=True)
        finally:
            await pool.close()

    return asyncio.run(run())


@pytest.mark.parametrize("workers", [0, 1])
def test_the_pool_decodes_as_this_process_does_and_refuses_alike(workers):
    body = RequestFactory(worker=3, now_ns=time.time_ns(), events_per_request=10).body("logs", 5)
    received_at_ns = time.time_ns()
    expected = decode_request(DECODER, LOGS, parse_protobuf(body, LOGS.request_type), received_at_ns, "org-b")

    plain, gzipped, garbage, bomb, too_many = _decoded_by_the_pool(
        workers,
        ExportBody("logs", body, False, False, received_at_ns, "org-b"),
        ExportBody("logs", gzip.compress(body), True, False, received_at_ns, "org-b"),
        ExportBody("logs", b"\xff\xff\xff\xff\x0f not protobuf", False, False, received_at_ns, ""),
        ExportBody("logs", gzip.compress(b"\0" * (MAX_REQUEST_BYTES + 1)), True, False, received_at_ns, ""),
        ExportBody("logs", RequestFactory(worker=3, now_ns=received_at_ns, events_per_request=30).body("logs", 1),
                   False, False, received_at_ns, ""),
    )
    for decoded in (plain, gzipped):
        assert decoded.rows is None  # the rows travel once, in the entry
        assert (decoded.table, decoded.row_count, decoded.rejected, decoded.message, decoded.orgs) == \
            (expected.table, expected.row_count, expected.rejected, expected.message, expected.orgs)
        # marshal's bytes depend on the objects' reference counts in the process that wrote them; the rows do not
        assert decode_entry(decoded.entry).rows == decode_entry(expected.entry).rows == expected.rows
    assert expected.orgs == {"org-b"} and expected.row_count == 10
    assert isinstance(garbage, MalformedPayload)
    assert isinstance(bomb, PayloadTooLarge)
    assert isinstance(too_many, TooMuchWork)
