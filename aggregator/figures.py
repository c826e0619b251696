"""The figures of the daily rollups, each defined once as an aggregate over activity rows.

Activity rows are what a rollup run reads from the raw tables (see activity.py): a group of metric points with its
`delta` (what its points added: the value for delta temporality, the increase since the series' previous point for
cumulative), or of events with their `event_name`, each with the number of records it holds (`record_count`) and
of those without an email (`record_count_without_email`). The definitions follow the telemetry reference, section 5.
"""

from __future__ import annotations

from dataclasses import dataclass

EDIT_TOOLS = ("Edit", "Write", "NotebookEdit", "MultiEdit")

LINES = "claude_code.lines_of_code.count"
EDIT_DECISION = "claude_code.code_edit_tool.decision"
COMMITS = "claude_code.commit.count"
PULL_REQUESTS = "claude_code.pull_request.count"
TOKENS = "claude_code.token.usage"
COST = "claude_code.cost.usage"
ACTIVE_TIME = "claude_code.active_time.total"

_EDIT_TOOL_LIST = ", ".join(f"'{tool}'" for tool in EDIT_TOOLS)


@dataclass(frozen=True)
class Figure:
    name: str
    aggregate: str  # SQL aggregate over activity rows
    description: str  # what it counts, for users (metric HELP text)
    whole: bool = True  # a count (stored as an integer) rather than an amount such as USD or seconds


# A day's count saturates here rather than wrap its Int64 column: 2^53, exact as a double (JSON readers), and
# 1024 saturated rows still add up within Int64 in a report.
MAX_DAILY_COUNT = 2**53


def _metric(metric: str, condition: str = "1", whole: bool = True) -> str:
    total = f"sumIf(delta, metric_name = '{metric}' AND {condition})"
    # Counts arrive as doubles too (asDouble); their sums are whole numbers, stored exactly as integers.
    return f"toInt64(round(least({total}, {float(MAX_DAILY_COUNT)})))" if whole else total


def _events(name: str) -> str:
    return f"sumIf(record_count, event_name = '{name}')"


# Figures that add up over users and days: the columns shared by daily_user and daily_org, in report order.
SUMMED_FIGURES = (
    Figure("lines_accepted", _metric(LINES, "type = 'added'"),
           "Lines of code added by Claude Code edits the user accepted (lines_of_code.count, type added)."),
    Figure("lines_removed", _metric(LINES, "type = 'removed'"),
           "Lines of code removed by accepted Claude Code edits (lines_of_code.count, type removed)."),
    Figure("edits_accepted", _metric(EDIT_DECISION, f"decision = 'accept' AND tool_name IN ({_EDIT_TOOL_LIST})"),
           "Edit, Write, NotebookEdit and MultiEdit suggestions accepted (code_edit_tool.decision)."),
    Figure("edits_rejected", _metric(EDIT_DECISION, f"decision = 'reject' AND tool_name IN ({_EDIT_TOOL_LIST})"),
           "Edit, Write, NotebookEdit and MultiEdit suggestions rejected (code_edit_tool.decision)."),
    Figure("commits", _metric(COMMITS), "Git commits made through Claude Code (commit.count)."),
    Figure("pull_requests", _metric(PULL_REQUESTS), "Pull requests created through Claude Code (pull_request.count)."),
    Figure("input_tokens", _metric(TOKENS, "type = 'input'"), "Input tokens (token.usage, type input)."),
    Figure("output_tokens", _metric(TOKENS, "type = 'output'"), "Output tokens (token.usage, type output)."),
    Figure("cache_read_tokens", _metric(TOKENS, "type = 'cacheRead'"),
           "Tokens read from the prompt cache (token.usage, type cacheRead)."),
    Figure("cache_creation_tokens", _metric(TOKENS, "type = 'cacheCreation'"),
           "Tokens written to the prompt cache (token.usage, type cacheCreation)."),
    Figure("cost_usd", _metric(COST, whole=False), "Estimated cost in US dollars (cost.usage).", whole=False),
    Figure("active_time_user_seconds", _metric(ACTIVE_TIME, "type = 'user'", whole=False),
           "Seconds the user was interacting (active_time.total, type user).", whole=False),
    Figure("active_time_cli_seconds", _metric(ACTIVE_TIME, "type = 'cli'", whole=False),
           "Seconds Claude Code was working (active_time.total, type cli).", whole=False),
    Figure("prompts", _events("user_prompt"), "Prompts the user submitted (user_prompt events)."),
    Figure("api_requests", _events("api_request"), "Requests to the Claude API (api_request events)."),
    Figure("api_errors", _events("api_error"), "Failed requests to the Claude API (api_error events)."),
    Figure("records", "sum(record_count)", "Metric points and events rolled up."),
    Figure("records_without_email", "sum(record_count_without_email)", "Records that carried no user.email."),
)

# Per model: tokens by type and cost (metrics only; api_request events describe the same requests).
MODEL_FIGURES = tuple(f for f in SUMMED_FIGURES if f.name.endswith("_tokens") or f.name == "cost_usd")

# Per repository and member: what was done in the repository (lines, edits, commits, PRs) and what it cost.
REPOSITORY_FIGURES = tuple(f for f in SUMMED_FIGURES if f.name in (
    "lines_accepted", "lines_removed", "edits_accepted", "edits_rejected", "commits", "pull_requests",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "cost_usd"))

# Per edit tool and language.
EDIT_TOOL_FIGURES = (
    Figure("accepted", _metric(EDIT_DECISION, "decision = 'accept'"), "Edit suggestions accepted."),
    Figure("rejected", _metric(EDIT_DECISION, "decision = 'reject'"), "Edit suggestions rejected."),
)

SESSIONS = "uniqExactIf(session_id, session_id != '')"
SESSION_IDS = "groupUniqArrayIf(session_id, session_id != '')"
ACTIVE_USERS = "uniqExactIf(user_key, user_key != '')"


def accept_rate(accepted: float, rejected: float) -> float | None:
    """Suggestion accept rate: accepted / (accepted + rejected) edit decisions; None when there were none."""
    decided = accepted + rejected
    return accepted / decided if decided else None


def share(part: float, whole: float) -> float | None:
    return part / whole if whole else None
