"""The Claude Code marks in commit messages and PR bodies, against the texts Claude Code and GitHub write."""

import pytest

from collector.github.markers import has_body_marker, has_claude_trailer

# The commit-pr scenario's second commit, as Claude Code writes it.
CLAUDE_COMMIT = "Add greet.py\n\nCo-Authored-By: Claude <noreply@anthropic.com>\n"


@pytest.mark.parametrize("message, expected", [
    (CLAUDE_COMMIT, True),
    ("Fix parser\n\nCo-Authored-By: Claude Opus 4.1 <noreply@anthropic.com>", True),
    # GitHub's squash merge keeps the squashed commits' trailers, lower-cased
    ("Add hello (#12)\n\n* Add hello\n\nco-authored-by: Claude <noreply@anthropic.com>", True),
    ("Add hello.py", False),
    ("Co-Authored-By: Jane <jane@example.com>", False),
    # mentioned in the text, not a trailer line
    ("Tell users to write to noreply@anthropic.com for Co-Authored-By: help", False),
    ("Co-Authored-By: Claude <noreply@anthropic.com.evil.example>", False),
])
def test_the_trailer(message, expected):
    assert has_claude_trailer(message) is expected


@pytest.mark.parametrize("body, expected", [
    ("## Summary\n- adds two files\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)", True),
    ("Generated with [Claude Code](https://claude.ai/code)", True),
    ("Adds two files.", False),
    ("", False),
])
def test_the_body_marker(body, expected):
    assert has_body_marker(body) is expected
