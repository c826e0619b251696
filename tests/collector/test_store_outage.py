"""A store outage under steady load: the store's disk runs out of space for 60 s (a real ENOSPC: a small tmpfs whose
inodes are all taken, so chDB itself fails every insert), the collector keeps acknowledging into its write-ahead queue on another disk, says so
on /readyz, and once the disk has room again every acknowledged record is stored once and the figures are exact."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time

import pytest

from benchmarks.faults import fill_disk
from tests.support.polling import wait_until
from tests.support.retrying_clients import RetryingClients, address_of, lines_accepted_today, stored

OUTAGE_SECONDS = 60


@pytest.fixture
def small_disk(tmp_path):
    """A 256 MiB tmpfs for the store (mounting needs root, as CI has)."""
    mount_point = tmp_path / "store-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m,nr_inodes=20000", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.fail(f"cannot mount a tmpfs for the outage test (needs root): {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_60_second_store_outage_loses_nothing_acknowledged(serve_factory, small_disk, tmp_path):
    serve = serve_factory("--queue-dir", str(tmp_path / "queue"), "--batch-max-delay-ms", "100",
                          "--aggregate-interval", "0", data_dir=small_disk / "data")
    assert serve.readiness()[0] == 200
    # 20 exports a second (about 180 events) for 80 s: before, during and after the outage
    clients = RetryingClients(address_of(serve), exports=1600)
    sending = threading.Thread(target=clients.send_all, kwargs={"workers": 16, "deadline_seconds": 200,
                                                               "per_second": 20})
    sending.start()
    wait_until(lambda: len(clients.acknowledged) >= 100, timeout=30)
    ballast = fill_disk(small_disk)
    outage_started = time.monotonic()
    status, body = wait_until(lambda: (lambda answer: answer if answer[0] == 503 else None)(serve.readiness()),
                              timeout=30)
    assert "inserts are failing (the rows wait in the queue)" in body["problems"], body
    acknowledged_during = len(clients.acknowledged)
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))
    acknowledged_during = len(clients.acknowledged) - acknowledged_during
    shutil.rmtree(ballast)

    sending.join(200)
    assert not sending.is_alive()
    assert len(clients.acknowledged) == 1600
    assert acknowledged_during > 500  # the collector kept taking exports while the store was down
    assert wait_until(lambda: serve.readiness()[0] == 200, timeout=60)
    assert stored(serve) == clients.expected()
    assert lines_accepted_today(serve) == clients.expected()[2]
    assert "insert of" in serve.log_text() and "retrying" in serve.log_text()
    assert serve.alive()
