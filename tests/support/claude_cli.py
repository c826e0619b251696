"""One real Claude Code CLI session through ../shared/claude-code-harness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import HARNESS


def run_claude(endpoint: str, protocol: str, lines: int, resource_attributes: str, *, scenario: str | None = None,
               version: str | None = None, keep: Path | None = None, record_dir: Path | None = None) -> dict:
    """One real CLI session (the harness's default one, or a scenario file, of the harness's default version unless
    given); returns the harness's ground truth (file_lines, api_requests, ...). With keep, the session's work dir
    (its git repository), HOME and logs are kept there. With record_dir, the harness's tee records every export
    request there and the answer has `cli_reported`, the figures the CLI itself sent."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "CC_ANALYTICS_"))}
    environment.update({"CC_HARNESS_SCENARIO": scenario} if scenario else {})
    environment.update({"CLAUDE_CODE_VERSION": version} if version else {})
    environment.update({"CC_HARNESS_KEEP": str(keep)} if keep else {})
    if record_dir:  # the tee needs grpcio and opentelemetry-proto: this interpreter has both
        environment.update(CC_HARNESS_RECORD_DIR=str(record_dir), CC_HARNESS_PYTHON=sys.executable)
    result = subprocess.run(["bash", str(HARNESS), endpoint, protocol, str(lines), resource_attributes],
                            capture_output=True, text=True, timeout=600, env=environment)
    assert result.returncode == 0, f"harness failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])
