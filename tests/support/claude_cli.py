"""One real Claude Code CLI session through ../shared/claude-code-harness."""

from __future__ import annotations

import json
import os
import subprocess

from tests.support.paths import HARNESS


def run_claude(endpoint: str, protocol: str, lines: int, resource_attributes: str) -> dict:
    """One real CLI session; returns the harness's ground truth (file_lines, api_requests, ...)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "CC_ANALYTICS_"))}
    result = subprocess.run(["bash", str(HARNESS), endpoint, protocol, str(lines), resource_attributes],
                            capture_output=True, text=True, timeout=600, env=environment)
    assert result.returncode == 0, f"harness failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])
