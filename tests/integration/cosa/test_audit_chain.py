"""The audit trail you can trust (issue 6 item 2, SECURITY.md 14): every row is chained to the one before,
`python -m cosa audit verify` names the first row that does not check out, the database refuses to change or
remove a row, concurrent writers (in one process or several) keep one unbroken chain, and the flows the
promise names leave their rows. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from circles.tables import Escalation
from cosa import audit
from cosa.audit import GENESIS, POSTGRES_TRIGGERS, SQLITE_TRIGGERS, Action, row_digest, verify_chain
from cosa.clock import utcnow
from cosa.db import engine, is_postgres, write_transaction
from cosa.i18n import LONDON
from cosa.tables import AuditEvent
from tests.integration.circles import conftest as circle_fixtures
from tests.integration.conftest import PASSWORD, form_post, login

ROOT = Path(__file__).resolve().parents[3]
REFUSED = (sqlite3.DatabaseError, asyncpg.PostgresError)


@pytest.fixture
async def programme(cast: Any) -> Any:
    """The circles tests' programme: circles A and B in the north with their core members and volunteers."""
    return await circle_fixtures.programme.__wrapped__(cast)


async def write(n: int, prefix: str = "row") -> None:
    for i in range(1, n + 1):
        await audit.record(
            Action.CORE_MEMBER_VIEWED, object_type="core_member", object_id=f"{prefix}-{i}", detail={"n": i}
        )


async def chain() -> list[dict[str, Any]]:
    return await AuditEvent.select().order_by(AuditEvent.seq).output(load_json=True)


def verify_command() -> subprocess.CompletedProcess[str]:
    """`python -m cosa audit verify` in its own process, against the test's database (DATABASE_URL)."""
    return subprocess.run(
        [sys.executable, "-m", "cosa", "audit", "verify"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@asynccontextmanager
async def protection_lifted() -> AsyncIterator[None]:
    """What someone with the database owner's powers could do: switch off the triggers that guard the table."""
    db = engine()
    if is_postgres():
        await db.run_ddl("ALTER TABLE cosa_audit_event DISABLE TRIGGER cosa_audit_immutable")
        try:
            yield
        finally:
            await db.run_ddl("ALTER TABLE cosa_audit_event ENABLE TRIGGER cosa_audit_immutable")
    else:
        await db.run_ddl("DROP TRIGGER IF EXISTS cosa_audit_no_update")
        await db.run_ddl("DROP TRIGGER IF EXISTS cosa_audit_no_delete")
        try:
            yield
        finally:
            for statement in SQLITE_TRIGGERS:
                await db.run_ddl(statement)


# --- the chain ---------------------------------------------------------------------------------------------


async def test_each_row_carries_the_hash_of_the_one_before_and_the_command_checks_them(cast):
    await write(5)
    rows = await chain()
    assert [row["seq"] for row in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["prev_hash"] == GENESIS
    for before, row in itertools.pairwise(rows):
        assert row["prev_hash"] == before["row_hash"]
    assert all(row["row_hash"] == row_digest(row["prev_hash"], row) for row in rows)
    assert len({row["row_hash"] for row in rows}) == 5

    report = await verify_chain()
    assert report.ok and report.rows == 5
    # Small batches walk across batch boundaries the same way.
    assert (await verify_chain(batch=2)).rows == 5

    result = verify_command()
    assert result.returncode == 0, result.stderr
    assert "The audit trail is intact: 5 rows" in result.stdout


async def test_an_empty_trail_verifies(cast):
    report = await verify_chain()
    assert report.ok and report.rows == 0


async def test_details_that_are_not_plain_json_are_chained_as_they_are_stored(cast):
    membership = uuid4()
    await audit.record(
        Action.CIRCLE_UPDATED,
        object_type="circle",
        object_id=uuid4(),
        detail={"membership": membership, "on": date(2026, 5, 1)},
    )
    [row] = await chain()
    assert row["detail"] == {"membership": str(membership), "on": "2026-05-01"}
    assert (await verify_chain()).ok


async def test_a_time_without_a_zone_is_taken_as_utc_whatever_the_servers_zone(cast, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        await audit.record(Action.LOGOUT, now=datetime(2026, 5, 1, 12, 0))
    finally:
        monkeypatch.undo()
        time.tzset()
    [row] = await chain()
    assert row["occurred_at"].astimezone(LONDON).hour == 13
    assert (await verify_chain()).ok


# --- tampering is caught, and the first broken row named -----------------------------------------------------


async def _change(seq: int, values: dict[Any, Any]) -> None:
    await AuditEvent.update(values).where(AuditEvent.seq == seq)


async def _rehash_after_changing(seq: int) -> None:
    """A careful forger: change the row and recompute its own hash. The next row's link still gives it away."""
    row = (await AuditEvent.select().where(AuditEvent.seq == seq).output(load_json=True))[0]
    row["detail"] = {"n": 99}
    await _change(seq, {AuditEvent.detail: row["detail"], AuditEvent.row_hash: row_digest(row["prev_hash"], row)})


TAMPERING = {
    "detail changed": (lambda: _change(3, {AuditEvent.detail: {"n": 99}}), 3, "content does not match"),
    "actor's role changed": (lambda: _change(3, {AuditEvent.actor_role: "admin"}), 3, "content does not match"),
    "time changed": (
        lambda: _change(3, {AuditEvent.occurred_at: utcnow() - timedelta(days=30)}),
        3,
        "content does not match",
    ),
    "middle row deleted": (lambda: AuditEvent.delete().where(AuditEvent.seq == 3), 4, "row 3 is missing"),
    "link changed": (lambda: _change(3, {AuditEvent.prev_hash: "f" * 64}), 3, "link to the row before"),
    "row re-hashed after a change": (lambda: _rehash_after_changing(3), 4, "link to the row before"),
    "first row changed": (lambda: _change(1, {AuditEvent.object_id: "someone-else"}), 1, "content does not match"),
}


@pytest.mark.parametrize("how", list(TAMPERING))
async def test_tampering_is_caught_and_the_first_broken_row_named(cast, how):
    tamper, broken, reason = TAMPERING[how]
    await write(5)
    async with protection_lifted():
        await tamper()
    report = await verify_chain()
    assert not report.ok
    assert report.broken_seq == broken and reason in report.reason
    # The rows before it check out (a deleted row leaves the one after it out of place).
    assert report.rows == (2 if how == "middle row deleted" else broken - 1)
    expected_id = await AuditEvent.select(AuditEvent.id).where(AuditEvent.seq == broken).first()
    assert expected_id is not None and report.broken_id == expected_id["id"]

    result = verify_command()
    assert result.returncode == 1
    assert f"The audit trail is broken at row {broken} " in result.stderr and reason in result.stderr
    assert result.stdout == ""


async def test_a_row_written_outside_the_chain_is_reported_and_the_chain_carries_on_after_it(cast):
    await write(2)
    # Inserting is allowed (that is how rows are written); a row without a place in the chain is not.
    await AuditEvent.insert(AuditEvent(occurred_at=utcnow(), action=Action.LOGOUT, seq=None))
    await write(1, prefix="after")
    rows = await chain()
    assert [row["seq"] for row in rows if row["seq"] is not None] == [1, 2, 3]
    report = await verify_chain()
    assert not report.ok and report.broken_seq is None and "1 rows are outside the chain" in report.reason
    result = verify_command()
    assert result.returncode == 1 and "outside the chain" in result.stderr


# --- the database refuses changes --------------------------------------------------------------------------


async def test_the_database_refuses_to_change_or_remove_audit_rows(cast):
    await write(3)
    before = await chain()
    attempts = {
        "update one": lambda: AuditEvent.update({AuditEvent.detail: {"n": 99}}).where(AuditEvent.seq == 2),
        "update all": lambda: AuditEvent.update({AuditEvent.actor_role: "admin"}, force=True),
        "delete one": lambda: AuditEvent.delete().where(AuditEvent.seq == 2),
        "delete all": lambda: AuditEvent.delete(force=True),
        "raw delete": lambda: AuditEvent.raw("DELETE FROM cosa_audit_event WHERE seq = {}", 3),
    }
    for name, attempt in attempts.items():
        with pytest.raises(REFUSED, match="audit rows cannot be"):
            await attempt()
        assert await chain() == before, name
    # Inside the app's own write transaction the refusal undoes the whole transaction.
    with pytest.raises(REFUSED, match="audit rows cannot be"):
        async with write_transaction():
            await audit.record(Action.LOGOUT, object_id="in-the-same-transaction")
            await AuditEvent.delete().where(AuditEvent.seq == 1)
    assert await chain() == before
    # The protection is installed by the migration for this engine, and is back after any test lifted it.
    if is_postgres():
        rows = await AuditEvent.raw(
            "SELECT tgenabled::text AS enabled FROM pg_trigger WHERE tgname = 'cosa_audit_immutable' AND NOT tgisinternal"
        )
        assert rows == [{"enabled": "O"}] and "cosa_audit_immutable" in POSTGRES_TRIGGERS[2]
    else:
        rows = await AuditEvent.raw(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'cosa_audit_event' ORDER BY name"
        )
        assert [row["name"] for row in rows] == ["cosa_audit_no_delete", "cosa_audit_no_update"]
    assert (await verify_chain()).ok


# --- concurrent writers ------------------------------------------------------------------------------------


class Abandoned(Exception):
    """Raised to roll a write transaction back."""


async def test_concurrent_writers_keep_one_unbroken_chain_and_a_rollback_leaves_no_trace(cast):
    async def rolled_back() -> None:
        with pytest.raises(Abandoned):
            async with write_transaction():
                await audit.record(Action.NOTE_ADDED, object_type="core_member", object_id="rolled-back")
                await asyncio.sleep(0.01)  # the others queue behind it meanwhile
                raise Abandoned

    def one(i: int) -> Any:
        return audit.record(Action.CORE_MEMBER_VIEWED, object_type="core_member", object_id=f"w-{i}", detail={"i": i})

    await asyncio.gather(*(one(i) for i in range(20)), rolled_back(), *(one(i) for i in range(20, 40)))
    rows = await chain()
    assert [row["seq"] for row in rows] == list(range(1, 41))
    assert sorted(row["object_id"] for row in rows) == sorted(f"w-{i}" for i in range(40))
    report = await verify_chain()
    assert report.ok and report.rows == 40


WRITER = """
import asyncio, os, sys
from cosa import audit

async def main(tag, n, go):
    print("ready", flush=True)
    while not os.path.exists(go):
        await asyncio.sleep(0.005)
    await asyncio.gather(*(
        audit.record("core_member.viewed", object_type="core_member", object_id=f"{tag}-{i}") for i in range(n)
    ))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
"""


async def test_writers_in_separate_processes_keep_one_unbroken_chain(cast, tmp_path):
    """Two app processes writing at once: on PostgreSQL the advisory lock orders them (without it both would
    claim the same place and one would fail on the unique index); on SQLite the write lock does."""
    go = tmp_path / "go"
    per_process = 20
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WRITER,
            tag,
            str(per_process),
            str(go),
            cwd=ROOT,
            env=dict(os.environ),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for tag in ("first", "second")
    ]
    for process in processes:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        assert line.strip() == b"ready"
    go.touch()  # both start writing at the same moment
    for process in processes:
        _out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode == 0, err.decode()[-2000:]
    rows = await chain()
    assert [row["seq"] for row in rows] == list(range(1, 2 * per_process + 1))
    assert {row["object_id"] for row in rows} == {
        f"{tag}-{i}" for tag in ("first", "second") for i in range(per_process)
    }
    assert (await verify_chain()).ok
    assert verify_command().returncode == 0


# --- the flows SECURITY.md 14 names leave their rows ------------------------------------------------------------


async def actions_by(user: Any) -> list[str]:
    rows = await AuditEvent.select(AuditEvent.action).where(AuditEvent.actor == user.id).order_by(AuditEvent.seq)
    return [row["action"] for row in rows]


async def test_signing_in_and_failing_to_are_audited_without_the_password(client, cast):
    await client.get("/login")
    wrong = await form_post(client, "/login", {"email": "cara@example.org", "password": "not-the-password-1"})
    assert wrong.status_code in (400, 401)
    unknown = await form_post(client, "/login", {"email": "nobody@example.org", "password": "not-the-password-2"})
    assert unknown.status_code == wrong.status_code
    await login(client, "cara@example.org")
    rows = await chain()
    failed = [row for row in rows if row["action"] == Action.LOGIN_FAILED]
    assert [row["actor"] for row in failed] == [cast.coordinator.id, None]
    login_row = next(row for row in rows if row["action"] == Action.LOGIN)
    assert login_row["actor"] == cast.coordinator.id and login_row["object_id"] == str(cast.coordinator.public_id)
    for secret in ("not-the-password", PASSWORD, "nobody@example.org", "cara@example.org"):
        assert secret not in str(rows)
    assert (await verify_chain()).ok


async def test_access_refused_is_audited(client, cast):
    await login(client, "alice@example.org")
    assert (await client.get("/admin/users")).status_code == 404
    assert (await client.get(f"/admin/users/{cast.admin.public_id}")).status_code == 404
    refused = await AuditEvent.select().where(AuditEvent.action == Action.ACCESS_REFUSED).output(load_json=True)
    assert [(row["actor"], row["actor_role"], row["detail"]["method"]) for row in refused] == [
        (cast.volunteer_a1.id, "volunteer", "GET"),
        (cast.volunteer_a1.id, "volunteer", "GET"),
    ]
    assert (await verify_chain()).ok


async def test_viewing_a_core_members_record_is_audited_without_its_content(client, programme):
    await login(client, "cara@example.org")
    page = await client.get(f"/core-members/{programme.core_a.public_id}")
    assert page.status_code == 200 and "Daniel Mensah" in page.text
    viewed = await AuditEvent.select().where(AuditEvent.action == Action.CORE_MEMBER_VIEWED).output(load_json=True)
    assert [(row["actor"], row["object_type"], row["object_id"]) for row in viewed] == [
        (programme.coordinator.id, "core_member", str(programme.core_a.public_id))
    ]
    stored = str(await chain())
    for content in ("Daniel", "Mensah", "OFFENCE-DETAIL-CANARY", "car wash"):
        assert content not in stored
    assert (await verify_chain()).ok


async def test_an_escalation_sent_and_acknowledged_is_audited(client, make_client, programme):
    volunteer = await make_client()
    await login(volunteer, "alice@example.org")
    seen_at = utcnow().astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")
    raised = await form_post(
        volunteer,
        f"/circles/{programme.circle_a.public_id}/concerns/new",
        {"severity": "urgent", "description": "Two men waiting outside the hostel", "seen_at": seen_at},
    )
    assert raised.status_code == 303, raised.text
    escalation = await Escalation.select(Escalation.public_id).first()
    assert escalation is not None
    escalation_id = str(escalation["public_id"])
    sent = await AuditEvent.select().where(AuditEvent.action == "escalation.notified").output(load_json=True)
    # Sent to the officer (and the coordinator) by the system, naming the escalation and nothing else.
    assert sent and {row["object_id"] for row in sent} == {escalation_id}
    assert all(row["actor"] is None and row["object_type"] == "escalation" for row in sent)

    await login(client, "priya@example.org")
    acknowledged = await form_post(client, f"/escalations/{escalation_id}/acknowledge")
    assert acknowledged.status_code == 303
    assert "escalation.acknowledged" in await actions_by(programme.probation)
    [row] = await AuditEvent.select().where(AuditEvent.action == "escalation.acknowledged").output(load_json=True)
    assert row["object_id"] == escalation_id and row["actor_role"] == "probation"
    stored = str(await chain())
    assert "hostel" not in stored and "Two men" not in stored
    assert (await verify_chain()).ok
