"""Backups and restores (SECURITY.md 22, issue 6 item 5).

A backup taken while another process keeps committing restores with every row and an intact audit chain;
a damaged, cut-short or foreign file is refused with a clear message and the database it would have replaced
is left exactly as it was. The same tests run on SQLite (the online backup API) and on PostgreSQL (pg_dump into
a second database).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from cosa import audit
from cosa.backup import BackupError, find_pg_tool, make_backup, restore_backup
from cosa.settings import Settings
from cosa.tables import Region
from tests.integration.cosa.crash_writer import ROOT, BackgroundWriter


def cosa_cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cosa", *args],
        cwd=ROOT,
        env=dict(os.environ, DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )


def sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


async def query(url: str, sql: str) -> list[tuple]:
    if url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(sqlite_file(url))) as db:
            return db.execute(sql).fetchall()
    db = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await db.fetch(sql)]
    finally:
        await db.close()


async def table_counts(url: str) -> dict[str, int]:
    """Rows in every table, read independently of cosa.backup."""
    if url.startswith("sqlite:///"):
        listing = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        listing = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    names = [row[0] for row in await query(url, listing)]
    return {name: (await query(url, f'SELECT count(*) FROM "{name}"'))[0][0] for name in names}  # noqa: S608


def counts_in_backup(backup: Path, tmp_path: Path) -> dict[str, int]:
    """Rows in every table of the copy inside the backup file, read with tar and sqlite3 / pg_restore."""
    with tarfile.open(backup) as archive:
        names = archive.getnames()
        source = archive.extractfile(names[1])
        assert source is not None
        copy = tmp_path / names[1]
        copy.write_bytes(source.read())
    if names[1] == "database.sqlite3":
        with contextlib.closing(sqlite3.connect(copy)) as db:
            listing = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            tables = [row[0] for row in db.execute(listing)]
            return {name: db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}  # noqa: S608
    data = subprocess.run(
        [find_pg_tool("pg_restore"), "--data-only", "--file=-", str(copy)], capture_output=True, check=True
    ).stdout
    counts: dict[str, int] = {}
    table = None
    for line in data.split(b"\n"):
        if table is None:
            if match := re.match(rb"COPY public\.(\S+) \(.*\) FROM stdin;$", line):
                table = match[1].decode()
                counts[table] = 0
        elif line == b"\\.":
            table = None
        else:
            counts[table] += 1
    return counts


@pytest.fixture
async def target(settings: Settings, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings naming a second, empty database of the same kind to restore into."""
    if not settings.is_postgres:
        yield dataclasses.replace(settings, database_url=f"sqlite:///{tmp_path / 'restored' / 'cosa.sqlite3'}")
        return
    parts = urlsplit(settings.database_url)
    name = f"{parts.path.lstrip('/')}_restored_{secrets.token_hex(4)}"
    server = await asyncpg.connect(settings.database_url)
    await server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield dataclasses.replace(settings, database_url=urlunsplit(parts._replace(path=f"/{name}")))
    finally:
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await server.close()


async def fingerprint(target: Settings) -> object:
    """Everything a restore could change: the SQLite folder byte for byte, or every PostgreSQL table's rows."""
    if not target.is_postgres:
        folder = target.sqlite_path.parent
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}
    tables = await query(target.database_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {
        name: await query(
            target.database_url,
            f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM \"{name}\" t",  # noqa: S608
        )
        for (name,) in tables
    }


async def some_history(cast) -> None:
    for number in range(3):
        await audit.record(audit.Action.REGION_CREATED, actor=cast.admin, object_type="region", object_id=number)


def assert_chain_intact(url: str, rows: int) -> None:
    checked = cosa_cli("audit", "verify", database_url=url)
    assert checked.returncode == 0, checked.stderr
    assert f"The audit trail is intact: {rows} rows" in checked.stdout


async def test_a_backup_taken_under_write_load_restores_every_row_and_the_audit_chain(settings, target, tmp_path):
    writer = BackgroundWriter("load")
    # On SQLite, another open connection (requests in flight) keeps recent commits in the -wal instead of folded
    # into the main file each time the last connection closes: a plain file copy would miss them.
    other_request = None if settings.is_postgres else sqlite3.connect(settings.sqlite_path)
    try:
        if other_request:
            other_request.execute("SELECT count(*) FROM cosa_region").fetchall()
        assert writer.ready[:1] == [b"ready"]
        before = writer.wait_for(20)
        summary = await make_backup(settings, tmp_path / "under-load.cosa-backup")
        writer.wait_for(len(writer.committed()) + 20)  # the writes went on after the backup
    finally:
        written = writer.stop()
        if other_request:
            other_request.close()
    tables = summary.manifest.tables

    # The backup caught a moment in the middle of the writes, and each region with its audit row.
    assert len(before) <= tables["cosa_region"] < len(written) <= await Region.count()
    assert tables["cosa_audit_event"] == tables["cosa_region"]
    assert f"{tables['cosa_audit_event']:,} audit rows" in summary.line()

    restored = await restore_backup(target, summary.path)

    assert restored.manifest == summary.manifest
    in_backup = counts_in_backup(summary.path, tmp_path)
    assert await table_counts(target.database_url) == in_backup == tables
    names = {row[0] for row in await query(target.database_url, "SELECT name FROM cosa_region")}
    assert set(before) <= names
    if not target.is_postgres:
        assert await query(target.database_url, "PRAGMA integrity_check") == [("ok",)]
        assert await query(target.database_url, "PRAGMA journal_mode") == [("wal",)]
    assert_chain_intact(target.database_url, tables["cosa_audit_event"])


async def test_the_commands_back_up_and_restore_and_refuse_a_damaged_backup(settings, target, cast, tmp_path):
    await some_history(cast)
    backup = tmp_path / "nightly.cosa-backup"

    made = cosa_cli("backup", str(backup), database_url=settings.database_url)

    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("Backup of the ") and "3 audit rows" in made.stdout
    assert backup.stat().st_mode & 0o077 == 0, "a backup holds personal data: only its owner may read it"
    again = cosa_cli("backup", str(backup), database_url=settings.database_url)
    assert again.returncode != 0 and "already exists" in again.stderr

    restored = cosa_cli("restore", str(backup), database_url=target.database_url)

    assert restored.returncode == 0, restored.stderr
    assert "The audit trail is intact: 3 rows" in restored.stdout
    assert await table_counts(target.database_url) == await table_counts(settings.database_url)

    damaged = tmp_path / "damaged.cosa-backup"
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(data)
    before = await fingerprint(target)

    refused = cosa_cli("restore", str(damaged), database_url=target.database_url)

    assert refused.returncode == 1
    assert "Restore refused; the database was not changed." in refused.stderr
    assert "does not match the checksum" in refused.stderr
    assert await fingerprint(target) == before


def flipped(good: Path, tmp_path: Path) -> bytes:
    data = bytearray(good.read_bytes())
    middle = len(data) // 2
    for at in range(middle, middle + 16):
        data[at] ^= 0xFF
    return bytes(data)


def other_kind(good: Path, tmp_path: Path) -> bytes:
    """The same backup relabelled as a copy of the other kind of database."""
    out = io.BytesIO()
    with tarfile.open(good) as archive, tarfile.open(fileobj=out, mode="w") as relabelled:
        members = archive.getmembers()
        manifest = json.loads(archive.extractfile(members[0]).read())
        sqlite = manifest["kind"] == "sqlite"
        manifest.update(kind="postgresql" if sqlite else "sqlite")
        manifest.update(member="database.pgdump" if sqlite else "database.sqlite3")
        body = json.dumps(manifest).encode()
        members[0].size = len(body)
        relabelled.addfile(members[0], io.BytesIO(body))
        payload = archive.extractfile(members[1])
        members[1].name = manifest["member"]
        relabelled.addfile(members[1], payload)
    return out.getvalue()


def bare_copy(good: Path, tmp_path: Path) -> bytes:
    with tarfile.open(good) as archive:
        return archive.extractfile(archive.getmembers()[1]).read()


DAMAGE = {
    "bytes flipped in the middle": (
        flipped,
        "is a CoSA Circles backup but it is damaged: the database copy does not match the checksum",
    ),
    "cut short in the database copy": (
        lambda good, _: good.read_bytes()[: good.stat().st_size * 6 // 10],
        "is a CoSA Circles backup but it is incomplete",
    ),
    "cut short in its manifest": (
        lambda good, _: good.read_bytes()[:300],
        "is a CoSA Circles backup but it is damaged",
    ),
    "an empty file": (lambda good, _: b"", "is not a CoSA Circles backup"),
    "random bytes": (lambda good, _: secrets.token_bytes(20_000), "is not a CoSA Circles backup"),
    "the database copy without its manifest": (bare_copy, "is not a CoSA Circles backup"),
    "a backup of the other kind of database": (other_kind, "but DATABASE_URL names a"),
}


@pytest.mark.parametrize("damage", DAMAGE)
async def test_a_damaged_or_foreign_file_is_refused_and_nothing_is_overwritten(
    damage, settings, target, cast, tmp_path
):
    await some_history(cast)
    good = (await make_backup(settings, tmp_path / "good.cosa-backup")).path
    await restore_backup(target, good)
    make, message = DAMAGE[damage]
    bad = tmp_path / "bad.cosa-backup"
    bad.write_bytes(make(good, tmp_path))
    before = await fingerprint(target)

    with pytest.raises(BackupError) as refused:
        await restore_backup(target, bad)

    assert message in str(refused.value)
    assert await fingerprint(target) == before


async def test_restoring_over_a_sqlite_database_sets_it_aside_with_its_wal(settings, target, cast, tmp_path):
    if settings.is_postgres:
        pytest.skip("SQLite only")
    await some_history(cast)
    backup = (await make_backup(settings, tmp_path / "good.cosa-backup")).path
    live = target.sqlite_path
    wal = live.with_name(live.name + "-wal")
    live.parent.mkdir()
    old = sqlite3.connect(live)
    old.executescript(
        "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;"
        "CREATE TABLE older (note TEXT); INSERT INTO older VALUES ('kept');"
    )
    stale = wal.read_bytes()  # the commit is still only in the -wal, as when the app was killed
    old.close()
    wal.write_bytes(stale)

    restored = await restore_backup(target, backup)

    # Left beside the new file, the old -wal would be replayed into it.
    assert not wal.exists()
    assert await query(target.database_url, "PRAGMA integrity_check") == [("ok",)]
    assert await query(target.database_url, "SELECT count(*) FROM cosa_audit_event") == [(3,)]
    assert not await query(target.database_url, "SELECT name FROM sqlite_master WHERE name = 'older'")
    aside = restored.replaced[0]
    assert aside.name.startswith("cosa.sqlite3.replaced-") and Path(f"{aside}-wal") in restored.replaced
    assert await query(f"sqlite:///{aside}", "SELECT note FROM older") == [("kept",)]


async def test_a_backup_never_overwrites_a_file(settings, tmp_path):
    existing = tmp_path / "existing"
    existing.write_bytes(b"something precious")

    with pytest.raises(BackupError, match="already exists"):
        await make_backup(settings, existing)

    assert existing.read_bytes() == b"something precious"
