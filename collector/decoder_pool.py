"""The decoding workers: a bounded pool of processes that turn export bytes into write-ahead log entries, so the
event loop that answers every client, /readyz, /metrics and SIGTERM never decodes.

Bounded twice: each worker decodes one request at a time, and the requests the pool holds (waiting or being
decoded) are at most max_held_bytes; past it a request is refused at once with DecodersBusy, which the clients
are told to retry (backpressure, never a timeout). Each worker has a pipe of its own that the event loop reads
when an answer arrives (no thread in between: concurrent.futures' process pool, tried first, spent 2.5-4 CPU s
of serve's GIL in its feeder and manager threads in a 30 s `benchmarks.ingest` run). A worker that dies (killed, out of memory) closes its pipe: the
request it held is answered with DecodersBusy and a new worker is started. With workers=0 requests are decoded
in one thread of this process (for debugging: still off the event loop, but under its GIL).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection

from collector.export_decoding import DecodedExport, ExportBody, ExportDecoder

log = logging.getLogger(__name__)

# How long a stop waits for the requests being decoded before it ends the workers.
CLOSE_GRACE_SECONDS = 2.0
_READY = "ready"


class DecodersBusy(Exception):
    """The pool cannot take the request now (it holds its limit, a worker died, or it is stopping): retry."""


def _serve_requests(connection: Connection, decoder: ExportDecoder) -> None:
    """A worker's life: answer each request read from the pipe with (True, decoded) or (False, the error)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a ^C in serve's terminal is serve's to handle, not the workers'
    connection.send(_READY)
    while True:
        try:
            export = connection.recv()
        except (EOFError, OSError):  # serve closed the pipe, or is gone
            return
        try:
            answer = (True, decoder.decode(export))
        except Exception as error:  # a refusal (malformed, too large, too much work) or a bug: serve tells which
            answer = (False, error)
        try:
            connection.send(answer)
        except (EOFError, OSError):
            return
        except Exception as error:  # an error that cannot be pickled still answers the request
            connection.send((False, RuntimeError(f"{type(error).__name__}: {error}")))


class _Worker:
    def __init__(self, decoder: ExportDecoder):
        # spawn: a fork of this process would copy gRPC's threads and the store's state into the worker
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve_requests, args=(child, decoder), daemon=True,
                                       name="cc-analytics decoder")
        self.process.start()
        child.close()  # so the worker's death is an end of file here
        self.answer: asyncio.Future | None = None  # the ready signal, then each request's answer


class DecoderPool:
    def __init__(self, decoder: ExportDecoder, *, workers: int, max_held_bytes: int):
        self._decoder = decoder
        self.workers = workers
        self.max_held_bytes = max_held_bytes
        self.held_bytes = 0
        self._live: set[_Worker] = set()
        self._idle: asyncio.Queue[_Worker | None] | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._started = False
        self._closing = False

    @property
    def description(self) -> str:
        where = f"{self.workers} worker processes" if self.workers else "a thread (--decode-workers 0)"
        return f"requests decoded in {where}, at most {self.max_held_bytes} bytes of them held"

    async def start(self) -> None:
        """Start the workers and wait until each is ready, so the first requests do not wait for their start."""
        self._idle = asyncio.Queue()
        if not self.workers:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="decode")
        else:
            await asyncio.gather(*(self._start_worker() for _ in range(self.workers)))
        self._started = True

    async def decode(self, export: ExportBody) -> DecodedExport:
        """The decoded request; raises what decoding raises (a request refused whole), or DecodersBusy."""
        size = len(export.body)
        if self._closing or not self._started:
            raise DecodersBusy("the collector is stopping")
        if self.held_bytes and self.held_bytes + size > self.max_held_bytes:  # one request alone always fits
            raise DecodersBusy(f"the decoders hold {self.held_bytes} bytes of requests, their limit is "
                               f"{self.max_held_bytes}")
        self.held_bytes += size
        try:
            if self._thread is not None:
                return await asyncio.get_running_loop().run_in_executor(self._thread, self._decoder.decode, export)
            return await self._decode_in_a_worker(export)
        finally:
            self.held_bytes -= size

    async def close(self) -> None:
        """Stop taking requests, give those being decoded CLOSE_GRACE_SECONDS, then end the workers."""
        self._closing = True
        if self._thread is not None:
            self._thread.shutdown(wait=False, cancel_futures=True)
        if self._idle is not None:
            self._idle.put_nowait(None)  # wakes the requests waiting for a worker: each passes it on
        busy = [worker.answer for worker in self._live if worker.answer is not None]
        if busy:
            await asyncio.wait(busy, timeout=CLOSE_GRACE_SECONDS)
        workers, self._live = list(self._live), set()
        for worker in workers:
            self._forget(worker, "the collector stopped while it decoded this request")
        await asyncio.to_thread(_end, [worker.process for worker in workers])

    async def _decode_in_a_worker(self, export: ExportBody) -> DecodedExport:
        worker = await self._idle.get()
        while worker is not None and worker not in self._live:  # it died while idle
            worker = await self._idle.get()
        if worker is None or self._closing:
            self._idle.put_nowait(None)
            raise DecodersBusy("the collector is stopping")
        worker.answer = answer = asyncio.get_running_loop().create_future()
        try:
            worker.connection.send(export)  # to a worker waiting for it, which reads it as it is written
        except OSError:
            pass  # it died: its pipe's end of file answers below
        succeeded, value = await answer
        if not succeeded:
            raise value
        return value

    async def _start_worker(self) -> None:
        worker = _Worker(self._decoder)
        worker.answer = asyncio.get_running_loop().create_future()
        self._live.add(worker)
        asyncio.get_running_loop().add_reader(worker.connection.fileno(), self._on_answer, worker)
        await worker.answer

    def _on_answer(self, worker: _Worker) -> None:
        try:
            message = worker.connection.recv()
        except (EOFError, OSError):
            self._lost(worker)
            return
        answer, worker.answer = worker.answer, None
        if not self._closing:
            self._idle.put_nowait(worker)
        if answer is not None and not answer.done():  # done: its request was cancelled meanwhile
            answer.set_result(None if message == _READY else message)

    def _lost(self, worker: _Worker) -> None:
        """A worker died: the request it held is answered to retry, and a new worker takes its place."""
        self._live.discard(worker)
        self._forget(worker, "a decoding worker stopped while it decoded this request")
        worker.process.join(0)  # reaped, not left a zombie
        if self._closing:
            return
        log.warning("a decoding worker stopped (exit code %s: killed or out of memory); the request it held was "
                    "answered to retry, and a new worker takes its place", worker.process.exitcode)
        asyncio.get_running_loop().create_task(self._replace())

    async def _replace(self) -> None:
        try:
            await self._start_worker()
        except Exception:
            log.exception("cannot start a decoding worker")

    def _forget(self, worker: _Worker, why: str) -> None:
        """Stop reading the worker's pipe and close it (so it leaves); the request it held is answered to retry."""
        asyncio.get_running_loop().remove_reader(worker.connection.fileno())
        worker.connection.close()
        answer, worker.answer = worker.answer, None
        if answer is not None and not answer.done():
            answer.set_exception(DecodersBusy(why))


def _end(processes: list) -> None:
    """Join the workers (their pipes are closed, so they leave), and end those that do not."""
    for process in processes:
        process.join(1)
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(1)
