"""A small fleet for the Usage figures: Claude Code processes (tests/support/fleet.py's, through the official
OpenTelemetry SDK and OTLP exporters, delta and cumulative, some exports sent twice, a session resumed) whose cost
and token points carry Claude Code 2.1.332's attribution (query_source, agent.name, skill.name, mcp_server.name,
mcp_tool.name, plugin.name) and which send the usage events (skill_activated, mcp_server_connection,
subagent_completed, tool_result, hook_execution_complete, tool_decision with permission_mode,
permission_mode_changed, plugin_loaded, user_prompt with command_name).

The truth is the fleet's own bookkeeping as it sends (never cc-analytics code): per (day, org, user key, kind,
name) what each record adds, as the README defines the Usage figures; `active` the members with any record a day.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import date, timedelta

from tests.support.fleet import ClaudeCodeProcess, build_members
from tests.support.fleet_sdk import Collector, SimulatedClock
from tests.support.fleet_truth import COST, MODELS, SESSIONS, TOKENS, GroundTruth, Member

FIGURES = ("uses", "successes", "failures", "duration_ms", "cost_usd", "input_tokens", "output_tokens",
           "cache_read_tokens", "cache_creation_tokens")
TOKEN_FIGURES = {"input": "input_tokens", "output": "output_tokens", "cacheRead": "cache_read_tokens",
                 "cacheCreation": "cache_creation_tokens"}
SKILLS = ("pdf", "xlsx", "custom_skill")
AGENTS = ("Explore", "general-purpose", "custom")
MCP_TOOLS = (("github", "create_issue"), ("github", "list_pulls"), ("linear", "search"))
PLUGINS = ("review-kit", "deploy-tools")
TOOLS = ("Bash", "Read", "Grep")
HOOK_EVENTS = ("PreToolUse", "PostToolUse", "Stop")
MODES = ("default", "acceptEdits", "plan", "bypassPermissions")
COMMANDS = ("/review", "/commit", "/init")
FEATURES = ("skills", "mcp", "subagents", "hooks", "plan_mode")


class UsageTruth:
    def __init__(self):
        self.rows: dict[tuple, dict[str, float]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
        self.teams: dict[tuple[date, str, str], str] = {}
        self.active: set[tuple[date, str, str]] = set()
        self.adopted: dict[str, set[tuple[date, str, str]]] = defaultdict(set)

    def add(self, day: date, member: Member, kind: str, name: str, **figures: float) -> None:
        row = self.rows[(day, member.org_id, member.user_key, kind, name)]
        for figure, amount in figures.items():
            row[figure] += amount
        who = (day, member.org_id, member.user_key)
        feature = {"skill": "skills", "mcp_server": "mcp", "mcp_tool": "mcp", "agent": "subagents",
                   "hook": "hooks"}.get(kind)
        if kind == "query_source" and name == "subagent":
            feature = "subagents"
        if kind == "permission_mode" and name == "plan":
            feature = "plan_mode"
        if feature:
            self.adopted[feature].add(who)

    def seen(self, day: date, member: Member) -> None:
        self.active.add((day, member.org_id, member.user_key))
        self.teams[(day, member.org_id, member.user_key)] = member.team


class UsageFleet:
    def __init__(self, today: date, seed: int = 16_2026):
        self.rng = random.Random(seed)
        self.days = [today - timedelta(days=n) for n in (3, 2, 1)]
        self.members = build_members(self.rng)
        self.clock = SimulatedClock()
        self.collector = Collector()
        self.truth = GroundTruth()  # ClaudeCodeProcess records its SentRecords here
        self.usage = UsageTruth()
        self.features: set[str] = set()

    def send(self, serve) -> None:
        self.collector.serve = serve
        with self.clock.installed():
            resumed = (self.members[3], self._session_id())
            for day in self.days:
                for member in self.members:
                    if self.rng.random() < 0.2:
                        continue
                    self._process(member, day, self._session_id(), self.rng.randint(8, 12))
                # a session resumed the same afternoon: a new cumulative process, its counters from 0
                for hour in (14, 17):
                    self._process(resumed[0], day, resumed[1], hour, temporality="cumulative")
                    self.features.add("resumed session")

    def _session_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def _process(self, member: Member, day: date, session_id: str, hour: int, temporality: str | None = None):
        self.clock.set(day, hour, self.rng.randint(0, 59))
        temporality = temporality or self.rng.choice(("delta", "cumulative"))
        copies = 2 if self.rng.random() < 0.3 else 1
        self.features |= {temporality, "duplicate export" if copies == 2 else "single export"}
        process = ClaudeCodeProcess(self, member, session_id, transport=self.rng.choice(("grpc", "http")),
                                    temporality=temporality, copies=copies)
        process.add(SESSIONS, 1, start_type="fresh")
        self.usage.seen(day, member)
        if self.rng.random() < 0.5:
            plugin = self.rng.choice(PLUGINS)
            process.emit("plugin_loaded", "", **{"plugin.name": plugin, "marketplace.name": "acme-market"})
            self._count(member, "plugin", plugin, uses=1)
        for _ in range(self.rng.randint(1, 4)):
            self._turn(process, member)
            if self.rng.random() < 0.5:
                process.export()
        process.end()

    def _count(self, member: Member, kind: str, name: str, **figures: float) -> None:
        self.usage.add(self.clock.day, member, kind, name, **figures)

    def _number(self, value: int):
        """Attribute values arrive as numbers or as strings."""
        return value if self.rng.random() < 0.5 else str(value)

    def _turn(self, process: ClaudeCodeProcess, member: Member) -> None:
        rng, prompt_id = self.rng, self._session_id()
        command = rng.choice(COMMANDS) if rng.random() < 0.3 else None
        process.emit("user_prompt", prompt_id, prompt_length=12, **({"command_name": command} if command else {}))
        if command:
            self._count(member, "command", command, uses=1)
        for _ in range(rng.randint(1, 3)):
            self._request(process, member, prompt_id)
        for _ in range(rng.randint(0, 3)):
            self._tool(process, member, prompt_id)
        if rng.random() < 0.4:
            hooks = rng.randint(1, 3)
            succeeded, duration = rng.randint(0, hooks), rng.randint(1, 400)
            hook = rng.choice(HOOK_EVENTS)
            process.emit("hook_execution_complete", prompt_id, hook_event=hook, hook_name=f"{hook}:Bash",
                         num_hooks=self._number(hooks), num_success=self._number(succeeded),
                         num_blocking=0, total_duration_ms=self._number(duration))
            self._count(member, "hook", hook, uses=hooks, successes=succeeded, failures=hooks - succeeded,
                        duration_ms=duration)
        if rng.random() < 0.2:
            process.emit("permission_mode_changed", prompt_id, from_mode="default", to_mode="plan")
            self._count(member, "permission_mode", "plan", uses=1)
        self.clock.advance(rng.randint(60, 300))

    def _request(self, process: ClaudeCodeProcess, member: Member, prompt_id: str) -> None:
        """One API request's cost and tokens, attributed to what caused it, and the events of what it did."""
        rng = self.rng
        source = rng.choice(("main", "main", "subagent", "auxiliary"))
        attribution = {"query_source": source}
        if source == "subagent":
            attribution["agent.name"] = rng.choice(AGENTS)
        if rng.random() < 0.3:
            attribution["skill.name"] = rng.choice(SKILLS)
            process.emit("skill_activated", prompt_id, **{"skill.name": attribution["skill.name"],
                                                          "invocation_trigger": "model", "skill.source": "user"})
            self._count(member, "skill", attribution["skill.name"], uses=1)
        if rng.random() < 0.3:
            server, tool = rng.choice(MCP_TOOLS)
            attribution |= {"mcp_server.name": server, "mcp_tool.name": tool}
        if rng.random() < 0.2:
            attribution["plugin.name"] = rng.choice(PLUGINS)
        model = rng.choice(MODELS)
        cost = rng.randint(1, 4096) / 1024  # a binary fraction: sums are exact
        usage = {kind: rng.randint(1, 5000) for kind in TOKEN_FIGURES}
        for kind, tokens in usage.items():
            process.add(TOKENS, tokens, model=model, type=kind, **attribution)
        process.add(COST, cost, model=model, **attribution)
        figures = {"cost_usd": cost, **{TOKEN_FIGURES[kind]: tokens for kind, tokens in usage.items()}}
        names = {"query_source": source, "agent": attribution.get("agent.name"),
                 "skill": attribution.get("skill.name"), "plugin": attribution.get("plugin.name"),
                 "mcp_server": attribution.get("mcp_server.name"),
                 "mcp_tool": (f"mcp__{attribution['mcp_server.name']}__{attribution['mcp_tool.name']}"
                              if "mcp_tool.name" in attribution else None)}
        for kind, name in names.items():
            if name:
                self._count(member, kind, name, **figures)
        # an api_request event with other numbers: counting events into cost or tokens would show
        process.emit("api_request", prompt_id, model=model, cost_usd=cost + 0.5, input_tokens=usage["input"] + 7,
                     query_source=source)
        if source == "subagent":
            duration = rng.randint(100, 90_000)
            process.emit("subagent_completed", prompt_id, agent_type=attribution["agent.name"],
                         **{"agent.source": "built-in"}, is_built_in="true", is_async="false",
                         total_tokens=self._number(usage["output"]), total_tool_uses=self._number(3),
                         duration_ms=self._number(duration), model=model)
            self._count(member, "agent", attribution["agent.name"], uses=1, duration_ms=duration)

    def _tool(self, process: ClaudeCodeProcess, member: Member, prompt_id: str) -> None:
        rng = self.rng
        if rng.random() < 0.3:
            server, tool = rng.choice(MCP_TOOLS)
            name = f"mcp__{server}__{tool}"
            if rng.random() < 0.5:
                connected = rng.random() < 0.8
                duration = rng.randint(5, 2000)
                process.emit("mcp_server_connection", prompt_id, status="connected" if connected else "failed",
                             transport_type="stdio", server_scope="project", duration_ms=self._number(duration),
                             is_plugin="false", server_name=server)
                self._count(member, "mcp_server", server, uses=1, successes=int(connected),
                            failures=int(not connected), duration_ms=duration)
                if connected and rng.random() < 0.5:  # 2.1.332 at a process's end: no use, its lifetime
                    process.emit("mcp_server_connection", prompt_id, status="disconnected", transport_type="stdio",
                                 server_scope="project", duration_ms=self._number(rng.randint(2000, 90_000)),
                                 is_plugin="false", server_name=server)
                    self.features.add("mcp disconnected")
            # 2.1.332 names an MCP call `mcp_tool`, the server and tool in tool_parameters; older clients so
            sent_as = ({"tool_name": "mcp_tool", "tool_parameters": json.dumps(
                {"mcp_server_name": server, "mcp_tool_name": tool}), "mcp_server_scope": "project"}
                if rng.random() < 0.5 else {"tool_name": name})
            self.features.add(f"mcp call as {sent_as['tool_name']}" if sent_as["tool_name"] == "mcp_tool"
                              else "mcp call as mcp__SERVER__TOOL")
        else:
            name = rng.choice(TOOLS)
            sent_as = {"tool_name": name}
        mode = rng.choice(MODES)
        process.emit("tool_decision", prompt_id, decision="accept", source="config",
                     tool_source="mcp" if name.startswith("mcp__") else "builtin", permission_mode=mode, **sent_as)
        self._count(member, "permission_mode", mode, uses=1)
        succeeded, duration = rng.random() < 0.8, rng.randint(1, 5000)
        process.emit("tool_result", prompt_id, success="true" if succeeded else "false",
                     duration_ms=self._number(duration), tool_result_size_bytes=self._number(rng.randint(0, 9000)),
                     **({} if succeeded else {"error_type": "tool_error"}), **sent_as)
        figures = dict(uses=1, successes=int(succeeded), failures=int(not succeeded), duration_ms=duration)
        self._count(member, "tool", name, **figures)
        if name.startswith("mcp__"):
            self._count(member, "mcp_tool", name, **figures)
