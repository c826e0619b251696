"""Where the repository, ../shared and its fixtures and harness are."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures" / "claude-code-2.1.197"
HARNESS = SHARED / "claude-code-harness" / "run-claude.sh"


def fixture_files() -> list[Path]:
    return sorted(FIXTURES.glob("*.json")) if FIXTURES.is_dir() else []
