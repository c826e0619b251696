"""serve's backfill routes: the CLI's `github backfill` goes through them while serve owns the store.

POST /api/v1/github/backfill?repo=OWNER/NAME[&repo=...]&since=YYYY-MM-DD starts one backfill in serve (202; 409
while one runs); GET /api/v1/github/backfill answers its progress, which the CLI polls. Admin only.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from aiohttp import web

from collector.github.backfill import Backfill, BackfillProgress, BadBackfill, parse_repository, parse_since
from plumbing.json_answer import json_response
from plumbing.routes import Access, RouteTable

log = logging.getLogger(__name__)

PATH = "/api/v1/github/backfill"


class BackfillJobs:
    """The backfill serve runs (one at a time) and its routes; stop() cancels it when serve stops."""

    def __init__(self, backfill: Backfill | None, refused_owners: Callable[[list[str]], list[str]]):
        self._backfill = backfill  # None: serve has no --github-token-file
        self._refused_owners = refused_owners  # the owners serve may not store
        self._running: set[asyncio.Task] = set()

    async def stop(self) -> None:
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    def routes(self) -> RouteTable:
        table = RouteTable()
        table.add("POST", PATH, self._start, Access.ADMIN)
        table.add("GET", PATH, self._progress, Access.ADMIN)
        return table

    async def _start(self, request: web.Request) -> web.Response:
        backfill = self._backfill
        if backfill is None:
            return json_response({"error": "this serve has no --github-token-file, so it cannot call GitHub"},
                                 status=503)
        if self._running:
            return json_response({"error": "a backfill is running; GET this path for its progress",
                                  "progress": backfill.progress.as_json()}, status=409)
        try:
            repositories = [parse_repository(text) for text in request.query.getall("repo", [])]
            since = parse_since(request.query.get("since", ""))
        except BadBackfill as error:
            return json_response({"error": str(error)}, status=400)
        if not repositories:
            return json_response({"error": "give at least one repo=OWNER/NAME"}, status=400)
        refused = self._refused_owners(repositories)
        if refused:
            return json_response({"error": f"owners not in --github-orgs: {', '.join(refused)}; with "
                                           "--auth-tokens every owner must be mapped to an org"}, status=400)
        backfill.progress = BackfillProgress(total=len(repositories))
        task = asyncio.get_running_loop().create_task(_run(backfill, repositories, since))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return json_response(backfill.progress.as_json(), status=202)

    async def _progress(self, _: web.Request) -> web.Response:
        if self._backfill is None:
            return json_response({"error": "this serve has no --github-token-file"}, status=503)
        return json_response(self._backfill.progress.as_json())


async def _run(backfill: Backfill, repositories: list[str], since) -> None:
    try:
        await backfill.run(repositories, since)
    except Exception as error:  # in its progress for the CLI; serve goes on
        log.error("GitHub backfill of %s failed: %s", ", ".join(repositories), error, exc_info=error)
