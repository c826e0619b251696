"""The bound on wrong tokens per client address: a window of failures, then refusals until it ends; the
addresses remembered are bounded."""

from __future__ import annotations

from plumbing.sign_in_attempts import SignInAttempts
from tests.support.manual_clock import ManualClock


def test_an_address_that_failed_too_often_waits_for_the_window_to_end():
    clock = ManualClock(500.0)
    attempts = SignInAttempts(max_failures=3, window_seconds=60, clock=clock)
    for _ in range(2):
        attempts.failed("10.0.0.1")
    assert attempts.retry_after("10.0.0.1") == 0
    clock.now += 10
    attempts.failed("10.0.0.1")
    assert attempts.retry_after("10.0.0.1") == 50  # counted from the first failure
    assert attempts.retry_after("10.0.0.2") == 0  # other addresses are not held up
    clock.now += 49
    assert attempts.retry_after("10.0.0.1") == 1
    clock.now += 1
    assert attempts.retry_after("10.0.0.1") == 0
    attempts.failed("10.0.0.1")  # a new window
    assert attempts.retry_after("10.0.0.1") == 0


def test_the_addresses_remembered_are_bounded():
    attempts = SignInAttempts(max_failures=1, window_seconds=60, max_addresses=10, clock=ManualClock(500.0))
    for n in range(100):
        attempts.failed(f"10.0.0.{n}")
    assert len(attempts._failures) == 10
    assert attempts.retry_after("10.0.0.99") > 0 and attempts.retry_after("10.0.0.0") == 0
