"""Which added lines of a merged change count, as the hosted Claude Code analytics counts them ("effective lines").

A line counts when, normalised (trimmed, runs of white space collapsed, quotes made plain, lower-cased), it is more
than 3 characters long and not only brackets or punctuation, and it is no longer than 1,000 characters as written
(minified or generated text). Files that people do not write do not count at all: lock files, generated code, build
output, vendored dependencies, test fixtures and snapshots. Pure functions over a file's path and GitHub's patch
text; the patch itself is never stored.
"""

from __future__ import annotations

import re

MIN_CHARACTERS = 4  # "more than 3 characters"
MAX_LINE_CHARACTERS = 1_000

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "`": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"'})
_WHITE_SPACE = re.compile(r"\s+")
# Nothing but brackets, punctuation and symbols: `});`, `]`, `*/`, `---`, `=====`.
_PUNCTUATION_ONLY = re.compile(r"^[\W_]*$")

LOCK_FILES = frozenset({
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "bun.lock",
    "cargo.lock", "poetry.lock", "pipfile.lock", "uv.lock", "pdm.lock", "gemfile.lock", "composer.lock", "go.sum",
    "flake.lock", "mix.lock", "podfile.lock", "pubspec.lock", "packages.lock.json", "gradle.lockfile",
    "package.resolved", "cartfile.resolved", "deno.lock",
})
BUILD_DIRECTORIES = frozenset({"dist", "build", "target", "out", ".next"})
VENDORED_DIRECTORIES = frozenset({"node_modules", "vendor", "third_party", ".yarn"})
FIXTURE_DIRECTORIES = frozenset({"__snapshots__", "fixtures", "__fixtures__", "testdata", "snapshots"})
GENERATED_DIRECTORIES = frozenset({"generated", "__generated__", "gen"})
_GENERATED_NAME = re.compile(
    r"(\.min\.(js|css|mjs)|\.map|_pb2(_grpc)?\.pyi?|\.pb\.(go|cc|h)|\.pb\.gw\.go|\.g\.dart|\.freezed\.dart"
    r"|\.generated\.\w+|\.gen\.\w+|\.designer\.cs|_generated\.\w+)$")
_SNAPSHOT_NAME = re.compile(r"\.(snap|ambr)$")


def excluded_reason(path: str) -> str:
    """Why a file's lines do not count ("" when they do), from its path in the repository."""
    parts = path.lower().split("/")
    name, directories = parts[-1], set(parts[:-1])
    if name in LOCK_FILES or name.endswith(".lock"):
        return "lock file"
    if directories & VENDORED_DIRECTORIES:
        return "vendored dependencies"
    if directories & BUILD_DIRECTORIES:
        return "build output"
    if directories & GENERATED_DIRECTORIES or _GENERATED_NAME.search(name):
        return "generated code"
    if directories & FIXTURE_DIRECTORIES or _SNAPSHOT_NAME.search(name):
        return "test fixture or snapshot"
    return ""


def normalised(line: str) -> str:
    return _WHITE_SPACE.sub(" ", line.translate(_QUOTES).strip()).lower()


def is_effective(line: str) -> bool:
    """The added line (without its leading +) counts."""
    if len(line) > MAX_LINE_CHARACTERS:
        return False
    text = normalised(line)
    return len(text) >= MIN_CHARACTERS and not _PUNCTUATION_ONLY.match(text)


def added_lines(patch: str) -> list[str]:
    """The lines a GitHub file patch (unified diff hunks, no file headers) adds, without their +."""
    added, in_hunk = [], False
    for line in patch.split("\n"):
        if line.startswith("@@"):
            in_hunk = True
        elif in_hunk and line.startswith("+"):
            added.append(line[1:].rstrip("\r"))
    return added


def effective_lines_added(path: str, patch: str | None) -> tuple[int, str]:
    """The effective lines a file's patch adds, and why none count when the file is excluded. GitHub sends no
    patch for binary files and very large diffs: those count none, with the reason."""
    reason = excluded_reason(path)
    if reason:
        return 0, reason
    if patch is None:
        return 0, "no patch (binary or too large)"
    return sum(1 for line in added_lines(patch) if is_effective(line)), ""
