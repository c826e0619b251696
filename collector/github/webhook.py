"""POST /github/webhook on the API port: GitHub's signed deliveries into the github_* tables, durably.

Order of the checks, each refusal a JSON {"error": reason}: a body over 25 MB (GitHub's own cap) gets 413 before
more of it is read; a missing, SHA-1-only, malformed or wrong signature 401 (logged once a minute per kind with
the peer and the delivery id, never the body); a content type other than GitHub's two choices 415; headers, JSON
or fields that cannot be stored 400; a delivery signed with an @OWNER secret for another owner's repository 403;
with --auth-tokens a repository owner not in --github-orgs 422. A delivery's
rows go into the write-ahead log (Ingestor.store_rows), its github_deliveries row last, and the 200 is sent only
once all are durable; a full queue gets 503 with Retry-After. The route's access level is SIGNED: no bearer token
(GitHub has none to send), no Origin or Host check (plumbing/cross_origin.py, allowed_hosts.py): the signature is
the protection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from collector.decode.privacy import PrivacyPolicy
from collector.github.delivery_counts import DeliveryCounts
from collector.github.orgs import OrgPolicy
from collector.github.payloads import Delivery, PayloadError, owner_login, rows_of_delivery
from collector.github.signature import (SHA1_SIGNATURE_HEADER, SIGNATURE_HEADER, SignatureRefused, WebhookSecret,
                                        check_signature)
from collector.ingest import Ingestor
from collector.refusals import REFUSALS
from collector.write_ahead_log import QueueFull
from plumbing.json_answer import json_response
from plumbing.log_once import RateLimitedLog
from plumbing.log_text import client_text
from plumbing.request_body import BodyTooLarge, read_bounded
from plumbing.routes import Access, RouteTable

PATH = "/github/webhook"
MAX_DELIVERY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB and does not send larger ones
JSON, FORM = "application/json", "application/x-www-form-urlencoded"  # the webhook's two content types on GitHub
EVENT_HEADER, DELIVERY_HEADER = "X-GitHub-Event", "X-GitHub-Delivery"
_EVENT = re.compile(r"[a-z_]{1,64}")
_DELIVERY_ID = re.compile(r"[0-9A-Za-z._-]{1,128}")
# Bodies read at once: a body is held whole until its signature is checked, so unsigned senders on many
# connections could otherwise hold connections x 25 MB; the rest wait their turn (GitHub waits 10 s for an answer).
MAX_DELIVERIES_AT_ONCE = 4

log = logging.getLogger(__name__)
_lookup_log = RateLimitedLog(log, logging.WARNING)


class Refused(Exception):
    """A delivery answered with status and reason; outcome is its counter label and log kind."""

    def __init__(self, status: int, outcome: str, reason: str, log_kind: str = ""):
        super().__init__(reason)
        self.status, self.outcome = status, outcome
        self.log_kind = f"github:{outcome}:{log_kind}" if log_kind else f"github:{outcome}"


class WebhookReceiver:
    def __init__(self, *, secrets: tuple[WebhookSecret, ...], ingestor: Ingestor, orgs: OrgPolicy, privacy: PrivacyPolicy,
                 counts: DeliveryCounts):
        self._secrets = secrets
        self._ingestor = ingestor
        self._orgs = orgs
        self._privacy = privacy
        self._counts = counts
        self._log = RateLimitedLog(log, logging.WARNING)
        self._turns = asyncio.Semaphore(MAX_DELIVERIES_AT_ONCE)
        # the redelivery lookup reads the store: on a thread of its own, never on the event loop
        self._lookup_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="github-webhook")

    def close(self) -> None:
        self._lookup_thread.shutdown(wait=True)

    async def receive(self, request: web.Request) -> web.Response:
        event = request.headers.get(EVENT_HEADER, "")
        delivery_id = request.headers.get(DELIVERY_HEADER, "")
        try:
            async with self._turns:
                answer = await self._store(request, event, delivery_id)
        except Refused as refusal:
            self._counts.refused(event, refusal.outcome)
            self._log.log(refusal.log_kind, "GitHub delivery %s (%s) from %s refused (%d): %s",
                          client_text(delivery_id) or "without an id", client_text(event) or "no event",
                          request.remote, refusal.status, refusal)
            headers = {}
            if refusal.outcome == "unavailable":
                headers["Retry-After"] = str(REFUSALS["unavailable"].retry_delay_seconds)
            return web.json_response({"error": str(refusal)}, status=refusal.status, headers=headers)
        return json_response(answer)

    async def _store(self, request: web.Request, event: str, delivery_id: str) -> dict:
        body = await read_body(request)
        try:
            secret = check_signature(self._secrets, body, request.headers.get(SIGNATURE_HEADER),
                                     request.headers.get(SHA1_SIGNATURE_HEADER))
        except SignatureRefused as refusal:
            raise Refused(401, "unsigned", str(refusal), refusal.kind) from None
        payload = parsed_payload(request.content_type, body)
        if not _EVENT.fullmatch(event) or not _DELIVERY_ID.fullmatch(delivery_id):
            raise Refused(400, "malformed", f"{EVENT_HEADER} must be an event name and {DELIVERY_HEADER} an id "
                                            "(letters, digits, '-', '.', '_'), as GitHub sends them")
        try:
            owner = owner_login(payload)
            if secret.owner and secret.owner != owner:
                raise Refused(403, "other_owner", f"the secret that signed this delivery signs for {secret.owner}'s "
                              f"repositories only, not {owner or 'an unnamed owner'}'s; nothing was stored",
                              secret.owner)
            org = self._org(owner)
            rows = rows_of_delivery(Delivery(event, delivery_id, payload, time.time_ns() // 1_000_000, org,
                                             self._privacy))
        except PayloadError as error:
            raise Refused(400, "malformed", f"the {event} payload cannot be stored: {error}") from None
        redelivery = await asyncio.get_running_loop().run_in_executor(
            self._lookup_thread, self._counts.is_redelivery, delivery_id)
        try:
            for table, table_rows in rows.items():  # github_deliveries last: found there means all were stored
                if table_rows:
                    await self._ingestor.store_rows(table, table_rows)
        except QueueFull as error:
            raise Refused(503, "unavailable", f"{error}; GitHub can redeliver it later") from None
        self._counts.stored(event, delivery_id, redelivery)
        return {"delivery": delivery_id, "event": event, "redelivery": redelivery,
                "stored": {table: len(table_rows) for table, table_rows in rows.items()}}

    def _org(self, owner: str) -> str:
        org = self._orgs.org_of(owner)
        if org is None:  # logged once a minute per owner
            raise Refused(422, "unlisted_owner", f"the repository owner {owner!r} is not in --github-orgs, which "
                          "must list every owner when serve has --auth-tokens; nothing was stored", owner)
        return org


async def read_body(request: web.Request) -> bytes:
    """The whole body, never holding more than MAX_DELIVERY_BYTES of it."""
    try:
        return await read_bounded(request, MAX_DELIVERY_BYTES)
    except BodyTooLarge:
        raise Refused(413, "too_large", f"the body is over {MAX_DELIVERY_BYTES} bytes, GitHub's limit") from None


def parsed_payload(content_type: str, body: bytes) -> dict:
    """The delivery's JSON object, from either content type a GitHub webhook can be set to."""
    if content_type == FORM:
        text = _form_payload(body)
    elif content_type == JSON:
        text = None
    else:
        raise Refused(415, "unsupported", f"Content-Type must be {JSON} (or {FORM}), as the webhook's settings "
                                          f"on GitHub choose, not {client_text(content_type) or 'none'}")
    try:
        payload = json.loads(body.decode("utf-8") if text is None else text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:  # bad UTF-8 or JSON, or a number of thousands of digits
        # JSON's messages say where, never what: nothing of the payload reaches the answer or the log
        raise Refused(400, "malformed", f"the body is not a JSON payload: {client_text(str(error))}") from None
    if not isinstance(payload, dict):
        raise Refused(400, "malformed", "the payload must be a JSON object")
    return payload


def _form_payload(body: bytes) -> str:
    try:
        fields = urllib.parse.parse_qs(body.decode("ascii"), strict_parsing=True, max_num_fields=16)
    except ValueError:  # its message quotes the body
        fields = {}
    if len(fields.get("payload", ())) != 1:
        raise Refused(400, "malformed", f"a {FORM} body must be one payload= field holding the JSON")
    return fields["payload"][0]


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def routes(receiver: WebhookReceiver | None) -> RouteTable:
    """The webhook's route; without a receiver (no --github-webhook-secret-file) it answers 404 saying so."""
    table = RouteTable()

    @table.post(PATH, Access.SIGNED)
    async def github_webhook(request: web.Request) -> web.Response:
        if receiver is None:
            return json_response({"error": "GitHub webhooks are off: start serve with "
                                           "--github-webhook-secret-file FILE"}, status=404)
        return await receiver.receive(request)

    return table


def stored_delivery_lookup(client, database: str):
    """stored_before(delivery_id) for DeliveryCounts: does github_deliveries hold the id?"""
    def stored_before(delivery_id: str) -> bool:
        try:
            return bool(client.query(f"SELECT count() FROM {database}.github_deliveries WHERE delivery_id = "
                                     "{id:String}", parameters={"id": delivery_id}).result_rows[0][0])
        except Exception as error:  # a store outage: count it as new, the rows are stored all the same
            _lookup_log.log("github:lookup", "cannot look up GitHub delivery %s in the store: %s",
                            client_text(delivery_id), error)
            return False

    return stored_before
