"""A fake GitHub REST API: an aiohttp server on a thread of the test process, answering the documented shapes of
the endpoints the fetcher calls (docs.github.com/rest: "List commits on a pull request", "Get a commit", "List
pull requests", "Add labels to an issue"), with their paging (Link headers), ETags and the faults tests ask for:
a primary rate limit, a secondary one, a 502, a response held until released.

serve runs in another process and reaches it over loopback; in-process tests use it just the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web

TOKEN = "ghp_fake-token-never-logged-0123456789"


def commit_object(sha: str, *, message: str = "change", email: str = "dev@example.com", login: str | None = "dev",
                  date: str = "2026-11-02T10:00:00Z", parents: int = 1, files: list[dict] | None = None) -> dict:
    """A commit as GitHub's commit endpoints answer it (files only on Get a commit)."""
    commit = {
        "sha": sha, "node_id": "C_" + sha[:8], "url": f"https://api.github.com/commits/{sha}",
        "commit": {"message": message, "author": {"name": "Dev", "email": email, "date": date},
                   "committer": {"name": "Dev", "email": email, "date": date}},
        "author": {"login": login, "id": 1} if login else None,
        "parents": [{"sha": f"{index:040x}"} for index in range(parents)],
    }
    if files is not None:
        commit["stats"] = {"additions": sum(f["additions"] for f in files),
                           "deletions": sum(f["deletions"] for f in files),
                           "total": sum(f["additions"] + f["deletions"] for f in files)}
        commit["files"] = files
    return commit


def file_object(filename: str, added: list[str], *, deletions: int = 0, status: str = "modified",
                patch: bool = True) -> dict:
    """A changed file of Get a commit: its counts and a unified-diff patch adding the lines."""
    entry = {"sha": "f" * 40, "filename": filename, "status": status, "additions": len(added),
             "deletions": deletions, "changes": len(added) + deletions}
    if patch:
        entry["patch"] = f"@@ -0,0 +1,{len(added)} @@\n" + "\n".join("+" + line for line in added)
    return entry


def pull_object(repository: str, number: int, *, head_sha: str, merged: bool = True,
                updated_at: str = "2026-11-03T12:00:00Z", login: str = "dev", body: str = "",
                labels: tuple[str, ...] = ()) -> dict:
    """A pull request as List pull requests answers it (no additions or merged flag there)."""
    return {
        "id": 1000 + number, "number": number, "state": "closed", "draft": False, "title": "a change",
        "user": {"login": login, "id": 7}, "body": body,
        "labels": [{"name": name} for name in labels],
        "created_at": "2026-11-01T09:00:00Z", "updated_at": updated_at, "closed_at": updated_at,
        "merged_at": updated_at if merged else None,
        "merge_commit_sha": f"{number:040x}" if merged else None,
        "head": {"ref": f"feature-{number}", "sha": head_sha},
        "base": {"ref": "main", "repo": {"full_name": repository}},
    }


@dataclass
class FakeRepository:
    pulls: list[dict] = field(default_factory=list)
    commits: dict[str, dict] = field(default_factory=dict)  # sha -> commit object with files
    pull_commits: dict[int, list[str]] = field(default_factory=dict)  # number -> shas


class FakeGitHub:
    """Faults are keyed by path (without the query): each set is consumed by the first request of that path."""

    def __init__(self, prefix: str = "", page_size: int = 2):
        self.prefix = prefix
        self.page_size = page_size
        self.repositories: dict[str, FakeRepository] = {}
        self.requests: list[tuple[str, str, dict]] = []  # method, path with query, headers
        self.not_modified = 0
        self.rate_limit_once: set[str] = set()  # primary: 403, X-RateLimit-Remaining 0, reset a second ahead
        self.retry_after_once: set[str] = set()  # secondary: 403 with Retry-After 1
        self.bad_gateway_once: set[str] = set()
        self.failing: set[str] = set()  # 500 until removed
        self.hold_paths: set[str] = set()  # held until release is set
        self.holding = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def repository(self, name: str) -> FakeRepository:
        return self.repositories.setdefault(name, FakeRepository())

    def add_pull(self, repository: str, pull: dict, commits: list[dict]) -> None:
        repo = self.repository(repository)
        repo.pulls.append(pull)
        repo.pull_commits[pull["number"]] = [commit["sha"] for commit in commits]
        for commit in commits:
            repo.commits[commit["sha"]] = commit

    def paths(self, method: str = "GET") -> list[str]:
        with self._lock:
            return [path.split("?")[0] for m, path, _ in self.requests if m == method]

    # the server
    def start(self) -> "FakeGitHub":
        started = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="fake-github")
        self._thread.start()
        started.wait(10)
        return self

    def stop(self) -> None:
        self.release.set()
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.requests.append((request.method, request.path_qs, dict(request.headers)))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"message": "Bad credentials"}, status=401)
        path = request.path
        fault = self._fault(path)
        if fault is not None:
            return fault
        if path in self.hold_paths:
            self.holding.set()
            await asyncio.to_thread(self.release.wait, 120)
        parts = path[len(self.prefix):].strip("/").split("/")
        if len(parts) < 4 or parts[0] != "repos" or not path.startswith(self.prefix):
            return web.json_response({"message": "Not Found"}, status=404)
        repository = self.repositories.get(f"{parts[1]}/{parts[2]}")
        if repository is None:
            return web.json_response({"message": "Not Found"}, status=404)
        rest = parts[3:]
        page = int(request.query.get("page", "1"))
        if request.method == "POST" and rest[0] == "issues" and rest[2:] == ["labels"]:
            return await self._add_labels(request, repository, int(rest[1]))
        if rest == ["pulls"]:
            pulls = sorted(repository.pulls, key=lambda pull: pull["updated_at"], reverse=True)
            return self._page(request, pulls, page)
        if rest[0] == "pulls" and rest[2:] == ["commits"]:
            shas = repository.pull_commits.get(int(rest[1]), [])
            listed = [{k: v for k, v in repository.commits[sha].items() if k not in ("files", "stats")}
                      for sha in shas]
            return self._page(request, listed, page)
        if rest[0] == "commits" and len(rest) == 2 and rest[1] in repository.commits:
            commit = repository.commits[rest[1]]
            files = commit.get("files", [])
            chunk = files[(page - 1) * self.page_size: page * self.page_size]
            more = page * self.page_size < len(files)
            return self._answer(request, {**commit, "files": chunk}, page if more else None)
        return web.json_response({"message": "Not Found"}, status=404)

    def _fault(self, path: str) -> web.Response | None:
        with self._lock:
            if path in self.failing:
                return web.json_response({"message": "Server Error"}, status=500)
            if path in self.bad_gateway_once:
                self.bad_gateway_once.discard(path)
                return web.Response(status=502, text="<html>502 Bad Gateway</html>")
            if path in self.rate_limit_once:
                self.rate_limit_once.discard(path)
                return web.json_response({"message": "API rate limit exceeded"}, status=403, headers={
                    "X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "5000",
                    "X-RateLimit-Reset": str(int(time.time()) + 1)})
            if path in self.retry_after_once:
                self.retry_after_once.discard(path)
                return web.json_response({"message": "You have exceeded a secondary rate limit"}, status=403,
                                         headers={"Retry-After": "1"})
        return None

    def _page(self, request: web.Request, items: list, page: int) -> web.Response:
        chunk = items[(page - 1) * self.page_size: page * self.page_size]
        return self._answer(request, chunk, page if page * self.page_size < len(items) else None)

    def _answer(self, request: web.Request, body, page_with_more: int | None) -> web.Response:
        text = json.dumps(body)
        etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
        headers = {"ETag": etag}
        if page_with_more is not None:
            base = f"http://{request.host}{request.path}"
            headers["Link"] = (f'<{base}?per_page={self.page_size}&page={page_with_more + 1}>; rel="next", '
                               f'<{base}?per_page={self.page_size}&page=99>; rel="last"')
        if request.headers.get("If-None-Match") == etag:
            with self._lock:
                self.not_modified += 1
            return web.Response(status=304, headers=headers)
        return web.Response(text=text, content_type="application/json", headers=headers)

    async def _add_labels(self, request: web.Request, repository: FakeRepository, number: int) -> web.Response:
        wanted = (await request.json())["labels"]
        pull = next(pull for pull in repository.pulls if pull["number"] == number)
        for name in wanted:
            if name not in [label["name"] for label in pull["labels"]]:
                pull["labels"].append({"name": name})
        return web.json_response([{"id": index, "name": label["name"]} for index, label in
                                  enumerate(pull["labels"])])
