"""A burst of sign-ins hashes a few passwords at a time, so argon2's memory per hash stays bounded."""

from __future__ import annotations

import asyncio
import threading
import time

from cosa import auth
from cosa.settings import load_settings


class CountingHasher:
    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def hash(self, password: str) -> str:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return "hashed"

    def verify(self, stored: str, password: str) -> bool:
        self.hash(password)
        return True


async def test_no_more_than_a_few_hashes_run_at_once(monkeypatch):
    counting = CountingHasher()
    monkeypatch.setattr(auth, "hasher", lambda settings: counting)
    settings = load_settings()
    await asyncio.gather(
        *(auth.hash_password(settings, f"password number {i}") for i in range(12)),
        *(auth.verify_password(settings, "stored", f"password number {i}") for i in range(12)),
    )
    assert counting.most == auth.HASHING_AT_ONCE
