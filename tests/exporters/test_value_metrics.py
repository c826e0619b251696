"""The value families of /metrics rendered from a snapshot of the real engine, on daily_user rows written by hand:
a member with two rows in a window counts once and a session on both once; orgs and teams past
--max-label-values are summed into `other` before dividing, so `other` carries its true cost per unit; a ratio
over nothing has no sample; the concentration of `other` is not published."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aggregator.snapshot import Snapshots
from exporters import text_format
from exporters.prometheus import usage_families
from plumbing.store.client import insert_columns

TODAY = date(2026, 11, 20)
COLUMNS = ("day", "org_id", "user_key", "team", "sessions", "session_ids", "cost_usd", "commits", "lines_accepted",
           "version")
YESTERDAY = date(2026, 11, 19)
# (day, org, team, member, sessions, cost, commits, lines); ada has two rows in the 7d window sharing session s1
ROWS = [(TODAY, "org-a", "payments", "ada", ["s1", "s2"], 6.0, 2, 100),
        (YESTERDAY, "org-a", "payments", "ada", ["s1"], 2.0, 1, 20),
        (TODAY, "org-a", "search", "linus", ["s3"], 4.0, 0, 0),
        (TODAY, "org-b", "mobile", "hedy", ["s4"], 3.0, 1, 30),
        (TODAY, "org-c", "mobile", "alan", ["s5", "s6"], 1.0, 1, 10)]


def day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def written(store):
    rows = [(day, org, member, team, len(sessions), sessions, cost, commits, lines, 1)
            for day, org, team, member, sessions, cost, commits, lines in ROWS]
    insert_columns(store.client, "daily_user", COLUMNS, [list(column) for column in zip(*rows)], store.database)
    return store


def scrape(store, max_label_values: int) -> dict[str, dict[tuple, float]]:
    snapshot = Snapshots(store.client, store.database).as_of(TODAY, 1000)
    text = text_format.render(usage_families(snapshot, False, day_start, max_label_values)).decode()
    samples = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith(("cc_analytics_value_", "cc_analytics_label_values_folded")):
                labels = tuple(sorted(sample.labels.items()))
                assert labels not in samples[sample.name]
                samples[sample.name][labels] = sample.value
    return samples


def of_window(samples: dict, name: str, window: str = "28d") -> dict[tuple, float]:
    return {tuple(value for key, value in labels if key != "window"): value
            for labels, value in samples[name].items() if dict(labels)["window"] == window}


def test_a_member_with_two_rows_a_day_counts_once_and_a_ratio_over_nothing_has_no_sample(written):
    samples = scrape(written, 200)
    # org-a: 12 USD, sessions s1 s2 s3, 2 members, 3 commits, 120 lines
    assert of_window(samples, "cc_analytics_value_cost_per_session_usd") == {("org-a",): 4.0, ("org-b",): 3.0,
                                                                            ("org-c",): 0.5}
    assert of_window(samples, "cc_analytics_value_cost_per_member_usd")[("org-a",)] == 6.0
    assert of_window(samples, "cc_analytics_value_cost_per_commit_usd")[("org-a",)] == 4.0
    assert of_window(samples, "cc_analytics_value_cost_per_line_usd")[("org-a",)] == 0.1
    assert of_window(samples, "cc_analytics_value_team_cost_per_commit_usd") == {
        ("org-a", "payments"): 8 / 3, ("org-b", "mobile"): 3.0, ("org-c", "mobile"): 1.0}  # search: no commit
    assert samples["cc_analytics_value_team_cost_per_merged_pr_with_claude_code_usd"] == {}
    # org-a's members with cost: 2, the top 10% is 1 (ada, 8 of 12)
    assert of_window(samples, "cc_analytics_value_top_decile_spend_share")[("org-a",)] == pytest.approx(8 / 12)
    assert samples["cc_analytics_value_month_to_date_spend_usd"] == {(("org", "org-a"),): 12.0,
                                                                   (("org", "org-b"),): 3.0,
                                                                   (("org", "org-c"),): 1.0}


def test_orgs_past_the_cap_are_summed_before_dividing(written):
    samples = scrape(written, 1)
    # org-a kept (most spend); org-b and org-c in other: 4 USD over 3 sessions
    assert of_window(samples, "cc_analytics_value_cost_per_session_usd") == {("org-a",): 4.0,
                                                                            ("other",): pytest.approx(4 / 3)}
    assert ("other",) not in of_window(samples, "cc_analytics_value_top_decile_spend_share")
    assert samples["cc_analytics_value_month_forecast_usd"][(("org", "other"),)] == pytest.approx(4.0)
    teams = of_window(samples, "cc_analytics_value_team_cost_per_session_usd")
    # pairs ranked as label_caps ranks them: the top pair kept, the rest in other
    assert teams == {("org-a", "payments"): 4.0, ("org-a", "other"): 4.0, ("other", "other"): pytest.approx(4 / 3)}
    folded = {dict(labels)["dimension"]: value for labels, value in samples["cc_analytics_label_values_folded"].items()}
    # org-b and org-c; of the pairs after that, (org-a, search) and (other, mobile) went into other
    assert (folded["value_org"], folded["value_team"]) == (2, 2)
