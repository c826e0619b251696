"""Request bodies -> OTLP export request messages: binary protobuf, or the OTLP JSON mapping.

OTLP JSON differs from protobuf's own JSON mapping in one way that matters: trace and span ids are hex, not
base64. Enum values may be integers or names and 64-bit integers strings or numbers; protobuf's parser takes both.
"""

from __future__ import annotations

import base64
import json
import zlib

from google.protobuf.json_format import ParseDict, ParseError
from google.protobuf.message import DecodeError, Message

_HEX_ID_FIELDS = {"traceId": 32, "spanId": 16, "parentSpanId": 16,
                  "trace_id": 32, "span_id": 16, "parent_span_id": 16}


class MalformedPayload(ValueError):
    """The body is not a valid export request; the message tells the client what is wrong."""


def parse_protobuf(body: bytes, message_type: type[Message]) -> Message:
    message = message_type()
    try:
        message.ParseFromString(body)
    except (DecodeError, RuntimeError, ValueError) as error:
        raise MalformedPayload(f"body is not a valid {message_type.__name__} protobuf message: {error}") from None
    return message


def parse_json(body: bytes, message_type: type[Message]) -> Message:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:  # RecursionError: nested too deep
        raise MalformedPayload(f"body is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise MalformedPayload(f"body must be a JSON object ({message_type.__name__}), got {type(document).__name__}")
    try:
        return ParseDict(_ids_to_base64(document), message_type(), ignore_unknown_fields=True)
    except (ParseError, RecursionError, ValueError, TypeError) as error:
        raise MalformedPayload(f"body is not a valid {message_type.__name__} in the OTLP JSON mapping: {error}") from None


def _ids_to_base64(node: object) -> object:
    """Hex trace/span ids become the base64 protobuf's JSON parser expects; ids already in base64 stay."""
    if isinstance(node, dict):
        converted = {}
        for key, value in node.items():
            if isinstance(value, str) and len(value) == _HEX_ID_FIELDS.get(key, -1):
                converted[key] = _hex_to_base64(value)
            else:
                converted[key] = _ids_to_base64(value)
        return converted
    if isinstance(node, list):
        return [_ids_to_base64(item) for item in node]
    return node


def _hex_to_base64(text: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(text)).decode("ascii")
    except ValueError:
        raise MalformedPayload(f"{text!r} is not a hex trace or span id") from None


class PayloadTooLarge(ValueError):
    """The body, once decompressed, is larger than the configured limit."""


# A member's compressed bytes are fed in growing slices: a slice past the member's end is copied once more as
# unused_data, so starting small keeps a body of many tiny members linear, and doubling keeps a large one so.
_FIRST_SLICE = 256
_LARGEST_SLICE = 1 << 20


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress a gzip body (several members allowed) in time linear in its size, never holding more than
    limit+1 bytes of output: PayloadTooLarge as soon as the output is known to be over limit."""
    output = bytearray()
    compressed = memoryview(body)
    offset = 0
    while offset < len(compressed):
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        size = _FIRST_SLICE
        while not decompressor.eof:
            if offset >= len(compressed):
                raise MalformedPayload("body is not valid gzip: the stream is truncated")
            piece = compressed[offset:offset + size]
            try:
                output += decompressor.decompress(piece, limit + 1 - len(output))
            except zlib.error as error:
                raise MalformedPayload(f"body is not valid gzip: {error}") from None
            if len(output) > limit:
                raise PayloadTooLarge(f"decompressed body exceeds the limit of {limit} bytes")
            # below the output bound every byte of the piece is used, or left over past the member's end
            offset += len(piece) - len(decompressor.unused_data) - len(decompressor.unconsumed_tail)
            size = min(size * 2, _LARGEST_SLICE)
    return bytes(output)
