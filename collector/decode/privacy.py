"""What the collector keeps about people: prompt and response text only when asked to, emails hashed on request.

Applied while decoding, as pure functions of the values and the policy: a request decoded again from the
write-ahead queue after a crash gives exactly the rows it gave when it was acknowledged.

- Redaction (unless store_prompts): the value becomes `<redacted length=N sha256=HEX>`, N its length in
  characters (Unicode code points) and HEX the SHA-256 of its UTF-8 bytes, so equal texts stay recognisable and
  lengths stay countable without the text.
- Email hashing (hash_emails): `user.email` becomes `hmac-sha256:` + 32 hex digits of HMAC-SHA256(salt, email
  trimmed and lower-cased), the same for the same person every time, so every figure per member stays exact.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from dataclasses import dataclass, field

# Attributes that carry what a person typed or the model answered. Events: user_prompt's `prompt`,
# assistant_response's `response`. Traces beta: the interaction span's `user_prompt`, and the llm_request span's
# `new_context`, `user_system_prompt`, `system_prompt_preview` and `response.model_output`.
CONTENT_KEYS = ("prompt", "response", "user_prompt", "new_context", "user_system_prompt", "system_prompt_preview",
                "response.model_output")
# Events whose log body would be the text itself when it is anything but their name (`claude_code.<name>`).
CONTENT_EVENTS = frozenset({"user_prompt", "assistant_response"})
EVENT_BODY_PREFIX = "claude_code."
# What Claude Code sends in place of a prompt it was not allowed to log: there is no text to protect.
CLIENT_PLACEHOLDER = "<REDACTED>"
EMAIL_KEY = "user.email"
PSEUDONYM_PREFIX = "hmac-sha256:"


def redacted(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"<redacted length={len(text)} sha256={digest}>"


@functools.lru_cache(maxsize=65_536)  # a fleet has few emails and each is on every record
def email_pseudonym(email: str, salt: str = "") -> str:
    """The stored stand-in for an email: keyed, so without the salt a known email cannot be checked against it."""
    normalized = email.strip().lower().encode("utf-8", "surrogatepass")
    return PSEUDONYM_PREFIX + hmac.new(salt.encode(), normalized, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class PrivacyPolicy:
    store_prompts: bool = False
    hash_emails: bool = False
    email_hash_salt: str = field(default="", repr=False)

    @property
    def changes_values(self) -> bool:
        return not self.store_prompts or self.hash_emails

    def pseudonym(self, email: str) -> str:
        return email_pseudonym(email, self.email_hash_salt)

    def apply(self, attributes: dict[str, str]) -> None:
        """In place, on a decoded attribute map (before any truncation, so length and hash are the whole text's)."""
        if not self.store_prompts:
            for key in CONTENT_KEYS:
                value = attributes.get(key)
                if value and value != CLIENT_PLACEHOLDER:
                    attributes[key] = redacted(value)
        if self.hash_emails:
            email = attributes.get(EMAIL_KEY)
            if email:
                attributes[EMAIL_KEY] = self.pseudonym(email)

    def log_body(self, body: object, event_name: str) -> object:
        """A log body as a plain value (see any_value_python): a map's text and email keys are treated like
        attributes; a string body of a prompt or response event that is not the event's name is the text."""
        if isinstance(body, dict) and self.changes_values:
            texts = {key: as_text(body[key]) for key in (*CONTENT_KEYS, EMAIL_KEY) if key in body}
            before = dict(texts)
            self.apply(texts)
            return {**body, **{key: text for key, text in texts.items() if text != before[key]}}
        if (isinstance(body, str) and not self.store_prompts and event_name in CONTENT_EVENTS
                and body not in ("", CLIENT_PLACEHOLDER, EVENT_BODY_PREFIX + event_name)):
            return redacted(body)
        return body


def as_text(value: object) -> str:
    """A plain value (see any_value_python) as stored text: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
