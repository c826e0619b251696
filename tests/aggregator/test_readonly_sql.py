"""The SQL endpoint of a real serve writes nothing and reaches nothing outside the store, whatever the query's
spelling, and its result is bounded: INTO OUTFILE (the .pth attack included), file-writing and file-reading table
functions, FORMAT and SETTINGS clauses are refused and leave no file; plain reads, `cc-analytics query` included,
still answer; a result past a bound is a clear error, never a short answer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.command_line import run
from tests.support.read_api import send
from tests.support.serve_process import start_serve_for_admin

pytestmark = pytest.mark.slow

ADMIN_TOKEN = "admin-token-0123456789abcdef0123"
SQL = {"Content-Type": "application/sql"}

WRITE_ATTEMPTS = [
    "SELECT 1 AS x INTO OUTFILE '{path}' TRUNCATE",
    "select 1 /* a comment */ into -- another\n outfile '{path}'",
    "WITH a AS (SELECT 1 AS x) SELECT x FROM a INTO OUTFILE '{path}'",
    "SELECT 1 UNION ALL SELECT 2 INTO OUTFILE '{path}' APPEND",
    "SELECT * FROM (SELECT number FROM numbers(3)) INTO OUTFILE '{path}' COMPRESSION 'gzip'",
    "SELECT 1 INTO OUTFILE '{path}' AND STDOUT FORMAT CSV",
    "SELECT 1; SELECT 2 INTO OUTFILE '{path}'",
    "INSERT INTO FUNCTION file('{path}', 'CSV', 'x UInt8') SELECT 1",
    "SELECT * FROM file('{path}', 'CSV', 'x UInt8')",
]
OUTSIDE_REACHES = {
    "file": "SELECT file('/etc/hostname')",
    "url": "SELECT * FROM url('http://127.0.0.1:9/x', CSV, 'x String')",
    "remote": "SELECT * FROM events WHERE org_id IN (SELECT * FROM remote('127.0.0.1:9', system.one))",
    "executable": "SELECT * FROM executable('date', TSV, 'x String')",
    "s3": "SELECT * FROM s3('http://127.0.0.1:9/bucket/x.csv', CSV, 'x String')",
    "mysql": "SELECT * FROM mysql('127.0.0.1:9', 'db', 't', 'u', 'p')",
    "Python": "SELECT * FROM Python(sys)",
}
CLAUSES = ["SELECT 1 FORMAT JSON", "SELECT 1 SETTINGS readonly = 0",
           "SELECT * FROM (SELECT 1 SETTINGS max_result_bytes = 0)", "SET readonly = 0", "SHOW TABLES",
           "DESCRIBE TABLE file('/etc/hostname')", "EXPLAIN SELECT 1 INTO OUTFILE '/tmp/x'"]


@pytest.fixture(scope="module", params=["no tokens", "admin token"])
def sql_serve(request, tmp_path_factory):
    serve = start_serve_for_admin(tmp_path_factory.mktemp("serve"),
                                  ADMIN_TOKEN if request.param == "admin token" else None, "--aggregate-interval", "0")
    serve.headers = {**SQL, **serve.token}
    yield serve
    serve.stop()


def post_sql(serve, sql: str, output_format: str = "JSONEachRow") -> tuple[int, bytes]:
    return send(serve, "POST", "/api/v1/query", sql.encode(), serve.headers, format=output_format)


@pytest.mark.parametrize("attempt", WRITE_ATTEMPTS)
def test_no_spelling_of_a_write_leaves_a_file(sql_serve, tmp_path, attempt):
    path = tmp_path / "written.csv"
    status, body = post_sql(sql_serve, attempt.format(path=path))
    assert status == 400, body
    assert "error" in json.loads(body)
    assert not path.exists()
    assert sql_serve.alive()


def test_the_pth_attack_leaves_no_code_to_run(sql_serve, tmp_path):
    site_dir, marker = tmp_path / "site-packages", tmp_path / "code-ran"
    site_dir.mkdir()
    pth = site_dir / "cc_analytics_attack.pth"
    # The header line of TabSeparatedWithNames is the alias: a line of Python, quote-free so no escaping spoils it.
    code = f"import pathlib; pathlib.Path(bytes({list(str(marker).encode())}).decode()).touch()"
    status, body = post_sql(sql_serve, f"SELECT 1 AS `{code}` INTO OUTFILE '{pth}' TRUNCATE", "TabSeparatedWithNames")
    assert status == 400, body
    # A site directory's .pth lines run at interpreter start; here in a child, so an old serve fails safely.
    subprocess.run([sys.executable, "-c", f"import site; site.addsitedir({str(site_dir)!r})"], check=True)
    assert not pth.exists() and not marker.exists()


@pytest.mark.parametrize("function", sorted(OUTSIDE_REACHES))
def test_functions_that_reach_outside_the_store_are_refused(sql_serve, function):
    status, body = post_sql(sql_serve, OUTSIDE_REACHES[function])
    assert status == 400, body
    assert f"{function}()" in json.loads(body)["error"]


def test_the_scalar_file_function_reads_nothing(sql_serve):
    with open("/etc/hostname") as hostname:
        secret = hostname.read().strip()
    status, body = post_sql(sql_serve, "SELECT file('/etc/hostname') AS leak")
    assert status == 400 and secret.encode() not in body


@pytest.mark.parametrize("sql", CLAUSES)
def test_format_settings_and_other_statements_are_refused(sql_serve, sql):
    status, body = post_sql(sql_serve, sql)
    assert status == 400, body
    assert json.loads(body)["error"]


def test_plain_reads_answer(sql_serve):
    queries = {
        "WITH a AS (SELECT number AS n FROM numbers(3)) SELECT sum(n) AS s FROM a": [{"s": 3}],
        "SELECT n FROM (SELECT 1 AS n UNION ALL SELECT 2 AS n) ORDER BY n": [{"n": 1}, {"n": 2}],
        "SELECT count() AS c FROM (SELECT * FROM events) WHERE org_id IN (SELECT 'x')": [{"c": 0}],
        "select 'INTO OUTFILE ''/tmp/x''' as text -- a comment": [{"text": "INTO OUTFILE '/tmp/x'"}],
    }
    for sql, rows in queries.items():
        status, body = post_sql(sql_serve, sql)
        assert status == 200, body
        assert [json.loads(line) for line in body.decode().splitlines()] == rows


def test_a_result_past_a_bound_is_an_error_with_the_engine_reason(sql_serve):
    # Formats with a header are answered whole: the bound is a 413 before any byte of the result.
    status, body = post_sql(sql_serve, "SELECT number FROM numbers(10000001)", "TabSeparatedWithNames")
    assert status == 413, body[:300]
    assert "TOO_MANY_ROWS_OR_BYTES" in json.loads(body)["error"]
    # A streamed result passing the bound ends with the reason and a cut connection, never a short 200.
    status, body = post_sql(sql_serve, "SELECT number FROM numbers(10000001)", "JSONEachRow")
    assert status == 0 and body.rstrip().splitlines()[-1].startswith(b"Code: 396"), body[-300:]


def test_cc_analytics_query_goes_through_serve_and_reports_a_refusal(sql_serve, tmp_path):
    where = ["--api-port", str(sql_serve.api_port), "--data-dir", str(tmp_path / "unused")]
    token = ["--api-token", ADMIN_TOKEN] if sql_serve.token else []
    answered = run("query", *where, *token, "--format", "JSONEachRow", "SELECT 40 + 2 AS answer")
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout) == {"answer": 42}
    path = tmp_path / "written"
    refused = run("query", *where, *token, f"SELECT 1 INTO OUTFILE '{path}'")
    assert refused.returncode == 1 and "INTO OUTFILE" in refused.stderr and not path.exists()
    assert not (tmp_path / "unused").exists()  # answered by serve, not by a store of its own


def test_serve_with_sql_off_refuses_queries(serve_factory):
    serve = serve_factory("--sql-endpoint", "no")
    status, body = send(serve, "POST", "/api/v1/query", b"SELECT 1", SQL)
    assert status == 403 and "--sql-endpoint no" in json.loads(body)["error"]
