"""Pure decoding: OTLP export requests in, rows for the raw tables out. No I/O here, so all of it is unit-testable."""

from collector.decode.common import DecodeContext, DecodedBatch, Limits
from collector.decode.logs import decode_logs
from collector.decode.metrics import decode_metrics
from collector.decode.traces import decode_traces

__all__ = ["DecodeContext", "DecodedBatch", "Limits", "decode_logs", "decode_metrics", "decode_traces"]
