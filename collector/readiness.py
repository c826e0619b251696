"""GET /readyz: whether this collector should get new exports now (a load balancer's readiness probe).

Ready means the store answers, the last insert did not fail, the write-ahead queue is below READY_FILL of its
limit, has not refused an export lately and can record its checkpoint, and no background task (writer, rollup
timer, /metrics render) is failing. /healthz only says the process is alive; a collector that is not ready still
keeps what it has queued and inserts it once the store is back.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from aiohttp import web

from collector.write_ahead_log import WriteAheadLog
from collector.writer import BatchWriter
from plumbing.supervisor import Supervisor
from plumbing.routes import Access, RouteTable

READY_FILL = 0.9
REFUSED_RECENTLY_SECONDS = 10
PING_TIMEOUT_SECONDS = 5


def routes(queue: WriteAheadLog, writer: BatchWriter, ping_store: Callable[[], None],
           background: Supervisor | None = None) -> RouteTable:
    table = RouteTable()

    @table.get("/readyz", Access.OPEN)
    async def readyz(_: web.Request) -> web.Response:
        problems = []
        try:
            await asyncio.wait_for(asyncio.to_thread(ping_store), PING_TIMEOUT_SECONDS)
            store = "ok"
        except Exception as error:  # any failure to answer means "not reachable"
            store = f"unreachable: {str(error).strip() or type(error).__name__}"
            problems.append("the store does not answer")
        if writer.failing_since is not None:
            problems.append("inserts are failing (the rows wait in the queue)")
        if queue.used_bytes >= READY_FILL * queue.max_bytes:
            problems.append(f"the write-ahead queue is over {READY_FILL:.0%} full")
        elif time.monotonic() - queue.last_refused < REFUSED_RECENTLY_SECONDS:
            problems.append("the write-ahead queue refused exports in the last "
                            f"{REFUSED_RECENTLY_SECONDS} s for want of room")
        if queue.checkpoint_problem:
            problems.append(f"the write-ahead queue {queue.checkpoint_problem}")
        failing = background.failing if background else {}
        problems += [f"{task} is failing and being retried: {reason}" for task, reason in sorted(failing.items())]
        body = {"status": "not ready" if problems else "ready", "problems": problems, "store": store,
                "inserts_failing_since": writer.failing_since, "queue_bytes": queue.used_bytes,
                "queue_max_bytes": queue.max_bytes, "queued_requests": writer.waiting_entries}
        return web.json_response(body, status=503 if problems else 200)

    return table
