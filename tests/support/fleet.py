"""A simulated fleet of Claude Code users, sent through the official OpenTelemetry Python SDK; and its ground truth.

Each simulated `claude` process has its own MeterProvider and LoggerProvider, as a real one has, and exports with the
official OTLP exporters (gRPC or HTTP, delta or cumulative) to the collector the fleet points at. The SDK's metric
clock is replaced by a simulated one, so points carry backdated times. What the fleet sent is recorded (fleet_truth) as
`SentRecord`s, from the fleet's own bookkeeping (never from cc-analytics code): one per metric point or event the
collector should keep, with what it adds to its day's figures (telemetry reference, section 5).
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Callable

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from tests.support.fleet_sdk import Collector, FleetLogExporter, FleetMetricExporter, SimulatedClock
from tests.support.fleet_truth import (
    ACTIVE_TIME,
    CLIENT_VERSION,
    COMMITS,
    COST,
    EDIT_DECISION,
    EDIT_TOOLS,
    EVENT_FIGURES,
    EVENT_SCOPE,
    LANGUAGES,
    LINES,
    METER_NAME,
    METRIC_UNITS,
    MODELS,
    PULL_REQUESTS,
    SEED,
    SESSIONS,
    TOKENS,
    GroundTruth,
    Member,
    SentRecord,
    SessionContext,
    ToolResult,
    point_figure,
)


# The Usage figures' names (aggregator/usage.py): what caused a request, and what it used.
QUERY_SOURCES = ("main", "main", "subagent", "auxiliary")
AGENTS = ("Explore", "general-purpose")
SKILLS = ("pdf", "xlsx")
MCP_TOOLS = (("github", "create_issue"), ("linear", "search"))
PERMISSION_MODES = ("default", "acceptEdits", "plan")
# Per org, the repositories its sessions work in, as their git origins spell them: one in two spellings, one in
# two orgs; and the plans its members' sessions report ('' none: API key users).
REPOSITORIES = {"org-acme": ("Acme/Widgets", "acme/widgets", "acme/search", "SharedCo/Toolkit"),
                "org-globex": ("globex/app", "Globex/App", "sharedco/toolkit"),
                "org-initech": ("initech/tps",)}
PLANS = {"org-acme": ("enterprise", "enterprise", "pro"), "org-globex": ("team", "pro", ""),
         "org-initech": ("", "", "team")}
NO_REPOSITORY_SHARE, REMOTE_SHARE = 0.25, 0.3
# Tools besides the edit tools and Bash, whose results the fleet reports with failures.
OTHER_TOOLS = ("Read", "Grep", "WebFetch")


def build_members(rng: random.Random) -> list[Member]:
    """Three orgs: acme (everyone has an email), globex (mixed), initech (no emails; one user with only user.id)."""
    def account() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def install() -> str:
        return f"{rng.getrandbits(256):064x}"

    return [
        Member("org-acme", "payments", "ada@acme.example", account(), install(), "vscode"),
        Member("org-acme", "payments", "grace@acme.example", account(), install(), "iTerm.app"),
        Member("org-acme", "search", "linus@acme.example", account(), install(), "tmux"),
        Member("org-globex", "mobile", "hedy@globex.example", account(), install(), "vscode"),
        Member("org-globex", "payments", "alan@globex.example", account(), install(), "ghostty"),
        Member("org-globex", "mobile", "", account(), install(), "claude-desktop"),
        Member("org-initech", "platform", "", account(), install(), "vscode"),
        Member("org-initech", "platform", "", "", install(), "non-interactive"),
    ]


class ClaudeCodeProcess:
    """One run of the `claude` CLI: its own providers (counters start at 0, a new start time), Claude Code's
    instruments and attribute shapes, and the fleet's record of each point and event it exported."""

    def __init__(self, fleet: "Fleet", member: Member, session_id: str, *, transport: str, temporality: str,
                 copies: int = 1, metrics: bool = True, context: SessionContext = SessionContext()):
        self.fleet, self.member, self.session_id, self.temporality = fleet, member, session_id, temporality
        self.context = context
        self.launched_ns = fleet.clock.now_ns
        self.identity = {**member.attributes(session_id), **context.attributes()}
        resource = Resource.create({"service.name": "claude-code", "service.version": CLIENT_VERSION,
                                    "os.type": "linux", "host.arch": "amd64", "team": member.team})
        self.metric_exporter = FleetMetricExporter(fleet.collector, transport, temporality, copies)
        self.meter_provider = None
        if metrics:  # else OTEL_METRICS_EXPORTER=none: this process sends events only
            # An infinite interval: no export thread, no export at shutdown; every export is an explicit flush.
            reader = PeriodicExportingMetricReader(self.metric_exporter, export_interval_millis=math.inf)
            self.meter_provider = MeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)
            meter = self.meter_provider.get_meter(METER_NAME, CLIENT_VERSION)
            self.counters = {name: meter.create_counter(name, unit=unit) for name, unit in METRIC_UNITS.items()}
        self.log_exporter = FleetLogExporter(fleet.collector, transport, copies)
        self.logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))
        self.logger = self.logger_provider.get_logger(EVENT_SCOPE, CLIENT_VERSION)
        self.since_export: dict[tuple, float] = {}  # series -> added since the last export
        self.totals: dict[tuple, float] = {}  # series -> added since the process started
        self.events: list[SentRecord] = []
        self.sequence = 0

    def add(self, name: str, amount: float, **extra: str) -> None:
        if self.meter_provider is None:
            return
        attributes = {**self.identity, **extra}
        self.counters[name].add(amount, attributes)
        series = (name, tuple(sorted(attributes.items())))
        self.since_export[series] = self.since_export.get(series, 0) + amount
        self.totals[series] = self.totals.get(series, 0) + amount

    def emit(self, name: str, prompt_id: str, **extra) -> None:
        """One event at the simulated time (a second after the previous one: events never share a timestamp)."""
        self.fleet.clock.advance(1)
        attributes = {**self.identity, "event.name": name, "event.timestamp": self.fleet.clock.iso(),
                      "event.sequence": self.sequence, "prompt.id": prompt_id, "app.version": CLIENT_VERSION, **extra}
        self.sequence += 1
        self.logger.emit(timestamp=self.fleet.clock.now_ns, observed_timestamp=self.fleet.clock.now_ns,
                         body=f"claude_code.{name}", attributes=attributes)
        result = (ToolResult(extra["tool_name"], extra["success"] == "true", extra["duration_ms"])
                  if name == "tool_result" else None)
        self.events.append(SentRecord("event", self.fleet.clock.now_ns, 0, self.member, self.session_id,
                                      EVENT_FIGURES.get(name), 1 if name in EVENT_FIGURES else 0,
                                      context=self.context, tool_result=result))

    def export(self) -> None:
        """Flush metrics and events now; record each point the SDK sent (checked against what it really sent)."""
        self.fleet.clock.advance(1)
        if self.meter_provider is not None:
            self._export_metrics()
        self.log_exporter.flush()
        self.fleet.truth.records.extend(self.events)
        self.events = []

    def _export_metrics(self) -> None:
        # Delta sends the series added to since the last export; cumulative sends every series, with its total.
        expected = dict(self.since_export) if self.temporality == "delta" else dict(self.totals)
        batches_before = len(self.metric_exporter.batches)
        assert self.meter_provider.force_flush(timeout_millis=20_000)
        assert not self.metric_exporter.failures, f"an export failed: {self.metric_exporter.failures}"
        now = self.fleet.clock.now_ns
        points = self._points(self.metric_exporter.batches[batches_before:])
        assert {series: point[:2] for series, point in points.items()} == {
            series: (value, now) for series, value in expected.items()}, "the SDK sent other points than recorded"
        assert all(self.launched_ns <= start <= now for _, _, start in points.values()), "a start off the clock"
        for series, (_, _, start) in points.items():
            name, attributes = series[0], dict(series[1])
            self.fleet.truth.records.append(SentRecord(
                "metric", now, start, self.member, self.session_id, point_figure(name, attributes),
                self.since_export.get(series, 0), model=attributes.get("model", ""),
                tool_name=attributes.get("tool_name", "") if name == EDIT_DECISION else "", context=self.context))
        self.since_export = {}

    @staticmethod
    def _points(batches) -> dict[tuple, tuple[float, int, int]]:
        """series -> (value, time, start) of each point in the SDK's batches."""
        points = {}
        for batch in batches:
            for resource_metrics in batch.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        for point in metric.data.data_points:
                            series = (metric.name, tuple(sorted(point.attributes.items())))
                            assert series not in points, "one point per series per export"
                            points[series] = (point.value, point.time_unix_nano, point.start_time_unix_nano)
        return points

    def end(self) -> None:
        """The process exits: a last flush (cumulative resends every series), then both providers shut down."""
        self.export()
        if self.meter_provider is not None:
            self.meter_provider.shutdown()
        self.logger_provider.shutdown()


# A month, and one day more: 31 days back from any date always reach into the month before, so the users report
# is checked for two months whatever the date.
FLEET_DAYS = 31


def fleet_days(today: date) -> list[date]:
    """The FLEET_DAYS days before today (none today: today's figures move while the test runs)."""
    return [today - timedelta(days=n) for n in range(FLEET_DAYS, 0, -1)]


class Fleet:
    """Claude Code users at work over several backdated days, sent in three phases: before a collector restart,
    after it, and late (after the rest was aggregated). `truth` holds what was sent; `features` what was covered."""

    PHASES = ("before_restart", "after_restart", "late")

    def __init__(self, today: date, seed: int = SEED):
        self.rng = random.Random(seed)
        # The draws of what Claude Code 2.1.332 added (sessions' contexts, more tools): a stream of their own, so
        # the fleet's original stream, and every figure it drew, stay as they were.
        self.context_rng = random.Random(seed + 1)
        self.contexts: dict[str, SessionContext] = {}  # session id -> its context, the same in every process
        self.days = fleet_days(today)
        self.members = build_members(self.rng)
        self.clock = SimulatedClock()
        self.collector = Collector()
        self.truth = GroundTruth()
        self.features: set[str] = set()
        self.late_days: set[date] = set()
        self._midnight_process: ClaudeCodeProcess | None = None
        self.visits = self._plan()

    def send(self, phase: str, serve) -> None:
        """Run the visits of one phase against a running serve (anything with grpc_endpoint and http_url)."""
        assert phase in self.PHASES, phase
        self.collector.serve = serve
        with self.clock.installed():
            for visit_phase, visit in self.visits:
                if visit_phase == phase:
                    visit()

    def send_today(self, serve, members: int = 5) -> None:
        """The first members at work today (UTC), in the hour before now, so windows ending today have data.
        Not part of `days`: the fleet test keeps today out because today's figures move while it runs."""
        self.collector.serve = serve
        now = datetime.now(timezone.utc)
        with self.clock.installed():
            for member in self.members[:members]:
                self._routine(member, now.date(), hour=max(now.hour - 1, 0), processes=1)

    def _plan(self) -> list[tuple[str, Callable[[], None]]]:
        """The visits (a member's work on a day) with their phase, in order: the restart falls in the night after
        days[-4]; late data goes to yesterday and to days[-5]."""
        ada, grace, linus, hedy, _, globex_account, initech_account, initech_install = self.members
        days, yesterday = self.days, self.days[-1]
        resumed = self._session_id()
        special = {
            # A cumulative series that spans midnight and the collector restart.
            (days[-4], ada): lambda: self._midnight_first_half(ada, days[-4]),
            (days[-3], ada): lambda: self._midnight_second_half(days[-3]),
            # One session in three processes: resumed the same afternoon, and again the next morning.
            (days[-3], globex_account): lambda: self._resumed(globex_account, days[-3], resumed, (9, 16)),
            (days[-2], globex_account): lambda: self._resumed(globex_account, days[-2], resumed, (10,)),
            (days[-2], grace): lambda: self._parallel(grace, days[-2]),
            (days[-5], initech_install): lambda: self._events_only(initech_install, days[-5]),
            (yesterday, linus): lambda: None,  # absent, until the late data makes him active
            (yesterday, hedy): lambda: self._routine(hedy, yesterday),
        }
        visits = []
        for day in days:
            phase = "before_restart" if day <= days[-4] else "after_restart"
            for member in self.members:
                visit = special.get((day, member)) or self._random_visit(member, day)
                if visit:
                    visits.append((phase, visit))
        self.late_days = {yesterday, days[-5]}
        visits += [("late", lambda: self._routine(linus, yesterday, hour=15)),
                   ("late", lambda: self._routine(hedy, yesterday, hour=20, processes=1)),
                   ("late", lambda: self._events_only(initech_account, days[-5], hour=21))]
        return visits

    def _random_visit(self, member: Member, day: date):
        draw = self.rng.random()
        if draw < 0.3:
            return None
        if draw < 0.45:
            return lambda: self._events_only(member, day)
        return lambda: self._routine(member, day)

    def _session_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _launch(self, member: Member, session_id: str, *, transport: str | None = None,
                temporality: str | None = None, copies: int | None = None, metrics: bool = True) -> ClaudeCodeProcess:
        transport = transport or self.rng.choice(("grpc", "http"))
        temporality = temporality or self.rng.choice(("delta", "cumulative"))
        copies = copies or (2 if self.rng.random() < 0.2 else 1)
        self.features |= {transport, temporality if metrics else "events only"}
        if copies > 1:
            self.features.add("duplicate export")
        if not member.email:
            self.features.add("no email" if member.account_uuid else "user.id only")
        if self.clock.day.month != self.days[-1].month:
            self.features.add("previous month")
        return ClaudeCodeProcess(self, member, session_id, transport=transport, temporality=temporality,
                                 copies=copies, metrics=metrics, context=self._context(member, session_id))

    def _context(self, member: Member, session_id: str) -> SessionContext:
        """A session's repository, remote id and plan; a resumed or parallel process keeps its session's."""
        if session_id not in self.contexts:
            rng = self.context_rng
            repository = "" if rng.random() < NO_REPOSITORY_SHARE else rng.choice(REPOSITORIES[member.org_id])
            remote = f"cse_{rng.getrandbits(96):024x}" if rng.random() < REMOTE_SHARE else ""
            self.contexts[session_id] = SessionContext(repository, remote, rng.choice(PLANS[member.org_id]))
        return self.contexts[session_id]

    # Scenarios: each sets the simulated clock, runs processes and ends them.

    def _routine(self, member: Member, day: date, hour: int | None = None, processes: int | None = None) -> None:
        """A normal day: one or two sessions, each a process of a few turns with exports now and then."""
        for number in range(processes or (1 if self.rng.random() < 0.75 else 2)):
            self.clock.set(day, hour if hour is not None else self.rng.randint(7, 11) + 5 * number,
                           self.rng.randint(0, 59))
            process = self._launch(member, self._session_id())
            process.add(SESSIONS, 1, start_type="fresh")
            self._work(process, self.rng.randint(1, 4))
            process.end()

    def _events_only(self, member: Member, day: date, hour: int | None = None) -> None:
        """A process with metrics off (OTEL_METRICS_EXPORTER=none): the member is active through events alone."""
        self.clock.set(day, hour or self.rng.randint(8, 18), self.rng.randint(0, 59))
        process = self._launch(member, self._session_id(), metrics=False)
        self._work(process, self.rng.randint(1, 3))
        process.end()

    def _resumed(self, member: Member, day: date, session_id: str, hours: tuple[int, ...]) -> None:
        """`claude --resume`: the same session.id in a new cumulative process, its counters from 0 again."""
        for hour in hours:
            self.clock.set(day, hour, 5)
            first = session_id not in {record.session_id for record in self.truth.records}
            process = self._launch(member, session_id, temporality="cumulative")
            process.add(SESSIONS, 1, start_type="fresh" if first else "resume")
            # Later processes work longer, so a series confused with the earlier one would look like a rise.
            self._work(process, 2 + 2 * (not first), models=MODELS[:1])
            process.end()
        self.features.add("resumed session")

    def _parallel(self, member: Member, day: date) -> None:
        """Two cumulative processes with one session.id at once, exporting in turn (same series, other start)."""
        session_id = self._session_id()
        self.clock.set(day, 10, 0)
        processes = []
        for transport in ("grpc", "http"):
            processes.append(self._launch(member, session_id, transport=transport, temporality="cumulative"))
            processes[-1].add(SESSIONS, 1, start_type="fresh")
            self.clock.advance(60)
        for _ in range(3):
            for process in processes:
                self._turn(process, models=MODELS[:1])
                process.export()
        for process in processes:
            process.end()
        self.features.add("parallel session")

    def _midnight_first_half(self, member: Member, day: date) -> None:
        """A late-evening cumulative process, left running (it ends after midnight, after the restart)."""
        self.clock.set(day, 22, 40)
        process = self._launch(member, self._session_id(), transport="grpc", temporality="cumulative", copies=1)
        process.add(SESSIONS, 1, start_type="fresh")
        for _ in range(2):
            self._turn(process)
            process.export()
        self._midnight_process = process

    def _midnight_second_half(self, day: date) -> None:
        """The same process after midnight, exporting to the restarted collector."""
        self.clock.set(day, 0, 20)
        self._turn(self._midnight_process)
        self._midnight_process.end()
        self.features |= {"across midnight", "across restart"}

    # Work: what one prompt makes Claude Code count and tell.

    def _work(self, process: ClaudeCodeProcess, turns: int, models: tuple[str, ...] = MODELS) -> None:
        for _ in range(turns):
            self._turn(process, models)
            if self.rng.random() < 0.5:
                process.export()

    def _turn(self, process: ClaudeCodeProcess, models: tuple[str, ...] = MODELS) -> None:
        rng = self.rng
        prompt_id = self._session_id()
        process.emit("user_prompt", prompt_id, prompt_length=rng.randint(5, 400), prompt="<REDACTED>")
        for _ in range(rng.randint(1, 3)):
            self._api_request(process, prompt_id, rng.choice(models))
        if rng.random() < 0.2:
            process.emit("api_error", prompt_id, model=rng.choice(models), error="Overloaded", status_code="529",
                         duration_ms=rng.randint(100, 3000), attempt=1)
        for _ in range(rng.randint(0, 3)):
            self._edit(process, prompt_id, rng.choice(models))
        if rng.random() < 0.3:  # a non-edit tool: events, but no code_edit_tool.decision
            duration = rng.randint(5, 900)
            # usage events chosen from the draws already made, so the fleet's random stream is as before
            process.emit("tool_decision", prompt_id, tool_name="Bash", decision="accept", source="config",
                         tool_source="builtin", permission_mode=PERMISSION_MODES[duration % len(PERMISSION_MODES)])
            process.emit("tool_result", prompt_id, tool_name="Bash", success="false" if duration % 7 == 0 else "true",
                         duration_ms=duration, decision_type="accept", decision_source="config")
            process.emit("hook_execution_complete", prompt_id, hook_event="PreToolUse", hook_name="PreToolUse:Bash",
                         num_hooks=1 + duration % 2, num_success=1, num_blocking=0, total_duration_ms=duration % 50)
        if self.context_rng.random() < 0.4:
            succeeded = self.context_rng.random() < 0.7
            process.emit("tool_result", prompt_id, tool_name=self.context_rng.choice(OTHER_TOOLS),
                         success="true" if succeeded else "false", duration_ms=self.context_rng.randint(1, 4000),
                         **({} if succeeded else {"error": "tool failed"}))
        if rng.random() < 0.25:
            process.add(COMMITS, 1)
        if rng.random() < 0.1:
            process.add(PULL_REQUESTS, 1)
        process.add(ACTIVE_TIME, rng.randint(4, 400) / 4, type="user")
        process.add(ACTIVE_TIME, rng.randint(8, 800) / 8, type="cli")
        self.clock.advance(rng.randint(120, 600))

    def _api_request(self, process: ClaudeCodeProcess, prompt_id: str, model: str) -> None:
        rng = self.rng
        usage = {"input": rng.randint(1, 5000), "output": rng.randint(1, 3000), "cacheRead": rng.randint(1, 90000),
                 "cacheCreation": rng.randint(1, 20000)}
        cost = rng.randint(1, 4096) / 1024  # a binary fraction: sums are exact
        attribution = self._attribution(process, prompt_id, usage["input"], usage["output"], model)
        for kind, tokens in usage.items():
            process.add(TOKENS, tokens, model=model, type=kind, **attribution)
        process.add(COST, cost, model=model, **attribution)
        # The event's numbers differ from the metrics' on purpose: counting events into tokens or cost would show.
        process.emit("api_request", prompt_id, model=model, cost_usd=cost + 0.5, input_tokens=usage["input"] + 1000,
                     output_tokens=usage["output"] + 1000, cache_read_tokens=usage["cacheRead"] + 1000,
                     cache_creation_tokens=usage["cacheCreation"] + 1000, duration_ms=rng.randint(300, 9000),
                     request_id=f"req_{rng.getrandbits(64):016x}", query_source=attribution["query_source"])

    @staticmethod
    def _attribution(process: ClaudeCodeProcess, prompt_id: str, draw: int, duration: int, model: str) -> dict:
        """What caused a request (Claude Code 2.1.332's attribution on its cost and tokens) and the usage events
        that go with it, chosen from a draw already made so the fleet's random stream is as before."""
        attribution = {"query_source": QUERY_SOURCES[draw % len(QUERY_SOURCES)]}
        if attribution["query_source"] == "subagent":
            attribution["agent.name"] = AGENTS[draw // 4 % len(AGENTS)]
            process.emit("subagent_completed", prompt_id, agent_type=attribution["agent.name"], is_built_in="true",
                         duration_ms=duration, total_tokens=draw, total_tool_uses=2, model=model)
        if draw % 3 == 0:
            attribution["skill.name"] = SKILLS[draw // 3 % len(SKILLS)]
            process.emit("skill_activated", prompt_id, **{"skill.name": attribution["skill.name"]},
                         invocation_trigger="model")
        if draw % 5 == 0:
            server, tool = MCP_TOOLS[draw // 5 % len(MCP_TOOLS)]
            attribution |= {"mcp_server.name": server, "mcp_tool.name": tool}
            process.emit("mcp_server_connection", prompt_id, status="failed" if draw % 2 else "connected",
                         server_name=server, transport_type="stdio", duration_ms=duration % 900)
            process.emit("tool_result", prompt_id, tool_name=f"mcp__{server}__{tool}", success="true",
                         duration_ms=duration % 300)
        return attribution

    def _edit(self, process: ClaudeCodeProcess, prompt_id: str, model: str) -> None:
        rng = self.rng
        tool, language = rng.choice(EDIT_TOOLS), rng.choice(LANGUAGES)
        accepted = rng.random() < 0.75
        source = rng.choice(("config", "user_permanent", "user_temporary") if accepted else ("user_reject", "hook"))
        decision = "accept" if accepted else "reject"
        process.add(EDIT_DECISION, 1, tool_name=tool, decision=decision, source=source, language=language)
        process.emit("tool_decision", prompt_id, tool_name=tool, decision=decision, source=source,
                     tool_source="builtin")
        if accepted:  # rejected edits never produce lines
            process.add(LINES, rng.randint(1, 60), type="added", model=model)
            if rng.random() < 0.6:
                process.add(LINES, rng.randint(1, 20), type="removed", model=model)
            process.emit("tool_result", prompt_id, tool_name=tool, success="true", duration_ms=rng.randint(5, 300),
                         decision_type=decision, decision_source=source, tool_result_size_bytes=rng.randint(10, 9000))
