"""The tenant rule as a property: whatever one org sends, no other org is hurt.

A real serve with --auth-tokens. The fleet (tests/support/fleet.py: three orgs of Claude Code users over a month,
through the official OpenTelemetry exporters) sends its known figures while a hostile org sends hypothesis's
well-formed but hostile exports (tests/support/hostile_tenant.py: any values, NaN and overflowing numbers, times
over centuries and partitions, thousands of teams and members, claimed organization ids, attributes reordered,
retries). Afterwards every fleet org, read with its own token, sees exactly what it sent; every rollup run
succeeded and serve stayed ready; every record of the hostile org that an answer accepted is stored exactly once
or dead-lettered with its reason, and all under its own org; /metrics stayed under a bound.

CC_ANALYTICS_FUZZ_EXAMPLES sets the number of hostile requests (the default keeps the suite quick).
"""

from __future__ import annotations

import json
import secrets
import threading

import pytest
from hypothesis import given

from tests.support.fleet import Fleet
from tests.support.fleet_reports import aggregate, report_differences, utc_today
from tests.support.hostile_messages import FUZZ_SETTINGS
from tests.support.hostile_tenant import ATTACKS, PROBE_KEY, probe_index, probe_of, send, stamp_probes

HOSTILE_ORG = "org-hostile"
FLEET_ORGS = ("org-acme", "org-globex", "org-initech")
ADMIN = "*"
RAW_TABLES = ("events", "metric_points", "spans")
# Every label dimension of /metrics is capped, so its size is bounded by the caps, not by what a client sends:
# 1,000 members (a few families of a few hundred bytes each) and 200 values of every other label stay well
# under this, however many teams and members the hostile org invents.
MAX_MEMBER_SERIES = 1_000
METRICS_BYTES_BOUND = 4 * 1024 * 1024


def write_tokens(path) -> dict[str, str]:
    tokens = {org: secrets.token_hex(16) for org in (*FLEET_ORGS, HOSTILE_ORG, ADMIN)}
    path.write_text("".join(f"{org} {token}\n" for org, token in tokens.items()))
    return tokens


def observe(admin) -> tuple[int, dict, int]:
    """serve's readiness and the size of /metrics, now."""
    status, body = admin.readiness()
    return status, body, len(admin.api("GET", "/metrics"))


def stored_probes(admin, index: dict[str, str]) -> list[tuple[str, str, str, int]]:
    """(probe, table, org, rows) for every stored record that carries a probe."""
    found = []
    for table in RAW_TABLES:
        for row in admin.query(f"SELECT org_id, attributes['{PROBE_KEY}'] AS stored, count() AS rows FROM {table} "
                               f"FINAL WHERE mapContains(attributes, '{PROBE_KEY}') GROUP BY org_id, stored"):
            found.append((probe_of(row["stored"], index), table, row["org_id"], int(row["rows"])))
    return found


def dead_lettered_probes(admin, index: dict[str, str]) -> dict[str, str]:
    """probe -> the reason it was dead-lettered, for every probe found in a dead-letter row."""
    tables = [row["name"] for row in admin.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE '%dead_letter%'")]
    found = {}
    for table in tables:
        for row in admin.query(f"SELECT * FROM {table}"):
            text = json.dumps(row, ensure_ascii=False)
            probe = probe_of(text, index)
            if probe:
                found[probe] = row.get("reason", "")
    return found


def lost_or_doubled(attacks, stored, dead) -> list[str]:
    """Per hostile request: the records an answer accepted must be exactly the records stored once or
    dead-lettered; none may be stored twice (a retry or a reordered resend), none under another org."""
    problems = []
    rows_of: dict[str, int] = {}
    for probe, table, org, rows in stored:
        if probe is None:
            continue
        if org != HOSTILE_ORG:
            problems.append(f"a hostile record stored under {org} in {table}")
        rows_of[probe] = rows_of.get(probe, 0) + rows
    problems += [f"a hostile record stored {rows} times" for probe, rows in rows_of.items() if rows != 1]
    problems += [f"a dead letter without a reason: {probe}" for probe, reason in dead.items() if not reason]
    for probes, accepted in attacks:
        kept = sum(1 for probe in probes if probe in rows_of or probe in dead)
        if kept != (accepted or 0):
            problems.append(f"a request of {len(probes)} records: {accepted} accepted, {kept} stored or dead-lettered")
    return problems


# The fleet's OpenTelemetry SDK, in its own thread, uses the random module while hypothesis draws; and a request of
# thousands of points has a long repr. Neither is a problem of the test.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning",
                            "ignore:Generating overly large repr")
def test_a_hostile_org_cannot_hurt_the_others(serve_factory, tmp_path):
    tokens = write_tokens(tmp_path / "tokens")
    serve = serve_factory("--auth-tokens", str(tmp_path / "tokens"), "--aggregate-interval", "1",
                          "--max-user-series", str(MAX_MEMBER_SERIES), data_dir=tmp_path / "data")
    admin = serve.with_token(tokens[ADMIN])
    fleet = Fleet(today=utc_today())
    fleet_failures: list[BaseException] = []

    def send_the_fleet():
        try:
            for phase in Fleet.PHASES:
                fleet.send(phase, admin)
        except BaseException as error:  # reported by the test, not lost in the thread
            fleet_failures.append(error)

    sender = threading.Thread(target=send_the_fleet, name="fleet")
    sender.start()
    attacks: list[tuple[list[str], int | None]] = []
    observations = [observe(admin)]

    @FUZZ_SETTINGS
    @given(attack=ATTACKS)
    def the_hostile_org_sends(attack):
        stamp_probes(attack)
        attacks.append((attack.probes, send(serve, attack, tokens[HOSTILE_ORG])))
        if len(attacks) % 10 == 0:
            observations.append(observe(admin))

    try:
        the_hostile_org_sends()
    finally:
        sender.join()
    assert not fleet_failures, fleet_failures
    assert serve.alive()

    aggregate(admin, fleet)
    problems = []
    for org in FLEET_ORGS:
        problems += report_differences(serve.with_token(tokens[org]), fleet, fleet.truth.of_org(org))
    assert not problems, f"{len(problems)} differences in the fleet's figures:\n" + "\n".join(problems[:60])

    index = probe_index(probe for probes, _ in attacks for probe in probes)
    problems = lost_or_doubled(attacks, stored_probes(admin, index), dead_lettered_probes(admin, index))
    assert not problems, f"{len(problems)} problems with the hostile org's records:\n" + "\n".join(problems[:40])

    observations.append(observe(admin))
    assert [body for status, body, _ in observations if status != 200] == [], "serve was not ready"
    assert max(size for _, _, size in observations) < METRICS_BYTES_BOUND, [size for *_, size in observations]
    log = serve.log_text()
    assert "aggregation failed" not in log and "Traceback" not in log, log[-5000:]
    accepted = sum(accepted or 0 for _, accepted in attacks)
    print(f"hostile requests: {len(attacks)}, records sent: {sum(len(p) for p, _ in attacks)}, accepted: {accepted}; "
          f"/metrics at most {max(size for *_, size in observations)} bytes")
