"""A writer process for the crash-safety and backup tests.

Run as `python -m tests.integration.cosa.crash_writer TAG` from the project root, with DATABASE_URL naming the
database. It prepares the database as the app does at start (WAL and full synchronous commits on SQLite),
prints `ready <journal_mode> <synchronous>`, then commits one region and its audit row per transaction through
the app's own `write_transaction` and `audit.record`, and prints each region's name, flushed, only once the
commit has returned. Names are never reused (SQLite may hand a rolled-back row's id to the next insert), so a
name reported but absent is a lost write. It writes until it is killed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


async def write_until_killed(tag: str) -> None:
    from cosa import audit
    from cosa.db import engine, is_postgres, prepare_database, write_transaction
    from cosa.tables import Region

    await prepare_database()
    if is_postgres():
        print("ready postgresql -", flush=True)
    else:
        db = engine()
        mode = (await db.run_ddl("PRAGMA journal_mode"))[0]["journal_mode"]
        synchronous = (await db.run_ddl("PRAGMA synchronous"))[0]["synchronous"]
        print(f"ready {mode} {synchronous}", flush=True)
    number = 0
    while True:
        number += 1
        async with write_transaction():
            name = f"{tag}-{number}"
            rows = await Region.insert(Region(name=name)).returning(Region.public_id)
            await audit.record(
                audit.Action.REGION_CREATED,
                object_type="region",
                object_id=rows[0]["public_id"],
                detail={"via": "crash-writer"},
            )
        sys.stdout.write(f"{name}\n")
        sys.stdout.flush()


def spawn(tag: str) -> subprocess.Popen[bytes]:
    """Start a writer on the database the tests use (DATABASE_URL is inherited)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.cosa.crash_writer", tag],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def committed_names(output: bytes) -> list[str]:
    """The names in a writer's output; a last line without its newline was cut off and does not count."""
    return [line.decode() for line in output.split(b"\n")[:-1] if line and not line.startswith(b"ready")]


class BackgroundWriter:
    """A writer running while the test does something else, collecting the names it reports."""

    def __init__(self, tag: str) -> None:
        self.process = spawn(tag)
        self.ready = self.process.stdout.readline().split() if self.process.stdout else []
        self.names: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.endswith(b"\n"):
                with self._lock:
                    self.names.append(line.decode().strip())

    def committed(self) -> list[str]:
        with self._lock:
            return list(self.names)

    def wait_for(self, count: int, timeout: float = 30) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(names := self.committed()) < count:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise AssertionError(f"the writer stopped: {stderr}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the writer committed only {len(names)} rows in {timeout} s")
            time.sleep(0.01)
        return names

    def stop(self) -> list[str]:
        self.process.kill()
        self.process.wait()
        self._reader.join(timeout=10)
        if self.process.stderr:
            self.process.stderr.close()
        return self.committed()


if __name__ == "__main__":
    asyncio.run(write_until_killed(sys.argv[1]))
