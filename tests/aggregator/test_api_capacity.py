"""Reads have their own capacity on a real serve: while a slow SQL query runs, the daily report, the Admin-API
endpoint and /metrics answer, before the query does."""

from __future__ import annotations

import threading
import time
import urllib.request
from datetime import datetime, timezone

# Seconds of CPU for the engine, whatever the machine: billions of hashes, and readonly=1 allows it.
SLOW_SQL = b"SELECT count() FROM numbers(1000000000) WHERE NOT ignore(sipHash64(number))"


def test_a_slow_sql_query_holds_no_other_read(serve):
    base = f"http://{serve.host}:{serve.api_port}"
    finished: dict[str, float] = {}

    def slow_query() -> None:
        request = urllib.request.Request(f"{base}/api/v1/query", data=SLOW_SQL,
                                         headers={"Content-Type": "application/sql"})
        with urllib.request.urlopen(request, timeout=300) as reply:
            reply.read()
        finished["sql"] = time.monotonic()

    today = datetime.now(timezone.utc).date().isoformat()
    serve.api("GET", "/metrics")  # the first scrape renders; later ones serve the rendered text
    running = threading.Thread(target=slow_query)
    running.start()
    time.sleep(0.5)  # the query is on the engine
    for name, path, parameters in (("daily", "/api/v1/daily", {"from": today, "to": today}),
                                   ("admin", "/v1/organizations/usage_report/claude_code", {"starting_at": today}),
                                   ("metrics", "/metrics", {})):
        serve.api("GET", path, **parameters)
        finished[name] = time.monotonic()
    running.join(300)

    assert "sql" in finished
    assert all(finished[name] < finished["sql"] for name in ("daily", "admin", "metrics")), finished
