"""POST /github/webhook on a real serve: GitHub's example deliveries stored (and a merged PR, a trailer and a body
marker derived from them), bad signatures refused and logged without the body, redeliveries stored and counted
once, 413, ping and unknown events, hostile payloads, org mapping with tokens, the Origin and Host checks not in
its way, and a delivery acknowledged before a SIGKILL still there after the restart."""

from __future__ import annotations

import hashlib
import hmac
import signal
import socket
import threading
import uuid

import pytest

from collector.github.webhook import MAX_DELIVERIES_AT_ONCE, MAX_DELIVERY_BYTES
from tests.support.read_api import send
from tests.support.serve_process import ServeProcess
from tests.support.webhook_deliveries import FORM, SECRET, deliver, github_body
from tests.support.webhook_examples import examples

pytestmark = pytest.mark.slow

ROTATED_SECRET = "the-next-secret-0123456789"
TRAILER = "\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>"
MARKER = "\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)"
EVENTS = ("pull_request", "push", "pull_request_review")


def secrets_file(directory, *secrets: str) -> str:
    path = directory / "github-secrets"
    path.write_text("# the webhook's secrets\n" + "".join(f"{secret}\n" for secret in secrets))
    return str(path)


@pytest.fixture(scope="module")
def github_serve(tmp_path_factory):
    directory = tmp_path_factory.mktemp("webhook")
    serve = ServeProcess(directory / "data", ("--github-webhook-secret-file", secrets_file(directory, SECRET,
                                                                                        ROTATED_SECRET),
                                              "--aggregate-interval", "0", "--github-orgs", "Codertocat=acme")).start()
    yield serve
    serve.stop()


def counter(serve, name: str, **labels) -> float:
    status, body = send(serve, "GET", "/metrics")
    assert status == 200
    selector = ",".join(f'{key}="{value}"' for key, value in labels.items())
    line = next((line for line in body.decode().splitlines() if line.startswith(f"{name}{{{selector}}} ")), None)
    return float(line.split()[-1]) if line else 0.0


def test_every_example_delivery_is_accepted_and_stored(github_serve):
    serve = github_serve
    ids = {event: [] for event in EVENTS}
    for event in EVENTS:
        for payload in examples(event):
            delivery_id = str(uuid.uuid4())
            status, answer = deliver(serve, event, payload, delivery_id=delivery_id)
            assert status == 200, (event, answer)
            ids[event].append(delivery_id)
    every_id = [delivery_id for event_ids in ids.values() for delivery_id in event_ids]
    stored = serve.query(f"SELECT event, org_id, repository FROM github_deliveries FINAL WHERE delivery_id IN "
                         f"({', '.join(repr(i) for i in every_id)})")
    assert sorted(row["event"] for row in stored) == sorted(e for e in EVENTS for _ in ids[e])
    assert {(row["org_id"], row["repository"]) for row in stored} == {("acme", "codertocat/hello-world")}
    for event in EVENTS:
        assert counter(serve, "cc_analytics_github_deliveries_total", event=event, outcome="stored") >= len(ids[event])

    # The examples are one PR (#2) in many states: one row, the latest update's.
    pull_requests = examples("pull_request")
    latest = max(pull_requests, key=lambda p: p["pull_request"]["updated_at"])["pull_request"]
    (pr,) = serve.query("SELECT number, pr_id, head_sha, author_login, merged FROM github_pull_requests FINAL "
                        "WHERE repository = 'codertocat/hello-world'")
    assert pr == {"number": latest["number"], "pr_id": latest["id"], "head_sha": latest["head"]["sha"],
                  "author_login": latest["user"]["login"], "merged": 0}
    shas = {commit["id"] for payload in examples("push") for commit in payload["commits"]}
    assert {row["sha"] for row in serve.query("SELECT sha FROM github_commits FINAL")} >= shas
    branch_shas = {commit["id"] for payload in examples("push") if payload["ref"].startswith("refs/heads/")
                   for commit in payload["commits"]}
    assert {(row["ref"], row["sha"]) for row in serve.query(
        "SELECT ref, sha FROM github_branch_commits FINAL WHERE ref = 'master'")} == {("master", s) for s in branch_shas}
    # One review in several states: its last delivery's.
    reviews = {(p["pull_request"]["number"], p["review"]["id"]): p["review"]["state"].lower()
               for p in examples("pull_request_review")}
    assert {(r["number"], r["review_id"]): r["state"] for r in serve.query(
        "SELECT number, review_id, state FROM github_pull_request_reviews FINAL")} == reviews


def test_a_merged_pr_a_trailer_and_a_body_marker_are_stored_as_flags(github_serve):
    serve = github_serve
    closed = next(p for p in examples("pull_request") if p["action"] == "closed")
    closed["pull_request"].update(number=900, id=900900, merged=True, merged_at="2026-11-20T10:00:00Z",
                                  updated_at="2026-11-20T10:00:00Z", merge_commit_sha="ab" * 20,
                                  body="Adds the widget." + MARKER, additions=42)
    assert deliver(serve, "pull_request", closed, content_type=FORM)[0] == 200  # GitHub's other content type
    review = examples("pull_request_review")[0]
    review["pull_request"]["number"] = 900  # a review after the merge must not undo it
    assert deliver(serve, "pull_request_review", review)[0] == 200
    push = next(p for p in examples("push") if p["commits"])
    push["ref"] = "refs/heads/widget"
    push["commits"][0].update(id="cd" * 20, message="Add the widget" + TRAILER)
    assert deliver(serve, "push", push)[0] == 200

    (pr,) = serve.query("SELECT merged, merged_at, merge_commit_sha, body_marker, additions FROM "
                        "github_pull_requests FINAL WHERE number = 900")
    assert pr == {"merged": 1, "merged_at": "2026-11-20 10:00:00.000", "merge_commit_sha": "ab" * 20,
                  "body_marker": 1, "additions": 42}
    (commit,) = serve.query("SELECT claude_trailer, author_email, author_login FROM github_commits FINAL "
                            f"WHERE sha = '{'cd' * 20}'")
    author = push["commits"][0]["author"]
    assert commit == {"claude_trailer": 1, "author_email": author["email"], "author_login": author["username"]}
    assert serve.query(f"SELECT ref FROM github_branch_commits FINAL WHERE sha = '{'cd' * 20}'") == [{"ref": "widget"}]


def test_a_redelivery_is_stored_and_counted_once(github_serve):
    serve = github_serve
    payload = examples("pull_request")[0]
    payload["pull_request"]["number"] = 901
    before = counter(serve, "cc_analytics_github_deliveries_total", event="pull_request", outcome="stored")
    delivery_id = str(uuid.uuid4())
    first = deliver(serve, "pull_request", payload, delivery_id=delivery_id)
    again = deliver(serve, "pull_request", payload, delivery_id=delivery_id)
    assert first[0] == again[0] == 200 and (first[1]["redelivery"], again[1]["redelivery"]) == (False, True)
    assert serve.scalar(f"SELECT count() FROM github_deliveries FINAL WHERE delivery_id = '{delivery_id}'") == 1
    assert serve.scalar("SELECT count() FROM github_pull_requests FINAL WHERE number = 901") == 1
    assert counter(serve, "cc_analytics_github_deliveries_total", event="pull_request",
                   outcome="stored") == before + 1
    assert counter(serve, "cc_analytics_github_redeliveries_total", event="pull_request") >= 1


def test_bad_signatures_get_401_and_are_logged_once_per_kind_without_the_body(github_serve):
    serve = github_serve
    payload = examples("pull_request")[0]
    payload["pull_request"].update(number=902, body="CANARY-7f3a9 do not log me")
    body = github_body(payload)
    sha1 = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    refusals = {"missing": {}, "sha1_only": {"X-Hub-Signature": sha1},
                "malformed": {"X-Hub-Signature-256": "sha256=xyz"},
                "wrong": {"X-Hub-Signature-256": "sha256=" + hmac.new(b"guess", body, hashlib.sha256).hexdigest()}}
    for kind, headers in refusals.items():
        for _ in range(3):
            status, answer = deliver(serve, "pull_request", body, secret=None, headers=headers,
                                     delivery_id=f"refused-{kind}")
            assert status == 401 and "X-Hub-Signature-256" in answer["error"], (kind, answer)
    log = serve.log_text()
    assert "CANARY-7f3a9" not in log
    for kind in refusals:
        assert log.count(f"GitHub delivery refused-{kind} (pull_request)") == 1, kind
    assert serve.scalar("SELECT count() FROM github_pull_requests FINAL WHERE number = 902") == 0
    assert counter(serve, "cc_analytics_github_deliveries_total", event="pull_request", outcome="unsigned") >= 12
    # Either secret of a rotation is accepted.
    for secret in (SECRET, ROTATED_SECRET):
        assert deliver(serve, "pull_request", body, secret=secret)[0] == 200


def test_githubs_signature_vector_passes_the_check_on_serve(github_serve):
    # "Hello, World!" is signed right but is no JSON: past the signature, refused as malformed.
    status, answer = deliver(github_serve, "ping", b"Hello, World!", secret=None, headers={
        "X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"})
    assert status == 400 and "not a JSON payload" in answer["error"]


def test_a_body_over_25_mb_gets_413(github_serve):
    status, answer = deliver(github_serve, "push", b" " * (MAX_DELIVERY_BYTES + 1))
    assert status == 413 and f"over {MAX_DELIVERY_BYTES} bytes" in answer["error"]
    assert github_serve.alive() and deliver(github_serve, "ping", examples("ping")[0])[0] == 200


def test_ping_and_unknown_events_are_answered_and_counted_but_no_pr(github_serve):
    serve = github_serve
    before = serve.scalar("SELECT count() FROM github_pull_requests FINAL")
    ping_before = counter(serve, "cc_analytics_github_deliveries_total", event="ping", outcome="stored")
    other_before = counter(serve, "cc_analytics_github_deliveries_total", event="other", outcome="stored")
    for payload in examples("ping"):
        assert deliver(serve, "ping", payload)[0] == 200
    unknown = examples("pull_request")[0]  # a PR object in an event the receiver does not know
    unknown["pull_request"]["number"] = 903
    status, answer = deliver(serve, "star", unknown, delivery_id="star-1")
    assert status == 200 and answer["stored"] == {"github_deliveries": 1}
    assert serve.scalar("SELECT count() FROM github_pull_requests FINAL") == before
    assert serve.query("SELECT event, action FROM github_deliveries FINAL WHERE delivery_id = 'star-1'") == [
        {"event": "star", "action": "opened"}]
    assert counter(serve, "cc_analytics_github_deliveries_total", event="ping",
                   outcome="stored") == ping_before + len(examples("ping"))
    assert counter(serve, "cc_analytics_github_deliveries_total", event="other", outcome="stored") == other_before + 1


@pytest.mark.parametrize("body", [
    {"pull_request": {"number": "two"}, "repository": {"full_name": "a/b", "owner": {"login": "a"}}},
    {"repository": "codertocat/hello-world"},
    b"[1, 2]", b'{"x": NaN}', b"{" * 100_000, b'{"n": ' + b"9" * 5000 + b"}", b"\xff\xfe",
])
def test_a_hostile_signed_payload_gets_400_and_the_next_delivery_is_stored(github_serve, body):
    serve = github_serve
    status, answer = deliver(serve, "pull_request", body)
    assert status == 400 and answer["error"], answer
    good = examples("pull_request")[0]
    good["pull_request"]["number"] = 904
    assert deliver(serve, "pull_request", good)[0] == 200
    assert serve.scalar("SELECT count() FROM github_pull_requests FINAL WHERE number = 904") == 1


def test_a_signed_delivery_passes_the_origin_and_host_checks_other_routes_keep(github_serve):
    serve = github_serve
    browser = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site",
               "Host": f"analytics.example.com:{serve.api_port}"}  # GitHub's name for serve, not --allowed-hosts
    payload = examples("pull_request")[0]
    payload["pull_request"]["number"] = 905
    assert deliver(serve, "pull_request", payload, content_type=FORM, headers=browser)[0] == 200
    assert serve.scalar("SELECT count() FROM github_pull_requests FINAL WHERE number = 905") == 1
    status, _ = send(serve, "POST", "/api/v1/query", b"SELECT 1", {**browser, "Content-Type": "application/sql"})
    assert status == 403
    status, _ = send(serve, "POST", "/api/v1/query", b"SELECT 1", {"Content-Type": FORM})
    assert status == 415


def test_without_the_flag_the_route_says_which_flag_turns_it_on(serve):
    status, answer = deliver(serve, "ping", examples("ping")[0])
    assert status == 404 and "--github-webhook-secret-file" in answer["error"]


@pytest.mark.parametrize("text", ["", "# no secret yet\n\n"])
def test_serve_does_not_start_with_an_empty_or_unreadable_secrets_file(tmp_path, text):
    path = tmp_path / "secrets"
    path.write_text(text)
    for given in (str(path), str(tmp_path / "missing")):
        serve = ServeProcess(tmp_path / "data", ("--github-webhook-secret-file", given))
        with pytest.raises(RuntimeError, match="GitHub webhook secrets file"):
            serve.start(timeout=60)
        assert serve.process.returncode == 2


def serve_with_tokens(serve_factory, tmp_path, github_orgs: str, *secrets: str):
    """A serve with --auth-tokens (the caller holds the admin token), the secrets and --github-orgs."""
    (tmp_path / "tokens").write_text("* admin-token-0123456789abcdef0123\n")
    serve = serve_factory("--auth-tokens", str(tmp_path / "tokens"), "--aggregate-interval", "0",
                          "--github-webhook-secret-file", secrets_file(tmp_path, *secrets),
                          "--github-orgs", github_orgs)
    return serve.with_token("admin-token-0123456789abcdef0123")


def test_with_tokens_an_unlisted_owner_is_refused_and_a_listed_one_needs_no_bearer_token(serve_factory, tmp_path):
    serve = serve_with_tokens(serve_factory, tmp_path, "codertocat=acme", SECRET)
    listed = examples("pull_request")[0]
    assert deliver(serve, "pull_request", listed)[0] == 200
    unlisted = examples("pull_request")[0]
    unlisted["repository"]["owner"]["login"] = "Stranger"
    for _ in range(2):
        status, answer = deliver(serve, "pull_request", unlisted)
        assert status == 422 and "'stranger' is not in --github-orgs" in answer["error"]
    assert serve.query("SELECT org_id, count() AS n FROM github_deliveries FINAL GROUP BY org_id") == [
        {"org_id": "acme", "n": 1}]
    assert serve.log_text().count("is not in --github-orgs") == 1


def test_a_delivery_waits_while_the_readers_are_busy_and_is_stored_when_one_frees(github_serve):
    """A body is held whole until its signature is checked: senders without the secret that start 20 MB bodies
    on many connections get MAX_DELIVERIES_AT_ONCE read at a time (bounded memory); the others wait their turn."""
    serve = github_serve
    hogs = []
    for _ in range(MAX_DELIVERIES_AT_ONCE):
        hog = socket.create_connection((serve.host, serve.api_port))
        hog.sendall(b"POST /github/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b"X-GitHub-Event: push\r\nContent-Length: 20000000\r\n\r\n{\"zero\": \"" + b"0" * 65536)
        hogs.append(hog)
    answers = []
    payload = examples("pull_request")[0]
    payload["pull_request"]["number"] = 4343
    waiting = threading.Thread(target=lambda: answers.append(deliver(serve, "pull_request", payload)))
    waiting.start()
    waiting.join(3)
    assert waiting.is_alive() and not answers  # every reader is busy with a body that does not come
    hogs.pop().close()  # one sender gives up: its turn goes to the waiting delivery
    waiting.join(60)
    assert answers and answers[0][0] == 200
    assert serve.scalar("SELECT count() FROM github_pull_requests FINAL WHERE number = 4343") == 1
    for hog in hogs:
        hog.close()


def test_an_owners_secret_signs_only_that_owners_deliveries(serve_factory, tmp_path):
    """Two GitHub organizations, two cc-analytics orgs: whoever set up one organization's webhook knows its
    secret, and must not be able to store rows in the other org."""
    serve = serve_with_tokens(serve_factory, tmp_path, "codertocat=acme,beta=beta-org",
                              "@codertocat " + SECRET, "@beta beta's own secret")
    own = examples("pull_request")[0]
    assert deliver(serve, "pull_request", own)[0] == 200
    forged = examples("pull_request")[0]
    forged["repository"]["owner"]["login"] = "beta"
    forged["pull_request"]["number"] = 4242
    status, answer = deliver(serve, "pull_request", forged)  # signed with codertocat's secret
    assert status == 403 and "codertocat's repositories only" in answer["error"]
    assert deliver(serve, "pull_request", forged, secret="beta's own secret")[0] == 200
    assert serve.query("SELECT org_id, count() AS n FROM github_pull_requests FINAL GROUP BY org_id ORDER BY org_id") \
        == [{"org_id": "acme", "n": 1}, {"org_id": "beta-org", "n": 1}]
    assert "signs deliveries for every owner" not in serve.log_text()  # each owner has a secret of its own
    assert 'cc_analytics_github_deliveries_total{event="pull_request",outcome="other_owner"} 1.0' in \
        serve.api("GET", "/metrics").decode().splitlines()


def test_an_acknowledged_delivery_survives_a_sigkill(serve_factory, tmp_path):
    data = tmp_path / "data"
    flags = ("--github-webhook-secret-file", secrets_file(tmp_path, SECRET), "--aggregate-interval", "0",
             "--batch-max-delay-ms", "60000")  # the writer holds the rows: only the write-ahead log has them
    serve = serve_factory(*flags, data_dir=data)
    payload = next(p for p in examples("push") if p["commits"])
    assert deliver(serve, "push", payload, delivery_id="before-the-kill")[0] == 200
    serve.stop(signal.SIGKILL)
    restarted = serve_factory(*flags, data_dir=data)
    assert restarted.scalar("SELECT count() FROM github_deliveries FINAL WHERE delivery_id = 'before-the-kill'") == 1
    assert restarted.query("SELECT sha FROM github_commits FINAL") == [{"sha": payload["commits"][0]["id"]}]
