"""The Usage tab of the analytics page in a real Chromium against the usage fleet (tests/support/usage_fleet.py:
skills, MCP servers and tools, agents, tools, hooks, commands, plugins through the official OpenTelemetry
exporters): every row of each kind's table equals what the fleet's own bookkeeping adds up to; the member picker
narrows the tables to that member's own use. Screenshots under test-output/page/."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.support.fleet_reports import utc_today
from tests.support.page_browser import PageSession
from tests.support.serve_process import ServeProcess
from tests.support.usage_fleet import UsageFleet

pytestmark = pytest.mark.slow

KINDS = ("skill", "mcp_server", "mcp_tool", "agent", "tool", "command", "plugin", "hook")


def whole(value: float) -> str:
    return f"{round(value):,}"


def percent(successes: float, failures: float) -> str:
    decided = successes + failures
    return f"{successes / decided * 100:.1f}%" if decided else "\u2014"


def expected_tables(fleet: UsageFleet, user_key: str | None = None) -> dict[str, list[dict]]:
    """Per kind, its rows as printed: per (org, name) the uses, members, success rate and cost the fleet sent."""
    sums: dict[tuple, dict] = defaultdict(lambda: {"uses": 0, "successes": 0, "failures": 0, "cost_usd": 0.0,
                                                   "members": set()})
    for (_, org, key, kind, name), figures in fleet.usage.rows.items():
        if kind in KINDS and user_key in (None, key):
            row = sums[(kind, org, name)]
            for figure in ("uses", "successes", "failures", "cost_usd"):
                row[figure] += figures[figure]
            row["members"].add(key)
    tables: dict[str, list[dict]] = defaultdict(list)
    for (kind, org, name), row in sums.items():
        printed = {"name": name, "org_id": org, "uses": whole(row["uses"]),
                   "success_rate": percent(row["successes"], row["failures"]), "cost_usd": f"${row['cost_usd']:,.2f}"}
        if user_key is None:
            printed["members"] = whole(len(row["members"]))
        tables[kind].append(printed)
    return dict(tables)


@pytest.fixture(scope="module")
def usage_serve(tmp_path_factory):
    serve = ServeProcess(tmp_path_factory.mktemp("page-usage") / "data", ("--aggregate-interval", "0")).start()
    try:
        fleet = UsageFleet(today=utc_today())
        fleet.send(serve)
        serve.api("POST", "/api/v1/aggregate", **{"from": f"{fleet.days[0]}", "to": f"{fleet.days[-1]}"})
        yield serve, fleet
    finally:
        serve.stop()


def usage_tables(session: PageSession) -> dict[str, list[dict]]:
    return {kind: session.rows(f"usage-{kind}") for kind in KINDS
            if session.page.locator(f"#usage-{kind}").count()}


def test_usage_tables_equal_what_the_fleet_sent(browser, usage_serve):
    serve, fleet = usage_serve
    session = PageSession(browser, serve)
    try:
        session.open({"tab": "usage", "from": f"{fleet.days[0]}", "to": f"{fleet.days[-1]}"})
        expected = expected_tables(fleet)
        assert set(expected) >= {"skill", "mcp_server", "agent", "tool"}, "the fleet should use each kind"
        shown = usage_tables(session)
        assert set(shown) == set(expected)
        for kind, rows in expected.items():
            assert sorted(shown[kind], key=str) == sorted(rows, key=str), kind
        session.screenshot("usage-fleet-1280")

        member = next(m for m in fleet.members if m.email)
        session.after(lambda: session.page.select_option("select[name=member]", member.user_key))
        assert session.state()["member"] == member.user_key
        mine = expected_tables(fleet, member.user_key)
        shown = usage_tables(session)
        assert set(shown) == set(mine)
        for kind, rows in mine.items():
            assert sorted(shown[kind], key=str) == sorted(rows, key=str), kind
        assert session.hosts() <= {"127.0.0.1"} and not session.errors
    finally:
        session.close()
