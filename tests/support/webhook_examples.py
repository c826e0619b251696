"""GitHub's real webhook payloads, from the npm package @octokit/webhooks-examples (installed with npm once, into a
cache directory shared by test runs, as the Claude Code harness installs the CLI)."""

from __future__ import annotations

import copy
import functools
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

PACKAGE = "@octokit/webhooks-examples"
VERSION = "7.6.1"
CACHE = Path.home() / ".cache" / "cc-analytics-tests" / f"webhooks-examples-{VERSION}"
# The package's layout: one index per GitHub flavour, a list of {name, actions, examples} per event.
INDEX = Path("node_modules") / PACKAGE / "api.github.com" / "index.json"


def _installed() -> Path:
    index = CACHE / INDEX
    if not index.is_file():
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        # installed beside the cache and moved in whole, so a run cut short or a parallel one never sees half
        staging = Path(tempfile.mkdtemp(prefix="webhooks-examples-", dir=CACHE.parent))
        result = subprocess.run(["npm", "install", "--prefix", str(staging), "--silent", "--no-audit", "--no-fund",
                                 f"{PACKAGE}@{VERSION}"], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"npm install {PACKAGE}@{VERSION} failed:\n{result.stderr}"
        try:
            staging.rename(CACHE)
        except OSError:  # another run installed it first
            shutil.rmtree(staging, ignore_errors=True)
    return index


@functools.lru_cache(maxsize=1)
def _examples_by_event() -> dict[str, list[dict]]:
    return {event["name"]: event["examples"] for event in json.loads(_installed().read_text())}


def examples(event: str) -> list[dict]:
    """Every example payload of a webhook event (copies: a test may change them)."""
    found = _examples_by_event()[event]
    assert found, f"{PACKAGE}@{VERSION} has no {event} example"
    return copy.deepcopy(found)
