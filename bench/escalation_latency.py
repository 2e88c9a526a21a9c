"""Time from raising an urgent concern to the probation officer's escalation email reaching an SMTP server.

    .venv/bin/python bench/escalation_latency.py [--count 200] [--concurrency 1] [--timeout 300]

A real SMTP server (aiosmtpd, in its own thread) listens on a free loopback port and records, for each
message, when it arrived and to whom (envelope recipients and the To header). The app runs under uvicorn
on another loopback port with COSA_ENV=test and COSA_SCHEDULER=1 (so the outbox delivery worker runs in
its lifespan), SMTP_HOST/SMTP_PORT pointing at that server, on a fresh SQLite database seeded with the
demo data, or on DATABASE_URL when it is set (`python -m cosa seed-demo` migrates it and seeds it if it
is empty; a PostgreSQL database should be empty and freshly created).

The bench signs in as volunteer@example.org, finds Circle Rowan on the home page, and raises COUNT
urgent concerns (POST /circles/<id>/concerns/new). Each one's latency runs from just before its POST is
sent until the SMTP server has received an email to probation@example.org. At most CONCURRENCY
concerns are outstanding (posted, escalation email not yet received) at any time; with 1 (the default)
they go one after another and the k-th email belongs to the k-th POST. With more, an arrival is paired
with the earliest outstanding POST, so a single latency may belong to another concern, but the set of
figures is exact when emails leave in the order the concerns were raised.

Prints count, p50/p95/p99/max latency in ms and whether p99 is under the 2,000 ms target; the POSTs'
own response times; emails to other recipients (the coordinator is told too) counted apart; and any
escalation link received twice. A missed target is reported, not an error (exit status 0). The bench
fails with a clear message and exit status 1 on an unexpected response, when an email does not come
within --email-timeout, or when the whole run exceeds --timeout. The app and the SMTP server are
stopped at the end either way.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
LONDON = ZoneInfo("Europe/London")
PASSWORD = "circles-demo-password"
VOLUNTEER = "volunteer@example.org"
OFFICER = "probation@example.org"
CIRCLE = "Circle Rowan"
TARGET_P99_MS = 2000.0
ESCALATION_LINK = re.compile(r"/escalations/([0-9a-fA-F-]{36})")
CONCERN_LOCATION = re.compile(r"/concerns/([0-9a-fA-F-]{36})$")
ERROR_MESSAGE = re.compile(r'class="error-message"[^>]*>(.*?)</p>', re.S)
TAGS = re.compile(r"<[^>]+>")


class BenchFailed(Exception):
    """The run cannot go on; the message says what failed."""


@dataclass(frozen=True)
class Arrival:
    at: float  # time.perf_counter() when the SMTP server had the whole message
    recipients: tuple[str, ...]  # envelope RCPT TO and the To header, lower-case
    escalation: str  # the /escalations/<id> in the body, or ""


@dataclass
class Recorder:
    """Filled by the SMTP server's thread; read by the bench's event loop (woken with call_soon_threadsafe)."""

    loop: asyncio.AbstractEventLoop
    on_officer: Any  # callable(Arrival), run on the bench's loop
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrivals: list[Arrival] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's API
        at = time.perf_counter()
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        to_header = [address for _name, address in getaddresses([str(v) for v in message.get_all("To", [])])]
        recipients = tuple(sorted({a.strip().lower() for a in [*envelope.rcpt_tos, *to_header] if a.strip()}))
        body = message.get_body(("plain",))
        link = ESCALATION_LINK.search(body.get_content() if body is not None else "")
        arrival = Arrival(at, recipients, link.group(1) if link else "")
        with self.lock:
            self.arrivals.append(arrival)
        if OFFICER in recipients:
            self.loop.call_soon_threadsafe(self.on_officer, arrival)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def start_app(smtp_port: int, workdir: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "COSA_ENV": "test",
        "COSA_SCHEDULER": "1",
        "COSA_DEMO_DATA": "1",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_TLS": "none",
        "BASE_URL": base,
    }
    env.setdefault("DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3")
    seeded = subprocess.run(
        [sys.executable, "-m", "cosa", "seed-demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if seeded.returncode != 0:
        raise BenchFailed(f"`python -m cosa seed-demo` failed ({seeded.returncode}):\n{seeded.stdout}{seeded.stderr}")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "cosa.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchFailed(f"the app exited with status {process.returncode}:\n{tail(log_path)}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_app(process)
    raise BenchFailed(f"the app did not answer /healthz within 60 s:\n{tail(log_path)}")


def stop_app(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def page_errors(html: str) -> str:
    found = [" ".join(TAGS.sub("", m).split()) for m in ERROR_MESSAGE.findall(html)]
    return "; ".join(found) or html[:300].replace("\n", " ")


async def sign_in(base: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=30)
    await client.get("/login")
    response = await client.post(
        "/login", data={"email": VOLUNTEER, "password": PASSWORD, "_csrf_token": client.cookies["csrftoken"]}
    )
    if response.status_code != 303:
        await client.aclose()
        raise BenchFailed(f"signing in as {VOLUNTEER} gave HTTP {response.status_code}: {page_errors(response.text)}")
    return client


async def find_circle(client: httpx.AsyncClient) -> str:
    home = await client.get("/")
    if home.status_code != 200:
        raise BenchFailed(f"GET / as {VOLUNTEER} gave HTTP {home.status_code}")
    link = re.search(r'href="/circles/([0-9a-fA-F-]{36})"[^>]*>\s*' + re.escape(CIRCLE) + r"\s*<", home.text)
    if link is None:
        raise BenchFailed(f'no link "{CIRCLE}" on the home page of {VOLUNTEER}')
    circle = link.group(1)
    form = await client.get(f"/circles/{circle}/concerns/new")
    if form.status_code != 200:
        raise BenchFailed(f"GET /circles/{circle}/concerns/new gave HTTP {form.status_code} (is the route there?)")
    return circle


@dataclass
class Run:
    count: int
    concurrency: int
    email_timeout: float
    outstanding: deque[float] = field(default_factory=deque)  # send times of concerns with no email yet
    latencies: list[float] = field(default_factory=list)
    post_times: list[float] = field(default_factory=list)
    concern_ids: list[str] = field(default_factory=list)
    escalations: Counter[str] = field(default_factory=Counter)
    unpaired: int = 0  # officer emails with no outstanding POST (a redelivery, or not ours)
    sent: int = 0
    slots: asyncio.Semaphore = field(init=False)
    all_in: asyncio.Event = field(default_factory=asyncio.Event)
    last_progress: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.concurrency)

    def on_officer(self, arrival: Arrival) -> None:
        self.escalations[arrival.escalation] += 1
        if not self.outstanding:
            self.unpaired += 1
            return
        self.latencies.append(arrival.at - self.outstanding.popleft())
        self.last_progress = time.perf_counter()
        self.slots.release()
        if len(self.latencies) >= self.count:
            self.all_in.set()

    async def raise_one(self, client: httpx.AsyncClient, circle: str, number: int) -> None:
        data = {
            "_csrf_token": client.cookies["csrftoken"],
            "severity": "urgent",
            "description": f"Benchmark urgent concern {number}: seen near the school gates.",
            "seen_at": datetime.now(LONDON).strftime("%Y-%m-%dT%H:%M"),
        }
        started = time.perf_counter()
        self.outstanding.append(started)
        response = await client.post(f"/circles/{circle}/concerns/new", data=data)
        self.post_times.append(time.perf_counter() - started)
        location = CONCERN_LOCATION.search(response.headers.get("location", ""))
        if response.status_code != 303 or location is None:
            raise BenchFailed(
                f"concern {number}: POST /circles/{circle}/concerns/new gave HTTP {response.status_code}"
                f" (expected 303 to /concerns/<id>): {page_errors(response.text)}"
            )
        self.concern_ids.append(location.group(1))

    async def worker(self, client: httpx.AsyncClient, circle: str) -> None:
        while True:
            await self.slots.acquire()
            if self.sent >= self.count:
                self.slots.release()
                return
            self.sent += 1
            await self.raise_one(client, circle, self.sent)

    async def watchdog(self) -> None:
        while not self.all_in.is_set():
            await asyncio.sleep(0.5)
            if self.outstanding and time.perf_counter() - max(self.last_progress, self.outstanding[0]) > (
                self.email_timeout
            ):
                raise BenchFailed(
                    f"no escalation email to {OFFICER} within {self.email_timeout:g} s "
                    f"({len(self.latencies)} of {self.count} received, {len(self.outstanding)} outstanding)"
                )

    async def go(self, clients: list[httpx.AsyncClient], circle: str) -> None:
        workers = [asyncio.create_task(self.worker(c, circle)) for c in clients]
        watchdog = asyncio.create_task(self.watchdog())
        waiting = {*workers, watchdog, asyncio.create_task(self.all_in.wait())}
        try:
            while not self.all_in.is_set():
                done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # re-raises a worker's or the watchdog's failure
        finally:
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)


def report(run: Run, recorder: Recorder, database: str) -> bool:
    ms = [1000 * x for x in run.latencies]
    with recorder.lock:
        arrivals = list(recorder.arrivals)
    others: Counter[str] = Counter()
    for arrival in arrivals:
        if OFFICER not in arrival.recipients:
            others[", ".join(arrival.recipients) or "(no recipient)"] += 1
    p99 = percentile(ms, 99)
    print(f"database: {database}; concurrency {run.concurrency}")
    print(
        f"escalation email latency (POST sent -> SMTP server has the email to {OFFICER}): "
        f"count {len(ms)}, p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms, "
        f"p99 {p99:.1f} ms, max {max(ms):.1f} ms, mean {statistics.fmean(ms):.1f} ms, min {min(ms):.1f} ms"
    )
    post_ms = [1000 * x for x in run.post_times]
    print(
        f"POST response time: p50 {percentile(post_ms, 50):.1f} ms, p95 {percentile(post_ms, 95):.1f} ms, "
        f"p99 {percentile(post_ms, 99):.1f} ms, max {max(post_ms):.1f} ms"
    )
    ok = p99 < TARGET_P99_MS
    print(f"target p99 < {TARGET_P99_MS:.0f} ms: {'MET' if ok else 'NOT MET'}")
    officer_total = sum(1 for a in arrivals if OFFICER in a.recipients)
    repeated = sum(n - 1 for link, n in run.escalations.items() if link and n > 1)
    no_link = run.escalations.get("", 0)
    print(
        f"emails to {OFFICER}: {officer_total} ({len(set(run.concern_ids))} distinct concerns raised, "
        f"{len([k for k in run.escalations if k])} distinct escalation links, {repeated} repeated, "
        f"{no_link} without a link, {run.unpaired} with no outstanding POST)"
    )
    if others:
        print("emails to other recipients: " + ", ".join(f"{who}: {n}" for who, n in sorted(others.items())))
    else:
        print("emails to other recipients: none")
    return ok


async def bench(args: argparse.Namespace, workdir: Path) -> bool:
    loop = asyncio.get_running_loop()
    run = Run(args.count, args.concurrency, args.email_timeout)
    recorder = Recorder(loop, run.on_officer)
    smtp_port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    log_path = workdir / "server.log"
    process = None
    clients: list[httpx.AsyncClient] = []
    try:
        process, base = await asyncio.to_thread(start_app, smtp_port, workdir, log_path)
        clients = [await sign_in(base) for _ in range(args.concurrency)]
        circle = await find_circle(clients[0])
        try:
            await asyncio.wait_for(run.go(clients, circle), timeout=args.timeout)
        except TimeoutError:
            raise BenchFailed(
                f"the run took longer than {args.timeout:g} s "
                f"({len(run.latencies)} of {args.count} escalation emails received)"
            ) from None
        await asyncio.sleep(args.grace)  # stragglers: a repeated email, a late coordinator email
        database = os.environ.get("DATABASE_URL", "").split("@")[-1] or "SQLite (temporary file)"
        return report(run, recorder, database)
    except BenchFailed as failure:
        raise BenchFailed(f"{failure}\n--- server log (last lines) ---\n{tail(log_path)}") from None
    finally:
        for client in clients:
            await client.aclose()
        if process is not None:
            await asyncio.to_thread(stop_app, process)
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200, help="urgent concerns to raise (200)")
    parser.add_argument("--concurrency", type=int, default=1, help="concerns outstanding at once (1)")
    parser.add_argument("--email-timeout", type=float, default=30, help="seconds to wait for one email (30)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds for the whole run (300)")
    parser.add_argument("--grace", type=float, default=1.0, help="seconds to wait for stragglers after (1)")
    args = parser.parse_args()
    if args.count < 1 or args.concurrency < 1:
        parser.error("--count and --concurrency must be at least 1")
    workdir = Path(tempfile.mkdtemp(prefix="cosa-escalation-"))
    try:
        ok = asyncio.run(bench(args, workdir))
    except BenchFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not ok:
        print("(the target is a figure to report: the exit status stays 0)")


if __name__ == "__main__":
    main()
