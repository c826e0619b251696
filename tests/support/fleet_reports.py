"""The fleet's reports as a client reads them from a running serve, and their differences from the fleet's ground
truth (tests/support/fleet_truth.py): the daily report, the users report (JSON and CSV) and the Admin-API-shaped
usage report. Shared by the fleet test and the hostile-tenant test, which reads each org with its own token."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timezone

import pytest

from tests.support.fleet import Fleet
from tests.support.fleet_truth import AMOUNT_FIGURES, VALUE_RATIOS, GroundTruth, Tally

# The figures of a repository row (aggregator/figures.py's REPOSITORY_FIGURES, as the README lists them).
REPOSITORY_FIGURES = ("lines_accepted", "lines_removed", "edits_accepted", "edits_rejected", "commits",
                      "pull_requests", "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
                      "cost_usd")

TOOL_ACTIONS = {"Edit": "edit_tool", "MultiEdit": "multi_edit_tool", "Write": "write_tool",
                "NotebookEdit": "notebook_edit_tool"}
ADMIN_TOKENS = {"input_tokens": "input", "output_tokens": "output", "cache_read_tokens": "cache_read",
                "cache_creation_tokens": "cache_creation"}


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


# The API, as a client sees it.

def api_get(serve, path: str, **params) -> dict:
    return json.loads(serve.api("GET", path, **params))


def aggregate(serve, fleet: Fleet) -> None:
    serve.api("POST", "/api/v1/aggregate", **{"from": f"{fleet.days[0]}", "to": f"{fleet.days[-1]}"})


def daily_rows(serve, fleet: Fleet, **filters) -> list[dict]:
    return api_get(serve, "/api/v1/daily", **{"from": f"{fleet.days[0]}", "to": f"{fleet.days[-1]}"},
                   **filters)["data"]


def months(fleet: Fleet) -> list[str]:
    return sorted({f"{day:%Y-%m}" for day in fleet.days})


def usage_report(serve, day: date, limit: int = 3) -> list[dict]:
    """Every record of one day, following the pages."""
    records, page = [], None
    while True:
        reply = api_get(serve, "/v1/organizations/usage_report/claude_code", starting_at=f"{day}", limit=limit,
                        page=page)
        records += reply["data"]
        if not reply["has_more"]:
            return records
        page = reply["next_page"]


def snapshot(serve, fleet: Fleet) -> dict:
    """Every report the API gives over the fleet's range."""
    return {"daily": daily_rows(serve, fleet),
            "users": {month: api_get(serve, "/api/v1/users", month=month) for month in months(fleet)},
            "admin": {f"{day}": usage_report(serve, day, limit=1000) for day in fleet.days}}


# Expected figures, from the fleet's ground truth.

def accept_rate(tally: Tally) -> float | None:
    decided = tally.figures["edits_accepted"] + tally.figures["edits_rejected"]
    return tally.figures["edits_accepted"] / decided if decided else None


# Figures that are quotients: equal to within float rounding.
RATIOS = ("accept_rate", "share_without_email", "top_decile_share", "top10_share", *VALUE_RATIOS)


def same(actual, expected, field: str) -> bool:
    """Counts exactly equal (and JSON integers); amounts and ratios to within float rounding."""
    if expected is None or actual is None:
        return actual is expected
    if field in AMOUNT_FIGURES or field in RATIOS:
        return actual == pytest.approx(expected, rel=1e-9, abs=1e-12)
    if isinstance(expected, str):
        return actual == expected
    return type(actual) is int and actual == expected


def differences(where: str, actual: dict, expected: dict) -> list[str]:
    return [f"{where} {field}: API {actual.get(field)!r}, fleet sent {value!r}"
            for field, value in expected.items() if not same(actual.get(field), value, field)]


def expected_daily_row(tally: Tally) -> dict:
    return {**tally.figures, "active_users": len(tally.users), "sessions": len(tally.sessions),
            "accept_rate": accept_rate(tally), "records": tally.records,
            "records_without_email": tally.records_without_email,
            "share_without_email": tally.records_without_email / tally.records}


def daily_differences(rows: list[dict], expected: dict[tuple[date, str], Tally]) -> list[str]:
    keys = [(row["date"], row["org_id"]) for row in rows]
    wanted = sorted((f"{day}", org) for day, org in expected)
    if keys != wanted:
        return [f"daily rows (date, org) {keys} != fleet's {wanted}"]
    return [problem for row, (day, org) in zip(rows, sorted(expected))
            for problem in differences(f"daily {day} {org}", row, expected_daily_row(expected[(day, org)]))]


def expected_user_row(tally: Tally, member) -> dict:
    return {**tally.figures, "team": member.team, "days_active": len(tally.days), "sessions": len(tally.sessions),
            "accept_rate": accept_rate(tally)}


def users_differences(rows: list[dict], truth: GroundTruth, month: str) -> list[str]:
    expected, members = truth.users(month), truth.members()
    actual = {(row["org_id"], row["user_key"]): row for row in rows}
    if set(actual) != set(expected) or len(rows) != len(actual):
        return [f"users {month}: rows for {sorted(actual)} (of {len(rows)}), fleet's users {sorted(expected)}"]
    lines = [row["lines_accepted"] for row in rows]
    problems = [] if lines == sorted(lines, reverse=True) else [f"users {month}: not by lines_accepted descending"]
    for key, tally in expected.items():
        member = members[key]
        if (actual[key]["email"] or "") != member.email:
            problems.append(f"users {month} {key} email: {actual[key]['email']!r}, fleet sent {member.email!r}")
        problems += differences(f"users {month} {key}", actual[key], expected_user_row(tally, member))
    return problems


def csv_differences(text: str, truth: GroundTruth, month: str) -> list[str]:
    """The CSV download: lines accepted per email (users without one: at least the column's values)."""
    assert text.startswith("email,lines_accepted"), text[:200]
    rows = list(csv.DictReader(io.StringIO(text)))
    expected, members = truth.users(month), truth.members()
    sent = {members[key].email: tally.figures["lines_accepted"] for key, tally in expected.items()}
    listed = {row["email"]: int(row["lines_accepted"]) for row in rows}
    problems = [f"csv {month} {email}: {listed.get(email)} lines accepted, fleet sent {lines}"
                for email, lines in sent.items() if email and listed.get(email) != lines]
    if sorted(map(int, (row["lines_accepted"] for row in rows))) != sorted(t.figures["lines_accepted"]
                                                                          for t in expected.values()):
        problems.append(f"csv {month}: lines_accepted column {[row['lines_accepted'] for row in rows]}")
    return problems


def expected_usage_record(day: date, member, tally: Tally, is_remote: bool, subscription_type: str | None) -> dict:
    actor = ({"type": "user_actor", "email_address": member.email} if member.email
             else {"type": "api_actor", "api_key_name": member.user_key})
    tools = {action: {"accepted": tally.by_tool.get(tool, {}).get("edits_accepted", 0),
                      "rejected": tally.by_tool.get(tool, {}).get("edits_rejected", 0)}
             for tool, action in TOOL_ACTIONS.items()}
    # A model the member used on an earlier day, still exported that day without any increase, is not listed.
    models = {model: {"tokens": {ADMIN_TOKENS[name]: int(figures.get(name, 0)) for name in ADMIN_TOKENS},
                      "cents": figures.get("cost_usd", 0) * 100}
              for model, figures in tally.by_model.items() if any(figures.values())}
    return {"date": f"{day}", "actor": actor, "organization_id": member.org_id, "terminal_type": member.terminal_type,
            "is_remote": is_remote, "subscription_type": subscription_type,
            "core_metrics": {"num_sessions": len(tally.sessions),
                             "lines_of_code": {"added": tally.figures["lines_accepted"],
                                               "removed": tally.figures["lines_removed"]},
                             "commits_by_claude_code": tally.figures["commits"],
                             "pull_requests_by_claude_code": tally.figures["pull_requests"]},
            "tool_actions": tools, "models": models}


def cents(amount: float):
    """An Admin-API amount in cents: rounded to millionths of a cent by the endpoint, so within one."""
    return pytest.approx(amount, rel=1e-9, abs=1e-6)


def model_breakdown(record: dict) -> dict[str, dict]:
    """A usage record's models: model -> tokens and cents."""
    return {entry["model"]: {"tokens": entry["tokens"], "cents": entry["estimated_cost"]["amount"]}
            for entry in record["model_breakdown"]}


def usage_record_differences(where: str, got: dict, want: dict) -> list[str]:
    problems = []
    if got["date"] not in (want["date"], f"{want['date']}T00:00:00Z"):  # RFC 3339, as Anthropic's API has it
        problems.append(f"{where} date: {got['date']}")
    for field in ("actor", "organization_id", "terminal_type", "is_remote", "subscription_type", "core_metrics",
                  "tool_actions"):
        if got.get(field) != want[field]:
            problems.append(f"{where} {field}: {got.get(field)}, fleet sent {want[field]}")
    models = model_breakdown(got)
    if {model: figures["tokens"] for model, figures in models.items()} != {
            model: figures["tokens"] for model, figures in want["models"].items()} or any(
            models[model]["cents"] != cents(figures["cents"]) for model, figures in want["models"].items()):
        problems.append(f"{where} model_breakdown: {models}, fleet sent {want['models']}")
    if any(entry["estimated_cost"]["currency"] != "USD" for entry in got["model_breakdown"]):
        problems.append(f"{where}: a currency other than USD")
    if got["customer_type"] not in ("api", "subscription"):
        problems.append(f"{where} customer_type: {got['customer_type']!r}")
    return problems


def usage_differences(records: list[dict], truth: GroundTruth, day: date, actors: dict[tuple[str, str, bool], Tally],
                      tiers: dict[tuple[date, str, str], str | None]) -> list[str]:
    """One day of the Admin-API-shaped report: one record per actor and is_remote, each figure as the fleet sent
    it, the member-day's subscription_type on both (actors and tiers: the truth's actors() of the day and its
    subscription_types(), computed once for every day)."""
    expected, members = actors, truth.members()
    actual = {(record["organization_id"], record["actor"].get("email_address") or record["actor"].get("api_key_name"),
               record["is_remote"]): record for record in records}
    if set(actual) != set(expected) or len(records) != len(actual):
        return [f"usage report {day}: actors {sorted(actual)} (of {len(records)}), fleet's {sorted(expected)}"]
    return [problem for (org, key, is_remote), tally in expected.items()
            for problem in usage_record_differences(
                f"usage report {day} {(org, key, is_remote)}", actual[(org, key, is_remote)],
                expected_usage_record(day, members[(org, key)], tally, is_remote, tiers[(day, org, key)]))]


def span(fleet: Fleet) -> dict:
    return {"from": f"{fleet.days[0]}", "to": f"{fleet.days[-1]}"}


def expected_repository_row(org: str, repository: str, tally: Tally) -> dict:
    return {"org_id": org, "repository": repository,
            **{figure: tally.figures[figure] for figure in REPOSITORY_FIGURES}, "sessions": len(tally.sessions),
            "members": len(tally.users), "accept_rate": accept_rate(tally)}


def repository_differences(serve, fleet: Fleet, truth: GroundTruth) -> list[str]:
    """GET /api/v1/repositories over the fleet's range, JSON and CSV, and for one team: per (org, repository
    lower-cased, '' where none was sent) every figure as the fleet sent it, lines accepted first."""
    problems = []
    for team in (None, "payments"):
        rows = api_get(serve, "/api/v1/repositories", **span(fleet), **({"team": team} if team else {}))["data"]
        expected = truth.in_days(fleet.days[0], fleet.days[-1], team).repositories()
        keys = [(row["org_id"], row["repository"]) for row in rows]
        if sorted(keys) != sorted(expected) or len(set(keys)) != len(keys):
            problems.append(f"repositories team={team}: rows {keys}, fleet's {sorted(expected)}")
            continue
        if keys != sorted(keys, key=lambda key: (-expected[key].figures["lines_accepted"], *key)):
            problems.append(f"repositories team={team}: not by lines accepted descending, then org and name")
        for row, key in zip(rows, keys):
            problems += differences(f"repositories team={team} {key}", row, expected_repository_row(
                *key, expected[key]))
    rows = api_get(serve, "/api/v1/repositories", **span(fleet))["data"]
    text = serve.api("GET", "/api/v1/repositories", **span(fleet), format="csv").decode()
    listed = list(csv.DictReader(io.StringIO(text)))
    # the CSV writer's cells: null empty, numbers as Python prints them (the fleet's names start with no formula)
    as_text = [{column: "" if value is None else f"{value}" for column, value in row.items()} for row in rows]
    if listed != as_text:
        problems.append(f"repositories csv: {listed[:3]}..., JSON {as_text[:3]}...")
    return problems


def tool_usage_differences(serve, fleet: Fleet, truth: GroundTruth) -> list[str]:
    """The usage report's `tool` kind per member: each tool's calls, successes, failures and duration as the
    fleet's tool_result events told them; no cost or tokens (nothing attributes a request to a tool)."""
    rows = api_get(serve, "/api/v1/usage", kind="tool", group="user", **span(fleet))["data"]
    expected = truth.in_days(fleet.days[0], fleet.days[-1]).tools()
    actual = {(row["org_id"], row["user_key"], row["name"]): row for row in rows}
    if set(actual) != set(expected) or len(actual) != len(rows) or {row["kind"] for row in rows} != {"tool"}:
        return [f"usage tool: rows {sorted(actual)}, fleet's {sorted(expected)}"]
    problems = []
    for key, calls in expected.items():
        row = actual[key]
        if {figure: row[figure] for figure in calls} != calls or row["cost_usd"] or row["input_tokens"]:
            problems.append(f"usage tool {key}: {row}, fleet sent {calls}")
        if row["success_rate"] != calls["successes"] / calls["uses"]:
            problems.append(f"usage tool {key} success_rate: {row['success_rate']}")
    return problems


def value_differences(serve, fleet: Fleet, truth: GroundTruth) -> list[str]:
    """GET /api/v1/value over the fleet's range and for one team: every sum, ratio, the spend concentration and
    the top spenders as the fleet's records add up (no contribution rows: nothing merged with Claude Code)."""
    problems = []
    for team in (None, "payments"):
        rows = api_get(serve, "/api/v1/value", **span(fleet), **({"team": team} if team else {}))["data"]
        expected = truth.in_days(fleet.days[0], fleet.days[-1], team).value()
        if [row["org_id"] for row in rows] != sorted(expected):
            problems.append(f"value team={team}: orgs {[row['org_id'] for row in rows]}, fleet's {sorted(expected)}")
            continue
        for row in rows:
            want = dict(expected[row["org_id"]])
            spenders = want.pop("top_spenders")
            problems += differences(f"value team={team} {row['org_id']}", row, want)
            got = [(spender["user_key"], spender["share"]) for spender in row["top_spenders"]]
            if [key for key, _ in got] != [key for key, _ in spenders] or any(
                    share != pytest.approx(wanted, rel=1e-9) for (_, share), (_, wanted) in zip(got, spenders)):
                problems.append(f"value team={team} {row['org_id']} top_spenders: {got}, fleet's {spenders}")
    return problems


def filter_differences(serve, fleet: Fleet) -> list[str]:
    """The users report's q (case-insensitive, on user key and email) and org filters; the usage report's org."""
    truth, month, day = fleet.truth, months(fleet)[-1], fleet.days[-1]
    problems = []
    for filters, wanted in ((dict(q="GLOBEX.example"), lambda org, key: "globex.example" in key),
                            (dict(org="org-initech"), lambda org, key: org == "org-initech")):
        rows = api_get(serve, "/api/v1/users", month=month, **filters)["data"]
        keys = {(row["org_id"], row["user_key"]) for row in rows}
        expected = {key for key in truth.users(month) if wanted(*key)}
        if keys != expected or not expected:
            problems.append(f"users {month} {filters}: {sorted(keys)}, fleet's {sorted(expected)}")
    records = api_get(serve, "/v1/organizations/usage_report/claude_code", starting_at=f"{day}", org="org-acme")["data"]
    if {record["organization_id"] for record in records} != {"org-acme"}:
        problems.append(f"usage report {day} org=org-acme: {[record['organization_id'] for record in records]}")
    return problems


def report_differences(serve, fleet: Fleet, truth: GroundTruth) -> list[str]:
    """Every report over the fleet's range, as this client reads it, against truth (all of the fleet's, or one
    org's when the client holds that org's token)."""
    problems = daily_differences(daily_rows(serve, fleet), truth.daily())
    problems += daily_differences(daily_rows(serve, fleet, team="payments"), truth.daily(team="payments"))
    for month in months(fleet):
        problems += users_differences(api_get(serve, "/api/v1/users", month=month)["data"], truth, month)
        problems += csv_differences(serve.api("GET", "/api/v1/users", month=month, format="csv").decode(),
                                    truth, month)
    actors, tiers = truth.actors(), truth.subscription_types()
    for day in fleet.days:
        problems += usage_differences(usage_report(serve, day), truth, day, actors.get(day, {}), tiers)
    problems += repository_differences(serve, fleet, truth)
    problems += tool_usage_differences(serve, fleet, truth)
    return problems + value_differences(serve, fleet, truth)


def all_differences(serve, fleet: Fleet) -> list[str]:
    """Every report over the fleet's range against the fleet's ground truth, and the org, team and search filters."""
    truth = fleet.truth
    problems = report_differences(serve, fleet, truth)
    problems += daily_differences(daily_rows(serve, fleet, org="org-globex"),
                                  {key: tally for key, tally in truth.daily().items() if key[1] == "org-globex"})
    return problems + filter_differences(serve, fleet)


def assert_reports_equal_what_was_sent(serve, fleet: Fleet) -> None:
    problems = all_differences(serve, fleet)
    assert not problems, f"{len(problems)} differences:\n" + "\n".join(problems[:60])
