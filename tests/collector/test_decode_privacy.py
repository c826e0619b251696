"""The privacy policy applied while decoding: prompt and response text redacted unless --store-prompts, emails
replaced by a keyed hash with --hash-emails, in every column and map of every signal, the same on every decode."""

from __future__ import annotations

import hashlib
import json

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector.decode import DecodeContext, Limits, decode_logs, decode_metrics, decode_traces
from collector.decode.privacy import PrivacyPolicy, email_pseudonym
from tests.support.claude_records import DAY, at, event, identity, lines, point
from tests.support.otlp_messages import any_value, export_request, key_values, rows_as_dicts

RECEIVED_AT_NS = at(DAY, 12)
PROMPT = "Fix the failing test in parser.py, naïvely ✓"
RESPONSE = "I changed parser.py: the loop now stops at the last token."
EMAIL = "Ada.Lovelace@Example.com"
STORE_PROMPTS = PrivacyPolicy(store_prompts=True)
HASH_EMAILS = PrivacyPolicy(hash_emails=True)


def context(privacy: PrivacyPolicy | None = None, limits: Limits = Limits()) -> DecodeContext:
    if privacy is None:
        return DecodeContext(limits, "org", RECEIVED_AT_NS)  # what a context is without saying: the default
    return DecodeContext(limits, "org", RECEIVED_AT_NS, privacy=privacy)


def expected_redaction(text: str) -> str:
    return f"<redacted length={len(text)} sha256={hashlib.sha256(text.encode()).hexdigest()}>"


def conversation(**body) -> ExportLogsServiceRequest:
    """A user_prompt and an assistant_response as Claude Code sends them when told to log their text."""
    prompt = event("user_prompt", at(DAY, 9), **identity(EMAIL), prompt=PROMPT, prompt_length=str(len(PROMPT)))
    response = event("assistant_response", at(DAY, 9, 1), **identity(EMAIL), response=RESPONSE,
                     response_length=str(len(RESPONSE)), model="claude-sonnet")
    for record, value in zip((prompt, response), (body.get("prompt_body"), body.get("response_body"))):
        if value is not None:
            record.body.CopyFrom(any_value(value))
    return export_request(ExportLogsServiceRequest, [prompt, response], {"service.name": "claude-code"})


def events(request, privacy: PrivacyPolicy | None = None, limits: Limits = Limits()) -> dict[str, dict]:
    batch = decode_logs(request, context(privacy, limits))
    assert batch.rejected == 0, batch.reasons
    return {row["event_name"]: row for row in rows_as_dicts(batch, "events")}


# --- prompts and responses ------------------------------------------------------------------------------------------

def test_prompt_and_response_are_redacted_by_default_with_their_length_and_hash():
    rows = events(conversation())
    assert rows["user_prompt"]["attributes"]["prompt"] == expected_redaction(PROMPT)
    assert rows["assistant_response"]["attributes"]["response"] == expected_redaction(RESPONSE)
    assert f"length={len(PROMPT)} " in rows["user_prompt"]["attributes"]["prompt"]  # characters, not bytes
    # everything else is as sent
    assert rows["user_prompt"]["attributes"]["prompt_length"] == str(len(PROMPT))
    assert rows["assistant_response"]["model"] == "claude-sonnet"
    assert rows["user_prompt"]["body"] == "claude_code.user_prompt"
    assert PROMPT not in repr(rows) and RESPONSE not in repr(rows)


def test_store_prompts_keeps_the_text():
    rows = events(conversation(), STORE_PROMPTS)
    assert rows["user_prompt"]["attributes"]["prompt"] == PROMPT
    assert rows["assistant_response"]["attributes"]["response"] == RESPONSE


def test_claude_codes_own_placeholder_and_empty_values_are_left_alone():
    request = export_request(ExportLogsServiceRequest, [
        event("user_prompt", at(DAY, 9), **identity(), prompt="<REDACTED>", session_marker="a"),
        event("assistant_response", at(DAY, 9), **identity(), response="", session_marker="b")])
    rows = events(request)
    assert rows["user_prompt"]["attributes"]["prompt"] == "<REDACTED>"
    assert rows["assistant_response"]["attributes"]["response"] == ""


def test_a_long_prompt_is_measured_and_hashed_whole_not_truncated():
    long_prompt = "x" * 5000
    request = export_request(ExportLogsServiceRequest, [event("user_prompt", at(DAY, 9), prompt=long_prompt)])
    batch = decode_logs(request, context(limits=Limits(max_attribute_value_length=100)))
    (row,) = rows_as_dicts(batch, "events")
    assert row["attributes"]["prompt"] == expected_redaction(long_prompt)
    assert batch.truncated_values == 0


def test_a_log_body_carrying_the_text_is_redacted_too():
    rows = events(conversation(prompt_body=PROMPT, response_body={"response": RESPONSE, "tokens": 12}))
    assert rows["user_prompt"]["body"] == expected_redaction(PROMPT)
    assert json.loads(rows["assistant_response"]["body"]) == {"response": expected_redaction(RESPONSE), "tokens": 12}
    kept = events(conversation(prompt_body=PROMPT, response_body={"response": RESPONSE, "tokens": 12}),
                  STORE_PROMPTS)
    assert kept["user_prompt"]["body"] == PROMPT
    assert json.loads(kept["assistant_response"]["body"]) == {"response": RESPONSE, "tokens": 12}


def test_every_string_body_but_the_events_own_name_is_text():
    request = export_request(ExportLogsServiceRequest, [event("api_request", at(DAY, 9), model="m"),
                                                        event("tool_result", at(DAY, 9), tool_name="Bash")])
    request.resource_logs[0].scope_logs[0].log_records[0].body.CopyFrom(any_value("a free-form log line"))
    rows = events(request)
    assert rows["api_request"]["body"] == expected_redaction("a free-form log line")
    assert rows["tool_result"]["body"] == "claude_code.tool_result"
    assert events(request, STORE_PROMPTS)["api_request"]["body"] == "a free-form log line"


def tool_events(resource: dict | None = None) -> ExportLogsServiceRequest:
    """What Claude Code 2.1.332 sends with every content flag on (measured with the harness), plus a key no
    version sends yet."""
    parameters = {"bash_command": "git", "full_command": "git commit -m 'fix the parser'", "description": "Commit",
                  "git_commit_id": "b43fd02268d687a7de7990f9025ad39b8c633554", "git_branch": "main",
                  "skill_name": "release", "mcp_server_name": "github", "mcp_tool_name": "create_pr",
                  "subagent_type": "reviewer", "timeout": 120000, "run_in_background": False}
    tool_input = {"file_path": "/home/ada/parser.py", "old_string": "def parse(", "new_string": "def parse_tokens(",
                  "replace_all": False, "edits": [{"old_string": "a", "new_string": "b"}]}
    records = [
        event("user_prompt", at(DAY, 9), **identity(EMAIL), prompt=PROMPT, prompt_text=PROMPT,
              prompt_length=str(len(PROMPT)), team="payments", **{"message.uuid": "6dc2fd8d"}),
        event("tool_result", at(DAY, 9, 1), **identity(EMAIL), tool_name="Bash", success="true", duration_ms="21",
              tool_result_size_bytes="133", error="cat: secret.txt: contents of line 1", error_type="ShellError",
              tool_parameters=json.dumps(parameters), tool_input=json.dumps(tool_input), team="payments",
              future_text_attribute="what a new version might add", **{
                  "vcs.ref.head.revision": "b43fd02268d687a7de7990f9025ad39b8c633554", "vcs.ref.head.name": "main",
                  "vcs.repository.url.full": "https://github.com/acme/parser", "skill.name": "release",
                  "mcp_server.name": "github", "agent.name": "reviewer", "plugin.name": "cc-plugin-agents-md"}),
        event("api_error", at(DAY, 9, 2), **identity(EMAIL), error="529 overloaded_error", status_code="529",
              model="claude-sonnet"),
    ]
    return export_request(ExportLogsServiceRequest, records,
                          {"service.name": "claude-code", "team": "payments", **(resource or {})})


def test_only_identifiers_names_numbers_and_the_resources_tags_stay_in_clear():
    rows = events(tool_events())
    prompt, tool = rows["user_prompt"]["attributes"], rows["tool_result"]["attributes"]
    assert prompt["prompt"] == prompt["prompt_text"] == expected_redaction(PROMPT)  # 2.1.332's second copy too
    assert tool["future_text_attribute"] == expected_redaction("what a new version might add")
    assert tool["error"] == expected_redaction("cat: secret.txt: contents of line 1")  # a tool error can quote a file
    kept = {"tool_name": "Bash", "success": "true", "duration_ms": "21", "tool_result_size_bytes": "133",
            "error_type": "ShellError", "team": "payments", "vcs.ref.head.name": "main",
            "vcs.ref.head.revision": "b43fd02268d687a7de7990f9025ad39b8c633554",
            "vcs.repository.url.full": "https://github.com/acme/parser", "skill.name": "release",
            "mcp_server.name": "github", "agent.name": "reviewer", "plugin.name": "cc-plugin-agents-md",
            **identity(EMAIL)}
    assert {key: tool[key] for key in kept} == kept
    assert (prompt["message.uuid"], prompt["prompt_length"]) == ("6dc2fd8d", str(len(PROMPT)))
    assert rows["api_error"]["attributes"]["error"] == "529 overloaded_error"  # the API's answer, not a text
    assert events(tool_events(), STORE_PROMPTS)["tool_result"]["attributes"]["error"].startswith("cat: secret")


def test_tool_details_are_redacted_key_by_key_keeping_the_identifiers():
    tool = events(tool_events())["tool_result"]["attributes"]
    parameters, tool_input = json.loads(tool["tool_parameters"]), json.loads(tool["tool_input"])
    assert parameters == {
        "bash_command": expected_redaction("git"), "full_command": expected_redaction("git commit -m 'fix the parser'"),
        "description": expected_redaction("Commit"), "git_commit_id": "b43fd02268d687a7de7990f9025ad39b8c633554",
        "git_branch": "main", "skill_name": "release", "mcp_server_name": "github", "mcp_tool_name": "create_pr",
        "subagent_type": "reviewer", "timeout": 120000, "run_in_background": False}
    assert tool_input == {"file_path": expected_redaction("/home/ada/parser.py"),
                          "old_string": expected_redaction("def parse("),
                          "new_string": expected_redaction("def parse_tokens("), "replace_all": False,
                          "edits": [{"old_string": expected_redaction("a"), "new_string": expected_redaction("b")}]}
    assert "parse" not in tool["tool_input"] + tool["tool_parameters"]


def test_a_records_attribute_is_kept_only_when_its_resource_has_the_same_value():
    no_dimensions = PrivacyPolicy(dimension_keys=frozenset())
    tool = events(tool_events({"cost_center": "42"}), no_dimensions)["tool_result"]["attributes"]
    assert tool["team"] == "payments"
    other_team = events(tool_events({"team": "platform"}), no_dimensions)["tool_result"]["attributes"]
    assert other_team["team"] == expected_redaction("payments")


def test_the_team_attribute_is_a_figure_dimension_kept_even_when_only_the_record_has_it():
    """The team figures read it from each record (--team-attribute): it is a name, never redacted."""
    other_team = events(tool_events({"team": "platform"}))["tool_result"]["attributes"]
    assert other_team["team"] == "payments"
    squad = PrivacyPolicy(dimension_keys=frozenset({"squad"}))
    records = [event("tool_result", at(DAY, 9), squad="checkout", team="payments")]
    (row,) = events(export_request(ExportLogsServiceRequest, records, {"service.name": "claude-code"}),
                    squad).values()
    assert (row["attributes"]["squad"], row["attributes"]["team"]) == ("checkout", expected_redaction("payments"))


def test_redaction_is_idempotent_so_decoding_stored_values_again_changes_nothing():
    """Values already redacted (or hashed) are never redacted again: what is decoded twice stays the same."""
    policy = PrivacyPolicy(hash_emails=True, email_hash_salt="pepper")
    first = events(tool_events(), policy)
    records = [event(name, at(DAY, 9), **row["attributes"]) for name, row in first.items()]
    again = events(export_request(ExportLogsServiceRequest, records, {"service.name": "claude-code",
                                                                      "team": "payments"}), policy)
    assert {name: row["attributes"] for name, row in again.items()} == \
           {name: row["attributes"] for name, row in first.items()}


def test_metric_points_keep_their_dimensions_and_redact_unknown_texts():
    metric = point("cost.usage", 0.5, at(DAY, 9), at(DAY, 8), **identity(EMAIL), model="claude-opus-5-5",
                   query_source="main", effort="medium", team="payments", future_label="a path /home/ada/x")
    request = export_request(ExportMetricsServiceRequest, [metric], {"team": "payments"})
    (row,) = rows_as_dicts(decode_metrics(request, context()), "metric_points")
    assert {key: row["attributes"][key] for key in ("model", "query_source", "effort", "team")} == \
           {"model": "claude-opus-5-5", "query_source": "main", "effort": "medium", "team": "payments"}
    assert row["attributes"]["future_label"] == expected_redaction("a path /home/ada/x")


def test_span_attributes_and_span_events_are_redacted():
    span = Span(name="claude_code.interaction", trace_id=b"\x01" * 16, span_id=b"\x02" * 8,
                start_time_unix_nano=at(DAY, 9), end_time_unix_nano=at(DAY, 9, 1),
                attributes=key_values({**identity(EMAIL), "user_prompt": PROMPT,
                                       "response.model_output": RESPONSE, "user_prompt_length": len(PROMPT)}),
                events=[Span.Event(name="turn", time_unix_nano=at(DAY, 9), attributes=key_values({"prompt": PROMPT}))])
    request = export_request(ExportTraceServiceRequest, [span])
    (row,) = rows_as_dicts(decode_traces(request, context()), "spans")
    assert row["attributes"]["user_prompt"] == expected_redaction(PROMPT)
    assert row["attributes"]["response.model_output"] == expected_redaction(RESPONSE)
    assert row["attributes"]["user_prompt_length"] == str(len(PROMPT))
    assert row["event_attributes"] == [{"prompt": expected_redaction(PROMPT)}]
    (kept,) = rows_as_dicts(decode_traces(request, context(STORE_PROMPTS)), "spans")
    assert kept["attributes"]["user_prompt"] == PROMPT


def test_a_tool_spans_command_output_file_content_status_and_links_are_redacted():
    """The traces beta with OTEL_LOG_TOOL_CONTENT: the tool span's command and path, its tool.output event."""
    output = {"file_path": "/home/ada/notes.txt", "content": "line one\n", "output": "hello", "bash_command": "ls"}
    span = Span(name="claude_code.tool", trace_id=b"\x01" * 16, span_id=b"\x02" * 8,
                start_time_unix_nano=at(DAY, 9), end_time_unix_nano=at(DAY, 9, 1),
                status=Status(code=Status.STATUS_CODE_ERROR, message="cat: notes.txt: line one"),
                attributes=key_values({**identity(), "tool_name": "Bash", "full_command": "cat notes.txt",
                                       "file_path": "/home/ada/notes.txt", "bash_command_class": "file_read",
                                       "duration_ms": 21, "gen_ai.tool.name": "Bash"}),
                events=[Span.Event(name="tool.output", time_unix_nano=at(DAY, 9), attributes=key_values(output))],
                links=[Span.Link(trace_id=b"\x03" * 16, span_id=b"\x04" * 8,
                                 attributes=key_values({"note": "see notes.txt"}))])
    (row,) = rows_as_dicts(decode_traces(export_request(ExportTraceServiceRequest, [span]), context()), "spans")
    assert (row["span_name"], row["tool_name"], row["event_names"]) == ("claude_code.tool", "Bash", ["tool.output"])
    assert row["status_message"] == expected_redaction("cat: notes.txt: line one")
    assert {key: row["attributes"][key] for key in ("bash_command_class", "duration_ms", "gen_ai.tool.name")} == \
           {"bash_command_class": "file_read", "duration_ms": "21", "gen_ai.tool.name": "Bash"}
    assert "notes.txt" not in repr(row) and "line one" not in repr(row) and "hello" not in repr(row)
    (kept,) = rows_as_dicts(decode_traces(export_request(ExportTraceServiceRequest, [span]),
                                          context(STORE_PROMPTS)), "spans")
    assert kept["status_message"] == "cat: notes.txt: line one"
    assert kept["event_attributes"] == [output]


# --- emails ---------------------------------------------------------------------------------------------------------

def every_signal(email: str) -> list[tuple]:
    """A request of each signal naming the person on the record and on the resource."""
    resource = {"service.name": "claude-code", "user.email": email}
    return [
        (decode_logs, export_request(ExportLogsServiceRequest, [event("user_prompt", at(DAY, 9), **identity(email))],
                                     resource, scope_attributes={"user.email": email}), "events"),
        (decode_metrics, export_request(ExportMetricsServiceRequest, [lines(5, at(DAY, 9), at(DAY, 8), email=email)],
                                        resource), "metric_points"),
        (decode_traces, export_request(ExportTraceServiceRequest, [Span(
            name="claude_code.tool", trace_id=b"\x01" * 16, span_id=b"\x02" * 8, start_time_unix_nano=at(DAY, 9),
            end_time_unix_nano=at(DAY, 9, 1), attributes=key_values(identity(email)),
            events=[Span.Event(name="e", attributes=key_values({"user.email": email}))],
            links=[Span.Link(trace_id=b"\x03" * 16, span_id=b"\x04" * 8,
                             attributes=key_values({"user.email": email}))])], resource), "spans"),
    ]


def test_hash_emails_leaves_no_email_in_any_column_or_map():
    pseudonym = email_pseudonym(EMAIL)
    for decode, request, table in every_signal(EMAIL):
        (row,) = rows_as_dicts(decode(request, context(HASH_EMAILS)), table)
        assert "@" not in repr(row), table
        assert row["user_email"] == row["user_key"] == pseudonym
        assert row["attributes"]["user.email"] == row["resource_attributes"]["user.email"] == pseudonym
        (plain,) = rows_as_dicts(decode(request, context()), table)
        assert plain["user_email"] == plain["user_key"] == EMAIL  # off by default


def test_the_pseudonym_is_stable_keyed_and_blind_to_case():
    pseudonym = email_pseudonym(EMAIL)
    assert pseudonym.startswith("hmac-sha256:") and len(pseudonym) == len("hmac-sha256:") + 32
    assert email_pseudonym(EMAIL.lower()) == email_pseudonym(f" {EMAIL.upper()} ") == pseudonym
    salted = PrivacyPolicy(hash_emails=True, email_hash_salt="pepper")
    assert salted.pseudonym(EMAIL) != pseudonym
    assert salted.pseudonym(EMAIL) == PrivacyPolicy(hash_emails=True, email_hash_salt="pepper").pseudonym(EMAIL)
    assert email_pseudonym("grace@example.com", "pepper") != salted.pseudonym(EMAIL)
    assert "pepper" not in repr(salted)


def test_decoding_again_gives_the_same_rows():
    """The write-ahead queue decodes an acknowledged request again after a crash: it must store the same rows."""
    policy = PrivacyPolicy(hash_emails=True, email_hash_salt="pepper")
    request = conversation()
    assert decode_logs(request, context(policy)).rows == decode_logs(request, context(policy)).rows
    for decode, request, table in every_signal(EMAIL):
        assert decode(request, context(policy)).rows == decode(request, context(policy)).rows


def test_records_without_email_keep_their_user_key():
    request = export_request(ExportLogsServiceRequest,
                             [LogRecord(time_unix_nano=at(DAY, 9), attributes=key_values(identity("")))])
    (row,) = rows_as_dicts(decode_logs(request, context(HASH_EMAILS)), "events")
    assert (row["user_email"], row["user_key"]) == ("", "f" * 64)
