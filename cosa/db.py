"""The database engine: SQLite by default, PostgreSQL when DATABASE_URL says so."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any
from weakref import WeakKeyDictionary

from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from cosa.settings import Settings

SYNCHRONOUS_FULL = 2


class DurableSQLiteEngine(SQLiteEngine):
    """SQLite with full synchronous commits on every connection.

    Piccolo opens a connection per query, and `synchronous` is a per-connection setting. Most builds of
    SQLite already default to FULL; `prepare_database` checks, and only if this build does not is the
    pragma sent on each new connection (a round trip per query saved otherwise). The busy timeout comes
    from the `timeout` connect argument. WAL persists in the file and is set once in `prepare_database`.
    """

    force_synchronous_full = True

    async def get_connection(self) -> Any:
        connection = await super().get_connection()
        if self.force_synchronous_full:
            await connection.execute("PRAGMA synchronous = FULL")
        return connection


def make_engine(settings: Settings) -> Engine:
    if settings.is_postgres:
        return PostgresEngine(config={"dsn": settings.database_url}, log_queries=False)
    path = settings.sqlite_path
    path.parent.mkdir(parents=True, exist_ok=True)
    return DurableSQLiteEngine(path=str(path), timeout=15)


def engine() -> Engine:
    found = engine_finder()
    if found is None:  # pragma: no cover - piccolo_conf.py always defines DB
        raise RuntimeError("piccolo_conf.py defines no DB engine")
    return found


def is_postgres() -> bool:
    return isinstance(engine(), PostgresEngine)


async def prepare_database() -> None:
    """Run once at start: WAL on SQLite (it persists in the file)."""
    db = engine()
    if isinstance(db, SQLiteEngine):
        await db.run_ddl("PRAGMA journal_mode = WAL")
    if isinstance(db, DurableSQLiteEngine):
        db.force_synchronous_full = False
        default = (await db.run_ddl("PRAGMA synchronous"))[0]["synchronous"]
        db.force_synchronous_full = default != SYNCHRONOUS_FULL


async def start_pool(size: int) -> None:
    db = engine()
    if isinstance(db, PostgresEngine) and size > 0:
        await db.start_connection_pool(min_size=min(2, size), max_size=size)


async def close_pool() -> None:
    db = engine()
    if isinstance(db, PostgresEngine) and db.pool is not None:
        await db.close_connection_pool()


# SQLite lets one writer in at a time. Left to its busy timeout, waiting writers poll with growing sleeps
# and the unlucky ones time out ("database is locked") under load. Within a process they queue here
# instead, in order; the busy timeout then only arbitrates between processes.
_write_locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = WeakKeyDictionary()
_in_write_transaction: ContextVar[bool] = ContextVar("cosa_in_write_transaction", default=False)


def _write_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _write_locks.get(loop)
    if lock is None:
        lock = _write_locks[loop] = asyncio.Lock()
    return lock


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """A transaction that writes. On SQLite it takes the write lock up front (IMMEDIATE), after queueing
    for it in this process, so two writers never fail with "database is locked" when a reader upgrades.
    Nested calls join the open transaction."""
    db = engine()
    if not isinstance(db, SQLiteEngine):
        async with db.transaction():
            yield
        return
    if _in_write_transaction.get():
        yield
        return
    async with _write_lock():
        token = _in_write_transaction.set(True)
        try:
            async with db.transaction(transaction_type=TransactionType.immediate):
                yield
        finally:
            _in_write_transaction.reset(token)
