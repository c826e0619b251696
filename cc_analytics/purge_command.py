"""`cc-analytics purge --user EMAIL`: erase one person's data, through a running serve or on the store directly.

An embedded store has one owner: when a serve runs, it does the deleting (its --hash-emails and salt apply);
when none runs, this command opens the store itself and uses its own (see backend.py).
"""

from __future__ import annotations

import argparse
import sys

from aggregator import purge
from cc_analytics.backend import Refused, open_backend
from cc_analytics.config import (
    CLIENT_OPTIONS,
    EMAIL_OPTIONS,
    LOGGING_OPTIONS,
    NETWORK_OPTIONS,
    STORE_OPTIONS,
    Settings,
    add_options,
)

EXIT_USAGE = 2


def add_parser(commands) -> None:
    command = commands.add_parser(
        "purge", help="delete everything stored about one person (right to erasure)",
        description="Delete one person's data (right to erasure): their raw events, metric points and spans, and their rows of the "
                    "per-member rollups (daily_user, daily_model, daily_edit_tool, daily_repository, daily_usage), then print "
                    "the rows deleted per table. The email matches whatever its case, and its hashed form too when --hash-emails "
                    "is set (the same salt as ingest). Organization totals (daily_org) name nobody and keep the "
                    "person's share until a day is aggregated again. Stop the person's Claude Code from sending "
                    "first, or new records arrive. Goes through a running serve (its --hash-emails and salt "
                    "apply; it stores what its write-ahead queue holds first, then deletes the queue's copies), "
                    "else opens the store itself. Waits until the store has removed the old parts that held the "
                    "rows (about 30 s on chDB), so no copy stays on disk.")
    command.add_argument("--user", required=True, metavar="EMAIL",
                         help="the person's email, as Claude Code sends user.email; or a user key (account uuid "
                              "or user.id) for a member without an email")
    for options, title in ((NETWORK_OPTIONS + CLIENT_OPTIONS, "network"), (STORE_OPTIONS, "store"), (EMAIL_OPTIONS, "privacy"),
                           (LOGGING_OPTIONS, "logging")):
        add_options(command, options, title)
    command.set_defaults(run=run_purge)


def run_purge(args: argparse.Namespace, settings: Settings) -> int:
    try:
        purge.person_keys(args.user, None)
    except purge.NoSuchPerson as error:
        print(f"cc-analytics purge: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with open_backend(settings) as backend:
            deleted = backend.purge(args.user)
    except Refused as error:
        print(f"cc-analytics purge: {error}", file=sys.stderr)
        return 1
    print(report(args.user.strip(), deleted, backend.where), end="")
    return 0


def report(user: str, deleted: dict[str, int], where: str) -> str:
    total = sum(deleted.values())
    if not total:
        return f"nothing stored for {user}: no rows deleted ({where})\n"
    width = max(map(len, deleted))
    lines = [f"purged {user}: {total} rows deleted ({where})"]
    lines += [f"  {table.ljust(width)}  {count:>10}" for table, count in deleted.items()]
    lines.append("daily_org keeps the organization totals of days already aggregated (they name nobody); "
                 "`cc-analytics aggregate` over those days recomputes them without this person.")
    return "\n".join(lines) + "\n"

