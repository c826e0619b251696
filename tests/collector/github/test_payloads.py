"""A delivery's JSON to github_* rows, on GitHub's real example payloads (@octokit/webhooks-examples) and on
hostile ones: every example decodes to the rows its event fills, markers become flags and the texts are dropped,
and a payload a table cannot hold is a PayloadError with the reason, never another exception."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.decode.privacy import PrivacyPolicy, email_pseudonym
from collector.github.payloads import Delivery, PayloadError, owner_login, rows_of_delivery
from collector.github.tables import GITHUB_TABLE_COLUMNS, PULL_REQUEST_COLUMNS
from tests.support.webhook_examples import examples

MARKER_BODY = "Fixes it.\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)"
TRAILER_MESSAGE = "Fix it\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>"
PR = {name: index for index, name in enumerate(PULL_REQUEST_COLUMNS)}
COMMIT = {name: index for index, name in enumerate(GITHUB_TABLE_COLUMNS["github_commits"])}


def decode(event: str, payload: dict, privacy: PrivacyPolicy = PrivacyPolicy()) -> dict[str, list[tuple]]:
    return rows_of_delivery(Delivery(event, "delivery-1", payload, 1_700_000_000_000, "org-a", privacy))


@pytest.mark.parametrize("event", ["pull_request", "push", "pull_request_review", "ping"])
def test_every_example_decodes_to_rows_that_fit_their_tables(event):
    for payload in examples(event):
        rows = decode(event, payload)
        assert rows["github_deliveries"] == [("org-a", "delivery-1", event, payload.get("action") or "",
                                              payload.get("repository", {}).get("full_name", "").lower(),
                                              1_700_000_000_000)]
        for table, table_rows in rows.items():
            assert all(len(row) == len(GITHUB_TABLE_COLUMNS[table]) for row in table_rows), table
        assert ("github_pull_requests" in rows) == (event == "pull_request")  # a review's PR object is partial


def test_a_pull_request_row_holds_the_pr_and_no_text():
    payload = examples("pull_request")[0]
    pr = payload["pull_request"]
    pr["body"] = MARKER_BODY
    (row,) = decode("pull_request", payload)["github_pull_requests"]
    assert row[PR["repository"]] == "codertocat/hello-world" and row[PR["number"]] == pr["number"]
    assert (row[PR["pr_id"]], row[PR["author_login"]], row[PR["head_sha"]], row[PR["head_ref"]]) == (
        pr["id"], pr["user"]["login"], pr["head"]["sha"], pr["head"]["ref"])
    assert (row[PR["additions"]], row[PR["merged"]], row[PR["merged_at"]], row[PR["body_marker"]]) == (
        pr["additions"], 0, 0, 1)
    assert row[PR["source"]] == "webhook"
    assert "Generated" not in json.dumps(row) and pr["title"] not in json.dumps(row)


def test_a_merged_pull_request_keeps_its_merge():
    payload = next(p for p in examples("pull_request") if p["action"] == "closed")
    payload["pull_request"].update(merged=True, merged_at="2019-05-15T15:21:18Z",
                                   merge_commit_sha="C" * 40, body=None)
    (row,) = decode("pull_request", payload)["github_pull_requests"]
    assert (row[PR["merged"]], row[PR["merged_at"]], row[PR["merge_commit_sha"]], row[PR["body_marker"]]) == (
        1, 1557933678000, "c" * 40, 0)
    assert row[PR["labels"]] == ["bug"]


def test_push_commits_carry_the_trailer_flag_and_the_authors_email_as_user_email_is_stored():
    payload = next(p for p in examples("push") if p["commits"])
    commit = payload["commits"][0]
    commit["message"] = TRAILER_MESSAGE
    privacy = PrivacyPolicy(hash_emails=True, email_hash_salt="salt")
    rows = decode("push", payload, privacy)
    (row,) = rows["github_commits"]
    assert row[COMMIT["sha"]] == commit["id"] and row[COMMIT["claude_trailer"]] == 1
    assert row[COMMIT["author_email"]] == email_pseudonym(commit["author"]["email"], "salt")
    assert row[COMMIT["author_login"]] == commit["author"]["username"] and row[COMMIT["source"]] == "push"
    assert "Fix it" not in json.dumps(row)
    assert rows["github_branch_commits"] == [("org-a", "codertocat/hello-world", "master", commit["id"],
                                              1_700_000_000_000)]
    (clear,) = decode("push", payload)["github_commits"]
    assert clear[COMMIT["author_email"]] == commit["author"]["email"]


def test_a_tag_push_names_no_branch():
    payload = next(p for p in examples("push") if p["commits"])
    payload["ref"] = "refs/tags/v1.0"
    rows = decode("push", payload)
    assert len(rows["github_commits"]) == 1 and rows["github_branch_commits"] == []


def test_owner_of_a_repository_and_of_an_organizations_hook():
    assert owner_login(examples("push")[0]) == "codertocat"
    org_ping = next(p for p in examples("ping") if "repository" not in p)
    assert owner_login(org_ping) == org_ping["organization"]["login"].lower()
    assert owner_login({"zen": "x"}) == ""


def with_field(payload: dict, path: tuple, value) -> dict:
    target = payload
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


HOSTILE_PULL_REQUESTS = [
    (("pull_request", "number"), "2", "pull_request.number must be a whole number"),
    (("pull_request", "number"), 2.0, "must be a whole number"),
    (("pull_request", "number"), True, "must be a whole number"),
    (("pull_request", "number"), 10**30, "outside 0.."),
    (("pull_request", "additions"), -1, "outside 0.."),
    (("pull_request", "merged"), "yes", "must be true or false"),
    (("pull_request", "head", "sha"), "not-a-sha", "40 (or 64) hex digits"),
    (("pull_request", "head"), KeyError, "pull_request.head must be an object, not null"),
    (("pull_request", "updated_at"), "yesterday", "not an ISO 8601 time"),
    (("pull_request", "updated_at"), "3000-01-01T00:00:00Z", "outside 1970-01-01..2149-06-06"),
    (("pull_request", "labels"), {"name": "bug"}, "must be an array"),
    (("pull_request", "labels"), [7], "labels[0] must be an object"),
    (("pull_request", "user", "login"), "x" * 5000, "more than 1000"),
    (("pull_request", "head", "ref"), "\ud800", "lone UTF-16 surrogate"),
    (("pull_request", "body"), 12, "pull_request.body must be a string"),
    (("pull_request",), KeyError, "payload.pull_request must be an object"),
    (("repository",), [], "payload.repository must be an object"),
    (("repository", "full_name"), KeyError, "repository.full_name must be a string"),
]


@pytest.mark.parametrize("path, value, reason", HOSTILE_PULL_REQUESTS)
def test_a_hostile_pull_request_is_refused_with_the_reason(path, value, reason):
    payload = with_field(examples("pull_request")[0], path, value)
    with pytest.raises(PayloadError, match=re.escape(reason)):
        owner_login(payload)
        decode("pull_request", payload)


@pytest.mark.parametrize("event, path, value, reason", [
    ("push", ("commits",), "all of them", "payload.commits must be an array"),
    ("push", ("commits",), [{"id": "a" * 40}] * 5000, "more than 4096"),
    ("push", ("commits", 0, "timestamp"), None, "commits\\[0\\].timestamp must be a string"),
    ("push", ("ref",), None, "payload.ref must be a string"),
    ("pull_request_review", ("review", "id"), "237895671", "review.id must be a whole number"),
    ("pull_request_review", ("repository",), None, "must name its repository"),
])
def test_hostile_pushes_and_reviews_are_refused_with_the_reason(event, path, value, reason):
    payload = next(p for p in examples(event) if p.get("commits", [None]))
    with pytest.raises(PayloadError, match=reason):
        decode(event, with_field(payload, path, value))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["pull_request", "push", "pull_request_review"]), st.data(), JSON_VALUES)
def test_any_field_replaced_by_any_json_is_rows_that_fit_or_a_payload_error(event, data, value):
    payload = data.draw(st.sampled_from(examples(event)))
    path = data.draw(st.sampled_from([p for p in paths(payload) if p]))
    with_field(payload, path, value)
    try:
        owner_login(payload)
        rows = decode(event, payload)
    except PayloadError:
        return
    for table, table_rows in rows.items():
        for row in table_rows:
            for column, cell in zip(GITHUB_TABLE_COLUMNS[table], row):
                assert isinstance(cell, (int, str, list)) and not isinstance(cell, bool), (table, column, cell)
                if isinstance(cell, int):
                    assert 0 <= cell < 2**63, (table, column, cell)
                if isinstance(cell, str):
                    assert len(cell) <= 1000, (table, column)
                    cell.encode("utf-8")  # no lone surrogate
