"""The database is set up the way SECURITY.md 21 promises, and one set of migrations serves both engines."""

from __future__ import annotations

import dataclasses

import pytest
from litestar.testing import AsyncTestClient

from cosa.app import create_app
from cosa.db import engine, is_postgres
from cosa.tables import AuditEvent, User


async def test_migrations_created_the_tables():
    assert await User.count() == 0
    assert await AuditEvent.count() == 0


async def test_sqlite_runs_in_wal_mode_with_full_synchronous_commits(client):
    if is_postgres():
        pytest.skip("SQLite only")
    db = engine()
    assert (await db.run_ddl("PRAGMA journal_mode"))[0]["journal_mode"] == "wal"
    assert (await db.run_ddl("PRAGMA synchronous"))[0]["synchronous"] == 2  # FULL
    assert (await db.run_ddl("PRAGMA foreign_keys"))[0]["foreign_keys"] == 1


async def test_postgres_opens_and_closes_a_connection_pool_in_the_app_lifespan(settings):
    if not is_postgres():
        pytest.skip("PostgreSQL only")
    pooled = create_app(dataclasses.replace(settings, database_pool_size=4))
    async with AsyncTestClient(app=pooled) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert engine().pool is not None
    assert engine().pool is None
