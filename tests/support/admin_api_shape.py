"""The documented shape of Anthropic's Claude Code Analytics report (GET /v1/organizations/usage_report/claude_code,
platform.claude.com/docs/en/api/admin/usage_report; the Python SDK's ClaudeCodeUsageReport), written once: keys and
types exact, no extra keys. record_shape_problems returns what is wrong with one record, [] for none."""

from __future__ import annotations

import re

PAGE_KEYS = {"data", "has_more", "next_page"}
RECORD_KEYS = {"actor", "core_metrics", "customer_type", "date", "model_breakdown", "organization_id",
               "terminal_type", "tool_actions", "subscription_type", "is_remote"}
ACTORS = {"user_actor": "email_address", "api_actor": "api_key_name"}
CUSTOMER_TYPES = ("api", "subscription")
SUBSCRIPTION_TYPES = ("enterprise", "team", None)
CORE_METRICS = {"commits_by_claude_code", "lines_of_code", "num_sessions", "pull_requests_by_claude_code"}
TOOL_ACTIONS = {"edit_tool", "multi_edit_tool", "write_tool", "notebook_edit_tool"}
TOKENS = {"cache_creation", "cache_read", "input", "output"}
DATE = re.compile(r"\d{4}-\d\d-\d\dT00:00:00Z")


def _count(value) -> bool:
    return type(value) is int and value >= 0


def page_shape_problems(body: dict) -> list[str]:
    problems = [] if set(body) == PAGE_KEYS else [f"page keys {sorted(body)}"]
    if type(body.get("has_more")) is not bool:
        problems.append(f"has_more {body.get('has_more')!r}")
    if not (body.get("next_page") is None if not body.get("has_more") else isinstance(body.get("next_page"), str)):
        problems.append(f"next_page {body.get('next_page')!r} with has_more {body.get('has_more')!r}")
    for number, record in enumerate(body.get("data", ())):
        problems += [f"record {number}: {problem}" for problem in record_shape_problems(record)]
    return problems


def record_shape_problems(record: dict) -> list[str]:
    problems = []
    if set(record) != RECORD_KEYS:
        return [f"keys {sorted(record)}, documented {sorted(RECORD_KEYS)}"]
    if not isinstance(record["date"], str) or not DATE.fullmatch(record["date"]):
        problems.append(f"date {record['date']!r}")
    actor = record["actor"]
    name = ACTORS.get(actor.get("type")) if isinstance(actor, dict) else None
    if name is None or set(actor) != {"type", name} or not isinstance(actor[name], str):
        problems.append(f"actor {actor!r}")
    for key in ("organization_id", "terminal_type"):
        if not isinstance(record[key], str):
            problems.append(f"{key} {record[key]!r}")
    if record["customer_type"] not in CUSTOMER_TYPES:
        problems.append(f"customer_type {record['customer_type']!r}")
    if record["subscription_type"] not in SUBSCRIPTION_TYPES:
        problems.append(f"subscription_type {record['subscription_type']!r}")
    if type(record["is_remote"]) is not bool:
        problems.append(f"is_remote {record['is_remote']!r}")
    core = record["core_metrics"]
    if not isinstance(core, dict) or set(core) != CORE_METRICS or not isinstance(core["lines_of_code"], dict) \
            or set(core["lines_of_code"]) != {"added", "removed"} \
            or not all(map(_count, (core["num_sessions"], core["commits_by_claude_code"],
                                    core["pull_requests_by_claude_code"], *core["lines_of_code"].values()))):
        problems.append(f"core_metrics {core!r}")
    tools = record["tool_actions"]
    if not isinstance(tools, dict) or set(tools) != TOOL_ACTIONS or not all(
            isinstance(counts, dict) and set(counts) == {"accepted", "rejected"} and all(map(_count, counts.values()))
            for counts in tools.values()):
        problems.append(f"tool_actions {tools!r}")
    if not isinstance(record["model_breakdown"], list):
        return problems + [f"model_breakdown {record['model_breakdown']!r}"]
    for model in record["model_breakdown"]:
        cost = model.get("estimated_cost") if isinstance(model, dict) else None
        tokens = model.get("tokens") if isinstance(model, dict) else None
        if set(model) != {"estimated_cost", "model", "tokens"} or not isinstance(model["model"], str) \
                or not isinstance(tokens, dict) or set(tokens) != TOKENS or not all(map(_count, tokens.values())) \
                or not isinstance(cost, dict) or set(cost) != {"amount", "currency"} or cost["currency"] != "USD" \
                or type(cost["amount"]) not in (int, float) or cost["amount"] < 0:
            problems.append(f"model_breakdown entry {model!r}")
    return problems
