"""The database is set up the way SECURITY.md 21 promises, and one set of migrations serves both engines."""

from __future__ import annotations

import pytest

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


async def test_postgres_uses_a_connection_pool_in_the_app_lifespan(client):
    if not is_postgres():
        pytest.skip("PostgreSQL only")
    assert engine().pool is not None
