"""What every signal's decoder shares: limits, the per-request context, the result, and attribute handling."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from collector.decode.privacy import PrivacyPolicy

DAY_NS = 86_400 * 10**9
# Rows are sorted and expired by toDate(timestamp), and ClickHouse's Date ends on 2149-06-06 (day 65535):
# a later time would wrap to a wrong day, so it is refused.
LAST_STORABLE_DAY = "2149-06-06"
LAST_STORABLE_DAY_NUMBER = 65_535
MAX_TIMESTAMP_NS = (LAST_STORABLE_DAY_NUMBER + 1) * DAY_NS - 1
MAX_UINT32 = 2**32 - 1
# The largest metric point value that counts: 2^53, the last whole number a double holds exactly. No Claude Code
# counter, cost or time comes near it; a larger value (1e300, 2^63-1) is a broken or hostile client.
MAX_POINT_VALUE = 2**53
# How many distinct reasons a response and a log line carry; the counts stay exact.
MAX_REASONS = 5


@dataclass(frozen=True)
class Limits:
    max_attribute_value_length: int = 65_536
    max_attributes_per_record: int = 512
    # The bound on one request's work: a 39 KB gzip body can carry 800,000 points, seconds of decoding each.
    max_records_per_request: int = 100_000
    max_attributes_per_request: int = 1_000_000


@dataclass(frozen=True)
class DecodeContext:
    """Everything a decoder needs besides the request: the limits, the fallback org, the receive time, and what
    may be kept about people (by default prompt and response text is redacted)."""

    limits: Limits
    default_org_id: str
    received_at_ns: int
    retention_days: int = 0
    privacy: PrivacyPolicy = PrivacyPolicy()

    @property
    def received_at_ms(self) -> int:
        return self.received_at_ns // 1_000_000


class RecordRejected(ValueError):
    """One record cannot be stored; the message is the reason the client is told."""


@dataclass
class DecodedBatch:
    """The rows of one request for one table, and what could not be kept as sent."""

    table: str
    rows: list[tuple] = field(default_factory=list)
    rejected: int = 0
    truncated_values: int = 0
    dropped_attributes: int = 0
    reasons: list[str] = field(default_factory=list)

    def reject(self, reason: str) -> None:
        self.rejected += 1
        self._note(reason)

    def _note(self, reason: str) -> None:
        if len(self.reasons) < MAX_REASONS and reason not in self.reasons:
            self.reasons.append(reason)

    def summary(self, limits: Limits) -> str:
        """The partial_success message: why records were rejected and what was truncated (empty if nothing)."""
        parts = []
        if self.rejected:
            parts.append(f"{self.rejected} rejected: " + "; ".join(self.reasons))
        if self.truncated_values:
            parts.append(f"{self.truncated_values} attribute values longer than "
                         f"{limits.max_attribute_value_length} characters were truncated")
        if self.dropped_attributes:
            parts.append(f"{self.dropped_attributes} attributes beyond {limits.max_attributes_per_record} "
                         "per record were dropped")
        return ". ".join(parts)


def append_or_reject(batch: DecodedBatch, what: str, make_row: Callable[[], tuple]) -> None:
    """Add one record's row, or count the record as rejected with its reason; never lose its neighbours.

    A rejected record's truncated or dropped attributes are not counted: the record is not stored at all."""
    counts = batch.truncated_values, batch.dropped_attributes
    try:
        batch.rows.append(make_row())
        return
    except RecordRejected as reason:
        batch.reject(f"{what}: {reason}")
    except Exception as error:  # a record that trips a decoder bug must not cost the good records beside it
        batch.reject(f"{what}: could not be decoded ({type(error).__name__}: {error})")
    batch.truncated_values, batch.dropped_attributes = counts


def any_value_python(value: AnyValue) -> object:
    """An AnyValue as a plain Python value (lists and dicts for arrays and kvlists, base64 for bytes)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        number = value.double_value
        return number if math.isfinite(number) else repr(number)
    if kind == "array_value":
        return [any_value_python(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: any_value_python(item.value) for item in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None


def any_value_text(value: AnyValue) -> str:
    """An AnyValue as the text stored in a Map(String, String): scalars as written, arrays and kvlists as JSON."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return repr(value.double_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind is None:
        return ""
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return json.dumps(any_value_python(value), separators=(",", ":"), ensure_ascii=False)


def attribute_map(attributes: Sequence[KeyValue], limits: Limits, batch: DecodedBatch,
                  privacy: PrivacyPolicy | None = None) -> dict[str, str]:
    """Attributes as a text map, every key kept unless over the per-record limit, the privacy policy applied,
    long values truncated."""
    over = len(attributes) - limits.max_attributes_per_record
    if over > 0:
        batch.dropped_attributes += over
        # the keys first in order, not the first sent, so the same record sent in another order keeps the same
        attributes = sorted(attributes, key=lambda attribute: attribute.key)[:limits.max_attributes_per_record]
    # Nearly every Claude Code attribute is a string: a non-empty string_value is the value (a oneof has one
    # member set), which saves the WhichOneof call; this loop is most of the collector's decoding time.
    result = {attribute.key: attribute.value.string_value or any_value_text(attribute.value)
              for attribute in attributes}
    if len(result) < len(attributes):
        result = _one_value_per_key(attributes)
    if privacy is not None and privacy.changes_values:
        privacy.apply(result)  # before truncating: a redacted text's length and hash are of all of it
    max_length = limits.max_attribute_value_length
    if result and max(map(len, result.values())) > max_length:
        for key, text in result.items():
            if len(text) > max_length:
                result[key] = text[:max_length]
                batch.truncated_values += 1
    # sorted: the stored Map, and so the row's hash a retry is deduplicated by, must not depend on the order sent
    return dict(sorted(result.items()))


def _one_value_per_key(attributes: Sequence[KeyValue]) -> dict[str, str]:
    """A key sent twice keeps its largest value, whichever order the copies came in."""
    result: dict[str, str] = {}
    for attribute in attributes:
        text = attribute.value.string_value or any_value_text(attribute.value)
        result[attribute.key] = max(result.get(attribute.key, text), text)
    return result


@dataclass(frozen=True)
class Origin:
    """The resource and scope a record came from, decoded once per block and shared by its records."""

    resource: dict[str, str]
    service: tuple[str, str]
    scope: tuple[str, str, dict[str, str]]
    privacy: PrivacyPolicy  # the request's policy, beside this resource


def records_with_origin(resource_blocks: Iterable, scopes_field: str, records_field: str, context: DecodeContext,
                        batch: DecodedBatch) -> Iterator[tuple[Origin, object]]:
    """Walk resource -> scope -> record, the shape every OTLP signal shares."""
    limits, privacy = context.limits, context.privacy
    for block in resource_blocks:
        resource = attribute_map(block.resource.attributes, limits, batch, privacy.for_resource())
        service = (resource.get("service.name", ""), resource.get("service.version", ""))
        record_privacy = privacy.beside(resource)
        for scope_block in getattr(block, scopes_field):
            scope = scope_block.scope
            scope_attributes = attribute_map(scope.attributes, limits, batch, record_privacy)
            origin = Origin(resource, service, (scope.name, scope.version, scope_attributes), record_privacy)
            for record in getattr(scope_block, records_field):
                yield origin, record


def dropped_attribute_count(reported: int, attributes: Sequence[KeyValue], limits: Limits) -> int:
    """What the client says it dropped plus what the per-record limit dropped here, at most what UInt32 holds."""
    return min(reported + max(0, len(attributes) - limits.max_attributes_per_record), MAX_UINT32)


def checked_time(nanos: int, what: str) -> int:
    if nanos > MAX_TIMESTAMP_NS:
        raise RecordRejected(f"{what} {nanos} is past {LAST_STORABLE_DAY}, the last day ClickHouse can store")
    return nanos


def checked_record_time(nanos: int, context: DecodeContext) -> int:
    """A record's own time, the one its table's TTL reads: a record the TTL would delete at once is refused
    here, with the reason, rather than acknowledged and silently dropped by the store."""
    nanos = checked_time(nanos, "time")
    if context.retention_days and (nanos - nanos % DAY_NS) + context.retention_days * DAY_NS <= context.received_at_ns:
        raise RecordRejected(f"time {nanos} is older than the {context.retention_days}-day retention")
    # The TTL's expiry day (the record's day plus the retention) is a Date too: past the last one it wraps to
    # 1970, and the store would delete the record at its next merge.
    if context.retention_days and nanos // DAY_NS + context.retention_days > LAST_STORABLE_DAY_NUMBER:
        raise RecordRejected(f"time {nanos} plus the {context.retention_days}-day retention is past "
                             f"{LAST_STORABLE_DAY}, the last day ClickHouse can store")
    return nanos


def hex_id(raw: bytes) -> str:
    return raw.hex()


@dataclass(frozen=True)
class Identity:
    """Who a record is about. The user key falls back: email, else account uuid, else the install's user.id."""

    org_id: str
    user_key: str
    user_email: str
    user_account_uuid: str
    user_id: str
    session_id: str
    terminal_type: str
    app_version: str

    def columns(self) -> tuple[str, str, str, str, str]:
        return (self.user_key, self.user_email, self.user_account_uuid, self.user_id, self.session_id)


def identity_of(attributes: dict[str, str], resource: dict[str, str], default_org_id: str) -> Identity:
    """Standard attributes sit on each record; custom resource attributes may carry them too, so fall back."""
    on_record, on_resource = attributes.get, resource.get
    email = on_record("user.email") or on_resource("user.email", "")
    account_uuid = on_record("user.account_uuid") or on_resource("user.account_uuid", "")
    user_id = on_record("user.id") or on_resource("user.id", "")
    return Identity(
        on_record("organization.id") or on_resource("organization.id") or default_org_id,
        email or account_uuid or user_id,
        email,
        account_uuid,
        user_id,
        on_record("session.id") or on_resource("session.id", ""),
        on_record("terminal.type") or on_resource("terminal.type", ""),
        on_record("app.version") or on_resource("app.version", ""),
    )
