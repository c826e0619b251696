"""The ingest load held through faults: `python -m benchmarks.faults` kills serve with SIGKILL, fills the store's
disk and then the write-ahead queue's own disk while the load runs, and must report that nothing acknowledged was
lost."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support.paths import REPO


def test_load_through_a_sigkill_a_store_outage_and_a_full_queue_disk_loses_nothing():
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.faults", "--seconds", "26", "--connections", "32", "--rate", "2000",
         "--kill-at", "6", "--outage-at", "11", "--outage-seconds", "6", "--queue-full-at", "19",
         "--queue-full-seconds", "4"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    report = run.stdout
    assert "serve killed with SIGKILL" in report and "serve started again on the same ports" in report, report
    assert "the store's disk is full" in report and "the store's disk has room again" in report, report
    assert "the write-ahead queue's disk is full" in report and "queue's disk has room again" in report, report
    acknowledged = re.search(r"acknowledged: ([\d,]+) events, ([\d,]+) metric points", report)
    stored = re.search(r"stored after SIGTERM \(FINAL\): ([\d,]+) events, ([\d,]+) metric points", report)
    assert acknowledged and stored, report
    assert int(acknowledged.group(1).replace(",", "")) > 20_000, report
    assert acknowledged.groups() == stored.groups(), report
    assert "records lost: 0 (met); serve exit code 0, peak RSS" in report, report
