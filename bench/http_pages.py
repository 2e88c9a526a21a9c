"""Request rate and latency of key pages, against the real app served by uvicorn on loopback.

    .venv/bin/python bench/http_pages.py [--seconds 10] [--concurrency 10]

Uses a fresh SQLite database with the demo data unless DATABASE_URL is set (then that database must
already be migrated and seeded). Prints one line per page: requests per second, p50/p95/p99 latency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import signin

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "circles-demo-password"
DEMO_TOTP_SECRET = "COSADEMOCOSADEMOCOSADEMOCOSADEMO"  # cosa/demo.py
PAGES = [
    ("login page (anonymous)", None, "/login"),
    ("health check", None, "/healthz"),
    ("volunteer home", "volunteer@example.org", "/"),
    ("check-in form", "volunteer@example.org", "/check-ins/new"),
    ("coordinator dashboard", "coordinator@example.org", "/"),
    ("volunteer list", "coordinator@example.org", "/volunteers/"),
    ("admin user list", "admin@example.org", "/admin/users/"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "COSA_ENV": "test", "COSA_DEMO_DATA": "1", "BASE_URL": f"http://127.0.0.1:{port}"}
    env.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='cosa-bench-')}/bench.sqlite3")
    subprocess.run([sys.executable, "-m", "cosa", "seed-demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "cosa.app:create_app",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit("the app did not start")


async def signed_in_clients(base: str, email: str | None, count: int) -> list[httpx.AsyncClient]:
    """`count` clients sharing one sign-in (a second factor's code works once, so one sign-in per user)."""
    if email and email not in SESSIONS:
        first = httpx.AsyncClient(base_url=base, timeout=30)
        await signin.sign_in(first, email, PASSWORD, DEMO_TOTP_SECRET)
        SESSIONS[email] = first.cookies
        await first.aclose()
    clients = []
    for _ in range(count):
        client = httpx.AsyncClient(base_url=base, timeout=30)
        if email:
            client.cookies.update(SESSIONS[email])
        clients.append(client)
    return clients


SESSIONS: dict[str, httpx.Cookies] = {}  # one sign-in per user for the whole run


async def measure(
    base: str, email: str | None, path: str, seconds: float, concurrency: int
) -> tuple[float, list[float], int]:
    clients = await signed_in_clients(base, email, concurrency)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await client.get(path)
            latencies.append(time.perf_counter() - started)
            errors += response.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    return len(latencies) / elapsed, latencies, errors


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 1 else values[0]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    process, base = start_server()
    try:
        print(f"{'page':<26} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for name, email, path in PAGES:
            rate, latencies, errors = await measure(base, email, path, args.seconds, args.concurrency)
            print(
                f"{name:<26} {rate:8.1f} {1000 * percentile(latencies, 50):8.1f} "
                f"{1000 * percentile(latencies, 95):8.1f} {1000 * percentile(latencies, 99):8.1f} {errors:7d}"
            )
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    asyncio.run(main())
