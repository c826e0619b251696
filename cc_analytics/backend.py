"""Where the CLI's questions go: a running serve's read API when one answers, else the store directly.

An embedded store has one owner, so while a serve runs the commands ask it (its --timezone, --team-attribute,
--hash-emails and salt apply); when none answers they open the store and use their own settings. Both backends
answer every question with the same values, so a command's output does not depend on which one it got; only
`where` says which. `open_backend` is the one place that picks.
"""

from __future__ import annotations

import contextlib
import json
from datetime import date, datetime
from functools import cached_property
from typing import Callable, Iterator, Protocol
from zoneinfo import ZoneInfo

from clickhouse_connect.driver.client import Client

from aggregator import purge
from aggregator.contributions.identity import load_identity_map
from aggregator.contributions.rollup import ContributionRollup
from aggregator.contributions.report import ContributionFilters, Contributions
from aggregator.readonly_sql import QueryRefused, connect_readonly, run_readonly_query
from aggregator.refresh import Refresher, days_between
from aggregator.reports import Filters, Reports
from aggregator.repositories import Repositories, RepositoryFilters
from aggregator.rollup import DayRebuilt, Rollup
from aggregator.snapshot import Snapshot, Snapshots, snapshot_from_json
from aggregator.value_report import Value
from aggregator.usage_report import Usage, UsageFilters
from cc_analytics import local_api
from cc_analytics.config import Settings
from cc_analytics.store import open_store, store_target

# Called after each day is rebuilt: the day, how many days are done, how many there are.
Progress = Callable[[DayRebuilt, int, int], None]


class Refused(RuntimeError):
    """The question cannot be answered as asked; the message is the serve's or the engine's reason."""


class Backend(Protocol):
    where: str  # for what a command prints: "through the running serve" or the store's description

    def daily(self, first: date, last: date, filters: Filters) -> list[dict]: ...

    def users(self, month: date, filters: Filters) -> list[dict]: ...

    def contributions(self, first: date, last: date, filters: ContributionFilters, group: str) -> dict: ...

    def repositories(self, first: date, last: date, filters: RepositoryFilters) -> list[dict]: ...
    def value(self, first: date, last: date, filters: Filters, top: int) -> dict: ...

    def value_forecast(self, month: date, filters: Filters) -> dict: ...

    def usage(self, first: date, last: date, filters: UsageFilters, group: str) -> list[dict]: ...

    def usage_adoption(self, first: date, last: date, filters: UsageFilters) -> list[dict]: ...

    def aggregate(self, first: date, last: date, progress: Progress) -> list[DayRebuilt]: ...

    def snapshot(self, day: date, max_members: int) -> tuple[Snapshot, ZoneInfo]: ...

    def purge(self, user: str) -> dict[str, int]: ...

    def query(self, sql: str, output_format: str) -> bytes: ...


@contextlib.contextmanager
def open_backend(settings: Settings) -> Iterator[Backend]:
    """The running serve's API when one answers on --api-port, else the store (closed afterwards)."""
    if local_api.serve_answers(settings):
        yield ServeBackend(settings)
        return
    with contextlib.ExitStack() as stack:
        yield StoreBackend(settings, stack)


def purger(client: Client, settings: Settings, lock=None) -> purge.Purger:
    """The Purger of this configuration: with the email's keyed hash when ingest hashes emails."""
    pseudonym = settings.privacy.pseudonym if settings.hash_emails else None
    return purge.Purger(client, settings.database, settings.cluster, pseudonym, lock)


def contributions_for(settings: Settings, rollup: Rollup) -> ContributionRollup:
    """The contribution rollup beside a telemetry rollup (its client, time zone and lock), with the identity map's
    emails in their stored form (the pseudonym under --hash-emails)."""
    identities = load_identity_map(settings.identity_map).with_emails(settings.privacy.stored_email)
    return ContributionRollup(rollup.client, settings.database, settings.timezone, identities, rollup.lock)


class ServeBackend:
    where = "through the running serve"

    def __init__(self, settings: Settings):
        self.settings = settings

    def daily(self, first: date, last: date, filters: Filters) -> list[dict]:
        return self._json("GET", "/api/v1/daily", {"from": first.isoformat(), "to": last.isoformat(),
                                                   "org": filters.org, "team": filters.team})["data"]

    def users(self, month: date, filters: Filters) -> list[dict]:
        return self._json("GET", "/api/v1/users", {"month": f"{month:%Y-%m}", "org": filters.org,
                                                   "team": filters.team, "q": filters.search})["data"]

    def contributions(self, first: date, last: date, filters: ContributionFilters, group: str) -> dict:
        return self._json("GET", "/api/v1/contributions", {
            "from": first.isoformat(), "to": last.isoformat(), "group": group, "org": filters.org,
            "team": filters.team, "repo": filters.repository})

    def repositories(self, first: date, last: date, filters: RepositoryFilters) -> list[dict]:
        return self._json("GET", "/api/v1/repositories", {"from": first.isoformat(), "to": last.isoformat(),
                                                          "org": filters.org, "team": filters.team,
                                                          "repo": filters.repository})["data"]
    def value(self, first: date, last: date, filters: Filters, top: int) -> dict:
        return self._json("GET", "/api/v1/value", {"from": first.isoformat(), "to": last.isoformat(),
                                                   "org": filters.org, "team": filters.team, "limit": top})

    def value_forecast(self, month: date, filters: Filters) -> dict:
        return self._json("GET", "/api/v1/value/forecast", {"month": f"{month:%Y-%m}", "org": filters.org,
                                                            "team": filters.team})

    def usage(self, first: date, last: date, filters: UsageFilters, group: str) -> list[dict]:
        return self._json("GET", "/api/v1/usage", {**_usage_parameters(first, last, filters), "group": group})["data"]

    def usage_adoption(self, first: date, last: date, filters: UsageFilters) -> list[dict]:
        return self._json("GET", "/api/v1/usage/adoption", _usage_parameters(first, last, filters))["data"]

    def aggregate(self, first: date, last: date, progress: Progress) -> list[DayRebuilt]:
        """One day per request, so the progress moves as the serve's does on the store."""
        days = days_between(first, last)
        done = []
        for number, day in enumerate(days, 1):
            reply = self._json("POST", "/api/v1/aggregate", {"from": day.isoformat(), "to": day.isoformat()})
            done.append(DayRebuilt(day=day, users=reply["user_days"], records=reply["records"],
                                   seconds=reply["seconds"]))
            progress(done[-1], number, len(days))
        return done

    def snapshot(self, day: date, max_members: int) -> tuple[Snapshot, ZoneInfo]:
        reply = self._json("GET", "/api/v1/snapshot", {"day": day.isoformat(), "limit": max_members})
        return snapshot_from_json(reply["snapshot"]), ZoneInfo(reply["time_zone"])

    def purge(self, user: str) -> dict[str, int]:
        # the email goes in the body, kept out of URLs and access logs
        return self._json("POST", "/api/v1/purge", {}, body=json.dumps({"user": user}).encode(),
                          content_type="application/json")["deleted"]

    def query(self, sql: str, output_format: str) -> bytes:
        return self._call("POST", "/api/v1/query", {"format": output_format}, body=sql.encode(),
                          content_type="application/sql", timeout=60)

    def _json(self, method: str, path: str, parameters: dict, *, body: bytes | None = None,
              content_type: str | None = None) -> dict:
        return json.loads(self._call(method, path, parameters, body=body, content_type=content_type))

    def _call(self, method: str, path: str, parameters: dict, *, body: bytes | None = None,
              content_type: str | None = None, timeout: float = 600) -> bytes:
        try:
            return local_api.call(self.settings, method, path, parameters, body, timeout, content_type)
        except local_api.ApiError as error:
            raise Refused(str(error)) from None


def _usage_parameters(first: date, last: date, filters: UsageFilters) -> dict:
    return {"from": first.isoformat(), "to": last.isoformat(), "org": filters.org, "team": filters.team,
            "kind": filters.kind}


class StoreBackend:
    """The store opened on the first question that needs it, with its schema brought up to date."""

    def __init__(self, settings: Settings, stack: contextlib.ExitStack):
        self.settings = settings
        self.where = store_target(settings).description
        self._stack = stack

    @cached_property
    def _client(self) -> Client:
        return self._stack.enter_context(open_store(self.settings))

    def daily(self, first: date, last: date, filters: Filters) -> list[dict]:
        return Reports(self._client, self.settings.database).daily(first, last, filters)

    def users(self, month: date, filters: Filters) -> list[dict]:
        return Reports(self._client, self.settings.database).users(month, filters)

    def contributions(self, first: date, last: date, filters: ContributionFilters, group: str) -> dict:
        return Contributions(self._client, self.settings.database).answer(first, last, filters, group)

    def repositories(self, first: date, last: date, filters: RepositoryFilters) -> list[dict]:
        return Repositories(self._client, self.settings.database).rows(first, last, filters)
    def value(self, first: date, last: date, filters: Filters, top: int) -> dict:
        return Value(self._client, self.settings.database).answer(first, last, filters, top)

    def value_forecast(self, month: date, filters: Filters) -> dict:
        """As serve answers it: today is the current day in the aggregation time zone."""
        today = datetime.now(ZoneInfo(self.settings.timezone)).date()
        return Value(self._client, self.settings.database).forecasts(month, today, filters)

    def usage(self, first: date, last: date, filters: UsageFilters, group: str) -> list[dict]:
        return Usage(self._client, self.settings.database).rows(first, last, filters, group)

    def usage_adoption(self, first: date, last: date, filters: UsageFilters) -> list[dict]:
        return Usage(self._client, self.settings.database).adoption(first, last, filters)

    def aggregate(self, first: date, last: date, progress: Progress) -> list[DayRebuilt]:
        rollup = Rollup(self._client, self.settings.database, self.settings.timezone, self.settings.team_attribute)
        return Refresher(rollup, contributions=contributions_for(self.settings, rollup)).rebuild(first, last, progress)

    def snapshot(self, day: date, max_members: int) -> tuple[Snapshot, ZoneInfo]:
        return (Snapshots(self._client, self.settings.database).as_of(day, max_members),
                ZoneInfo(self.settings.timezone))

    def purge(self, user: str) -> dict[str, int]:
        return purger(self._client, self.settings).purge(user)

    def query(self, sql: str, output_format: str) -> bytes:
        """On a client in the database, so the SQL names tables without it; the schema is left as it is."""
        client = self._stack.enter_context(contextlib.closing(connect_readonly(store_target(self.settings))))
        try:
            return run_readonly_query(client, sql, output_format)
        except QueryRefused as error:
            raise Refused(str(error)) from None
