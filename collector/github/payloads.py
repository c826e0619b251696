"""A GitHub webhook delivery, decoded: its JSON in, the rows of the github_* tables out. Pure, no I/O.

- pull_request (every action: the PR object is whole there) -> github_pull_requests, source `webhook`; the body
  is read for Claude Code's marker and dropped.
- push -> github_commits (source `push`; the message read for the trailer and dropped; the author's email stored
  as user.email is, hashed under --hash-emails) and, for a branch (refs/heads/X), github_branch_commits.
- pull_request_review -> github_pull_request_reviews only: its PR object lacks merged and the line counts, so a
  github_pull_requests row from it would undo a merge.
- every delivery -> its github_deliveries row (ping and other events: only that one).
A payload is signed, but that proves only who sent it: every field is read as untrusted (payload_fields.py), and
what cannot be stored is a PayloadError with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.decode.privacy import PrivacyPolicy
from collector.github.markers import has_body_marker, has_claude_trailer
from collector.github.payload_fields import (
    PayloadError, any_length_text, array, as_mapping, count, flag, mapping, optional_count, optional_mapping,
    optional_sha, optional_text, optional_time_ms, sha, text, time_ms,
)

PULL_REQUEST, PUSH, PULL_REQUEST_REVIEW, PING = "pull_request", "push", "pull_request_review", "ping"
KNOWN_EVENTS = (PULL_REQUEST, PUSH, PULL_REQUEST_REVIEW, PING)
BRANCH_PREFIX = "refs/heads/"
# GitHub puts at most 2048 commits in a push and allows 100 labels on a PR.
MAX_PUSH_COMMITS = 4096
MAX_LABELS = 1000

__all__ = ["Delivery", "PayloadError", "KNOWN_EVENTS", "owner_login", "rows_of_delivery"]


@dataclass(frozen=True)
class Delivery:
    event: str  # X-GitHub-Event
    delivery_id: str  # X-GitHub-Delivery
    payload: dict
    received_at_ms: int
    org_id: str
    privacy: PrivacyPolicy


def owner_login(payload: dict) -> str:
    """The login of the repository's owner (or of the organization, for an organization's hook), lower-cased;
    '' when the payload names neither."""
    if payload.get("repository") is not None:
        owner = mapping(mapping(payload, "repository", "payload"), "owner", "repository")
        return text(owner, "login", "repository.owner").lower()
    organization = optional_mapping(payload, "organization", "payload")
    return optional_text(organization, "login", "organization").lower()


def rows_of_delivery(delivery: Delivery) -> dict[str, list[tuple]]:
    """Rows per table, github_deliveries last (the receiver stores it last: a delivery found there was stored)."""
    payload = delivery.payload
    repository = _repository(payload)
    decode = _DECODERS.get(delivery.event)
    rows = decode(delivery, repository) if decode else {}
    action = optional_text(payload, "action", "payload")
    rows["github_deliveries"] = [(delivery.org_id, delivery.delivery_id, delivery.event, action, repository,
                                  delivery.received_at_ms)]
    return rows


def _repository(payload: dict) -> str:
    if payload.get("repository") is None:
        return ""
    return text(mapping(payload, "repository", "payload"), "full_name", "repository").lower()


def _needs_repository(repository: str, event: str) -> None:
    if not repository:
        raise PayloadError(f"a {event} delivery must name its repository")


def _pull_request_rows(delivery: Delivery, repository: str) -> dict[str, list[tuple]]:
    _needs_repository(repository, PULL_REQUEST)
    pr = mapping(delivery.payload, "pull_request", "payload")
    where = "pull_request"
    author = optional_mapping(pr, "user", where)
    head = mapping(pr, "head", where)
    labels = [text(as_mapping(label, f"{where}.labels[{index}]"), "name", f"{where}.labels[{index}]")
              for index, label in enumerate(array(pr, "labels", where, MAX_LABELS))]
    row = (
        delivery.org_id, repository, count(pr, "number", where), count(pr, "id", where),
        optional_text(author, "login", f"{where}.user"), optional_count(author, "id", f"{where}.user"),
        text(pr, "state", where), int(flag(pr, "draft", where)), int(flag(pr, "merged", where)),
        time_ms(pr, "created_at", where), time_ms(pr, "updated_at", where),
        optional_time_ms(pr, "closed_at", where), optional_time_ms(pr, "merged_at", where),
        optional_sha(pr, "merge_commit_sha", where), sha(head, "sha", f"{where}.head"),
        text(head, "ref", f"{where}.head"), text(mapping(pr, "base", where), "ref", f"{where}.base"),
        int(has_body_marker(any_length_text(pr, "body", where))), labels,
        optional_count(pr, "additions", where), optional_count(pr, "deletions", where),
        optional_count(pr, "changed_files", where), optional_count(pr, "commits", where),
        "webhook", delivery.received_at_ms,
    )
    return {"github_pull_requests": [row]}


def _push_rows(delivery: Delivery, repository: str) -> dict[str, list[tuple]]:
    _needs_repository(repository, PUSH)
    payload, privacy, org = delivery.payload, delivery.privacy, delivery.org_id
    ref = text(payload, "ref", "payload")
    commits, branch_commits = [], []
    for index, commit in enumerate(array(payload, "commits", "payload", MAX_PUSH_COMMITS)):
        where = f"commits[{index}]"
        commit = as_mapping(commit, where)
        author = optional_mapping(commit, "author", where)
        email = optional_text(author, "email", f"{where}.author")
        commit_sha = sha(commit, "id", where)
        commits.append((
            org, repository, commit_sha, privacy.stored_email(email),
            optional_text(author, "username", f"{where}.author"), time_ms(commit, "timestamp", where),
            int(has_claude_trailer(any_length_text(commit, "message", where))),
            0, "push", delivery.received_at_ms))
        if ref.startswith(BRANCH_PREFIX):  # a tag names no branch
            branch_commits.append((org, repository, ref[len(BRANCH_PREFIX):], commit_sha, delivery.received_at_ms))
    return {"github_commits": commits, "github_branch_commits": branch_commits}


def _review_rows(delivery: Delivery, repository: str) -> dict[str, list[tuple]]:
    _needs_repository(repository, PULL_REQUEST_REVIEW)
    review = mapping(delivery.payload, "review", "payload")
    reviewer = optional_mapping(review, "user", "review")
    row = (delivery.org_id, repository,
           count(mapping(delivery.payload, "pull_request", "payload"), "number", "pull_request"),
           count(review, "id", "review"), optional_text(reviewer, "login", "review.user"),
           text(review, "state", "review").lower(), optional_time_ms(review, "submitted_at", "review"),
           delivery.received_at_ms)
    return {"github_pull_request_reviews": [row]}


_DECODERS = {PULL_REQUEST: _pull_request_rows, PUSH: _push_rows, PULL_REQUEST_REVIEW: _review_rows}
