"""The fleet's ground truth: what it sent, recorded by the fleet itself (never by cc-analytics code), and summed the
ways the API reports it (telemetry reference, section 5)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

SEED = 20261125
METER_NAME = "com.anthropic.claude_code"
EVENT_SCOPE = "com.anthropic.claude_code.events"
CLIENT_VERSION = "2.1.197"

SESSIONS = "claude_code.session.count"
LINES = "claude_code.lines_of_code.count"
COMMITS = "claude_code.commit.count"
PULL_REQUESTS = "claude_code.pull_request.count"
COST = "claude_code.cost.usage"
TOKENS = "claude_code.token.usage"
EDIT_DECISION = "claude_code.code_edit_tool.decision"
ACTIVE_TIME = "claude_code.active_time.total"
METRIC_UNITS = {SESSIONS: "", LINES: "", COMMITS: "", PULL_REQUESTS: "", COST: "USD", TOKENS: "tokens",
                EDIT_DECISION: "", ACTIVE_TIME: "s"}

MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001")
EDIT_TOOLS = ("Edit", "Write", "NotebookEdit", "MultiEdit")
LANGUAGES = ("Python", "TypeScript", "Go", "Markdown")
TOKEN_FIGURES = {"input": "input_tokens", "output": "output_tokens", "cacheRead": "cache_read_tokens",
                 "cacheCreation": "cache_creation_tokens"}
EVENT_FIGURES = {"user_prompt": "prompts", "api_request": "api_requests", "api_error": "api_errors"}
# The figures that add up over records, users and days (section 5), in the API's order.
SUMMED_FIGURES = ("lines_accepted", "lines_removed", "edits_accepted", "edits_rejected", "commits", "pull_requests",
                  "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "cost_usd",
                  "active_time_user_seconds", "active_time_cli_seconds", "prompts", "api_requests", "api_errors")
# The value report's cost per unit of work: ratio -> the count it divides the cost by.
VALUE_RATIOS = {"cost_per_session": "sessions", "cost_per_commit": "commits", "cost_per_pull_request": "pull_requests",
                "cost_per_line": "lines_accepted", "cost_per_member": "active_members",
                "cost_per_merged_pr_with_cc": "prs_merged_with_cc"}
AMOUNT_FIGURES = ("cost_usd", "active_time_user_seconds", "active_time_cli_seconds")  # not whole numbers
# The plans the Admin API names as subscription_type (an organization's tier); pro, max and no plan are null.
SUBSCRIPTION_TIERS = ("team", "enterprise")
# The Usage figures of a tool (the README's `tool` kind, from tool_result events).
TOOL_FIGURES = ("uses", "successes", "failures", "duration_ms")


@dataclass(frozen=True)
class Member:
    """One Claude Code user: the identity Claude Code sends, their org and team."""

    org_id: str
    team: str
    email: str  # empty: signed in without OAuth (API key, some Desktop launches)
    account_uuid: str
    user_id: str  # the 64-hex install id
    terminal_type: str

    @property
    def user_key(self) -> str:
        return self.email or self.account_uuid or self.user_id

    def attributes(self, session_id: str) -> dict[str, str]:
        """The standard attributes of every datapoint and event, plus the team Claude Code copies onto them."""
        identity = {"session.id": session_id, "organization.id": self.org_id, "user.email": self.email,
                    "user.account_uuid": self.account_uuid, "user.id": self.user_id,
                    "terminal.type": self.terminal_type, "team": self.team}
        return {key: value for key, value in identity.items() if value}


@dataclass(frozen=True)
class SessionContext:
    """Where and how one session runs, as Claude Code 2.1.332 puts it on each of its records: the git repository
    (OTEL_METRICS_INCLUDE_REPOSITORY=1), a remote session's ccr.session.id, the signed-in account's plan."""

    repository: str = ""  # OWNER/NAME as the git origin spells it; empty: not sent
    remote_session_id: str = ""  # ccr.session.id of a remote session (Claude Code on the web); empty: local
    plan: str = ""  # anthropic.plan; empty: not sent (API key users)

    @property
    def repository_key(self) -> str:
        """The repository as the reports name it: owner/name lower-cased (README, repository dimension)."""
        return self.repository.lower()

    @property
    def is_remote(self) -> bool:
        return bool(self.remote_session_id)

    def attributes(self) -> dict[str, str]:
        attributes = {}
        if self.repository:
            owner, name = self.repository.split("/")
            attributes.update({"vcs.owner.name": owner, "vcs.repository.name": name, "vcs.provider.name": "github",
                               "vcs.repository.url.full": f"https://github.com/{self.repository}.git"})
        if self.remote_session_id:
            attributes["ccr.session.id"] = self.remote_session_id
        if self.plan:
            attributes["anthropic.plan"] = self.plan
        return attributes


@dataclass(frozen=True)
class ToolResult:
    """What a tool_result event told: the tool, whether it succeeded, how long it took."""

    tool_name: str
    succeeded: bool
    duration_ms: int


@dataclass(frozen=True)
class SentRecord:
    """A metric point or an event the collector should keep once, and the figure it adds to on its UTC day."""

    signal: str  # "metric" (a point) or "event"
    time_ns: int
    start_ns: int  # a point's start_time_unix_nano; 0 for an event
    member: Member
    session_id: str
    figure: str | None  # None: a record that adds to no summed figure (session.count, tool events...)
    amount: float = 0
    model: str = ""
    tool_name: str = ""
    context: SessionContext = SessionContext()
    tool_result: ToolResult | None = None  # on a tool_result event

    @property
    def day(self) -> date:
        return datetime.fromtimestamp(self.time_ns // 10**9, timezone.utc).date()


def point_figure(name: str, attributes: dict) -> str | None:
    """Which figure of section 5 a metric point of this name and attributes adds to."""
    kind = attributes.get("type")
    if name == LINES:
        return {"added": "lines_accepted", "removed": "lines_removed"}[kind]
    if name == EDIT_DECISION:
        return {"accept": "edits_accepted", "reject": "edits_rejected"}[attributes["decision"]]
    if name == ACTIVE_TIME:
        return f"active_time_{kind}_seconds"
    return {COMMITS: "commits", PULL_REQUESTS: "pull_requests", COST: "cost_usd",
            TOKENS: TOKEN_FIGURES.get(kind)}.get(name)


@dataclass
class Tally:
    """Figures summed over some records, with the distinct users, sessions and days behind them."""

    figures: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SUMMED_FIGURES, 0))
    users: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    days: set[date] = field(default_factory=set)
    records: int = 0
    records_without_email: int = 0
    by_model: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    by_tool: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    tool_calls: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(TOOL_FIGURES, 0)))

    def add(self, record: SentRecord) -> None:
        self.users.add(record.member.user_key)
        self.sessions.add(record.session_id)
        self.days.add(record.day)
        self.records += 1
        self.records_without_email += not record.member.email
        if record.figure:
            self.figures[record.figure] += record.amount
        if record.model and (record.figure in TOKEN_FIGURES.values() or record.figure == "cost_usd"):
            self.by_model[record.model][record.figure] += record.amount
        if record.tool_name:
            self.by_tool[record.tool_name][record.figure] += int(record.amount)
        if record.tool_result:
            calls = self.tool_calls[record.tool_result.tool_name]
            calls["uses"] += 1
            calls["successes" if record.tool_result.succeeded else "failures"] += 1
            calls["duration_ms"] += record.tool_result.duration_ms


class GroundTruth:
    """Everything the fleet sent, summed the ways the API reports it."""

    def __init__(self):
        self.records: list[SentRecord] = []

    def tally(self, key, team: str | None = None, month: str | None = None) -> dict[tuple, Tally]:
        """Tallies keyed by key(record), over the records of one team and/or one month ('YYYY-MM')."""
        tallies: dict[tuple, Tally] = defaultdict(Tally)
        for record in self.records:
            if (team is None or record.member.team == team) and (month is None or f"{record.day:%Y-%m}" == month):
                tallies[key(record)].add(record)
        return dict(tallies)

    def daily(self, team: str | None = None) -> dict[tuple[date, str], Tally]:
        return self.tally(lambda r: (r.day, r.member.org_id), team=team)

    def users(self, month: str) -> dict[tuple[str, str], Tally]:
        return self.tally(lambda r: (r.member.org_id, r.member.user_key), month=month)

    def actors(self) -> dict[date, dict[tuple[str, str, bool], Tally]]:
        """Per day, per (org, user key, is_remote): the records of the day (the Admin API's records)."""
        days: dict[date, dict[tuple[str, str, bool], Tally]] = defaultdict(dict)
        for (day, *key), tally in self.tally(
                lambda r: (r.day, r.member.org_id, r.member.user_key, r.context.is_remote)).items():
            days[day][tuple(key)] = tally
        return dict(days)

    def subscription_types(self) -> dict[tuple[date, str, str], str | None]:
        """Per (day, org, user key): the plan of the member's latest record of the day that names one, if it is an
        organization's tier (the Admin API's subscription_type), else None."""
        latest: dict[tuple[date, str, str], SentRecord] = {}
        for record in self.records:
            key = (record.day, record.member.org_id, record.member.user_key)
            if record.context.plan and (key not in latest or record.time_ns > latest[key].time_ns):
                latest[key] = record
        tiers = dict.fromkeys({(r.day, r.member.org_id, r.member.user_key) for r in self.records})
        tiers.update({key: record.context.plan for key, record in latest.items()
                      if record.context.plan in SUBSCRIPTION_TIERS})
        return tiers

    def in_days(self, first: date, last: date, team: str | None = None) -> "GroundTruth":
        truth = GroundTruth()
        truth.records = [r for r in self.records if first <= r.day <= last and team in (None, r.member.team)]
        return truth

    def repositories(self) -> dict[tuple[str, str], Tally]:
        """Per (org, repository lower-cased, '' where none was sent)."""
        return self.tally(lambda r: (r.member.org_id, r.context.repository_key))

    def tools(self) -> dict[tuple[str, str, str], dict[str, int]]:
        """Per (org, user key, tool name): the tool's Usage figures."""
        return {(org, user_key, tool): calls for (org, user_key), tally in self.tally(
                    lambda r: (r.member.org_id, r.member.user_key)).items()
                for tool, calls in tally.tool_calls.items()}

    def value(self, merged_with_cc: dict[str, int] | None = None, limit: int = 10) -> dict[str, dict]:
        """Per org: the value report's sums, ratios, spend concentration and top spenders (README, value figures);
        merged_with_cc: PRs merged with Claude Code per org, where contribution rows were written."""
        merged_with_cc = merged_with_cc or {}
        expected = {}
        for (org,), tally in self.tally(lambda r: (r.member.org_id,)).items():
            sums = {name: tally.figures[name] for name in ("cost_usd", "commits", "pull_requests", "lines_accepted")}
            sums |= {"sessions": len(tally.sessions), "active_members": len(tally.users),
                     "prs_merged_with_cc": merged_with_cc.get(org, 0)}
            row = {"org_id": org, **sums}
            for ratio, count in VALUE_RATIOS.items():
                row[ratio] = sums["cost_usd"] / sums[count] if sums[count] else None
            member_cost = {key: tally.figures["cost_usd"] for (_, key), tally in self.of_org(org).tally(
                lambda r: (r.member.org_id, r.member.user_key)).items()}
            costs = sorted((cost for cost in member_cost.values() if cost > 0), reverse=True)
            decile = max(1, math.ceil(len(costs) / 10))
            row |= {"top_decile_members": decile if costs else 0,
                    "top_decile_share": sum(costs[:decile]) / sum(costs) if costs else None,
                    "top10_share": sum(costs[:10]) / sum(costs) if costs else None,
                    "top_spenders": [(key, cost / sum(costs)) for key, cost in sorted(
                        member_cost.items(), key=lambda item: (-item[1], item[0])) if cost > 0][:limit]}
            expected[org] = row
        return expected

    def of_org(self, org_id: str) -> "GroundTruth":
        """What the fleet sent for one org: what a client holding that org's token must read."""
        truth = GroundTruth()
        truth.records = [record for record in self.records if record.member.org_id == org_id]
        return truth

    def members(self) -> dict[tuple[str, str], Member]:
        return {(r.member.org_id, r.member.user_key): r.member for r in self.records}
