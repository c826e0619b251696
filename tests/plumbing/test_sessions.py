"""Sessions of signed-in browsers: random ids that are not the token, an expiry, and a bound on how many are kept."""

from __future__ import annotations

from plumbing.auth import Caller
from plumbing.sessions import Sessions
from tests.support.manual_clock import ManualClock


def test_a_session_names_its_caller_until_it_expires_or_ends():
    clock = ManualClock(1000.0)
    sessions = Sessions(lifetime_seconds=60, clock=clock)
    org, member = Caller("org-a"), Caller("org-a", "ada@example.com", "ada@example.com")
    first, second = sessions.start(org), sessions.start(member)
    assert first != second and len(first) >= 40
    assert (sessions.caller(first), sessions.caller(second)) == (org, member)
    assert sessions.caller("") is None and sessions.caller(None) is None and sessions.caller(first + "x") is None
    sessions.end(second)
    assert sessions.caller(second) is None
    clock.now += 59
    assert sessions.caller(first) == org
    clock.now += 1
    assert sessions.caller(first) is None and len(sessions) == 0


def test_a_flood_of_sign_ins_keeps_only_the_newest_sessions():
    clock = ManualClock(1000.0)
    sessions = Sessions(lifetime_seconds=3600, max_sessions=100, clock=clock)
    ids = [sessions.start(Caller(f"org-{n}")) for n in range(1000)]
    assert len(sessions) == 100
    assert all(sessions.caller(session) is None for session in ids[:900])
    assert [sessions.caller(session) for session in ids[900:]] == [Caller(f"org-{n}") for n in range(900, 1000)]


def test_expired_sessions_are_dropped_when_new_ones_start():
    clock = ManualClock(1000.0)
    sessions = Sessions(lifetime_seconds=10, clock=clock)
    for n in range(50):
        sessions.start(Caller("org-a"))
    clock.now += 11
    sessions.start(Caller("org-b"))
    assert len(sessions) == 1
