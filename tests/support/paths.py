"""Where the repository, ../shared and its fixtures and harness are."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
FIXTURE_VERSIONS = ("2.1.197", "2.1.332")  # the Claude Code versions recorded under ../shared/fixtures
FIXTURES = SHARED / "fixtures" / "claude-code-2.1.197"
HARNESS = SHARED / "claude-code-harness" / "run-claude.sh"
HARNESS_SCENARIOS = SHARED / "claude-code-harness" / "scenarios"


def fixtures_of(version: str) -> Path:
    return SHARED / "fixtures" / f"claude-code-{version}"


def fixture_files(version: str = "2.1.197") -> list[Path]:
    """The recorded export requests of one Claude Code version (NNNN-{logs|metrics}-PROTOCOL.json), in order."""
    directory = fixtures_of(version)
    return sorted(directory.glob("*.json")) if directory.is_dir() else []
