"""What the collector keeps about people: only identifiers in clear unless asked for more, emails hashed on request.

Applied while decoding, as pure and idempotent functions of the values and the policy: a value already redacted
stays as it is, so decoding twice (or decoding rows' source again) gives the same rows.

- Redaction (unless store_prompts) is an allow-list, so what a new client version adds is redacted until it is
  known: a record's attribute stays in clear when its key names an identifier, a name or an enum the figures need
  (CLEAR_KEYS), when the record shares it with its resource (operator configuration such as team=payments), or when
  its value is a number or a boolean. Every other text becomes `<redacted length=N sha256=HEX>`, N its length in
  characters (Unicode code points) and HEX the SHA-256 of its UTF-8 bytes, so equal texts stay recognisable and
  lengths countable without the text. JSON-valued tool details (STRUCTURED_KEYS) and map log bodies are redacted
  key by key, keeping allow-listed sub-keys such as git_commit_id; a string log body other than the event's own
  name (`claude_code.<name>`) is text, and so is a span's status message. Resource attributes are the operator's.
- Email hashing (hash_emails): `user.email` becomes `hmac-sha256:` + 32 hex digits of HMAC-SHA256(salt, email
  trimmed and lower-cased), the same for the same person every time, so every figure per member stays exact.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Mapping

# Keys whose values carry what a person typed, the model wrote or a file held: redacted even when the value looks
# like a number. Events: user_prompt's `prompt` and `prompt_text`, assistant_response's `response`. Traces beta:
# the interaction span's `user_prompt`, the llm_request span's `new_context`, `user_system_prompt`,
# `system_prompt_preview` and `response.model_output`.
CONTENT_KEYS = frozenset({"prompt", "prompt_text", "response", "user_prompt", "new_context", "user_system_prompt",
                          "system_prompt_preview", "response.model_output", "system_prompt", "body", "content",
                          "output", "full_command", "command", "error"})
# Identifiers, names, enums and timestamps kept in clear: standard and resource identity, event plumbing, the
# figures' dimensions, and the tool/skill/MCP/agent/plugin/model names and VCS references the figures count.
# (Not a `gen_ai.` or `vcs.` prefix: those conventions also name message content and change titles.)
CLEAR_KEYS = frozenset({
    "session.id", "organization.id", "user.account_uuid", "user.account_id", "user.id", "user.email",
    "user.groups", "identity.source", "terminal.type", "app.version", "app.entrypoint",
    "service.name", "service.version", "os.type", "os.version", "host.arch", "wsl.version",
    "anthropic.provider", "anthropic.custom_base_url", "anthropic.plan", "anthropic.seat_type", "ccr.session.id",
    "event.name", "event.timestamp", "event.sequence", "prompt.id", "message.uuid", "message.id", "request_id",
    "request_body_id", "tool_use_id", "span.type", "parent.source", "llm_request.context", "interaction.sequence",
    "model", "type", "start_type", "tool_name", "tool_name_safe", "tool_source", "decision", "decision_type",
    "source", "decision_source", "language", "query_source", "query_source_safe", "speed", "effort", "success",
    "status_code", "attempt", "error_type", "error.type", "error_class", "permission_mode", "stop_reason",
    "command_name", "command_source", "bash_command_class",
    "hook_event", "hook_name", "hook_source", "hook_type", "managed_only", "safe_mode",
    "managed_settings.helper.applied", "managed_settings.helper.state", "managed_settings.source_behavior",
    "managed_settings.sources", "managed_settings.trigger",
    "plugin.name", "plugin.scope", "plugin.version", "plugin_id_hash", "marketplace.name", "enabled_via",
    "agent.name", "agent_type", "subagent_type", "skill.name", "skill_name", "mcp_server.name", "mcp_tool.name",
    "mcp_server_name", "mcp_tool_name", "mcp_server_scope",
    # the Usage figures' names and enums (aggregator/usage.py): MCP connections, skills, agents, permission modes
    "server_name", "status", "transport_type", "server_scope", "invocation_trigger", "skill.source", "skill.kind",
    "agent.source", "from_mode", "to_mode",
    "git_commit_id", "git_branch", "vcs.ref.head.revision", "vcs.ref.head.name", "vcs.ref.head.type",
    "vcs.ref.base.revision", "vcs.ref.base.name", "vcs.ref.base.type", "vcs.repository.url.full",
    "vcs.repository.name", "vcs.owner.name", "vcs.provider.name", "vcs.change.id", "vcs.change.state",
    "gen_ai.conversation.id", "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system",
    "gen_ai.request.model", "gen_ai.response.model", "gen_ai.response.id", "gen_ai.response.finish_reasons",
    "gen_ai.tool.call.id", "gen_ai.tool.name", "gen_ai.tool.type",
})
# An API error's message is the API's answer (status, error type), not anyone's text; a tool's error can quote a file.
API_ERROR_EVENTS = frozenset({"api_error", "api_retries_exhausted"})
# Attributes whose value is a JSON object of tool details (OTEL_LOG_TOOL_DETAILS, OTEL_LOG_TOOL_CONTENT).
STRUCTURED_KEYS = frozenset({"tool_parameters", "tool_input"})
EVENT_BODY_PREFIX = "claude_code."
# What Claude Code sends in place of a prompt it was not allowed to log: there is no text to protect.
CLIENT_PLACEHOLDER = "<REDACTED>"
EMAIL_KEY = "user.email"
PSEUDONYM_PREFIX = "hmac-sha256:"
_PSEUDONYM = re.compile(re.escape(PSEUDONYM_PREFIX) + "[0-9a-f]{32}")
_REDACTED = re.compile(r"<redacted length=\d+ sha256=[0-9a-f]{64}>")
# Numbers and booleans as attribute_map writes them (int, repr(double), true/false), or as strings Claude Code sends.
_NUMBER_OR_BOOLEAN = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?|-?inf|nan|true|false")


def redacted(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"<redacted length={len(text)} sha256={digest}>"


@functools.lru_cache(maxsize=65_536)  # a fleet has few emails and each is on every record
def email_pseudonym(email: str, salt: str = "") -> str:
    """The stored stand-in for an email: keyed, so without the salt a known email cannot be checked against it."""
    normalized = email.strip().lower().encode("utf-8", "surrogatepass")
    return PSEUDONYM_PREFIX + hmac.new(salt.encode(), normalized, hashlib.sha256).hexdigest()[:32]


def _nothing_to_protect(text: str) -> bool:
    return not text or text == CLIENT_PLACEHOLDER or _REDACTED.fullmatch(text) is not None


@dataclass(frozen=True)
class PrivacyPolicy:
    store_prompts: bool = False
    hash_emails: bool = False
    email_hash_salt: str = field(default="", repr=False)
    # Attributes the operator made figure dimensions (--team-attribute): their values are names, kept in clear
    # even on a record whose resource does not carry them.
    dimension_keys: frozenset[str] = frozenset({"team"})
    # The attributes of the resource the records come from: a record's attribute equal to one is kept.
    resource: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def changes_values(self) -> bool:
        return not self.store_prompts or self.hash_emails

    def pseudonym(self, email: str) -> str:
        if _PSEUDONYM.fullmatch(email):  # hashed already: a pseudonym is never hashed again
            return email
        return email_pseudonym(email, self.email_hash_salt)

    def stored_email(self, email: str) -> str:
        """An email as the tables hold it, wherever it comes from (telemetry, GitHub, the identity map): its
        pseudonym under --hash-emails, else as given; no email stays empty."""
        return self.pseudonym(email) if self.hash_emails and email else email

    def for_resource(self) -> PrivacyPolicy:
        """The policy for a resource's own attributes: operator configuration, only its email is hashed."""
        return dataclasses.replace(self, store_prompts=True)

    def beside(self, resource: Mapping[str, str]) -> PrivacyPolicy:
        """The policy for the records of this (decoded) resource."""
        return dataclasses.replace(self, resource=resource)

    def apply(self, attributes: dict[str, str]) -> None:
        """In place, on a decoded attribute map (before any truncation, so length and hash are the whole text's)."""
        if not self.store_prompts:
            shared = self.resource
            for key, value in attributes.items():
                if key in CLEAR_KEYS or key in self.dimension_keys or not value or shared.get(key) == value:
                    continue
                if key == "error" and attributes.get("event.name") in API_ERROR_EVENTS:
                    continue
                attributes[key] = self.text(key, value)
        if self.hash_emails:
            email = attributes.get(EMAIL_KEY)
            if email:
                attributes[EMAIL_KEY] = self.pseudonym(email)

    def text(self, key: str, value: str) -> str:
        """One attribute's text as stored, for a key not in CLEAR_KEYS (or "" for a span's status message)."""
        if self.store_prompts or _nothing_to_protect(value):
            return value
        if key not in CONTENT_KEYS and _NUMBER_OR_BOOLEAN.fullmatch(value):
            return value
        if key in STRUCTURED_KEYS:
            try:
                document = json.loads(value)
                if isinstance(document, dict):
                    return json.dumps(self._plain_value(document), separators=(",", ":"), ensure_ascii=False)
            except (ValueError, RecursionError):
                pass
        return redacted(value)

    def log_body(self, body: object, event_name: str) -> object:
        """A log body as a plain value (see any_value_python): a map's or list's values are treated like JSON tool
        details; a string body other than the event's name is text."""
        if isinstance(body, str):
            return body if body == EVENT_BODY_PREFIX + event_name else self.text("", body)
        if isinstance(body, (dict, list)) and self.changes_values:
            try:
                return self._plain_value(body)
            except RecursionError:
                return redacted(as_text(body))
        return body

    def _plain_value(self, node: object, key: str = "") -> object:
        """A JSON-like value with every text redacted but those under CLEAR_KEYS, and emails hashed if asked."""
        if isinstance(node, dict):
            return {name: self._plain_value(value, name) for name, value in node.items()}
        if isinstance(node, list):
            return [self._plain_value(value, key) for value in node]
        if not isinstance(node, str):
            return node
        if key == EMAIL_KEY:
            return self.stored_email(node)
        return node if key in CLEAR_KEYS else self.text(key, node)


def as_text(value: object) -> str:
    """A plain value (see any_value_python) as stored text: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
