"""Privacy against real serve processes: prompts redacted unless --store-prompts, --hash-emails leaving no email
anywhere while per-member figures stay exact, and `cc-analytics purge` through a serve and on the store."""

from __future__ import annotations

import hashlib
import json
import socket
import time

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from aggregator.purge import PURGED_TABLES, Purger, person_columns
from collector.decode.privacy import email_pseudonym
from tests.support.claude_records import DAY, MODEL, at, event, identity, lines, point
from tests.support.exports import assert_stored
from tests.support.otlp_messages import export_request, key_values
from tests.support.command_line import run

pytestmark = pytest.mark.slow

PROMPT = "Rename the parser's helper, and keep the tests green ✓"
RESPONSE = "Renamed it to parse_tokens; all 41 tests pass."
SALT = "a-long-random-secret"
RAW_TABLES = ("events", "metric_points", "spans")
MEMBER_COLUMNS = ("lines_accepted", "edits_accepted", "sessions", "prompts", "cost_usd", "days_active")


def seed(serve, email: str, session: str, accepted: int, hour: int = 9, prompt: str = PROMPT) -> None:
    """One session of one person: metric points, a prompt and a response with their text, and a span."""
    who = identity(email, session)
    assert_stored(serve, export_request(ExportMetricsServiceRequest, [
        lines(accepted, at(DAY, hour), at(DAY, hour - 1), email=email, session=session),
        point("code_edit_tool.decision", 2, at(DAY, hour), at(DAY, hour - 1), **who, tool_name="Edit",
              decision="accept", source="config", language="Python"),
        point("cost.usage", 0.5, at(DAY, hour), at(DAY, hour - 1), **who, model=MODEL, query_source="main")],
        {"team": "core"}))
    assert_stored(serve, export_request(ExportLogsServiceRequest, [
        event("user_prompt", at(DAY, hour, 1), **who, prompt=prompt, prompt_length=str(len(prompt))),
        event("assistant_response", at(DAY, hour, 2), **who, response=RESPONSE, model=MODEL)], {"team": "core"}))
    assert_stored(serve, export_request(ExportTraceServiceRequest, [Span(
        name="claude_code.interaction", trace_id=hashlib.md5(session.encode()).digest(), span_id=b"\x01" * 8,
        start_time_unix_nano=at(DAY, hour, 1), end_time_unix_nano=at(DAY, hour, 3),
        attributes=key_values({**who, "user_prompt": prompt}))], {"service.name": "claude-code"}))


def aggregate(serve) -> None:
    serve.api("POST", "/api/v1/aggregate", **{"from": str(DAY), "to": str(DAY)})


# these members made no pull request and no commit GitHub told us of
NO_CONTRIBUTIONS = {"pull_request_attribution": 0, "daily_contributions": 0, "github_commits": 0}

def members(serve) -> dict[str, dict]:
    rows = json.loads(serve.api("GET", "/api/v1/users", month=f"{DAY:%Y-%m}"))["data"]
    return {row["user_key"]: {column: row[column] for column in ("email", *MEMBER_COLUMNS)} for row in rows}


def rows_of(serve, key: str) -> dict[str, int]:
    """Rows per table whose user key or email is key (any case)."""
    counts = {}
    for table in PURGED_TABLES:
        named = " OR ".join(f"lower({column}) = lower({{k}})" for column in person_columns(table))
        sql = f"SELECT count() AS n FROM {table} WHERE {named}"
        counts[table] = int(serve.scalar(sql.replace("{k}", "'" + key.replace("'", "") + "'")))
    return counts


def purge(serve, user: str, *args: str, env: dict | None = None):
    # a purge waits for the store to remove the old parts that held the rows (about 30 s on chDB)
    return run("purge", "--user", user, "--data-dir", str(serve.data_dir), "--api-port", str(serve.api_port),
               *args, env=env, timeout=300)


def deleted_counts(output: str) -> dict[str, int]:
    return {line.split()[0]: int(line.split()[1]) for line in output.splitlines()
            if line.startswith("  ") and line.split()[0] in PURGED_TABLES}


# --- prompts ----------------------------------------------------------------------------------------------------

def stored_texts(serve) -> tuple[str, str, str]:
    prompt = serve.scalar("SELECT attributes['prompt'] AS t FROM events FINAL WHERE event_name = 'user_prompt'")
    response = serve.scalar("SELECT attributes['response'] AS t FROM events FINAL "
                            "WHERE event_name = 'assistant_response'")
    on_span = serve.scalar("SELECT attributes['user_prompt'] AS t FROM spans FINAL")
    return prompt, response, on_span


def test_prompts_and_responses_are_stored_redacted_unless_store_prompts(serve_factory, tmp_path):
    default = serve_factory(data_dir=tmp_path / "default")
    seed(default, "ada@example.com", "s-1", 5)
    redacted = f"<redacted length={len(PROMPT)} sha256={hashlib.sha256(PROMPT.encode()).hexdigest()}>"
    assert stored_texts(default) == (
        redacted, f"<redacted length={len(RESPONSE)} sha256={hashlib.sha256(RESPONSE.encode()).hexdigest()}>",
        redacted)
    assert default.scalar("SELECT attributes['prompt_length'] AS n FROM events FINAL "
                          "WHERE event_name = 'user_prompt'") == str(len(PROMPT))

    verbatim = serve_factory(data_dir=tmp_path / "verbatim", env={"CC_ANALYTICS_STORE_PROMPTS": "yes"})
    seed(verbatim, "ada@example.com", "s-1", 5)
    assert stored_texts(verbatim) == (PROMPT, RESPONSE, PROMPT)


# --- emails -----------------------------------------------------------------------------------------------------

def test_hash_emails_stores_no_email_and_keeps_member_figures_exact(serve_factory):
    serve = serve_factory("--hash-emails", "--aggregate-interval", "0", env={"CC_ANALYTICS_EMAIL_HASH_SALT": SALT})
    seed(serve, "ada@example.com", "s-1", 5, hour=9)
    seed(serve, "Ada@Example.com", "s-2", 7, hour=11)  # the same person, another session (and case)
    seed(serve, "grace@example.com", "s-3", 3)
    for table in RAW_TABLES:
        dump = json.dumps(serve.query(f"SELECT * FROM {table}"))
        assert "@example.com" not in dump.lower(), table
    ada = email_pseudonym("ada@example.com", SALT)
    assert ada != email_pseudonym("ada@example.com")  # the salt keys the hash
    assert serve.scalar(f"SELECT count() AS n FROM events WHERE user_email = '{ada}' AND user_key = '{ada}' "
                        f"AND attributes['user.email'] = '{ada}'") == 4

    aggregate(serve)
    report = members(serve)
    assert report == {
        ada: {"email": ada, "lines_accepted": 12, "edits_accepted": 4, "sessions": 2, "prompts": 2,
              "cost_usd": 1.0, "days_active": 1},
        email_pseudonym("grace@example.com", SALT): {
            "email": email_pseudonym("grace@example.com", SALT), "lines_accepted": 3, "edits_accepted": 2,
            "sessions": 1, "prompts": 1, "cost_usd": 0.5, "days_active": 1}}
    assert "@" not in json.dumps(serve.query("SELECT * FROM daily_user"))

    # the serve hashes the email it is asked to purge with its own salt
    result = purge(serve, "ADA@example.com")
    assert result.returncode == 0, result.stderr
    assert deleted_counts(result.stdout) == {"events": 4, "metric_points": 6, "spans": 2, "dead_letters": 0,
                                             "daily_user": 1, "daily_model": 1, "daily_edit_tool": 1,
                                             "daily_repository": 1, "daily_usage": 1,
                                             **NO_CONTRIBUTIONS}
    assert sum(rows_of(serve, ada).values()) == 0
    assert list(members(serve)) == [email_pseudonym("grace@example.com", SALT)]


def test_requests_decoded_again_from_the_write_ahead_queue_are_stored_the_same_way(serve_factory):
    """Past --queue-memory-rows the writer reads a request back from disk and decodes it again: with the policy."""
    serve = serve_factory("--hash-emails", "--queue-memory-rows", "1", env={"CC_ANALYTICS_EMAIL_HASH_SALT": SALT})
    seed(serve, "ada@example.com", "s-1", 5)
    ada = email_pseudonym("ada@example.com", SALT)
    assert serve.scalar(f"SELECT count() AS n FROM metric_points WHERE user_key = '{ada}'") == 3
    assert serve.scalar(f"SELECT count() AS n FROM events WHERE user_key = '{ada}' "
                        f"AND attributes['prompt'] LIKE '<redacted length={len(PROMPT)} sha256=%'") == 1
    for table in RAW_TABLES:
        assert "@example.com" not in json.dumps(serve.query(f"SELECT * FROM {table}")).lower(), table


# --- purge ------------------------------------------------------------------------------------------------------

def test_purge_through_a_running_serve_then_on_the_store(serve_factory):
    serve = serve_factory("--aggregate-interval", "0")
    for number, email in enumerate(("alice@example.com", "bob@example.com", "carol@example.com")):
        seed(serve, email, f"s-{number}", 10 + number)
    aggregate(serve)
    before = members(serve)
    assert set(before) == {"alice@example.com", "bob@example.com", "carol@example.com"}
    org_before = serve.scalar("SELECT active_users AS n FROM daily_org FINAL")

    result = purge(serve, "Alice@Example.com")
    assert result.returncode == 0, result.stderr
    assert "through the running serve" in result.stdout
    assert deleted_counts(result.stdout) == {"events": 2, "metric_points": 3, "spans": 1, "dead_letters": 0,
                                             "daily_user": 1, "daily_model": 1, "daily_edit_tool": 1,
                                             "daily_repository": 1, "daily_usage": 1,
                                             **NO_CONTRIBUTIONS}
    assert sum(rows_of(serve, "alice@example.com").values()) == 0
    assert members(serve) == {key: figures for key, figures in before.items() if key != "alice@example.com"}
    assert serve.scalar("SELECT active_users AS n FROM daily_org FINAL") == org_before  # org totals name nobody
    aggregate(serve)  # a day aggregated again no longer counts the person, and others' figures stand
    assert serve.scalar("SELECT active_users AS n FROM daily_org FINAL") == org_before - 1
    assert members(serve) == {key: figures for key, figures in before.items() if key != "alice@example.com"}

    unknown = purge(serve, "nobody@example.com")
    assert unknown.returncode == 0 and "nothing stored for nobody@example.com" in unknown.stdout
    for empty in ("", "   "):
        refused = purge(serve, empty)
        assert refused.returncode == 2 and "must not be empty" in refused.stderr
        assert "Traceback" not in refused.stderr

    carol = rows_of(serve, "carol@example.com")
    assert serve.stop() == 0
    direct = purge(serve, "bob@example.com")  # nothing listens on the API port now: the store itself
    assert direct.returncode == 0, direct.stderr
    assert "embedded chDB store" in direct.stdout
    assert deleted_counts(direct.stdout) == {"events": 2, "metric_points": 3, "spans": 1, "dead_letters": 0,
                                             "daily_user": 1, "daily_model": 1, "daily_edit_tool": 1,
                                             "daily_repository": 1, "daily_usage": 1,
                                             **NO_CONTRIBUTIONS}
    reopened = serve_factory("--aggregate-interval", "0", data_dir=serve.data_dir)
    assert sum(rows_of(reopened, "bob@example.com").values()) == 0
    assert rows_of(reopened, "carol@example.com") == carol
    assert members(reopened) == {"carol@example.com": before["carol@example.com"]}


def test_a_purge_body_that_arrives_in_pieces_is_read_whole(serve_factory):
    """A client (or a proxy) may send the JSON body in several TCP segments: the purge reads all of it, not the
    first piece (which alone is not JSON)."""
    serve = serve_factory("--aggregate-interval", "0")
    seed(serve, "alice@example.com", "s-1", 10)
    first, second = b'{"user": "alice', b'@example.com"}'
    with socket.create_connection((serve.host, serve.api_port), timeout=120) as connection:
        connection.sendall(b"POST /api/v1/purge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(first + second) + first)
        time.sleep(0.5)
        connection.sendall(second)
        answer = b"".join(iter(lambda: connection.recv(65536), b""))
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["deleted"]["events"] == 2
    assert sum(rows_of(serve, "alice@example.com").values()) == 0


def test_purge_on_the_store_finds_hashed_emails_with_the_same_salt(serve_factory):
    serve = serve_factory("--hash-emails", "--aggregate-interval", "0", env={"CC_ANALYTICS_EMAIL_HASH_SALT": SALT})
    seed(serve, "ada@example.com", "s-1", 5)
    aggregate(serve)
    assert serve.stop() == 0
    hashing = {"CC_ANALYTICS_HASH_EMAILS": "yes", "CC_ANALYTICS_EMAIL_HASH_SALT": SALT}
    assert "nothing stored" in purge(serve, "ada@example.com").stdout  # without the salt: not recognisable
    result = purge(serve, "ada@example.com", env=hashing)
    assert result.returncode == 0, result.stderr
    assert sum(deleted_counts(result.stdout).values()) == 2 + 3 + 1 + 5  # raw rows, then one row per member rollup


def test_purge_explains_itself():
    result = run("purge", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for words in ("--user EMAIL", "right to erasure", "daily_org", "--hash-emails", "--email-hash-salt",
                  "running serve", "must stay the same", "CC_ANALYTICS_EMAIL_HASH_SALT"):
        assert words in text, words


def files_holding(directory, needles: list[bytes]) -> dict[str, list[bytes]]:
    """Every file under directory that holds one of the byte strings, with those it holds."""
    found = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            content = path.read_bytes()
            held = [needle for needle in needles if needle in content]
            if held:
                found[str(path.relative_to(directory))] = held
    return found


def test_a_purge_leaves_no_copy_of_the_person_in_the_queue_the_store_its_mutations_or_the_log(serve_factory):
    """Records in the store, their requests in the write-ahead queue, rolled up; after the purge neither the
    email, its stored pseudonym nor the prompt's text is in any file of the data directory (queue segments, table
    parts old and new, mutation files), in system.mutations or in serve's log; the other person is intact."""
    secret_prompt = "Ada's private question about the merger, never to be kept"
    serve = serve_factory("--hash-emails", "--aggregate-interval", "0",
                          env={"CC_ANALYTICS_EMAIL_HASH_SALT": SALT, "CC_ANALYTICS_STORE_PROMPTS": "yes"})
    seed(serve, "ada@example.com", "s-ada", 5, prompt=secret_prompt)
    seed(serve, "grace@example.com", "s-grace", 3)
    aggregate(serve)
    ada, grace = email_pseudonym("ada@example.com", SALT), email_pseudonym("grace@example.com", SALT)
    needles = [b"ada@example.com", ada.encode(), secret_prompt.encode()]
    assert files_holding(serve.data_dir / "queue", needles), "the test must start with the person in the queue"
    grace_before = rows_of(serve, grace)
    assert sum(rows_of(serve, ada).values()) and sum(grace_before.values())

    result = purge(serve, "ada@example.com")
    assert result.returncode == 0, result.stderr
    assert sum(deleted_counts(result.stdout).values()) == 2 + 3 + 1 + 5  # raw rows, then one row per member rollup

    assert files_holding(serve.data_dir, needles) == {}
    mutations = json.dumps(serve.query("SELECT command FROM system.mutations"))
    assert "DELETE" in mutations and not [n for n in needles if n.decode() in mutations], mutations
    assert not [n for n in needles if n.decode() in serve.log_text()], serve.log_text()
    assert f"purge: {2 + 3 + 1 + 5} rows of one person deleted" in serve.log_text()
    assert rows_of(serve, grace) == grace_before
    assert list(members(serve)) == [grace]
    seed(serve, "grace@example.com", "s-grace-2", 4, hour=12)  # the queue takes and stores exports after it
    assert rows_of(serve, grace)["metric_points"] == grace_before["metric_points"] + 3
    assert serve.stop() == 0
    assert files_holding(serve.data_dir, needles) == {}


def test_a_purge_deletes_the_persons_dead_letters_too(store):
    """A dead letter is a raw row the store refused, kept with its user key: the person's goes with the rest."""
    for person in ("ada@example.com", "bob@example.com"):
        store.client.insert(f"`{store.database}`.dead_letters",
                            [("org-a", "events", person, "VIOLATED_CONSTRAINT", "refused",
                              json.dumps({"user_email": person, "body": "Ada's text"}))],
                            column_names=["org_id", "source_table", "user_key", "reason_kind", "reason", "row_json"])

    deleted = Purger(store.client, store.database).purge("Ada@Example.com")

    assert deleted["dead_letters"] == 1
    assert store.rows("SELECT user_key FROM {db}.dead_letters FINAL") == [("bob@example.com",)]
