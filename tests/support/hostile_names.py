"""A hostile org for the dimensions Claude Code 2.1.332 added, and what it sent.

With its own token it sends, as delta points and events over two days: thousands of distinct skill, agent, MCP
server, plugin and tool names and thousands of repositories (names over 256 characters, odd Unicode, names that
look like SQL or Prometheus label injection, the same repository in other cases), a ccr.session.id on every other
session and junk anthropic.plan values. Its records claim another org's organization.id; the token decides.

The truth is this module's own bookkeeping as it builds the records (never cc-analytics code), summed as the
README defines the figures: a repository is owner/name lower-cased and cut to 256 characters; every usage name
counts under its kind, cut to 256 characters; subscription_type is the member-day's latest plan when it is exactly
team or enterprise.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from tests.support.claude_records import at, event, point
from tests.support.exports import post_export
from tests.support.fleet_truth import EVENT_SCOPE, METER_NAME
from tests.support.otlp_messages import export_request

HOSTILE_ORG = "org-hostile"
MEMBERS = 6
NAMES_PER_KIND = 1_500
REPOSITORIES = 2_000
LONGEST_NAME = 256  # characters kept of a repository (collector migration 0009) and of a usage name
RECORDS_PER_REQUEST = 400
# Text that must stay data wherever it lands: SQL, Prometheus's text format, a CSV formula, terminal escapes.
INJECTIONS = ("x'; DROP TABLE daily_user; --", 'a"} 1\ncc_analytics_fake{org="org-acme"} 9', "=HYPERLINK(\"x\")",
              "\\\"\\n\\", "\x1b[31mred", "other", "OTHER", "{{database}}", "%s%s%n", "${jndi:x}")
# Characters without case (so lower-casing keeps their count), from scripts and planes a parser may trip on.
ODD = ("漢字", "🦀", "عربى", "\u202egnp.exe", "e\u0301", "\u200d", "\ufeff", "𝔘𝔫𝔦", "\u2028")
PLANS = ("TEAM", "team ", "Enterprise", "enterprise\n", "pro", "max", "team", "enterprise", "other",
         "'; DROP TABLE daily_user; --", "p" * 3_000, "\u202eteam")
# The usage kinds the hostile org names, the event that counts a use, and the attribution on the cost point.
KINDS = ("skill", "agent", "mcp_server", "plugin", "tool")


def hostile_name(kind: str, number: int) -> str:
    """A distinct name; some over-long (20,000 characters: the top-used ones, so they reach /metrics), some injections,
    some odd Unicode, and the name /metrics gives its folded series."""
    if number == 1:
        return "other"
    if number % 50 == 0:
        return f"{kind}-{number}-" + "L" * 20_000
    if number % 7 == 0:
        return f"{INJECTIONS[number // 7 % len(INJECTIONS)]}-{kind}-{number}"
    if number % 5 == 0:
        return f"{ODD[number // 5 % len(ODD)]}-{kind}-{number}"
    return f"{kind}-{number}"


def hostile_repository(number: int) -> tuple[str, str]:
    """(vcs.owner.name, vcs.repository.name): mixed case (the same repository in other cases), over-long, odd."""
    owner, name = f"Owner{number % 40}", f"Repo-{number}"
    if number % 9 == 0:
        name = f"{ODD[number // 9 % len(ODD)]}{name}"
    if number % 11 == 0:
        name = f"{INJECTIONS[number // 11 % len(INJECTIONS)]}{name}"
    if number % 13 == 0:
        owner = "O" * 200 + owner  # the whole owner/name is over 256 characters: cut
    return owner, name


@dataclass
class HostileTruth:
    """What the hostile org sent, summed the ways the reports give it."""

    usage: dict[tuple[str, str], dict[str, float]] = field(
        default_factory=lambda: defaultdict(lambda: {"uses": 0, "successes": 0, "failures": 0, "cost_usd": 0.0}))
    repositories: dict[str, dict] = field(
        default_factory=lambda: defaultdict(lambda: {"lines_accepted": 0, "sessions": set(), "members": set()}))
    plans: dict[tuple[date, str], tuple[int, str]] = field(default_factory=dict)  # latest (time, plan) per day
    # the Admin API's records: (day, email, is_remote) -> their sessions
    actors: dict[tuple[date, str, bool], set[str]] = field(default_factory=lambda: defaultdict(set))
    cost_usd: float = 0.0
    sessions: set[str] = field(default_factory=set)

    def subscription_type(self, day: date, email: str) -> str | None:
        plan = self.plans.get((day, email), (0, ""))[1]
        return plan if plan in ("team", "enterprise") else None


class HostileOrg:
    def __init__(self, days: list[date], seed: int = 16):
        self.rng = random.Random(seed)
        self.days = days
        self.truth = HostileTruth()
        self.points: list = []
        self.events: list = []
        self.clock = 0

    def build(self) -> None:
        unit = 0
        for kind in KINDS:
            for number in range(NAMES_PER_KIND):
                # the over-long names are used most, so they rank in /metrics' top names
                for _ in range(MEMBERS if number % 50 == 0 else 1):  # twice in each team
                    self._use(unit, kind, hostile_name(kind, number))
                    unit += 1
        for number in range(REPOSITORIES):
            owner, name = hostile_repository(number)
            self._lines_in(unit, owner, name)
            if number % 17 == 0:  # the same repository again, in capitals: one row
                self._lines_in(unit + 1, owner.upper(), name.upper())
            unit += 2

    def _who(self, unit: int) -> tuple[date, int, dict]:
        """The unit's day, time and identity: a member, a session of its own, remote every other one, a plan."""
        day = self.days[unit % len(self.days)]
        self.clock += 1
        time_ns = at(day, 9) + self.clock * 1_000_000
        email = f"member{unit % MEMBERS}@hostile.example"
        session = f"hostile-{unit}"
        who = {"organization.id": "org-acme", "session.id": session, "user.email": email, "user.id": "f" * 64,
               "terminal.type": "vscode", "team": f"hostile-{unit % MEMBERS % 3}"}
        remote = unit % 2 == 1
        if remote:
            who["ccr.session.id"] = f"cse_{unit:020d}"
        plan = PLANS[unit % len(PLANS)] if unit % 4 else ""
        if plan:
            who["anthropic.plan"] = plan
            self.truth.plans[(day, email)] = max(self.truth.plans.get((day, email), (0, "")), (time_ns, plan))
        self.truth.sessions.add(session)
        self.truth.actors[(day, email, remote)].add(session)
        return day, time_ns, who

    def _use(self, unit: int, kind: str, name: str) -> None:
        day, time_ns, who = self._who(unit)
        cost = self.rng.randint(1, 64) / 64
        succeeded = unit % 3 != 0
        attribution = {"skill": {"skill.name": name}, "agent": {"query_source": "subagent", "agent.name": name},
                       "mcp_server": {"mcp_server.name": name}, "plugin": {"plugin.name": name}, "tool": {}}[kind]
        uses = {"skill": ("skill_activated", {"skill.name": name}),
                "agent": ("subagent_completed", {"agent_type": name, "duration_ms": 10}),
                "mcp_server": ("mcp_server_connection", {"server_name": name,
                                                         "status": "connected" if succeeded else "failed"}),
                "plugin": ("plugin_loaded", {"plugin.name": name}),
                "tool": ("tool_result", {"tool_name": name, "success": "true" if succeeded else "false",
                                         "duration_ms": 5})}[kind]
        self.events.append(event(uses[0], time_ns, **who, **uses[1]))
        self.points.append(point("cost.usage", cost, time_ns, time_ns - 10**9, model="claude-x", **who, **attribution))
        self.truth.cost_usd += cost
        row = self.truth.usage[(kind, name[:LONGEST_NAME])]
        row["uses"] += 1
        if kind in ("mcp_server", "tool"):
            row["successes" if succeeded else "failures"] += 1
        if kind != "tool":  # nothing attributes a request's cost to a tool
            row["cost_usd"] += cost
        if kind == "agent":
            self.truth.usage[("query_source", "subagent")]["cost_usd"] += cost
        self._in_repository("", who, 0)  # no repository named: under ''

    def _in_repository(self, repository: str, who: dict, lines: int) -> None:
        figures = self.truth.repositories[repository]
        figures["lines_accepted"] += lines
        figures["sessions"].add(who["session.id"])
        figures["members"].add(who["user.email"])

    def _lines_in(self, unit: int, owner: str, name: str) -> None:
        day, time_ns, who = self._who(unit)
        lines = self.rng.randint(1, 50)
        self.points.append(point("lines_of_code.count", lines, time_ns, time_ns - 10**9, type="added", model="claude-x",
                                 **who, **{"vcs.owner.name": owner, "vcs.repository.name": name}))
        self._in_repository(f"{owner}/{name}".lower()[:LONGEST_NAME], who, lines)

    def send(self, serve, token: str) -> None:
        """Every record, in requests of RECORDS_PER_REQUEST, each answered in full."""
        batches = [(ExportMetricsServiceRequest, self.points, METER_NAME),
                   (ExportLogsServiceRequest, self.events, EVENT_SCOPE)]
        for request_type, records, scope in batches:
            for start in range(0, len(records), RECORDS_PER_REQUEST):
                request = export_request(request_type, records[start:start + RECORDS_PER_REQUEST],
                                         {"service.name": "claude-code"}, scope, "2.1.332")
                answer = post_export(serve, request, "http", token=token, timeout=60)
                assert answer.ok, answer
