"""An acknowledged export is never lost, and a retried one never counted twice: real serve processes killed with
SIGKILL before and during inserts, restarted on the same data directory, with clients that retry what was not
acknowledged, as the OpenTelemetry exporters do."""

from __future__ import annotations

import signal
import threading
import time

from tests.support.retrying_clients import RetryingClients, address_of, lines_accepted_today, stored


def test_acknowledged_exports_survive_a_sigkill_before_their_insert(serve_factory, tmp_path):
    data_dir = tmp_path / "store"
    # a batch that never fills and a delay that never ends: nothing acknowledged is inserted before the kill
    first = serve_factory("--batch-max-delay-ms", "600000", "--aggregate-interval", "0", data_dir=data_dir)
    clients = RetryingClients(address_of(first), exports=40)
    clients.send_all(deadline_seconds=60)
    assert len(clients.acknowledged) == 40 and clients.refused == 0
    first.stop(signal.SIGKILL)
    assert first.process.returncode == -signal.SIGKILL

    second = serve_factory("--aggregate-interval", "0", data_dir=data_dir)
    assert "replaying 40 acknowledged requests from the write-ahead queue" in second.log_text()
    assert stored(second) == clients.expected()
    assert lines_accepted_today(second) == clients.expected()[2]


def test_a_sigkill_mid_load_loses_nothing_acknowledged_and_counts_nothing_twice(serve_factory, tmp_path):
    data_dir = tmp_path / "store"
    first = serve_factory("--batch-max-delay-ms", "50", "--aggregate-interval", "0", data_dir=data_dir)
    address = address_of(first)
    clients = RetryingClients(address, exports=600)
    sending = threading.Thread(target=clients.send_all, kwargs={"workers": 16})
    sending.start()
    while len(clients.acknowledged) < 150:
        time.sleep(0.05)
    first.stop(signal.SIGKILL)  # mid-load: some exports queued and inserted, some queued only, some in flight
    acknowledged_at_kill = len(clients.acknowledged)

    # the clients keep retrying against the same ports, as exporters retry against the same endpoint
    second = serve_factory("--aggregate-interval", "0", "--grpc-port", str(address["grpc"]),
                           "--http-port", str(address["http"]), data_dir=data_dir)
    sending.join(150)
    assert not sending.is_alive()
    assert 150 <= acknowledged_at_kill < 600 and clients.refused > 0
    assert len(clients.acknowledged) == 600
    assert stored(second) == clients.expected()
    assert lines_accepted_today(second) == clients.expected()[2]
