"""scenarios/mcp-skill-subagent.json made runnable: its .mcp.json names the interpreter and the fake MCP server
by placeholders (the harness substitutes only {work}, {home} and {lines}), filled in here with absolute paths."""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
TEMPLATE = SCENARIOS / "mcp-skill-subagent.json"
FAKE_MCP_SERVER = Path(__file__).resolve().parent / "fake_mcp_server.py"


def mcp_scenario(directory: Path, *, tool_details: bool = True) -> Path:
    """The scenario file, written to directory with this interpreter and the fake server's path in its MCP config;
    without tool_details, OTEL_LOG_TOOL_DETAILS is left unset (Claude Code then names no MCP server or tool)."""
    text = TEMPLATE.read_text().replace("{python}", sys.executable).replace("{mcp_server}", str(FAKE_MCP_SERVER))
    scenario = json.loads(text)
    if not tool_details:
        del scenario["env"]["OTEL_LOG_TOOL_DETAILS"]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (TEMPLATE.stem + ("" if tool_details else "-no-tool-details") + ".json")
    path.write_text(json.dumps(scenario, indent=1))
    return path
