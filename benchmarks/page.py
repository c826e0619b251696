"""How fast the analytics page draws with 10,000 members, measured in the browser.

Writes 31 days of rollups for USERS members (benchmarks/scrape.py's store: 5 orgs, 50 teams) plus their per-org
days, starts a real `cc-analytics serve` on it and opens http://127.0.0.1:PORT/ in Debian's Chromium through
Playwright (PyPI), a fresh browser context (empty cache) each run:

- first load: from navigation start to the page's marks after it drew the Productivity tab's cards and members
  table (10,000 rows: fetched, sorted, a page shown), and after its charts too (plotly.js loaded and drawing);
- tab switch: from the click on Usage (then on Value) to the same two marks of that tab.

Baseline, in the same run: the API's own time for the same data, the very requests the page makes for that view,
sent at once from Python (the page sends them in parallel too), so the difference is what the browser adds.

    python -m benchmarks.page [--users 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from benchmarks.scrape import DAYS, fill_store, serve

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def fill(data_dir: str, users: int, today: date) -> None:
    """scrape.py's member rollups, and the per-org days the daily report reads (summed from them)."""
    fill_store(data_dir, users, today)
    from plumbing.store.client import StoreTarget, connect

    client = connect(StoreTarget(data_dir=data_dir))
    client.command("""INSERT INTO cc_analytics.daily_org
        (day, org_id, active_users, sessions, lines_accepted, lines_removed, edits_accepted, edits_rejected, commits,
         input_tokens, output_tokens, cache_read_tokens, cost_usd, prompts, api_requests, records, version)
        SELECT day, org_id, uniqExact(user_key), sum(sessions), sum(lines_accepted), sum(lines_removed),
               sum(edits_accepted), sum(edits_rejected), sum(commits), sum(input_tokens), sum(output_tokens),
               sum(cache_read_tokens), sum(cost_usd), sum(prompts), sum(api_requests), sum(records), 1
        FROM cc_analytics.daily_user GROUP BY day, org_id""")
    client.close()


def views(first: date, last: date) -> dict[str, list[tuple[str, dict]]]:
    """The reads the page makes for each view (cc_analytics/page_assets/tabs.js and page.js)."""
    span = {"from": f"{first}", "to": f"{last}"}
    month = {"month": f"{last:%Y-%m}"}
    # The other tabs keep the members the first load read (for their pickers): they read only their own figures.
    return {"productivity": [("/api/v1/freshness", {}), ("/api/v1/users", month), ("/api/v1/daily", span),
                             ("/api/v1/value", span), ("/api/v1/contributions", {**span, "group": "day"})],
            "usage": [("/api/v1/freshness", {}), ("/api/v1/usage", {**span, "group": "name"}),
                      ("/api/v1/usage/adoption", span), ("/api/v1/repositories", span)],
            "value": [("/api/v1/freshness", {}), ("/api/v1/value", span), ("/api/v1/value/forecast", month),
                      ("/api/v1/daily", span)]}


def api_seconds(port: int, reads: list[tuple[str, dict]]) -> float:
    """Wall time of the view's reads sent at once."""
    def read(path_and_query: tuple[str, dict]) -> None:
        path, query = path_and_query
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}?{urllib.parse.urlencode(query)}",
                                    timeout=120) as reply:
            reply.read()

    with ThreadPoolExecutor(len(reads)) as pool:
        started = time.perf_counter()
        list(pool.map(read, reads))
        return time.perf_counter() - started


def browser_seconds(browser, url: str) -> dict[str, tuple[float, float]]:
    """Per view of one fresh context: (figures drawn, charts drawn too), from the page's own performance marks,
    since navigation start (first load) or since the click on the tab."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    def marks(number: int, since: str) -> tuple[float, float]:
        page.wait_for_selector(f"body[data-loaded='{number}']", state="attached", timeout=60_000)
        return tuple(page.evaluate(
            f"performance.getEntriesByName('cc-analytics-{name}-{number}')[0].startTime - {since}") / 1000
            for name in ("figures", "drawn"))

    try:
        page.goto(url)
        times = {"productivity": marks(1, "0")}
        for number, tab in ((2, "usage"), (3, "value")):
            page.evaluate(f"() => {{ window.clicked = performance.now(); document.getElementById('tab-{tab}').click(); }}")
            times[tab] = marks(number, "window.clicked")
        return times
    finally:
        context.close()


def summary(label: str, seconds: list[float]) -> str:
    return f"{label}: median {statistics.median(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    today = date.today()
    first = today - timedelta(days=DAYS - 1)
    with tempfile.TemporaryDirectory() as work:
        data_dir = str(Path(work) / "data")
        started = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(target=fill, args=(data_dir, args.users, today))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit("filling the store failed (see above)")
        print(f"store: {args.users} members x {DAYS} days of rollups written in {time.perf_counter() - started:.1f} s")
        process, port, _ = serve(data_dir, args.users)
        try:
            url = f"http://127.0.0.1:{port}/?from={first}&to={today}"
            measured: dict[str, list[tuple[float, float]]] = {"productivity": [], "usage": [], "value": []}
            baseline: dict[str, list[float]] = {"productivity": [], "usage": [], "value": []}
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                browser_seconds(browser, url)  # the store's first reads (cold caches) are not the page's
                for _ in range(args.runs):
                    times = browser_seconds(browser, url)
                    for view in measured:
                        measured[view].append(times[view])
                    for view, reads in views(first, today).items():
                        baseline[view].append(api_seconds(port, reads))
                browser.close()
        finally:
            process.terminate()
            process.wait()
    print(f"{args.users} members in the table (month {today:%Y-%m}), {args.runs} runs each, a fresh browser context "
          "(empty cache) each")
    labels = {"productivity": "first load (Productivity)", "usage": "tab switch to Usage",
              "value": "tab switch to Value"}
    for view, label in labels.items():
        figures = [seconds for seconds, _ in measured[view]]
        drawn = [seconds for _, seconds in measured[view]]
        api = statistics.median(baseline[view])
        print(f"{label}: cards and tables median {statistics.median(figures) * 1000:.0f} ms (max "
              f"{max(figures) * 1000:.0f}), with the charts median {statistics.median(drawn) * 1000:.0f} ms (max "
              f"{max(drawn) * 1000:.0f}); baseline (the API's reads of that view, at once) {api * 1000:.0f} ms; "
              f"ratio {statistics.median(figures) / api:.2f}x")


if __name__ == "__main__":
    main()
