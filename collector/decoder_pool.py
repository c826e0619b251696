"""The decoding workers: a bounded pool of processes that turn export bytes into write-ahead log entries, so the
event loop that answers every client, /readyz, /metrics and SIGTERM never decodes.

Bounded twice: at most `workers` requests are decoded at once, and the requests the pool holds (waiting or being
decoded) are at most max_held_bytes; past it a request is refused at once with DecodersBusy, which the clients
are told to retry (backpressure, never a timeout). A worker that dies (killed, out of memory) breaks the process
pool: every request it held is answered with DecodersBusy, and a new pool takes the next ones. With workers=0
requests are decoded in one thread of this process (for debugging: still off the event loop, but under its GIL).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor, ThreadPoolExecutor

from collector.export_decoding import DecodedExport, ExportBody, ExportDecoder

log = logging.getLogger(__name__)

# How long a stop waits for the requests being decoded before it ends the workers.
CLOSE_GRACE_SECONDS = 2.0


class DecodersBusy(Exception):
    """The pool cannot take the request now (it holds its limit, a worker died, or it is stopping): retry."""


_worker_decoder: ExportDecoder | None = None


def _start_worker(decoder: ExportDecoder) -> None:
    global _worker_decoder
    _worker_decoder = decoder
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a ^C in serve's terminal is serve's to handle, not the workers'


def _decode_in_worker(export: ExportBody) -> DecodedExport:
    return _worker_decoder.decode(export)


def _ready() -> None:
    """Nothing: submitted once per worker at start, so the first requests do not wait for workers to start."""


class DecoderPool:
    def __init__(self, decoder: ExportDecoder, *, workers: int, max_held_bytes: int):
        self._decoder = decoder
        self.workers = workers
        self.max_held_bytes = max_held_bytes
        self.held_bytes = 0
        self._executor: Executor | None = None
        self._closing = False

    @property
    def description(self) -> str:
        where = f"{self.workers} worker processes" if self.workers else "a thread (--decode-workers 0)"
        return f"requests decoded in {where}, at most {self.max_held_bytes} bytes of them held"

    async def start(self) -> None:
        self._executor = self._new_executor()
        await asyncio.gather(*(asyncio.wrap_future(self._executor.submit(_ready)) for _ in range(self.workers)))

    async def decode(self, export: ExportBody) -> DecodedExport:
        """The decoded request; raises what decoding raises (a request refused whole), or DecodersBusy."""
        size = len(export.body)
        if self._closing or self._executor is None:
            raise DecodersBusy("the collector is stopping")
        if self.held_bytes and self.held_bytes + size > self.max_held_bytes:  # one request alone always fits
            raise DecodersBusy(f"the decoders hold {self.held_bytes} bytes of requests, their limit is "
                               f"{self.max_held_bytes}")
        executor = self._executor
        self.held_bytes += size
        try:
            if self.workers:
                future = executor.submit(_decode_in_worker, export)
            else:
                future = executor.submit(self._decoder.decode, export)
            return await asyncio.wrap_future(future)
        except BrokenExecutor:
            self._replace(executor)
            raise DecodersBusy("a decoding worker stopped while this request waited for it or was decoded") from None
        finally:
            self.held_bytes -= size

    async def close(self) -> None:
        """Stop taking requests, give those being decoded CLOSE_GRACE_SECONDS, then end the workers."""
        self._closing = True
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # before shutdown, which forgets them; Python has no public way to end a pool's workers before 3.14
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(_end, processes)

    def _new_executor(self) -> Executor:
        if not self.workers:
            return ThreadPoolExecutor(1, thread_name_prefix="decode")
        # spawn: a fork of this process would copy gRPC's threads and the store's state into the workers
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(self._decoder,))

    def _replace(self, broken: Executor) -> None:
        if self._executor is not broken or self._closing:
            return  # another request saw it break first, or the pool is stopping
        log.warning("a decoding worker stopped (killed or out of memory); the requests the workers held were "
                    "answered to retry, and new workers take the next ones")
        broken.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new_executor()


def _end(processes: list) -> None:
    for process in processes:
        process.join(CLOSE_GRACE_SECONDS / max(1, len(processes)))
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join(1)
