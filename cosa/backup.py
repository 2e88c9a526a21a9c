"""Backups: a consistent copy of the live database in one file, and restoring it only after checking it.

A backup is an uncompressed tar file (inspect it with `tar tvf`) holding two members, in this order:

- `cosa-backup.json`, the manifest: which kind of database it came from, the size and SHA-256 of the copy,
  and the number of rows in every table at the moment of the copy;
- the copy itself: `database.sqlite3`, made with SQLite's online backup API from the live WAL database, or
  `database.pgdump`, a `pg_dump --format=custom` archive taken in the same snapshot as the row counts.

Both are taken while the app runs: the SQLite backup API copies one consistent snapshot (WAL readers do not
block writers), and pg_dump reads inside one repeatable-read snapshot.

Restoring checks everything before it touches the live database: that the file is a backup at all, that the
copy is complete and matches its checksum, that it is a backup of the kind of database DATABASE_URL names,
and then `PRAGMA integrity_check` on a temporary copy (SQLite) or `pg_restore --list` (PostgreSQL). Only
then is the database replaced: on SQLite by an atomic rename beside the target (the app must be stopped),
on PostgreSQL by `pg_restore --clean --single-transaction`, so a failure leaves the old data in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from cosa.settings import Settings

FORMAT = "cosa-circles-backup"
VERSION = 1
MANIFEST_NAME = "cosa-backup.json"
SQLITE_MEMBER = "database.sqlite3"
POSTGRES_MEMBER = "database.pgdump"
SQLITE = "sqlite"
POSTGRESQL = "postgresql"
KIND_NAMES = {SQLITE: "SQLite", POSTGRESQL: "PostgreSQL"}
# The tables named in the one-line summary; every table is counted and checked.
KEY_TABLES = (
    ("cosa_user", "users"),
    ("circles_core_member", "core members"),
    ("circles_circle", "circles"),
    ("volunteers_volunteer", "volunteers"),
    ("cosa_audit_event", "audit rows"),
)
CHUNK = 1024 * 1024

Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup could not be made or is refused; the message says what is wrong and what to do."""


class RestoreCheckFailed(BackupError):
    """The restore ran but the restored database does not match the backup's manifest."""


@dataclass(frozen=True)
class Manifest:
    kind: str
    member: str
    size: int
    sha256: str
    created_at: str
    tables: dict[str, int]
    server_version: str = ""

    def as_json(self) -> bytes:
        body = {"format": FORMAT, "version": VERSION, **self.__dict__}
        return json.dumps(body, indent=2, sort_keys=True).encode()


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    manifest: Manifest
    seconds: float
    file_size: int

    def line(self) -> str:
        return f"Backup of the {KIND_NAMES[self.manifest.kind]} database written to {self.path}: " + _facts(
            self.manifest.tables, self.file_size, self.seconds
        )


@dataclass(frozen=True)
class RestoreSummary:
    manifest: Manifest
    seconds: float
    target: str  # the SQLite file or the PostgreSQL database, without any password
    replaced: list[Path] = field(default_factory=list)  # the SQLite files set aside, kept for the operator

    def line(self) -> str:
        return (
            f"Restored the backup of {self.manifest.created_at} into {self.target}: "
            f"{_facts(self.manifest.tables, self.manifest.size, self.seconds)}"
        )


def _facts(tables: dict[str, int], size: int, seconds: float) -> str:
    counts = [f"{tables[name]:,} {label}" for name, label in KEY_TABLES if name in tables]
    counts.append(f"{sum(tables.values()):,} rows in {len(tables)} tables")
    return f"{', '.join(counts)}; {_size(size)} in {seconds:.1f} s."


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KB", "MB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _quiet(_: str) -> None:
    pass


# --- making a backup -----------------------------------------------------------------------------------


async def make_backup(settings: Settings, path: Path, progress: Progress = _quiet) -> BackupSummary:
    """Write a backup of the DATABASE_URL database to `path`, which must not exist yet."""
    started = time.monotonic()
    path = path.expanduser().absolute()
    if path.exists():
        raise BackupError(f"{path} already exists. Choose a new file name; a backup never overwrites a file.")
    if not path.parent.is_dir():
        raise BackupError(f"The folder {path.parent} does not exist.")
    # The copy is staged beside the backup (same disk, room for it) in a private folder, then renamed into place.
    with tempfile.TemporaryDirectory(prefix=".cosa-backup-", dir=path.parent) as work:
        staged = Path(work) / "copy"
        if settings.is_postgres:
            progress("Dumping the PostgreSQL database with pg_dump…")
            tables, server_version = await _pg_dump(settings.database_url, staged)
            member = POSTGRES_MEMBER
        else:
            progress("Copying the SQLite database with the online backup API…")
            tables = await asyncio.to_thread(_sqlite_copy, settings.sqlite_path, staged)
            server_version, member = sqlite3.sqlite_version, SQLITE_MEMBER
        progress("Writing the backup file…")
        manifest = Manifest(
            kind=POSTGRESQL if settings.is_postgres else SQLITE,
            member=member,
            size=staged.stat().st_size,
            sha256=await asyncio.to_thread(_sha256, staged),
            created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            tables=tables,
            server_version=server_version,
        )
        await asyncio.to_thread(_write_archive, manifest, staged, path)
    return BackupSummary(path, manifest, time.monotonic() - started, path.stat().st_size)


def _sqlite_copy(source: Path, copy: Path) -> dict[str, int]:
    if not source.is_file():
        raise BackupError(f"There is no SQLite database at {source}. Check DATABASE_URL.")
    live = sqlite3.connect(source, timeout=15)
    try:
        target = sqlite3.connect(copy)
        try:
            # One step (pages=-1): a stepped copy starts again whenever the app writes, so under steady
            # writes it might never finish. One step reads a single snapshot while the app keeps writing.
            live.backup(target)
            # The copy stands alone: one file, no -wal beside it.
            target.execute("PRAGMA journal_mode = DELETE")
            problems = _integrity_problems(target)
            if problems:
                raise BackupError(
                    "The live database fails SQLite's integrity check, so no backup was written: "
                    + "; ".join(problems[:5])
                )
            return _sqlite_counts(target)
        finally:
            target.close()
    except sqlite3.Error as error:
        raise BackupError(f"The SQLite database could not be copied: {error}.") from error
    finally:
        live.close()


def _integrity_problems(connection: sqlite3.Connection) -> list[str]:
    rows = [row[0] for row in connection.execute("PRAGMA integrity_check").fetchall()]
    return [] if rows == ["ok"] else rows


def _sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "ORDER BY name"
        )
    ]
    # Table names come from the database's own catalogue and are quoted as identifiers.
    return {name: connection.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0] for name in names}  # noqa: S608


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_archive(manifest: Manifest, staged: Path, path: Path) -> None:
    partial = staged.with_name("backup.tar")
    body = manifest.as_json()
    # 0600: a backup holds everything the database holds.
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
        with tarfile.open(fileobj=file, mode="w", format=tarfile.PAX_FORMAT) as archive:
            archive.addfile(_member(MANIFEST_NAME, len(body)), io.BytesIO(body))
            with staged.open("rb") as copy:
                archive.addfile(_member(manifest.member, manifest.size), copy)
        file.flush()
        os.fsync(file.fileno())
    if path.exists():
        raise BackupError(f"{path} appeared while the backup was being made; nothing was overwritten.")
    os.replace(partial, path)
    _fsync_folder(path.parent)


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(time.time())
    return info


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# --- PostgreSQL tools ----------------------------------------------------------------------------------


def find_pg_tool(name: str) -> str:
    """`pg_dump` or `pg_restore`: from PATH, else the newest under /usr/lib/postgresql/*/bin (Debian)."""
    found = shutil.which(name)
    if found:
        return found

    def version(candidate: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", Path(candidate).parent.parent.name))

    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version)
    if candidates:
        return candidates[-1]
    raise BackupError(
        f"{name} was not found. Install the PostgreSQL client tools (on Debian: apt install postgresql-client) "
        f"or put {name} on PATH."
    )


@dataclass(frozen=True)
class _Connection:
    """A PostgreSQL URL split for the command-line tools: the password travels in the environment only."""

    url_without_password: str
    password: str

    @classmethod
    def parse(cls, url: str) -> _Connection:
        parts = urlsplit(url)
        userinfo, at, hostinfo = parts.netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        netloc = f"{user}@{hostinfo}" if at else hostinfo
        return cls(urlunsplit(parts._replace(netloc=netloc)), unquote(password))

    def env(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, **extra}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def scrub(self, text: str) -> str:
        text = text.strip()
        return text.replace(self.password, "********") if self.password else text


async def _run(command: list[str], connection: _Connection, what: str, **env: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=connection.env(**env),
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        detail = connection.scrub(err.decode(errors="replace")) or f"exit code {process.returncode}"
        raise BackupError(f"{what} failed: {detail}")
    return out.decode(errors="replace")


async def _pg_dump(url: str, staged: Path) -> tuple[dict[str, int], str]:
    import asyncpg

    tool = find_pg_tool("pg_dump")
    connection = _Connection.parse(url)
    try:
        db = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError) as error:
        raise BackupError(f"Could not connect to PostgreSQL: {connection.scrub(str(error))}") from error
    try:
        # The row counts and pg_dump share one snapshot, so the manifest describes exactly what was dumped.
        async with db.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await db.fetchval("SELECT pg_export_snapshot()")
            tables = await _pg_counts(db)
            server_version = str(await db.fetchval("SHOW server_version"))
            await _run(
                [
                    tool,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--file={staged}",
                    f"--dbname={connection.url_without_password}",
                ],
                connection,
                "pg_dump",
            )
    finally:
        await db.close()
    return tables, server_version


async def _pg_counts(db: Any) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT schemaname, tablename FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY schemaname, tablename"
    )
    counts: dict[str, int] = {}
    for row in rows:
        name = row["tablename"] if row["schemaname"] == "public" else f"{row['schemaname']}.{row['tablename']}"
        table = f"{_quote(row['schemaname'])}.{_quote(row['tablename'])}"
        counts[name] = await db.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - quoted catalogue names
    return counts


# --- reading and checking a backup ---------------------------------------------------------------------


def read_manifest(path: Path) -> Manifest:
    """The manifest of the backup at `path`; raise BackupError when the file is not a readable backup."""
    with _open_backup(path) as (manifest, _, _):
        return manifest


@contextlib.contextmanager
def _open_backup(path: Path) -> Iterator[tuple[Manifest, tarfile.TarFile, tarfile.TarInfo]]:
    if not path.is_file():
        raise BackupError(f"There is no file at {path}.")
    with path.open("rb") as file:
        looks_like_ours = file.read(len(MANIFEST_NAME) + 1) == MANIFEST_NAME.encode() + b"\0"
    damaged = f"{path} is a CoSA Circles backup but it is damaged"
    not_ours = f"{path} is not a CoSA Circles backup (one made by `python -m cosa backup`)"
    try:
        archive = tarfile.open(path, mode="r:")  # noqa: SIM115 - closed by `with archive` below; opening may fail
    except tarfile.TarError as error:
        raise BackupError(
            f"{damaged}: its first block cannot be read." if looks_like_ours else f"{not_ours}."
        ) from error
    with archive:
        try:
            first = archive.next()
            if first is None or first.name != MANIFEST_NAME or not first.isfile():
                raise BackupError(f"{not_ours}: it has no {MANIFEST_NAME}.")
            manifest = _parse_manifest(_read_member(archive, first), damaged, not_ours)
            payload = archive.next()
        except (tarfile.TarError, OSError, EOFError) as error:
            raise BackupError(f"{damaged} or incomplete: {error}.") from error
        if payload is None:
            raise BackupError(f"{damaged} or incomplete: the database copy is missing (the file ends too early).")
        if not payload.isfile() or payload.name != manifest.member or payload.size != manifest.size:
            raise BackupError(f"{damaged}: the database copy is not the one its manifest describes.")
        yield manifest, archive, payload


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    source = archive.extractfile(member)
    if source is None or member.size > CHUNK:
        raise BackupError(f"{member.name} in the backup is not a manifest.")
    return source.read()


def _parse_manifest(raw: bytes, damaged: str, not_ours: str) -> Manifest:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"{damaged}: its manifest cannot be read.") from error
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise BackupError(f"{not_ours}.")
    if body.get("version") != VERSION:
        raise BackupError(
            f"This backup has format version {body.get('version')!r}; this version of CoSA Circles reads "
            f"version {VERSION}. Restore it with the version that made it."
        )
    try:
        manifest = Manifest(
            kind=str(body["kind"]),
            member=str(body["member"]),
            size=int(body["size"]),
            sha256=str(body["sha256"]),
            created_at=str(body["created_at"]),
            tables={str(name): int(count) for name, count in body["tables"].items()},
            server_version=str(body.get("server_version", "")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise BackupError(f"{damaged}: its manifest is incomplete.") from error
    if manifest.kind not in KIND_NAMES or manifest.member not in (SQLITE_MEMBER, POSTGRES_MEMBER):
        raise BackupError(f"{damaged}: its manifest names an unknown kind of database.")
    return manifest


def _extract_checked(path: Path, kind: str, destination: Path) -> Manifest:
    """Copy the database out of the backup into `destination` (a new file) and check it is whole and unchanged."""
    with _open_backup(path) as (manifest, archive, payload):
        if manifest.kind != kind:
            raise BackupError(
                f"This is a backup of a {KIND_NAMES[manifest.kind]} database, but DATABASE_URL names a "
                f"{KIND_NAMES[kind]} database."
            )
        source = archive.extractfile(payload)
        if source is None:  # pragma: no cover - _open_backup only yields regular files
            raise BackupError(f"{path} holds no database copy.")
        digest, copied = hashlib.sha256(), 0
        with os.fdopen(os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            try:
                copied = _copy(source, out, digest)
            except (tarfile.TarError, OSError, EOFError) as error:
                raise BackupError(
                    f"{path} is a CoSA Circles backup but it is incomplete: it ends before the end of the "
                    f"database copy ({error}). It may have been cut short while it was being copied."
                ) from error
            out.flush()
            os.fsync(out.fileno())
    if copied != manifest.size or digest.hexdigest() != manifest.sha256:
        raise BackupError(
            f"{path} is a CoSA Circles backup but it is damaged: the database copy does not match the checksum "
            "recorded when the backup was made. Use another backup."
        )
    return manifest


def _copy(source: IO[bytes], out: IO[bytes], digest: Any) -> int:
    copied = 0
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        out.write(chunk)
        copied += len(chunk)
    return copied


# --- restoring -----------------------------------------------------------------------------------------


async def restore_backup(settings: Settings, path: Path, progress: Progress = _quiet) -> RestoreSummary:
    """Check the backup at `path` and, only when it is sound, replace the DATABASE_URL database with it."""
    started = time.monotonic()
    path = path.expanduser().absolute()
    if settings.is_postgres:
        manifest, target = await _restore_postgres(settings.database_url, path, progress)
        return RestoreSummary(manifest, time.monotonic() - started, target)
    manifest, replaced = await asyncio.to_thread(_restore_sqlite, settings.sqlite_path, path, progress)
    return RestoreSummary(manifest, time.monotonic() - started, str(settings.sqlite_path), replaced)


def _restore_sqlite(target: Path, path: Path, progress: Progress) -> tuple[Manifest, list[Path]]:
    read_manifest(path)  # refuse a file that is not a backup before creating anything
    target.parent.mkdir(parents=True, exist_ok=True)
    # The new database is built beside the target (same file system) so the final rename is atomic.
    staged = target.with_name(f".{target.name}.restoring-{secrets.token_hex(4)}")
    try:
        progress("Checking the backup's checksum…")
        manifest = _extract_checked(path, SQLITE, staged)
        progress("Checking the database copy with SQLite's integrity check…")
        _check_sqlite_copy(staged, manifest)
        progress("Replacing the database…")
        replaced = _swap_in(staged, target)
    finally:
        for leftover in (staged, *_sidecars(staged)):
            leftover.unlink(missing_ok=True)
    return manifest, replaced


def _check_sqlite_copy(staged: Path, manifest: Manifest) -> None:
    try:
        copy = sqlite3.connect(staged)
        try:
            problems = _integrity_problems(copy)
            if problems:
                raise BackupError(
                    "The database in the backup fails SQLite's integrity check: " + "; ".join(problems[:5])
                )
            if _sqlite_counts(copy) != manifest.tables:
                raise BackupError("The database in the backup does not hold the rows its manifest lists.")
            # The app runs in WAL mode; the setting lives in the file, so set it before the file goes live.
            copy.execute("PRAGMA journal_mode = WAL")
        finally:
            copy.close()  # the last connection checkpoints and removes the staged -wal
    except sqlite3.Error as error:
        raise BackupError(f"The database in the backup cannot be opened by SQLite: {error}.") from error
    with staged.open("rb+") as file:
        os.fsync(file.fileno())


def _sidecars(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def _swap_in(staged: Path, target: Path) -> list[Path]:
    """Move the old database and its -wal/-shm aside (kept, never deleted), then rename the new one in.

    A -wal left beside the new file would be replayed into it by SQLite, so it goes with the file it belongs to.
    """
    replaced: list[Path] = []
    if any(path.exists() for path in [target, *_sidecars(target)]):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = target.with_name(f"{target.name}.replaced-{stamp}")
        while aside.exists():
            aside = target.with_name(f"{target.name}.replaced-{stamp}-{secrets.token_hex(2)}")
        for old, new in zip([target, *_sidecars(target)], [aside, *_sidecars(aside)], strict=True):
            if old.exists():
                os.replace(old, new)
                replaced.append(new)
    os.replace(staged, target)
    _fsync_folder(target.parent)
    return replaced


async def _restore_postgres(url: str, path: Path, progress: Progress) -> tuple[Manifest, str]:
    read_manifest(path)
    connection = _Connection.parse(url)
    pg_restore = find_pg_tool("pg_restore")
    with tempfile.TemporaryDirectory(prefix="cosa-restore-") as work:
        staged = Path(work) / POSTGRES_MEMBER
        progress("Checking the backup's checksum…")
        manifest = await asyncio.to_thread(_extract_checked, path, POSTGRESQL, staged)
        progress("Checking the dump with pg_restore --list…")
        listing = await _run([pg_restore, "--list", str(staged)], connection, "Reading the dump (pg_restore --list)")
        if "TABLE DATA" not in listing:
            raise BackupError("The dump in the backup holds no table data.")
        progress("Restoring into PostgreSQL in one transaction…")
        await _run(
            [
                pg_restore,
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={connection.url_without_password}",
                str(staged),
            ],
            connection,
            "pg_restore (it runs in one transaction, so it was rolled back; is an app process still running?)",
            # A running app holds locks that DROP TABLE waits for: give up after a minute rather than hang.
            PGOPTIONS=f"{os.environ.get('PGOPTIONS', '')} -c lock_timeout=60s".strip(),
        )
    await _check_postgres_counts(url, connection, manifest)
    return manifest, connection.url_without_password


async def _check_postgres_counts(url: str, connection: _Connection, manifest: Manifest) -> None:
    import asyncpg

    db = await asyncpg.connect(url)
    try:
        counts = await _pg_counts(db)
    finally:
        await db.close()
    differ = sorted(name for name in manifest.tables if counts.get(name) != manifest.tables[name])
    if differ:
        raise RestoreCheckFailed(
            f"The restore finished but these tables do not hold the rows the backup lists: {', '.join(differ)}."
        )
