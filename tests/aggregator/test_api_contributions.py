"""The contributions surfaces of a real serve: GET /api/v1/contributions (JSON and CSV, every group and filter) and
its pull requests equal the contribution rows written into its store; an org token reads its own org only; bad
parameters get 400 with the reason; the members CSV carries the contribution columns; `cc-analytics report
contributions` prints the same through the serve as on the store once it stopped."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import date

import pytest

from aggregator.contributions.report import GROUP_COLUMNS, SUMMED
from exporters import users_csv
from tests.support.command_line import run
from tests.support.contribution_rows import days_before, generated_seed, seed_data_dir
from tests.support.read_api import call_with_token as call, json_with_token as json_of
from tests.support.serve_process import ServeProcess

pytestmark = pytest.mark.slow

TODAY = date(2026, 11, 20)
DAYS = days_before(TODAY, 4)
SPAN = {"from": str(DAYS[0]), "to": str(DAYS[-1])}
MEMBERS = [("org-a", "payments", "ada@a.example", "ada@a.example"), ("org-a", "search", "linus@a.example", ""),
           ("org-b", "mobile", "=HYPERLINK(1)@b.example", "=HYPERLINK(1)@b.example")]
ORGS = ("org-a", "org-b")


@pytest.fixture(scope="module")
def seeded_serve(tmp_path_factory):
    work = tmp_path_factory.mktemp("contributions")
    seed = generated_seed(MEMBERS, DAYS)
    seed_data_dir(work / "data", seed)
    tokens = {org: secrets.token_hex(16) for org in (*ORGS, "*")}
    (work / "tokens").write_text("".join(f"{org} {token}\n" for org, token in tokens.items()))
    serve = ServeProcess(work / "data", ("--aggregate-interval", "0", "--auth-tokens", str(work / "tokens"))).start()
    try:
        yield serve, seed, tokens
    finally:
        serve.stop()


def expected_totals(seed, org=None, repository=None) -> dict:
    rows = [r for r in seed.daily if DAYS[0] <= r["day"] <= DAYS[-1] and org in (None, r["org_id"])
            and repository in (None, r["repository"])]
    return {name: sum(r[column] for r in rows) for name, column in SUMMED.items()}


def test_every_group_adds_up_to_the_rows_written_and_csv_equals_json(seeded_serve):
    serve, seed, tokens = seeded_serve
    for group in ("day", "user", "repo"):
        for filters in ({}, {"org": "org-a"}, {"repo": "ORG-A/Widgets"}):
            answer = json_of(serve, tokens["*"], "/api/v1/contributions", group=group, **SPAN, **filters)
            totals = {name: sum(row[name] for row in answer["data"]) for name in SUMMED}
            assert totals == expected_totals(seed, filters.get("org"), filters.get("repo", "").lower() or None)
            assert all(tuple(row) == GROUP_COLUMNS[group] for row in answer["data"])
            status, body = call(serve, tokens["*"], "/api/v1/contributions", group=group, format="csv", **SPAN,
                                **filters)
            assert status == 200
            assert body == users_csv.write_rows(answer["data"], GROUP_COLUMNS[group])
            parsed = list(csv.DictReader(io.StringIO(body.decode())))
            assert [row["org_id"] for row in parsed] == [row["org_id"] for row in answer["data"]]
            assert [float(row["share_with_cc"]) for row in parsed] == [row["share_with_cc"] for row in answer["data"]]
    # the generated seed has PRs counted from additions: the answer says so
    answer = json_of(serve, tokens["*"], "/api/v1/contributions", **SPAN)
    assert answer["lines_basis"] == "mixed" and "--github-token-file" in answer["note"]


def test_a_member_named_like_a_formula_cannot_run_in_a_spreadsheet(seeded_serve):
    serve, _, tokens = seeded_serve
    status, body = call(serve, tokens["org-b"], "/api/v1/contributions", group="user", format="csv", **SPAN)
    assert status == 200 and b"'=HYPERLINK(1)@b.example" in body and b",=HYPERLINK" not in body


def test_an_org_token_reads_its_own_org_only(seeded_serve):
    serve, seed, tokens = seeded_serve
    for path in ("/api/v1/contributions", "/api/v1/contributions/pull_requests"):
        for org in ORGS:
            other = next(o for o in ORGS if o != org)
            answer = json_of(serve, tokens[org], path, **SPAN)
            assert answer["data"] and {row["org_id"] for row in answer["data"]} == {org}
            status, body = call(serve, tokens[org], path, org=other, **SPAN)
            assert status == 403 and b"reads org" in body
            assert call(serve, "not-a-token", path, **SPAN)[0] == 401
    mine = json_of(serve, tokens["org-a"], "/api/v1/contributions", group="repo", **SPAN)
    assert {name: sum(row[name] for row in mine["data"]) for name in SUMMED} == expected_totals(seed, "org-a")


def test_pull_requests_come_with_their_level_and_reason(seeded_serve):
    serve, seed, tokens = seeded_serve
    for level in (None, "with_claude_code", "assisted", "without"):
        parameters = {**SPAN, **({"level": level} if level else {})}
        rows = json_of(serve, tokens["*"], "/api/v1/contributions/pull_requests", **parameters)["data"]
        expected = {(r["org_id"], r["repository"], r["number"]): (r["level"], r["reason"], r["lines_merged"])
                    for r in seed.pull_requests if level in (None, r["level"])}
        assert {(r["org_id"], r["repository"], r["number"]): (r["level"], r["reason"], r["lines_merged"])
                for r in rows} == expected
        assert expected


@pytest.mark.parametrize("parameters, reason", [
    ({"to": "2026-11-20"}, "from is required"),
    ({**SPAN, "group": "week"}, "group='week' is not one of day, user, repo"),
    ({**SPAN, "format": "xlsx"}, "format='xlsx' is not one of json, csv"),
    ({**SPAN, "repo": "widgets"}, "is not a GitHub repository as OWNER/NAME"),
    ({**SPAN, "repo": "a/b/c"}, "is not a GitHub repository as OWNER/NAME"),
    ({"from": "2026-11-20", "to": "2026-11-01"}, "is before from"),
])
def test_bad_parameters_get_400_with_the_reason(seeded_serve, parameters, reason):
    serve, _, tokens = seeded_serve
    status, body = call(serve, tokens["*"], "/api/v1/contributions", **parameters)
    assert status == 400 and reason in body.decode(), body
    status, body = call(serve, tokens["*"], "/api/v1/contributions/pull_requests", **SPAN, level="maybe")
    assert status == 400 and "level='maybe' is not one of with_claude_code, assisted, without" in body.decode()


def test_the_members_csv_carries_the_contribution_columns(seeded_serve):
    serve, seed, tokens = seeded_serve
    status, body = call(serve, tokens["*"], "/api/v1/users", month=f"{TODAY:%Y-%m}", format="csv")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert list(rows[0])[-4:] == ["prs_merged", "prs_merged_with_cc", "lines_merged", "lines_merged_with_cc"]
    for row in rows:
        key = row["user_key"].removeprefix("'")  # quoted off as a formula
        mine = [r for r in seed.daily if (r["org_id"], r["member"]) == (row["org_id"], key)]
        assert int(row["prs_merged"]) == sum(r["prs_merged"] for r in mine)
        assert int(row["lines_merged_with_cc"]) == sum(r["lines_merged_with_claude_code"] for r in mine)
    assert sum(int(row["prs_merged"]) for row in rows) > 0


def test_the_report_command_prints_the_same_through_serve_and_on_the_store(seeded_serve, tmp_path):
    serve, seed, tokens = seeded_serve
    commands = [("--group", group, "--format", output_format, *filters)
                for group in ("day", "user", "repo") for output_format in ("table", "csv", "json")
                for filters in ((), ("--org", "org-a"), ("--repo", "org-a/api"))]
    span = ("--from", SPAN["from"], "--to", SPAN["to"])
    through_serve = [run("report", "contributions", *span, *command, "--api-port", str(serve.api_port),
                         "--api-token", tokens["*"], timeout=120) for command in commands]
    serve.stop()
    on_store = [run("report", "contributions", *span, *command, "--data-dir", str(serve.data_dir),
                    "--api-port", "1", timeout=120) for command in commands]
    for command, served, stored in zip(commands, through_serve, on_store):
        assert served.returncode == 0, served.stderr
        assert (served.stdout, served.stderr) == (stored.stdout, stored.stderr), command
    table = through_serve[0].stdout
    assert "PRs merged" in table and "note: " in table
    refused = run("report", "contributions", *span, "--repo", "nope", "--data-dir", str(serve.data_dir),
                  "--api-port", "1")
    assert refused.returncode == 2 and "is not a GitHub repository" in refused.stderr
