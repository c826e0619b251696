"""Running the `cc-analytics` command as a user would, with none of the environment's CC_ANALYTICS_ or OTEL_
settings leaking in."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.paths import REPO


def run(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CC_ANALYTICS_", "OTEL_"))}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "cc_analytics", *args], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=timeout)
