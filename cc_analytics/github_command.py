"""`cc-analytics github backfill`: store the pull requests of repositories since a day, with their commits and
files, through a running serve (which owns the embedded store) or, when none answers, on the store directly."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from cc_analytics import config, local_api
from cc_analytics.config import Settings, add_options
from cc_analytics.github_fetching import github_fetching
from cc_analytics.progress import ProgressBar
from cc_analytics.store import open_store, store_target
from collector.github.backfill import BackfillProgress, BadBackfill, parse_repository, parse_since
from collector.github.backfill_routes import PATH
from collector.github.rest_client import GitHubError
from collector.github.tables import GITHUB_TABLE_COLUMNS
from plumbing.store.client import insert_columns

EXIT_USAGE = 2
POLL_SECONDS = 0.5


def add_parser(commands) -> None:
    github = commands.add_parser("github", help="GitHub pull requests and commits, for the contribution figures")
    actions = github.add_subparsers(title="actions", metavar="ACTION", dest="github_action", required=True)
    backfill = actions.add_parser(
        "backfill", help="store the pull requests of repositories since a day, with their commits and files",
        description="List the closed pull requests of each --repo updated on or after --since, store them, then "
                    "fetch the commits of the merged ones and the files of those commits from the GitHub REST "
                    "API, with a progress bar. Idempotent (a PR or commit stored again replaces itself) and "
                    "resumable (run it again: only what is not fetched yet is fetched). Goes through a running "
                    "serve, which uses its own --github-token-file; else opens the store and needs "
                    "--github-token-file here. Run `cc-analytics aggregate` over the days afterwards.")
    backfill.add_argument("--repo", dest="repositories", action="append", required=True, metavar="OWNER/NAME",
                          help="a repository, e.g. acme/widgets; repeat for several")
    backfill.add_argument("--since", required=True, metavar="YYYY-MM-DD",
                          help="first day: PRs last updated before it are not listed")
    for options, title in ((config.NETWORK_OPTIONS + config.CLIENT_OPTIONS, "network"),
                           (config.STORE_OPTIONS, "store"), (config.GITHUB_API_OPTIONS + config.GITHUB_ORG_OPTIONS, "github"),
                           (config.EMAIL_OPTIONS, "privacy"), (config.LOGGING_OPTIONS, "logging")):
        add_options(backfill, options, title)
    backfill.set_defaults(run=run_backfill)


def run_backfill(args: argparse.Namespace, settings: Settings) -> int:
    try:
        repositories = [parse_repository(text) for text in args.repositories]
        since = parse_since(args.since)
    except BadBackfill as error:
        print(f"cc-analytics github backfill: {error}", file=sys.stderr)
        return EXIT_USAGE
    bars = StageBars()
    if local_api.serve_answers(settings):
        where = "through the running serve"
        try:
            progress = _through_serve(settings, repositories, since.isoformat(), bars)
        except local_api.ApiError as error:
            print(f"cc-analytics github backfill: {error}", file=sys.stderr)
            return 1
    elif not settings.github_token_file:
        print("cc-analytics github backfill: no serve answers, so give --github-token-file to call GitHub "
              "from here", file=sys.stderr)
        return EXIT_USAGE
    else:
        where = store_target(settings).description
        progress = asyncio.run(_in_process(settings, repositories, since, bars))
    print(summary(progress, len(repositories), where))
    return 1 if progress.error or progress.failed else 0


def summary(progress: BackfillProgress, repositories: int, where: str) -> str:
    text = (f"{progress.pull_requests_listed} pull requests of {repositories} repositories stored; commits of "
            f"{progress.pull_requests_fetched} merged PRs and files of {progress.commits_fetched} commits fetched "
            f"({where})")
    if progress.failed:
        text += f"; {progress.failed} could not be fetched now: run the command again to resume"
    if progress.error:
        text += f"; stopped: {progress.error}; run the command again to resume"
    return text


class StageBars:
    """One progress bar per stage, redrawn only when the count moves (the serve's progress is polled)."""

    def __init__(self, stream=None):
        self._stream = stream or sys.stderr
        self._shown: tuple | None = None
        self._bar: ProgressBar | None = None

    def __call__(self, progress: BackfillProgress) -> None:
        shown = (progress.stage, progress.done, progress.total)
        if shown == self._shown or not progress.total:
            return
        if self._shown is None or self._shown[0] != progress.stage or self._shown[2] != progress.total:
            self._bar = ProgressBar(progress.total, progress.stage, self._stream)
        self._shown = shown
        self._bar.update(progress.done)


def _through_serve(settings: Settings, repositories: list[str], since: str, show: StageBars) -> BackfillProgress:
    answer = local_api.call(settings, "POST", PATH, {"repo": repositories, "since": since})
    while True:
        progress = BackfillProgress(**json.loads(answer))
        show(progress)
        if progress.finished:
            return progress
        time.sleep(POLL_SECONDS)
        answer = local_api.call(settings, "GET", PATH, {})


async def _in_process(settings: Settings, repositories: list[str], since, show: StageBars) -> BackfillProgress:
    with open_store(settings) as client:
        async def store_rows(table: str, rows: list[tuple]) -> None:
            insert_columns(client, table, GITHUB_TABLE_COLUMNS[table], list(zip(*rows)), settings.database)

        async def run_blocking(work):
            return work()

        async def settled() -> bool:
            return True  # inserts here are done when store_rows returns

        fetching = github_fetching(settings, client, store_rows, run_blocking=run_blocking, settle=settled)
        async with fetching.github:
            try:
                return await fetching.backfill.run(repositories, since, show)
            except GitHubError:  # listing failed: in the progress's error, what was stored stays
                return fetching.backfill.progress
