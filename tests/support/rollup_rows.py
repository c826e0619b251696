"""Rollup rows written by hand, for tests whose every expected figure is worked out by hand."""

from __future__ import annotations

from datetime import date


DAY = date(2026, 11, 10)  # a Tuesday; the 28-day window reaches back into October


def add_user_day(store, day: date, user_key: str, org: str = "org-a", team: str = "payments", email: str = "",
                 sessions: tuple[str, ...] = ("s",), version: int = 1, **figures) -> None:
    row = {"day": day, "org_id": org, "user_key": user_key, "user_email": email, "team": team,
           "sessions": len(sessions), "session_ids": list(sessions), "version": version, **figures}
    store.client.insert("daily_user", [list(row.values())], column_names=list(row), database=store.database)


def add_model_day(store, day: date, user_key: str, model: str, org: str = "org-a", team: str = "payments",
                  version: int = 1, **figures) -> None:
    row = {"day": day, "org_id": org, "user_key": user_key, "team": team, "model": model, "version": version,
           **figures}
    store.client.insert("daily_model", [list(row.values())], column_names=list(row), database=store.database)


def add_edit_day(store, day: date, user_key: str, tool: str, language: str, accepted: int, rejected: int,
                 org: str = "org-a", team: str = "payments", version: int = 1) -> None:
    row = {"day": day, "org_id": org, "user_key": user_key, "team": team, "tool_name": tool, "language": language,
           "accepted": accepted, "rejected": rejected, "version": version}
    store.client.insert("daily_edit_tool", [list(row.values())], column_names=list(row), database=store.database)
