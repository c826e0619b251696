"""The github_* tables and the order of the columns their rows fill; migrations/0007_github.sql holds their DDL."""

DELIVERY_COLUMNS = ("org_id", "delivery_id", "event", "action", "repository", "received_at")

PULL_REQUEST_COLUMNS = (
    "org_id", "repository", "number", "pr_id", "author_login", "author_id", "state", "draft", "merged",
    "created_at", "updated_at", "closed_at", "merged_at", "merge_commit_sha", "head_sha", "head_ref", "base_ref",
    "body_marker", "labels", "additions", "deletions", "changed_files", "commits", "source", "received_at",
)

COMMIT_COLUMNS = ("org_id", "repository", "sha", "author_email", "author_login", "authored_at", "claude_trailer",
                  "parents", "source", "received_at")

BRANCH_COMMIT_COLUMNS = ("org_id", "repository", "ref", "sha", "received_at")

PULL_REQUEST_COMMIT_COLUMNS = ("org_id", "repository", "number", "sha", "received_at")

COMMIT_FILE_COLUMNS = ("org_id", "repository", "sha", "path", "status", "additions", "deletions",
                       "effective_lines_added", "excluded", "received_at")

REVIEW_COLUMNS = ("org_id", "repository", "number", "review_id", "reviewer_login", "state", "submitted_at",
                  "received_at")

FETCH_COLUMNS = ("org_id", "repository", "kind", "ref", "head_sha", "fetched_at")

GITHUB_TABLE_COLUMNS = {
    "github_deliveries": DELIVERY_COLUMNS,
    "github_pull_requests": PULL_REQUEST_COLUMNS,
    "github_commits": COMMIT_COLUMNS,
    "github_branch_commits": BRANCH_COMMIT_COLUMNS,
    "github_pull_request_commits": PULL_REQUEST_COMMIT_COLUMNS,
    "github_commit_files": COMMIT_FILE_COLUMNS,
    "github_pull_request_reviews": REVIEW_COLUMNS,
    "github_fetches": FETCH_COLUMNS,
}

# The kinds of github_fetches rows.
PULL_REQUEST_COMMITS = "pull_request_commits"
COMMIT_FILES = "commit_files"
