"""The contribution families of /metrics, rendered from a snapshot of the real engine: per window and level they
equal the contribution rows written, their levels add up to every merged PR and line, members are capped by
--max-user-series and orgs and teams by --max-label-values with every total kept exact."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aggregator.snapshot import Snapshots, window_bounds
from exporters import text_format
from exporters.prometheus import usage_families
from tests.support.contribution_rows import Seed, days_before, generated_seed

TODAY = date(2026, 11, 20)
DAYS = days_before(TODAY, 30)  # the 28-day window and the month both
MEMBERS = [("org-a", "payments", "ada@a.example", "ada@a.example"), ("org-a", "search", "linus-key", ""),
           ("org-a", "payments", "grace-key", "grace@a.example"), ("org-b", "mobile", "hedy@b.example", "")]


def day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


def scrape(store, max_members: int = 1000, max_label_values: int = 200) -> dict[str, dict[tuple, float]]:
    """Family name -> {labels (sorted pairs): value}, as Prometheus would read the text."""
    snapshot = Snapshots(store.client, store.database).as_of(TODAY, max_members)
    text = text_format.render(usage_families(snapshot, False, day_start, max_label_values)).decode()
    samples = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            assert labels not in samples[sample.name], f"two {sample.name} series with {labels}"
            samples[sample.name][labels] = sample.value
    return samples


def summed(samples: dict, keys: tuple[str, ...], **where) -> dict:
    totals = defaultdict(float)
    for labels, value in samples.items():
        labels = dict(labels)
        if all(labels.get(name) == wanted for name, wanted in where.items()):
            totals[tuple(labels[key] for key in keys)] += value
    return {key: value for key, value in totals.items() if value}


@pytest.fixture
def seeded(store):
    seed = generated_seed(MEMBERS, DAYS)
    seed.insert(store.client, store.database)
    return store, seed


def test_window_families_equal_the_rows_written_and_levels_add_up(seeded):
    store, seed = seeded
    samples = scrape(store)
    for window in ("today", "yesterday", "7d", "28d", "month"):
        first, last = window_bounds(window, TODAY)
        rows = [r for r in seed.daily if first <= r["day"] <= last]
        expected = defaultdict(lambda: defaultdict(int))
        for r in rows:
            figures = expected[(r["org_id"], r["team"])]
            figures["with_claude_code"] += r["prs_merged_with_claude_code"]
            figures["assisted"] += r["prs_merged_assisted"] - r["prs_merged_with_claude_code"]
            figures["without"] += r["prs_merged"] - r["prs_merged_assisted"]
            figures["lines"] += r["lines_merged"]
            figures["lines_cc"] += r["lines_merged_with_claude_code"]
            figures["opened"] += r["prs_opened"]
        prs = samples["cc_analytics_contribution_prs_merged"]
        lines = samples["cc_analytics_contribution_lines_merged"]
        for level in ("with_claude_code", "assisted", "without"):
            assert summed(prs, ("org", "team"), window=window, level=level) == {
                key: f[level] for key, f in expected.items() if f[level]}, (window, level)
        assert summed(lines, ("org", "team"), window=window) == {
            key: f["lines"] for key, f in expected.items() if f["lines"]}, window
        assert summed(lines, ("org", "team"), window=window, level="with_claude_code") == {
            key: f["lines_cc"] for key, f in expected.items() if f["lines_cc"]}, window
        assert summed(samples["cc_analytics_contribution_prs_opened"], ("org", "team"), window=window) == {
            key: f["opened"] for key, f in expected.items() if f["opened"]}, window
        active = defaultdict(set)
        for r in seed.user_days:
            if first <= r["day"] <= last and r["sessions"] > 0:
                active[(r["org_id"], r["team"])].add(r["user_key"])
        assert summed(samples["cc_analytics_contribution_active_members"], ("org", "team"), window=window) == {
            key: len(members) for key, members in active.items() if members}, window


def test_members_are_labelled_like_the_usage_families_and_capped(seeded):
    store, seed = seeded
    month = [r for r in seed.daily if r["day"] >= TODAY.replace(day=1)]
    email = {(r["org_id"], r["user_key"]): r["user_email"] for r in seed.user_days}
    expected = defaultdict(int)
    for r in month:
        expected[email.get((r["org_id"], r["member"])) or r["member"]] += r["prs_merged"]
    samples = scrape(store)
    assert summed(samples["cc_analytics_contribution_user_month_prs_merged"], ("user",)) == {
        (user,): value for user, value in expected.items() if value}
    # the usage families name the same members the same way
    usage_users = {dict(labels)["user"] for labels in samples["cc_analytics_user_month_lines_accepted"]}
    assert usage_users and usage_users <= {user for user in expected} | {"other"}

    capped = scrape(store, max_members=2)
    by_user = summed(capped["cc_analytics_contribution_user_month_prs_merged"], ("user",))
    assert len([user for (user,) in by_user if user != "other"]) == 2
    assert sum(by_user.values()) == sum(expected.values())
    folded = capped["cc_analytics_label_values_folded"]
    assert folded[(("dimension", "contribution_user"),)] == len(expected) - 2
    lines = capped["cc_analytics_contribution_user_month_lines_merged"]
    assert sum(lines.values()) == sum(r["lines_merged"] for r in month)


def test_orgs_and_teams_past_the_cap_are_summed_into_other(seeded):
    store, seed = seeded
    samples = scrape(store, max_label_values=1)
    month = [r for r in seed.daily if r["day"] >= TODAY.replace(day=1)]
    prs = summed(samples["cc_analytics_contribution_prs_merged"], ("org",), window="month")
    assert len(prs) == 2 and ("other",) in prs
    assert sum(prs.values()) == sum(r["prs_merged"] for r in month)
    folded = samples["cc_analytics_label_values_folded"]
    assert folded[(("dimension", "contribution_org"),)] == 1
    assert folded[(("dimension", "contribution_team"),)] >= 1


def test_a_member_called_other_does_not_make_a_second_other_series(store):
    seed = Seed()
    for member, merged in (("other", 5), ("ada", 3), ("bob", 2)):
        seed.add_daily(TODAY, "org-a", "payments", member, member, "org-a/x", merged=merged, with_cc=1, lines=5)
    seed.insert(store.client, store.database)
    samples = scrape(store, max_members=1)  # bob is left out, into other; asserts no series twice
    assert summed(samples["cc_analytics_contribution_user_month_prs_merged"], ("user",)) == {
        ("other",): 7, ("ada",): 3}
