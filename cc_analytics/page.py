"""The analytics page on the API port: GET / and its scripts and styles (package data of cc_analytics), the charting
library from its own PyPI package (plotly's plotly.min.js, never a copy in this repository), and GET
/api/v1/freshness, the one figure the page shows that no report gave: when each org's last record arrived and when
the rollups last ran.

The page reads the existing read API from the browser (cc_analytics/page_assets/api.js), so the page and the API
cannot disagree. What is fixed for this serve (its time zone, the claude-env block with the ports it bound) goes
into the HTML; the ports are known only once the receivers listen, so serve fills PageFacts after binding.
"""

from __future__ import annotations

import functools
import importlib.resources
import importlib.util
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from aiohttp import web

from aggregator.api import in_query_thread
from plumbing.access import requested_org
from plumbing.json_answer import json_response
from plumbing.routes import Access, RouteTable

ASSETS = importlib.resources.files("cc_analytics") / "page_assets"
# The page's own files and their types, a route each: nothing else is served from the folder.
ASSET_TYPES = {"page.js": "text/javascript", "api.js": "text/javascript", "format.js": "text/javascript",
               "charts.js": "text/javascript", "members.js": "text/javascript", "tabs.js": "text/javascript",
               "page.css": "text/css"}
CHARTING_PACKAGE = "plotly"
CHARTING_FILE = ("package_data", "plotly.min.js")
FACTS_MARK = "{{serve_facts}}"


@dataclass
class PageFacts:
    """What the page shows about this serve itself; claude_env is set once the receivers have bound their ports."""

    time_zone: str
    claude_env: str | None = None

    def as_json(self) -> str:
        # In a <script type="application/json">: "<" escaped so no value can close the element.
        return json.dumps({"time_zone": self.time_zone, "claude_env": self.claude_env}).replace("<", "\\u003c")


@functools.cache  # found once; a missing package is looked for again on the next request
def charting_library() -> Path:
    """plotly.min.js in the installed plotly package, found without importing plotly (it is a pip dependency)."""
    spec = importlib.util.find_spec(CHARTING_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the page's charts need the {CHARTING_PACKAGE} package: pip install {CHARTING_PACKAGE}")
    return Path(next(iter(spec.submodule_search_locations)), *CHARTING_FILE)


def iso_seconds(seconds: float | None) -> str | None:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds") if seconds else None


def asset_handler(body: bytes, content_type: str):
    async def asset(_: web.Request) -> web.Response:
        # no-cache: a browser revalidates, so an upgraded serve never runs an old script against a new API
        return web.Response(body=body, content_type=content_type, headers={"Cache-Control": "no-cache"})

    return asset


def routes(facts: PageFacts, last_records: Callable[[], dict[str, float]],
           last_rollup_ns: Callable[[], int]) -> RouteTable:
    """The page (open: it holds no data) and the freshness route (org-scoped, as the reports).
    last_records: org -> receive time (unix s) of its latest record; last_rollup_ns: start of the latest rollup
    run that wrote rows, 0 if none (a blocking store read)."""
    table = RouteTable()
    page_html = (ASSETS / "index.html").read_text()

    @table.get("/", Access.OPEN)
    async def page(_: web.Request) -> web.Response:
        body = page_html.replace(FACTS_MARK, facts.as_json())
        return web.Response(text=body, content_type="text/html", headers={"Cache-Control": "no-store"})

    for name, content_type in ASSET_TYPES.items():
        table.add("GET", f"/assets/{name}", asset_handler((ASSETS / name).read_bytes(), content_type), Access.OPEN)

    @table.get("/assets/vendor/plotly.min.js", Access.OPEN)
    async def charting(_: web.Request) -> web.FileResponse:
        return web.FileResponse(charting_library(), headers={"Content-Type": "text/javascript",
                                                            "Cache-Control": "public, max-age=3600"})

    @table.get("/api/v1/freshness", Access.ORG)
    async def freshness(request: web.Request) -> web.Response:
        org = requested_org(request)
        received = {key: seconds for key, seconds in last_records().items() if org is None or key == org}
        rollup_ns = await in_query_thread(request, last_rollup_ns)
        return json_response({
            "time_zone": facts.time_zone,
            "orgs": [{"org_id": key, "last_record": iso_seconds(seconds)} for key, seconds in sorted(received.items())],
            "last_record": iso_seconds(max(received.values(), default=None)),
            "last_rollup": iso_seconds(rollup_ns / 1e9 if rollup_ns else None)})

    return table
