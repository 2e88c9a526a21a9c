"""Work that must happen once, however many processes try: claim a key in the same transaction as the work.

The unique index on the key does the deciding: on PostgreSQL a second transaction inserting the same key
waits for the first and then does nothing; on SQLite the write transactions are serialised anyway.
"""

from __future__ import annotations

from datetime import datetime

from cosa.tables import OnceKey


async def first_time(key: str, now: datetime) -> bool:
    """True for the one caller that claims `key`; call inside the write transaction doing the work."""
    rows = (
        await OnceKey.insert(OnceKey(key=key[:200], created_at=now))
        .on_conflict(action="DO NOTHING", target=OnceKey.key)
        .returning(OnceKey.id)
    )
    return bool(rows)
