"""Stores of a few members in two orgs, each member's figures different (so a leak shows in any sum), behind a
tokens file with an org, an admin and a member token: what the member-token and sign-in tests read."""

from __future__ import annotations

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from collector.decode.privacy import email_pseudonym
from tests.support.claude_records import DAY, at, event, identity, lines
from tests.support.contribution_rows import Seed, seed_data_dir
from tests.support.exports import assert_stored
from tests.support.otlp_messages import export_request
from tests.support.read_api_routes import call

SALT = "member-test-salt-0123456789"
ALICE, BOB, CAROL = "Alice@org-a.example.com", "bob@org-a.example.com", "carol@org-b.example.com"
# member -> (org, lines accepted, the tool it uses): each figure differs, so a leak shows in any sum
MEMBERS = {ALICE: ("org-a", 40, "Bash"), BOB: ("org-a", 7, "Read"), CAROL: ("org-b", 5, "Grep")}
TOKENS = {"org": "token-of-org-a-0123456789abcdef", "admin": "admin-token-0123456789abcdef0123",
          "alice": "member-token-of-alice-0123456789"}
TOKENS_FILE = (f"org-a {TOKENS['org']}\n* {TOKENS['admin']}\n"
               f"org-a {TOKENS['alice']} member={ALICE}  # Alice's own figures\n")


def stored(email: str, hashed: bool) -> str:
    return email_pseudonym(email, SALT) if hashed else email


def member_serve(serve_factory, tmp_path, name: str, members: list[str], hashed: bool):
    """A serve holding the members' records (telemetry, and a merged PR each), with the tokens above."""
    seed = Seed()
    for number, email in enumerate(members, 1):
        org = MEMBERS[email][0]
        seed.add_daily(DAY, org, "", stored(email, hashed), f"dev{number}", f"{org}/widgets", merged=number,
                       with_cc=1)
        seed.add_pull_request(DAY, org, f"{org}/widgets", number, login=f"dev{number}", member=stored(email, hashed),
                              team="", level="with_claude_code", lines=3, lines_with_cc=3)
    folder = tmp_path / name
    folder.mkdir()
    seed_data_dir(folder / "data", seed)
    (folder / "tokens").write_text(TOKENS_FILE)
    privacy = ("--hash-emails", "--email-hash-salt", SALT) if hashed else ()
    serve = serve_factory("--auth-tokens", str(folder / "tokens"), "--aggregate-interval", "0", *privacy,
                          data_dir=folder / "data")
    for number, email in enumerate(members, 1):
        org, accepted, tool = MEMBERS[email]
        who = dict(email=email, session=f"session-{number}", org=org)
        assert_stored(serve, export_request(ExportMetricsServiceRequest,
                                            [lines(accepted, at(DAY, 9), at(DAY, 8), **who)]), token=TOKENS["admin"])
        assert_stored(serve, export_request(ExportLogsServiceRequest, [
            event("user_prompt", at(DAY, 9), **identity(**who)),
            event("tool_result", at(DAY, 9, 1), **identity(**who), tool_name=tool, success="true")]),
            token=TOKENS["admin"])
    assert call(serve, "POST", "/api/v1/aggregate", TOKENS["admin"])[0] == 200
    return serve
