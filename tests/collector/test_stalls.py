"""No request can stall the collector: while hostile exports are being handled (many tiny points that gzip to almost
nothing, a gzip body of many members, a client dribbling its body), a steady well-behaved client's exports over
both transports are each answered promptly, /readyz and /metrics answer, and SIGTERM stops serve within its grace."""

from __future__ import annotations

import gzip
import signal
import threading
import time
import urllib.request
from contextlib import ExitStack, contextmanager

import pytest

from benchmarks.claude_requests import RequestFactory
from cc_analytics.serve import SHUTDOWN_GRACE_SECONDS
from tests.support.exports import post_export
from tests.support.hostile_bodies import DribblingClient, empty_gzip_members, tiny_points_request

# A correctness bound for "not stalled" on a shared 2-core machine, not a timing goal.
PROMPT_SECONDS = 2.0
STEADY_SECONDS = 4.0
HOSTILE_AT_ONCE = 3
GZIP = {"Content-Encoding": "gzip"}


@pytest.fixture(scope="module")
def tiny_points() -> bytes:
    return tiny_points_request()


def _send_tiny_points_gzipped(serve, body: bytes):
    return post_export(serve, gzip.compress(body), "http", signal="metrics", headers=GZIP, timeout=120)


def _send_tiny_points_grpc(serve, body: bytes):
    return post_export(serve, body, "grpc", signal="metrics", timeout=120)


def _send_gzip_members(serve, _body: bytes):
    return post_export(serve, empty_gzip_members(), "http", signal="logs", headers=GZIP, timeout=120)


def _sent_from_a_thread(send, serve, body: bytes) -> tuple[threading.Thread, list]:
    """send(serve, body) in a thread; the list gets its answer (or the error: a refusal is allowed)."""
    answers: list = []
    thread = threading.Thread(target=lambda: answers.append(_timed(lambda: send(serve, body))[1]), daemon=True)
    thread.start()
    return thread, answers


@contextmanager
def _in_flight(send, serve, body: bytes):
    """HOSTILE_AT_ONCE hostile requests sent at once, from threads, for the duration of the block."""
    for _ in range(HOSTILE_AT_ONCE):
        _sent_from_a_thread(send, serve, body)
    time.sleep(0.5)  # sent and being handled
    yield None


@contextmanager
def _dribbling(serve, _body: bytes):
    with ExitStack() as clients:
        for _ in range(HOSTILE_AT_ONCE):
            clients.enter_context(DribblingClient(serve.host, serve.http_port))
        time.sleep(0.5)
        yield None


@contextmanager
def _decoded_for_seconds(serve, body: bytes):
    """One request under a bound raised to take it whole: a worker decodes its 800,000 points for seconds, and
    they are stored once it is done."""
    thread, answers = _sent_from_a_thread(_send_tiny_points_gzipped, serve, body)
    time.sleep(1)

    def finished():
        thread.join(120)
        assert [getattr(answer, "ok", answer) for answer in answers] == [True]

    yield finished


HOSTILE = {
    "tiny points gzipped over HTTP": lambda serve, body: _in_flight(_send_tiny_points_gzipped, serve, body),
    "tiny points decoded for seconds by a worker": _decoded_for_seconds,
    "tiny points over gRPC": lambda serve, body: _in_flight(_send_tiny_points_grpc, serve, body),
    "many gzip members": lambda serve, body: _in_flight(_send_gzip_members, serve, body),
    "a client dribbling its body": _dribbling,
}


def _timed(call) -> tuple[float, object]:
    started = time.monotonic()
    try:
        result = call()
    except Exception as error:  # a timeout or a refused connection is an answer too: a wrong one
        result = error
    return time.monotonic() - started, result


def _status_of(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return reply.status


def _steady_client(serve, seconds: float) -> list[tuple[str, float, object]]:
    """Exports over HTTP and gRPC in turn, and /readyz and /metrics, for `seconds`: (what, seconds, answer)."""
    factory = RequestFactory(worker=7, now_ns=time.time_ns(), events_per_request=10)
    api = f"http://{serve.host}:{serve.api_port}"
    answers = []
    deadline = time.monotonic() + seconds
    number = 0
    while time.monotonic() < deadline:
        transport = ("http", "grpc")[number % 2]
        elapsed, answer = _timed(lambda: post_export(serve, factory.body("logs", number), transport,
                                                     signal="logs", timeout=30))
        answers.append((f"{transport} export", elapsed, getattr(answer, "ok", answer)))
        for path in ("/readyz", "/metrics"):
            elapsed, status = _timed(lambda: _status_of(api + path))
            answers.append((path, elapsed, status == 200 or status))
        number += 1
        time.sleep(0.1)
    return answers


RAISED_BOUND = {"tiny points decoded for seconds by a worker": ("--max-records-per-request", "1000000")}


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_steady_client_is_answered_promptly_while_hostile_requests_are_handled(serve_factory, tiny_points, hostile):
    serve = serve_factory("--aggregate-interval", "0", *RAISED_BOUND.get(hostile, ()))
    with HOSTILE[hostile](serve, tiny_points) as finished:
        answers = _steady_client(serve, STEADY_SECONDS)
        slow_or_wrong = [(what, round(elapsed, 2), answer) for what, elapsed, answer in answers
                         if elapsed > PROMPT_SECONDS or answer is not True]
        assert not slow_or_wrong, slow_or_wrong
        if finished:
            finished()

        started = time.monotonic()
        serve.process.send_signal(signal.SIGTERM)
        returncode = serve.process.wait(SHUTDOWN_GRACE_SECONDS + 20)
        assert time.monotonic() - started < SHUTDOWN_GRACE_SECONDS + 5, "serve took longer than its grace to stop"
        assert returncode == 0, serve.log_text()
