"""GitHub REST answers -> rows of the github_* tables (columns in collector/github/tables.py). Pure: no I/O.

Only flags and counts are kept: a commit message gives claude_trailer, a PR body gives body_marker, a file's patch
gives its effective lines, and the texts themselves are dropped here. The author email is stored as telemetry's
user.email is (PrivacyPolicy.stored_email).
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from collector.github.effective_lines import effective_lines_added
from collector.github.markers import has_body_marker, has_claude_trailer
from collector.github.tables import COMMIT_FILES, PULL_REQUEST_COMMITS

REST = "rest"
EPOCH_MS = 0


def time_ms(text: str | None) -> int:
    """GitHub's ISO 8601 time (2024-01-02T03:04:05Z) in ms since the epoch; 0 when absent."""
    if not text:
        return EPOCH_MS
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def pull_request_row(org_id: str, repository: str, pull: dict, received_at: int) -> tuple:
    """A PULL_REQUEST_COLUMNS row of a pull request object (the list endpoint has no counts: they are 0)."""
    user = pull.get("user") or {}
    return (
        org_id, repository, int(pull["number"]), int(pull.get("id") or 0), user.get("login") or "",
        int(user.get("id") or 0), pull.get("state") or "", int(bool(pull.get("draft"))),
        int(bool(pull.get("merged_at"))), time_ms(pull.get("created_at")), time_ms(pull.get("updated_at")),
        time_ms(pull.get("closed_at")), time_ms(pull.get("merged_at")), pull.get("merge_commit_sha") or "",
        (pull.get("head") or {}).get("sha") or "", (pull.get("head") or {}).get("ref") or "",
        (pull.get("base") or {}).get("ref") or "", int(has_body_marker(pull.get("body") or "")),
        [label["name"] for label in pull.get("labels") or []], int(pull.get("additions") or 0),
        int(pull.get("deletions") or 0), int(pull.get("changed_files") or 0), int(pull.get("commits") or 0),
        REST, received_at,
    )


def commit_row(org_id: str, repository: str, commit: dict, stored_email: Callable[[str], str],
               received_at: int) -> tuple:
    """A COMMIT_COLUMNS row of a commit object (from a PR's commit list or the commit endpoint)."""
    details = commit.get("commit") or {}
    author = details.get("author") or {}
    email = author.get("email") or ""
    return (
        org_id, repository, commit["sha"].lower(), stored_email(email),
        (commit.get("author") or {}).get("login") or "", time_ms(author.get("date")),
        int(has_claude_trailer(details.get("message") or "")), len(commit.get("parents") or []), REST, received_at,
    )


def pull_request_commit_row(org_id: str, repository: str, number: int, sha: str, received_at: int) -> tuple:
    return org_id, repository, number, sha.lower(), received_at


def commit_file_rows(org_id: str, repository: str, sha: str, files: list[dict], received_at: int) -> list[tuple]:
    """COMMIT_FILE_COLUMNS rows: GitHub's counts and the effective added lines of each file's patch."""
    rows = []
    for file in files:
        effective, excluded = effective_lines_added(file["filename"], file.get("patch"))
        rows.append((org_id, repository, sha.lower(), file["filename"], file.get("status") or "",
                     int(file.get("additions") or 0), int(file.get("deletions") or 0), effective, excluded,
                     received_at))
    return rows


def pull_request_fetched_row(org_id: str, repository: str, number: int, head_sha: str, fetched_at: int) -> tuple:
    """The FETCH_COLUMNS row saying a PR's commits were fetched completely at this head."""
    return org_id, repository, PULL_REQUEST_COMMITS, str(number), head_sha, fetched_at


def commit_fetched_row(org_id: str, repository: str, sha: str, fetched_at: int) -> tuple:
    """The FETCH_COLUMNS row saying a commit's files were fetched completely."""
    return org_id, repository, COMMIT_FILES, sha.lower(), "", fetched_at
