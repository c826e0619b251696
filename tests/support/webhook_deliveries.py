"""Delivering a webhook to a running serve as GitHub does: signed, with its event and delivery id headers."""

from __future__ import annotations

import http.client
import json
import urllib.parse
import uuid

from collector.github.signature import signature_of

SECRET = "It's a Secret to Everybody"
JSON, FORM = "application/json", "application/x-www-form-urlencoded"


def github_body(payload: dict, content_type: str = JSON) -> bytes:
    """The body GitHub sends for a payload under the webhook's content type."""
    text = json.dumps(payload)
    return (urllib.parse.urlencode({"payload": text}) if content_type == FORM else text).encode()


def deliver(serve, event: str, body: bytes | dict, *, delivery_id: str | None = None, secret: str | None = SECRET,
            content_type: str = JSON, headers: dict | None = None) -> tuple[int, dict | bytes]:
    """POST /github/webhook; its status and JSON answer. A dict body is encoded as GitHub would; secret None sends
    no signature. A server that answers before reading the whole body (413) is heard out."""
    if isinstance(body, dict):
        body = github_body(body, content_type)
    sent = {"Content-Type": content_type, "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()), "User-Agent": "GitHub-Hookshot/test"}
    if secret is not None:
        sent["X-Hub-Signature-256"] = signature_of(secret.encode(), body)
    sent.update(headers or {})
    connection = http.client.HTTPConnection(serve.host, serve.api_port, timeout=120)
    try:
        try:
            connection.request("POST", "/github/webhook", body=body, headers=sent)
        except (BrokenPipeError, ConnectionResetError):
            pass  # its answer is read below
        reply = connection.getresponse()
        answer = reply.read()
    finally:
        connection.close()
    if reply.getheader("Content-Type", "").startswith("application/json"):
        return reply.status, json.loads(answer)
    return reply.status, answer
