"""The marks Claude Code leaves in what it writes to git and GitHub, found in text that is then thrown away.

Claude Code ends the commits it authors with a `Co-Authored-By: <model> <noreply@anthropic.com>` trailer and the
pull requests it opens with "Generated with [Claude Code](https://claude.com/claude-code)". Users can turn both
off, so a missing mark proves nothing; a present one is evidence. Squash merges on GitHub keep the trailers of the
squashed commits as "Co-authored-by:" lines, so the case of the trailer's key does not matter.
"""

from __future__ import annotations

import re

_CLAUDE_TRAILER = re.compile(r"^\s*co-authored-by:[^\n<]*<noreply@anthropic\.com>\s*$", re.IGNORECASE | re.MULTILINE)
_BODY_MARKER = re.compile(r"generated with \[claude code\]", re.IGNORECASE)


def has_claude_trailer(message: str) -> bool:
    """The commit message carries Claude Code's Co-Authored-By trailer."""
    return bool(_CLAUDE_TRAILER.search(message))


def has_body_marker(body: str) -> bool:
    """The pull request's body carries Claude Code's "Generated with [Claude Code]" line."""
    return bool(_BODY_MARKER.search(body))
