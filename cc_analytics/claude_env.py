"""The environment block that points Claude Code's OpenTelemetry exporters at this collector."""

from __future__ import annotations

import json
import socket

from cc_analytics.config import Settings

PROTOCOLS = ("grpc", "http/protobuf", "http/json")
_ALL_INTERFACES = ("", "0.0.0.0", "::", "[::]")


def reachable_host(bind_host: str, local: bool = False) -> str:
    """The name a client uses for a bind address: a wildcard bind means this machine (loopback when local)."""
    if bind_host in _ALL_INTERFACES:
        return "127.0.0.1" if local else socket.getfqdn()
    return f"[{bind_host}]" if ":" in bind_host and not bind_host.startswith("[") else bind_host


def claude_code_environment(host: str, settings: Settings, protocol: str,
                            include_repository: bool = True) -> dict[str, str]:
    port = settings.grpc_port if protocol == "grpc" else settings.http_port
    environment = {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        # Claude Code has no default protocol: it must be set.
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{host}:{port}",
    }
    if include_repository:
        # Undocumented (Claude Code 2.1.3xx): vcs.owner.name and vcs.repository.name of the git origin on every
        # point and event; the repository figures and the contributions' "assisted" level need them.
        environment["OTEL_METRICS_INCLUDE_REPOSITORY"] = "1"
    return environment


def render(host: str, settings: Settings, protocol: str, output_format: str, include_repository: bool = True) -> str:
    environment = claude_code_environment(host, settings, protocol, include_repository)
    if output_format == "settings-json":
        return json.dumps({"env": environment}, indent=2)
    lines = [f"# Claude Code -> cc-analytics over OTLP {protocol}. Put these in the shell profile of each developer,",
             "# or roll them out with: cc-analytics claude-env --format settings-json (managed settings)."]
    lines += [f"export {name}={value}" for name, value in environment.items()]
    lines += [
        "# Optional: tag a team (one label per developer or group): export OTEL_RESOURCE_ATTRIBUTES=team=payments",
        "# Optional: traces (beta): export CLAUDE_CODE_ENHANCED_TELEMETRY_BETA=1 OTEL_TRACES_EXPORTER=otlp",
    ]
    return "\n".join(lines)
