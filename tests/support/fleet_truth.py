"""The fleet's ground truth: what it sent, recorded by the fleet itself (never by cc-analytics code), and summed the
ways the API reports it (telemetry reference, section 5)."""

from __future__ import annotations

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
AMOUNT_FIGURES = ("cost_usd", "active_time_user_seconds", "active_time_cli_seconds")  # not whole numbers


@dataclass(frozen=True)
class Member:
    """One Claude Code user: the identity Claude Code sends, their org and team."""

    org_id: str
    team: str
    email: str  # empty: signed in without OAuth (API key, some Desktop launches)
    account_uuid: str
    user_id: str  # the 64-hex install id
    terminal_type: str
    repository: str = ""  # OWNER/NAME of the git origin (OTEL_METRICS_INCLUDE_REPOSITORY=1); empty: not sent

    @property
    def user_key(self) -> str:
        return self.email or self.account_uuid or self.user_id

    def attributes(self, session_id: str) -> dict[str, str]:
        """The standard attributes of every datapoint and event, plus the team Claude Code copies onto them."""
        identity = {"session.id": session_id, "organization.id": self.org_id, "user.email": self.email,
                    "user.account_uuid": self.account_uuid, "user.id": self.user_id,
                    "terminal.type": self.terminal_type, "team": self.team}
        if self.repository:
            owner, name = self.repository.split("/")
            identity.update({"vcs.owner.name": owner, "vcs.repository.name": name, "vcs.provider.name": "github",
                             "vcs.repository.url.full": f"https://github.com/{self.repository}.git"})
        return {key: value for key, value in identity.items() if value}


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

    def actors(self, day: date) -> dict[tuple[str, str], Tally]:
        """Per (org, user key): the records of one day."""
        tallies = self.tally(lambda r: (r.day, r.member.org_id, r.member.user_key))
        return {key[1:]: tally for key, tally in tallies.items() if key[0] == day}

    def of_org(self, org_id: str) -> "GroundTruth":
        """What the fleet sent for one org: what a client holding that org's token must read."""
        truth = GroundTruth()
        truth.records = [record for record in self.records if record.member.org_id == org_id]
        return truth

    def members(self) -> dict[tuple[str, str], Member]:
        return {(r.member.org_id, r.member.user_key): r.member for r in self.records}
