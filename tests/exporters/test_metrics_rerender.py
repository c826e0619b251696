"""/metrics never waits for a re-render: against the real chDB engine, the real Snapshots and UsageExposition,
with the re-render held at a gate so "during" is certain rather than a race."""

from __future__ import annotations

import threading
import time
from datetime import date

from clickhouse_connect.driver.exceptions import ProgrammingError

from aggregator.snapshot import Snapshots
from plumbing.metrics_registry import ProcessMetrics
from exporters.metrics_endpoint import UsageExposition
from tests.support.polling import wait_until
from tests.support.rollup_rows import DAY, add_user_day

LINES_SERIES = b'cc_analytics_lines_accepted_total{org="org-a",team="payments"} '


class HeldSnapshots(Snapshots):
    """Snapshots whose reads wait at a gate once held: a re-render as slow as the test wants."""

    def __init__(self, client, database: str):
        super().__init__(client, database)
        self.held = False
        self.reading = threading.Event()
        self.gate = threading.Event()

    def as_of(self, day: date, max_members: int):
        if self.held:
            self.reading.set()
            self.gate.wait(timeout=30)
        return super().as_of(day, max_members)


def closed_client(*args):
    raise ProgrammingError("The client has been closed")


def new_rollup_run(store, version: int) -> None:
    """What a rollup run leaves behind that /metrics looks at: daily_org's version moves."""
    store.client.command(f"INSERT INTO `{store.database}`.daily_org (day, org_id, version) VALUES "
                         f"('{DAY}', 'org-a', {version})")


def timed(render) -> tuple[float, bytes]:
    started = time.monotonic()
    text = render()
    return time.monotonic() - started, text


def test_a_scrape_during_a_rerender_gets_the_previous_text_at_once(store):
    snapshots = HeldSnapshots(store.client, store.database)
    exposition = UsageExposition(snapshots, lambda: DAY, lambda day: 0.0, 100, 100, False, ProcessMetrics())
    add_user_day(store, DAY, "ada", lines_accepted=5, version=1)
    new_rollup_run(store, 1)
    first = exposition.render()
    assert LINES_SERIES + b"5\n" in first

    add_user_day(store, DAY, "ada", lines_accepted=7, version=2)
    new_rollup_run(store, 2)
    snapshots.held = True
    # The first scrape to see the new version starts the re-render and answers with the previous text.
    seconds, text = timed(exposition.render)
    assert text == first and seconds < 5
    assert snapshots.reading.wait(timeout=10)
    # While the re-render is held, scrapes get the previous text without waiting for it.
    seconds, text = timed(exposition.render)
    assert text == first and seconds < 1
    snapshots.gate.set()
    # Once it finishes, the next scrape shows the new figures.
    assert wait_until(lambda: LINES_SERIES + b"7\n" in exposition.render(), timeout=30)


def test_the_aggregator_refresh_renders_the_new_version_before_returning(store):
    snapshots = HeldSnapshots(store.client, store.database)
    exposition = UsageExposition(snapshots, lambda: DAY, lambda day: 0.0, 100, 100, False, ProcessMetrics())
    add_user_day(store, DAY, "ada", lines_accepted=5, version=1)
    new_rollup_run(store, 1)
    exposition.refresh()
    assert LINES_SERIES + b"5\n" in exposition.render()

    add_user_day(store, DAY, "ada", lines_accepted=7, version=2)
    new_rollup_run(store, 2)
    exposition.refresh()
    assert LINES_SERIES + b"7\n" in exposition.render()


def test_a_failed_rerender_keeps_the_previous_text_and_counts_a_store_error(store):
    metrics = ProcessMetrics()
    exposition = UsageExposition(Snapshots(store.client, store.database), lambda: DAY, lambda day: 0.0, 100, 100, False,
                                 metrics)
    add_user_day(store, DAY, "ada", lines_accepted=5, version=1)
    new_rollup_run(store, 1)
    first = exposition.render()
    new_rollup_run(store, 2)
    store.client.command(f"DROP TABLE `{store.database}`.daily_edit_tool")  # the version reads, the render fails

    assert exposition.render() == first
    assert wait_until(lambda: metrics.registry.get_sample_value("cc_analytics_store_errors_total",
                                                                {"operation": "read"}), timeout=30)
    assert exposition.render() == first


def test_a_run_that_rebuilt_only_contribution_days_renders_again(store):
    """A webhook can change only daily_contributions (the timer rebuilds the merge day, no telemetry changed):
    /metrics must show the new PR, though daily_org's version stayed where it was."""
    exposition = UsageExposition(Snapshots(store.client, store.database), lambda: DAY, lambda day: 0.0, 100, 100,
                                 False, ProcessMetrics())
    add_user_day(store, DAY, "ada", lines_accepted=5, version=1)
    new_rollup_run(store, 1)
    exposition.refresh()
    merged = b'cc_analytics_contribution_prs_merged{org="org-a",team="payments",level="without",window="today"} '
    assert merged + b"1\n" not in exposition.render()
    store.client.command(f"INSERT INTO `{store.database}`.daily_contributions (day, org_id, team, member, "
                         f"repository, prs_merged, version) VALUES ('{DAY}', 'org-a', 'payments', 'ada', "
                         "'acme/widgets', 1, 2)")
    exposition.refresh()
    assert merged + b"1\n" in exposition.render()


def test_closing_waits_for_the_render_in_progress_and_then_reads_the_store_no_more(store):
    """serve closes the exposition before its store client: a re-render a scrape started just before the stop
    finishes first, and nothing reads the closed client afterwards (it used to log an error on every such stop)."""
    snapshots = HeldSnapshots(store.client, store.database)
    metrics = ProcessMetrics()
    exposition = UsageExposition(snapshots, lambda: DAY, lambda day: 0.0, 100, 100, False, metrics)
    add_user_day(store, DAY, "ada", lines_accepted=5, version=1)
    new_rollup_run(store, 1)
    first = exposition.render()
    add_user_day(store, DAY, "ada", lines_accepted=7, version=2)
    new_rollup_run(store, 2)
    snapshots.held = True
    assert exposition.render() == first  # starts the background re-render, held at the gate
    assert snapshots.reading.wait(timeout=10)
    closing = threading.Thread(target=exposition.close)
    closing.start()
    closing.join(timeout=1)
    assert closing.is_alive(), "close must wait for the render in progress"
    snapshots.gate.set()
    closing.join(timeout=30)
    assert not closing.is_alive()
    snapshots.version = snapshots.as_of = closed_client  # what serve's client does once closed
    exposition.refresh()
    assert LINES_SERIES + b"7\n" in exposition.render()  # the finished render's text, without a read
    assert metrics.store_errors.labels("read")._value.get() == 0
