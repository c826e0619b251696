"""Serialized OTLP export requests shaped as Claude Code 2.1.197 sends them (fixtures/claude-code-2.1.197).

A log export carries one session's events of the last 5 s (a prompt turn: user_prompt, api_request, tool_decision,
tool_result, ..., assistant_response); a metric export the session's delta counters of the last 60 s. Records carry
about 20 attributes: the standard identity ones, the team tag (`OTEL_RESOURCE_ATTRIBUTES` lands on every record too)
and each event's own.

Building a protobuf message costs far more than sending it, so each kind is built once per template (100 developer
profiles: org, team, model, terminal) with fixed-width placeholders for the developer and the session; a request is
a template with both placeholders replaced in the serialized bytes. The lengths do not change, so the protobuf
framing stays valid, and every request is a distinct session of one of DEVELOPERS developers, its records unique.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric, NumberDataPoint

CLIENT_VERSION = "2.1.197"
EVENT_SCOPE = "com.anthropic.claude_code.events"
METER_SCOPE = "com.anthropic.claude_code"
TEMPLATES = 100
DEVELOPERS = 10_000
ORGS = ("org-acme", "org-globex", "org-initech", "org-umbrella", "org-hooli")
MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-8[1m]", "claude-haiku-4-5-20251001")
TERMINALS = ("vscode", "iTerm.app", "xterm", "tmux", "ghostty", "claude-desktop")
EDIT_TOOLS = ("Edit", "Write", "MultiEdit", "NotebookEdit")
LANGUAGES = ("Python", "TypeScript", "Go", "Rust")
# Replaced per request; same length as what replaces them: a 6-digit developer number, a 12-hex-digit session.
DEVELOPER_MARK = b"@DEV@!"
SESSION_MARK = b"@SESSION@@@!"
# The turn Claude Code reports for one prompt (fixture 0001); a log export of N events continues it cyclically.
TURN = ("user_prompt", "api_request", "tool_decision", "tool_result", "api_request", "assistant_response")
METRIC_POINTS_PER_REQUEST = 11
LOG_EXPORT_SECONDS = 5
METRIC_EXPORT_SECONDS = 60


@dataclass(frozen=True)
class Profile:
    """What one template's developer looks like; the developer number and session are stamped in later."""

    org: str
    team: str
    model: str
    terminal: str
    edit_tool: str
    language: str


def profile_of(template: int) -> Profile:
    return Profile(ORGS[template % len(ORGS)], f"team-{template % 50:02d}", MODELS[template % len(MODELS)],
                   TERMINALS[template % len(TERMINALS)], EDIT_TOOLS[template % len(EDIT_TOOLS)],
                   LANGUAGES[template % len(LANGUAGES)])


def _kv(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _attributes(pairs: dict) -> list[KeyValue]:
    return [_kv(key, value) for key, value in pairs.items()]


def identity_attributes(profile: Profile, events: bool) -> dict:
    """Claude Code's standard attributes (telemetry reference, section 2) with the placeholders, and the team tag."""
    developer, session = DEVELOPER_MARK.decode(), SESSION_MARK.decode()
    identity = {
        "user.id": f"{'0' * 58}{developer}",
        "session.id": f"5e551011-0000-4000-8000-{session}",
        "organization.id": profile.org,
        "user.email": f"dev{developer}@{profile.org}.example",
        "user.account_uuid": f"acc00000-0000-4000-8000-000000{developer}",
        "terminal.type": profile.terminal,
    }
    if events:  # app.version is on events; on metrics only when opted in
        identity["app.version"] = CLIENT_VERSION
    return {"team": profile.team, "cost_center": "42", **identity}


def resource_attributes(profile: Profile) -> list[KeyValue]:
    return _attributes({"team": profile.team, "cost_center": "42", "host.arch": "amd64", "os.type": "linux",
                        "os.version": "6.18.44", "service.name": "claude-code", "service.version": CLIENT_VERSION})


def event_attributes(name: str, profile: Profile, prompt: int) -> dict:
    """Each event's own attributes, as in the fixtures (numbers as Claude Code sends them: some as strings)."""
    if name == "user_prompt":
        return {"prompt_length": "15", "prompt": "<REDACTED>", "command_name": ""}
    if name == "api_request":
        return {"model": profile.model, "input_tokens": 1200, "output_tokens": 321, "cache_read_tokens": 4096,
                "cache_creation_tokens": 0, "cost_usd": 0.014025, "cost_usd_micros": 14025,
                "duration_ms": 2500 + prompt,
                "speed": "normal", "query_source": "main", "effort": "high", "request_id": f"req_{prompt:020d}"}
    if name == "tool_decision":
        return {"decision": "accept", "source": "config", "tool_name": profile.edit_tool,
                "tool_use_id": f"toolu_{prompt:08d}"}
    if name == "tool_result":
        return {"tool_name": profile.edit_tool, "tool_use_id": f"toolu_{prompt:08d}", "success": "true",
                "duration_ms": "9", "decision_type": "accept", "decision_source": "config",
                "tool_input_size_bytes": "172", "tool_result_size_bytes": "120"}
    return {"response_length": 512, "response": "<REDACTED>", "model": profile.model, "query_source": "main"}


def log_template(profile: Profile, events: int, now_ns: int) -> bytes:
    """One session's log export: `events` events over the last 5 s, sequence numbers and prompt ids included."""
    request = ExportLogsServiceRequest()
    block = request.resource_logs.add()
    block.resource.attributes.extend(resource_attributes(profile))
    scope = block.scope_logs.add()
    scope.scope.name, scope.scope.version = EVENT_SCOPE, CLIENT_VERSION
    identity = identity_attributes(profile, events=True)
    first_ns = now_ns - LOG_EXPORT_SECONDS * 10**9
    for sequence in range(events):
        name, prompt = TURN[sequence % len(TURN)], sequence // len(TURN)
        at_ns = first_ns + sequence * (LOG_EXPORT_SECONDS * 10**9 // max(events, 1))
        iso = datetime.fromtimestamp(at_ns / 1e9, timezone.utc).isoformat(timespec="milliseconds")
        attributes = {**identity, "event.name": name, "event.timestamp": iso.replace("+00:00", "Z"),
                      "event.sequence": sequence,
                      "prompt.id": f"{prompt:08x}-0000-4000-8000-{SESSION_MARK.decode()}",
                      **event_attributes(name, profile, prompt)}
        scope.log_records.append(LogRecord(time_unix_nano=at_ns, observed_time_unix_nano=at_ns,
                                           body=AnyValue(string_value=f"claude_code.{name}"),
                                           attributes=_attributes(attributes)))
    return request.SerializeToString()


def _delta_sum(metric: Metric, points: list[tuple[float, dict]], start_ns: int, end_ns: int) -> None:
    metric.sum.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    metric.sum.is_monotonic = True
    for value, attributes in points:
        metric.sum.data_points.append(NumberDataPoint(start_time_unix_nano=start_ns, time_unix_nano=end_ns,
                                                      as_double=value, attributes=_attributes(attributes)))


def metric_points(profile: Profile) -> list[tuple[str, str, float, dict]]:
    """(metric, unit, value, extra attributes) of one minute's delta counters: 11 points, as in fixture 0002."""
    attribution = {"model": profile.model, "query_source": "main", "effort": "high"}
    tokens = (("input", 2400.0), ("output", 642.0), ("cacheRead", 8192.0), ("cacheCreation", 0.0))
    return [
        ("claude_code.session.count", "", 1.0, {"start_type": "fresh"}),
        ("claude_code.lines_of_code.count", "", 8.0, {"type": "added", "model": profile.model}),
        ("claude_code.lines_of_code.count", "", 2.0, {"type": "removed", "model": profile.model}),
        ("claude_code.cost.usage", "USD", 0.02805, attribution),
        *[("claude_code.token.usage", "tokens", value, {**attribution, "type": kind}) for kind, value in tokens],
        ("claude_code.code_edit_tool.decision", "", 1.0, {"decision": "accept", "source": "config",
                                                         "tool_name": profile.edit_tool, "language": profile.language}),
        ("claude_code.active_time.total", "s", 41.5, {"type": "user"}),
        ("claude_code.active_time.total", "s", 12.25, {"type": "cli"}),
    ]


def metric_template(profile: Profile, now_ns: int) -> bytes:
    request = ExportMetricsServiceRequest()
    block = request.resource_metrics.add()
    block.resource.attributes.extend(resource_attributes(profile))
    scope = block.scope_metrics.add()
    scope.scope.name, scope.scope.version = METER_SCOPE, CLIENT_VERSION
    identity = identity_attributes(profile, events=False)
    start_ns = now_ns - METRIC_EXPORT_SECONDS * 10**9
    by_metric: dict[str, Metric] = {}
    for name, unit, value, extra in metric_points(profile):
        if name not in by_metric:
            by_metric[name] = scope.metrics.add(name=name, unit=unit)
        _delta_sum(by_metric[name], [(value, {**identity, **extra})], start_ns, now_ns)
    return request.SerializeToString()


class RequestFactory:
    """The k-th log or metric export of one load worker, the same bytes for the same (worker, kind, k, now_ns)."""

    def __init__(self, worker: int, now_ns: int, events_per_request: int, developers: int = DEVELOPERS):
        self.worker = worker
        self.developers_per_template = max(developers // TEMPLATES, 1)
        profiles = [profile_of(template) for template in range(TEMPLATES)]
        self.templates = {
            "logs": [log_template(profile, events_per_request, now_ns) for profile in profiles],
            "metrics": [metric_template(profile, now_ns) for profile in profiles],
        }

    def body(self, kind: str, number: int) -> bytes:
        template = number % TEMPLATES
        # The developer's number modulo TEMPLATES is its template, so a developer keeps one org, team and model.
        developer = template + TEMPLATES * ((number // TEMPLATES) % self.developers_per_template)
        session = (self.worker << 40) | ((kind == "metrics") << 39) | number
        return (self.templates[kind][template]
                .replace(DEVELOPER_MARK, b"%06d" % developer)
                .replace(SESSION_MARK, b"%012x" % session))
