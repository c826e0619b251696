"""The analytics page at / of a real serve, in a real Chromium (Playwright from PyPI), against the ground-truth
fleet (tests/support/fleet.py, sent through the official OpenTelemetry exporters): every card and member cell
equals what the fleet sent; search narrows the table; sort and paging work; Export downloads the API's CSV byte for
byte; tab, team and date changes redraw the figures and land in the URL, and a bookmarked URL restores the view;
a store without data shows the claude-env block of this serve; no request leaves 127.0.0.1. Screenshots of each
tab, at 1280 px and 375 px, are written under test-output/page/ on every run."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

import pytest

from tests.support.command_line import run
from tests.support.fleet import Fleet
from tests.support.fleet_reports import accept_rate, utc_today
from tests.support.fleet_truth import GroundTruth, Tally
from tests.support.page_browser import PHONE, PageSession
from tests.support.serve_process import ServeProcess

pytestmark = pytest.mark.slow


# The fleet's truth as the page must print it: thousands separators, one decimal of a percent, US dollars.

def whole(value: float) -> str:
    return f"{round(value):,}"


def percent(ratio: float | None) -> str:
    return "\u2014" if ratio is None else f"{ratio * 100:.1f}%"


def usd(amount: float) -> str:
    return f"${amount:,.2f}"


def records_between(truth: GroundTruth, first: date, last: date, team: str | None = None, org: str | None = None):
    return [r for r in truth.records
            if first <= r.day <= last and team in (None, r.member.team) and org in (None, r.member.org_id)]


def tally_of(records) -> Tally:
    tally = Tally()
    for record in records:
        tally.add(record)
    return tally


def expected_cards(truth: GroundTruth, first: date, last: date, team: str | None = None,
                   org: str | None = None) -> dict[str, str]:
    """Lines and accept rate over the range; members and sessions distinct per org over the range, summed."""
    records = records_between(truth, first, last, team, org)
    everything = tally_of(records)
    per_org = [tally_of([r for r in records if r.member.org_id == org]) for org in {r.member.org_id for r in records}]
    return {"lines_accepted": whole(everything.figures["lines_accepted"]),
            "accept_rate": percent(accept_rate(everything)),
            "active_members": whole(sum(len(tally.users) for tally in per_org)),
            "sessions": whole(sum(len(tally.sessions) for tally in per_org))}


def expected_members(truth: GroundTruth, month: str, team: str | None = None) -> list[dict[str, str]]:
    """The members table's rows, as printed, in the API's order (lines accepted descending)."""
    members = truth.members()
    rows = []
    for key, tally in truth.users(month).items():
        member = members[key]
        if team not in (None, member.team):
            continue
        rows.append({"member": member.email or member.user_key, "team": member.team, "org_id": member.org_id,
                     "lines_accepted": whole(tally.figures["lines_accepted"]), "accept_rate": percent(accept_rate(tally)),
                     "sessions": whole(len(tally.sessions)), "cost_usd": usd(tally.figures["cost_usd"]),
                     "_lines": tally.figures["lines_accepted"]})
    return rows


def shown(rows: list[dict]) -> list[dict]:
    return [{key: value for key, value in row.items() if not key.startswith("_")} for row in rows]


@pytest.fixture(scope="module")
def fleet_serve(tmp_path_factory):
    work = tmp_path_factory.mktemp("page")
    fleet = Fleet(today=utc_today())
    serve = ServeProcess(work / "data", ("--aggregate-interval", "0")).start()
    try:
        for phase in Fleet.PHASES:
            fleet.send(phase, serve)
        serve.api("POST", "/api/v1/aggregate", **{"from": f"{fleet.days[0]}", "to": f"{fleet.days[-1]}"})
        yield serve, fleet
    finally:
        serve.stop()


@pytest.fixture
def session(browser, fleet_serve):
    page = PageSession(browser, fleet_serve[0])
    yield page
    page.close()
    assert page.hosts() <= {"127.0.0.1"}, f"requests left 127.0.0.1: {sorted(set(page.requested))}"
    assert not page.errors, page.errors


def fleet_view(fleet: Fleet) -> tuple[date, date, str]:
    """The fleet's days up to the end of its busiest month: the members table shows that month."""
    busiest = Counter(f"{day:%Y-%m}" for day in fleet.days).most_common(1)[0][0]
    last = max(day for day in fleet.days if f"{day:%Y-%m}" == busiest)
    return fleet.days[0], last, busiest


def test_cards_and_members_table_equal_what_the_fleet_sent(session, fleet_serve):
    _, fleet = fleet_serve
    first, last, month = fleet_view(fleet)
    session.open({"from": f"{first}", "to": f"{last}", "per": "100"})
    for figure, text in expected_cards(fleet.truth, first, last).items():
        assert session.card(figure) == text, figure
    expected = expected_members(fleet.truth, month)
    rows = session.rows("members")
    assert sorted(rows, key=str) == sorted(shown(expected), key=str)
    lines = [int(row["lines_accepted"].replace(",", "")) for row in rows]
    assert lines == sorted(lines, reverse=True)
    assert session.page.inner_text("#members-range") == f"1\u2013{len(expected)} of {len(expected)}"
    assert "Last record received 20" in session.page.inner_text("#freshness")
    assert "last rollup 20" in session.page.inner_text("#freshness")
    assert session.page.is_hidden("#empty-state")
    session.screenshot("productivity-1280")


def test_search_narrows_the_table_and_export_downloads_the_apis_csv(session, fleet_serve):
    serve, fleet = fleet_serve
    first, last, month = fleet_view(fleet)
    session.open({"from": f"{first}", "to": f"{last}", "per": "100"})
    with session.page.expect_download() as everything:
        session.page.click("#export")
    assert everything.value.path().read_bytes() == serve.api("GET", "/api/v1/users", month=month, format="csv")
    assert everything.value.suggested_filename == f"cc-analytics-users-{month}.csv"

    session.after(lambda: session.page.fill("#member-search", "ACME"))
    assert session.state()["q"] == "ACME"
    wanted = [row for row in shown(expected_members(fleet.truth, month)) if "acme" in row["member"].lower()]
    assert wanted and sorted(session.rows("members"), key=str) == sorted(wanted, key=str)
    with session.page.expect_download() as searched:
        session.page.click("#export")
    assert searched.value.path().read_bytes() == serve.api("GET", "/api/v1/users", month=month, q="ACME",
                                                           format="csv")


def test_sort_and_paging(session, fleet_serve):
    _, fleet = fleet_serve
    first, last, month = fleet_view(fleet)
    expected = expected_members(fleet.truth, month)
    assert len(expected) > 5, "the fleet should have members enough for two pages of 5"
    session.open({"from": f"{first}", "to": f"{last}", "per": "5", "sort": "member", "dir": "asc"})
    names = sorted((row["member"] for row in expected), key=str.casefold)
    assert session.column("members", "member") == names[:5]
    session.page.click("th button[data-sort=member]")
    assert session.column("members", "member") == names[::-1][:5]
    assert session.state()["sort"] == "member" and "dir" not in session.state()  # descending: the default

    session.open({"from": f"{first}", "to": f"{last}", "per": "5"})
    by_lines = [row["_lines"] for row in sorted(expected, key=lambda row: row["_lines"])]
    session.page.focus("th button[data-sort=lines_accepted]")
    session.page.keyboard.press("Enter")  # the keyboard sorts too: lines accepted, ascending now
    assert lines_shown(session) == by_lines[:5]
    assert session.state()["dir"] == "asc"
    session.page.click("#members-pager button[data-page=next]")
    assert session.state()["page"] == "2"
    assert lines_shown(session) == by_lines[5:10]
    assert session.page.inner_text("#members-range") == f"6\u2013{min(10, len(expected))} of {len(expected)}"


def lines_shown(session) -> list[int]:
    return [int(text.replace(",", "")) for text in session.column("members", "lines_accepted")]


def test_paging_walks_every_member_once(browser, fleet_serve):
    serve, fleet = fleet_serve
    first, last, month = fleet_view(fleet)
    session = PageSession(browser, serve)
    try:
        expected = expected_members(fleet.truth, month)
        session.open({"from": f"{first}", "to": f"{last}", "per": "5"})
        seen, pages = [], 0
        while True:
            seen += session.column("members", "member")
            pages += 1
            following = session.page.locator("#members-pager button[data-page=next]")
            if following.is_disabled():
                break
            following.click()
        assert pages == -(-len(expected) // 5)
        assert sorted(seen) == sorted(row["member"] for row in expected)
    finally:
        session.close()


def test_tab_team_and_date_changes_redraw_and_land_in_the_url(session, fleet_serve):
    _, fleet = fleet_serve
    first, last, month = fleet_view(fleet)
    session.open({"from": f"{first}", "to": f"{last}"})
    session.after(lambda: session.page.select_option("select[name=team]", "payments"))
    assert session.state()["team"] == "payments"
    for figure, text in expected_cards(fleet.truth, first, last, "payments").items():
        assert session.card(figure) == text, figure
    assert {row["team"] for row in session.rows("members")} == {"payments"}

    later = fleet.days[-7]
    session.after(lambda: session.page.fill("input[name=from]", f"{later}"))
    assert session.state()["from"] == f"{later}"
    for figure, text in expected_cards(fleet.truth, later, last, "payments").items():
        assert session.card(figure) == text, figure

    session.after(lambda: session.page.click("#tab-value"))
    assert session.state()["tab"] == "value"
    assert session.page.is_visible("#panel-value") and session.page.is_hidden("#panel-productivity")
    cost = sum(r.amount for r in records_between(fleet.truth, later, last, "payments") if r.figure == "cost_usd")
    assert session.card("cost_usd") == usd(cost)
    session.screenshot("value-1280")
    session.after(lambda: session.page.click("#tab-usage"))
    assert session.state()["tab"] == "usage" and session.page.is_visible("#panel-usage")
    session.screenshot("usage-1280")

    bookmarked = dict(session.state())
    session.page.go_back()
    session.page.wait_for_function("() => !document.body.classList.contains('loading')")
    assert session.state()["tab"] == "value"
    session.open(bookmarked)  # a bookmark restores the view
    assert session.page.is_visible("#panel-usage")
    assert session.page.input_value("select[name=team]") == "payments"
    assert session.page.input_value("input[name=from]") == f"{later}"


def test_readable_on_a_phone(browser, fleet_serve):
    serve, fleet = fleet_serve
    first, last, _ = fleet_view(fleet)
    session = PageSession(browser, serve, viewport=PHONE)
    try:
        for tab in ("productivity", "usage", "value"):
            session.open({"from": f"{first}", "to": f"{last}", "tab": tab})
            width = session.page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{tab}: the page is {width} px wide on a {PHONE['width']} px phone"
            session.screenshot(f"{tab}-375")
        assert session.hosts() <= {"127.0.0.1"}
    finally:
        session.close()


def test_the_organization_picker_narrows_every_figure(session, fleet_serve):
    _, fleet = fleet_serve
    first, last, month = fleet_view(fleet)
    session.open({"from": f"{first}", "to": f"{last}", "per": "100"})
    orgs = sorted({member.org_id for member in fleet.members})
    assert session.page.is_visible("#org-picker")
    assert session.page.locator("select[name=org] option").all_inner_texts() == ["All organizations", *orgs]
    session.after(lambda: session.page.select_option("select[name=org]", "org-globex"))
    assert session.state()["org"] == "org-globex"
    for figure, text in expected_cards(fleet.truth, first, last, org="org-globex").items():
        assert session.card(figure) == text, figure
    wanted = [{k: v for k, v in row.items() if k != "org_id"} for row in shown(expected_members(fleet.truth, month))
              if row["org_id"] == "org-globex"]
    assert sorted(session.rows("members"), key=str) == sorted(wanted, key=str)  # one org: no org column


def test_an_empty_store_shows_the_claude_env_block_of_this_serve(browser, serve_factory):
    serve = serve_factory("--aggregate-interval", "0", "--timezone", "Europe/Berlin")
    session = PageSession(browser, serve)
    try:
        session.open()
        assert session.page.is_visible("#empty-state")
        printed = run("claude-env", "--grpc-port", str(serve.grpc_port), "--http-port", str(serve.http_port))
        assert printed.returncode == 0, printed.stderr
        assert session.page.inner_text("#claude-env") == printed.stdout.rstrip("\n")
        assert session.card("lines_accepted") == "0"
        assert "Last record received never" in session.page.inner_text("#freshness")
        assert session.page.inner_text("#time-zone") == "Europe/Berlin"
        assert not session.page.is_visible("#org-picker")
        session.screenshot("empty-1280")
        assert session.hosts() <= {"127.0.0.1"} and not session.errors
    finally:
        session.close()


def test_a_401_offers_the_sign_in_page(browser, serve_factory, tmp_path):
    (tmp_path / "tokens").write_text("* " + "a" * 32 + "\n")
    serve = serve_factory("--aggregate-interval", "0", "--auth-tokens", str(tmp_path / "tokens"))
    session = PageSession(browser, serve)
    try:
        session.open()
        assert session.page.is_visible("#notice")
        assert session.page.get_attribute("#notice a", "href") == "/signin"
    finally:
        session.close()


def test_value_tab_equals_what_the_fleet_sent(session, fleet_serve):
    _, fleet = fleet_serve
    first, last, _ = fleet_view(fleet)
    session.open({"tab": "value", "from": f"{first}", "to": f"{last}"})
    records = records_between(fleet.truth, first, last)
    assert session.card("cost_usd") == usd(sum(r.amount for r in records if r.figure == "cost_usd"))
    expected_orgs, spenders = [], []
    for org in sorted({r.member.org_id for r in records}):
        tally = tally_of([r for r in records if r.member.org_id == org])
        cost = tally.figures["cost_usd"]

        def per(count: float) -> str:
            return f"${cost / count:,.4f}" if count else "\u2014"

        expected_orgs.append({"org_id": org, "cost_usd": usd(cost), "cost_per_session": per(len(tally.sessions)),
                              "cost_per_commit": per(tally.figures["commits"]),
                              "cost_per_pull_request": per(tally.figures["pull_requests"]),
                              "cost_per_line": per(tally.figures["lines_accepted"]),
                              "cost_per_member": per(len(tally.users)), "cost_per_merged_pr_with_cc": "\u2014"})
        members = fleet.truth.members()
        per_member = defaultdict(float)
        for record in records:
            if record.member.org_id == org and record.figure == "cost_usd":
                per_member[(org, record.member.user_key)] += record.amount
        for key, spent in per_member.items():
            if spent > 0:
                spenders.append({"member": members[key].email or members[key].user_key, "team": members[key].team,
                                 "org_id": org, "cost_usd": usd(spent), "share": f"{spent / cost * 100:.1f}%"})
    assert sorted(session.rows("value-orgs"), key=str) == sorted(expected_orgs, key=str)
    assert sorted(session.rows("value-top-spenders"), key=str) == sorted(spenders, key=str)


def test_without_the_charting_library_every_figure_still_shows(browser, fleet_serve):
    """plotly.min.js failing to load (here: refused) leaves the charts empty, not the page."""
    serve, fleet = fleet_serve
    first, last, month = fleet_view(fleet)
    session = PageSession(browser, serve)
    try:
        session.page.route("**/assets/vendor/plotly.min.js", lambda route: route.abort())
        session.open({"from": f"{first}", "to": f"{last}", "per": "100"})
        for figure, text in expected_cards(fleet.truth, first, last).items():
            assert session.card(figure) == text, figure
        assert len(session.rows("members")) == len(expected_members(fleet.truth, month))
    finally:
        session.close()
