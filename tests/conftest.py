"""Fixtures: a real chDB engine in this process, a fresh database on it, and real `cc-analytics serve` processes.
Helpers live in tests/support/."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cc_analytics.config import Settings
from cc_analytics.store import migrate
from plumbing.store.client import StoreTarget, connect
from tests.support.serve_process import ServeProcess
from tests.support.store_handle import StoreHandle


@pytest.fixture(scope="session")
def chdb_client(tmp_path_factory):
    """One embedded engine for the whole test process (chDB hosts one store per process)."""
    client = connect(StoreTarget(data_dir=str(tmp_path_factory.mktemp("chdb"))))
    yield client
    client.close()


@pytest.fixture
def store(chdb_client):
    """A fresh database with the raw tables, on the session's engine; dropped afterwards."""
    database = f"test_{uuid.uuid4().hex[:12]}"
    migrate(chdb_client, Settings(database=database))
    yield StoreHandle(chdb_client, database)
    chdb_client.command(f"DROP DATABASE IF EXISTS `{database}`")


@pytest.fixture
def serve_factory(tmp_path):
    started: list[ServeProcess] = []

    def factory(*extra_args: str, data_dir: Path | None = None, env: dict | None = None) -> ServeProcess:
        process = ServeProcess(data_dir or tmp_path / "data", extra_args, env).start()
        started.append(process)
        return process

    yield factory
    for process in started:
        process.stop()


@pytest.fixture
def serve(serve_factory) -> ServeProcess:
    return serve_factory()
