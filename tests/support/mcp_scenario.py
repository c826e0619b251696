"""scenarios/mcp-skill-subagent.json made runnable: its .mcp.json names the interpreter and the fake MCP server
by placeholders (the harness substitutes only {work}, {home} and {lines}), filled in here with absolute paths."""

from __future__ import annotations

import sys
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
TEMPLATE = SCENARIOS / "mcp-skill-subagent.json"
FAKE_MCP_SERVER = Path(__file__).resolve().parent / "fake_mcp_server.py"


def mcp_scenario(directory: Path) -> Path:
    """The scenario file, written to directory with this interpreter and the fake server's path in its MCP config."""
    text = TEMPLATE.read_text().replace("{python}", sys.executable).replace("{mcp_server}", str(FAKE_MCP_SERVER))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / TEMPLATE.name
    path.write_text(text)
    return path
