"""A killed process loses no committed write (SECURITY.md 21, issue 6 item 6).

A writer process commits through the app's own `write_transaction` and reports each commit only after it has
returned; the test kills it with SIGKILL at random moments, again and again, then checks that every reported
write is in the database with its audit row, that SQLite's integrity check passes and that the audit chain
is whole. It runs on SQLite and on PostgreSQL alike (the integrity check is SQLite's).
"""

from __future__ import annotations

import os
import random
import signal
import time

from cosa import audit
from cosa.audit import verify_chain
from cosa.db import engine, is_postgres
from cosa.tables import AuditEvent, Region
from tests.integration.cosa.crash_writer import committed_names, spawn

KILLS = 50


async def test_a_writer_killed_at_random_moments_loses_no_committed_write():
    seed = int(os.environ.get("CRASH_SEED", time.time_ns()))
    rng = random.Random(seed)
    reported: list[str] = []
    killed_after_writing = 0
    for round_ in range(KILLS):
        writer = spawn(f"crash-{round_}")
        assert writer.stdout is not None and writer.stderr is not None
        ready = writer.stdout.readline().split()
        assert ready[:1] == [b"ready"], writer.stderr.read().decode()
        if not is_postgres():
            assert ready[1:] == [b"wal", b"2"], "the writer must run in WAL mode with synchronous FULL"
        # Anywhere from before the first commit to a few hundred commits in, mid-transaction or between two.
        time.sleep(rng.uniform(0, 0.25))
        writer.send_signal(signal.SIGKILL)
        assert writer.wait() == -signal.SIGKILL, writer.stderr.read().decode()
        names = committed_names(writer.stdout.read())
        writer.stdout.close()
        writer.stderr.close()
        killed_after_writing += bool(names)
        reported += names

    context = f"(seed {seed}: rerun with CRASH_SEED={seed})"
    assert killed_after_writing >= KILLS // 2, f"too few writers got to write before they were killed {context}"
    regions = await Region.select(Region.name, Region.public_id)
    present = {row["name"] for row in regions}
    lost = sorted(set(reported) - present)
    assert not lost, f"{len(lost)} writes reported as committed are missing, first {lost[:10]} {context}"

    # Each region and its audit row were committed together: neither exists without the other.
    audited = {
        row["object_id"]
        for row in await AuditEvent.select(AuditEvent.object_id).where(AuditEvent.action == audit.Action.REGION_CREATED)
    }
    assert audited == {str(row["public_id"]) for row in regions}, context

    if not is_postgres():
        assert await engine().run_ddl("PRAGMA integrity_check") == [{"integrity_check": "ok"}], context
    report = await verify_chain()
    assert report.ok, f"{report} {context}"
    assert report.rows == await AuditEvent.count() >= len(reported)
