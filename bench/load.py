"""A time-bounded mixed load on the real app (uvicorn on loopback) with a national-scale database.

    .venv/bin/python bench/load.py [--users 50] [--seconds 60] [--processes 1] [--database-url URL]

Without --database-url, a SQLite file is generated into a temporary directory with national_data.py
(about half a minute) and removed afterwards. A URL given must point at a database national_data.py
filled; the run adds to it (check-ins, sessions, audit rows), so copy it first to compare runs.

The app runs with COSA_ENV=test (no scheduler or outbox worker) under `uvicorn --workers PROCESSES`.
N virtual users sign in, 8 at a time (about one in ten a coordinator, the rest volunteers serving in an
open circle); then N concurrent loops, each one request at a time with no think time, run the mix:

- 70% volunteer home page: GET /
- 20% check-in: GET /check-ins/new (and the circle's form when the volunteer has two circles), then
  POST /check-ins with the form's circle and idempotency key; 303 expected
- 10% coordinator dashboard: GET /

Prints per kind and overall: requests, errors (HTTP status outside 2xx/3xx, an unexpected status, or no
answer), requests per second, p50/p95/p99 latency; the server's peak RSS (VmHWM of the uvicorn process
and its children, during the sign-ins and then during the load) and CPU time; where the machine's CPU
went (the load generator shares it); and what the server log says: "database is locked" (also when only
its OperationalError at BEGIN is logged), other unhandled errors, and the app's own timing of each route.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from random import Random
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
LONDON = ZoneInfo("Europe/London")
HOME, FORM, POST, DASHBOARD = "volunteer home", "check-in form", "check-in post", "coordinator dashboard"
KINDS = (HOME, FORM, POST, DASHBOARD)
EXPECTED = {HOME: {200}, FORM: {200}, POST: {303}, DASHBOARD: {200}}
APP_LOG_LINE = re.compile(r" INFO cosa\.web (GET|POST) (\S+) (\d{3}) ([\d.]+)ms$")


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: {k: Counter() for k in KINDS})

    def record(self, kind: str, started: float, status: int | str) -> None:
        self.latencies[kind].append(time.perf_counter() - started)
        self.statuses[kind][str(status)] += 1
        ok = isinstance(status, int) and 200 <= status < 400 and status in EXPECTED[kind]
        if not ok:
            self.errors[kind] += 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def generate(workdir: Path) -> str:
    url = f"sqlite:///{workdir}/national.sqlite3"
    print(f"Generating the national data set into {workdir} ...", flush=True)
    subprocess.run(
        [sys.executable, str(BENCH / "national_data.py")],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
    )
    return url


def start_server(url: str, processes: int, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "COSA_ENV": "test", "DATABASE_URL": url, "BASE_URL": f"http://127.0.0.1:{port}"}
    command = [sys.executable, "-m", "uvicorn", "--factory", "cosa.app:create_app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(processes), "--no-access-log", "--log-level", "warning"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.terminate()
    sys.stdout.write(log_path.read_text(errors="replace")[-3000:])
    raise SystemExit("the app did not start (server log above)")


def process_tree(root: int) -> list[int]:
    """The process and all its descendants, from the parent ids in /proc/*/stat."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy (all processes), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of each process named postgres (the database server, when it runs on this machine)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def reset_peaks(pids: list[int]) -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+), so the peak read later is the load's, not the sign-ins'."""
    done = True
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            done = False
    return done


def memory_and_cpu(pids: list[int]) -> list[tuple[int, str, int, float]]:
    """(pid, command, VmHWM in KiB, user+system CPU seconds) of each live process."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        hwm = int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]
        fields = stat.rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        role = "resource tracker" if "resource_tracker" in cmdline else "worker" if "spawn_main" in cmdline else ""
        out.append((pid, role or "uvicorn", hwm, cpu))
    return out


async def pick_users(url: str, volunteers: int, coordinators: int) -> tuple[list[str], list[str], str]:
    os.environ["DATABASE_URL"] = url  # before piccolo_conf is imported, which reads it
    sys.path.insert(0, str(BENCH))
    import national_data

    return (
        await national_data.volunteer_logins(volunteers),
        await national_data.coordinator_logins(coordinators),
        national_data.PASSWORD,
    )


async def sign_in(base: str, email: str, password: str) -> httpx.AsyncClient:
    import national_data
    import signin

    client = httpx.AsyncClient(base_url=base, timeout=120, follow_redirects=False)
    await signin.sign_in(client, email, password, national_data.TOTP_SECRET)
    return client


def field_value(html: str, name: str) -> str | None:
    found = re.search(rf'name="{name}"(?: type="hidden")? value="([^"]*)"', html)
    return found.group(1) if found else None


async def timed_get(client: httpx.AsyncClient, stats: Stats, kind: str, path: str, **params: str) -> str | None:
    started = time.perf_counter()
    try:
        response = await client.get(path, params=params or None)
    except httpx.HTTPError as error:
        stats.record(kind, started, type(error).__name__)
        return None
    stats.record(kind, started, response.status_code)
    return response.text if response.status_code == 200 else None


async def check_in(client: httpx.AsyncClient, stats: Stats, rng: Random) -> None:
    html = await timed_get(client, stats, FORM, "/check-ins/new")
    if html is None:
        return
    if field_value(html, "idempotency_key") is None:  # in two circles: the page asks which one
        choices = re.findall(r'name="circle" type="radio" value="([^"]+)"', html)
        if not choices:
            stats.errors["check-in: no circle offered"] += 1
            return
        html = await timed_get(client, stats, FORM, "/check-ins/new", circle=rng.choice(choices))
        if html is None:
            return
    key, circle = field_value(html, "idempotency_key"), field_value(html, "circle")
    if not key or not circle:
        stats.errors["check-in: form without circle or key"] += 1
        return
    data = {
        "_csrf_token": client.cookies["csrftoken"],
        "circle": circle,
        "idempotency_key": key,
        "happened_at": datetime.now(LONDON).strftime("%Y-%m-%dT%H:%M"),
        "method": "phone",
        "notes": "Load test: a quick call, all fine.",
    }
    started = time.perf_counter()
    try:
        response = await client.post("/check-ins", data=data)
    except httpx.HTTPError as error:
        stats.record(POST, started, type(error).__name__)
        return
    stats.record(POST, started, response.status_code)


async def run_load(
    volunteers: list[httpx.AsyncClient],
    coordinators: list[httpx.AsyncClient],
    users: int,
    seconds: float,
    mix: tuple[int, ...],
) -> tuple[Stats, float]:
    stats = Stats()
    deadline = time.perf_counter() + seconds

    async def worker(index: int) -> None:
        rng = Random(index)
        volunteer = volunteers[index % len(volunteers)]
        coordinator = coordinators[index % len(coordinators)]
        while time.perf_counter() < deadline:
            action = rng.choices(("home", "check-in", "dashboard"), weights=mix)[0]
            if action == "home":
                await timed_get(volunteer, stats, HOME, "/")
            elif action == "check-in":
                await check_in(volunteer, stats, rng)
            else:
                await timed_get(coordinator, stats, DASHBOARD, "/")

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(users)))
    return stats, time.perf_counter() - started


def percentile(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


def report(stats: Stats, elapsed: float) -> None:
    print(f"\n{'kind':<24} {'requests':>9} {'errors':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    everything: list[float] = []
    for kind in (*KINDS, "overall"):
        values = everything if kind == "overall" else stats.latencies[kind]
        errors = sum(stats.errors.values()) if kind == "overall" else stats.errors[kind]
        print(
            f"{kind:<24} {len(values):>9} {errors:>7} {len(values) / elapsed:>8.1f} "
            f"{1000 * percentile(values, 50):>8.1f} {1000 * percentile(values, 95):>8.1f} "
            f"{1000 * percentile(values, 99):>8.1f}"
        )
        if kind != "overall":
            everything.extend(values)
    print("\nstatus codes:")
    for kind in KINDS:
        print(f"  {kind:<22} " + ", ".join(f"{code}: {n}" for code, n in sorted(stats.statuses[kind].items())))
    other = {k: n for k, n in stats.errors.items() if k not in KINDS}
    if other:
        print("  other errors:          " + ", ".join(f"{k}: {n}" for k, n in other.items()))


def report_server_log(text: str) -> None:
    lines = text.splitlines()
    locked = [line for line in lines if "database is locked" in line]
    # The app logs an unhandled error's class and where, never its message. An OperationalError raised by
    # BEGIN in Piccolo's SQLite engine is SQLite's busy timeout (15 s) running out: "database is locked".
    busy = sum("unhandled OperationalError" in line and "sqlite.py:" in line and ":begin" in line for line in lines)
    unhandled = Counter(line.split(" ERROR ", 1)[1] for line in lines if " ERROR " in line)
    tracebacks = sum(line.startswith("Traceback") for line in lines)
    print(
        f"\nserver log: {len(lines)} lines; 'database is locked': {len(locked)} in the text, {busy} more as "
        f"OperationalError at BEGIN (SQLite busy timeout; the app logs no message); tracebacks: {tracebacks}"
    )
    for message, n in unhandled.most_common(10):
        print(f"  {n:>6} x ERROR {message}")
    for line in locked[:5]:
        print(f"  {line[:200]}")
    timings: dict[tuple[str, str], list[float]] = {}
    statuses: Counter[tuple[str, str, str]] = Counter()
    for line in lines:
        found = APP_LOG_LINE.search(line)
        if found:
            method, route, status, ms = found.groups()
            timings.setdefault((method, route), []).append(float(ms))
            statuses[(method, route, status)] += 1
    if timings:
        print("time in the app per route (its own log, from the session middleware to the response start):")
        print(f"  {'route':<28} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  statuses")
        for (method, route), values in sorted(timings.items(), key=lambda item: -len(item[1])):
            codes = ", ".join(f"{s}: {n}" for (m, r, s), n in sorted(statuses.items()) if (m, r) == (method, route))
            print(
                f"  {method + ' ' + route:<28} {len(values):>7} {percentile(values, 50):>8.1f} "
                f"{percentile(values, 95):>8.1f} {percentile(values, 99):>8.1f} {max(values):>8.1f}  {codes}"
            )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50, help="virtual users, also the number of concurrent loops")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--processes", type=int, default=1, help="uvicorn --workers")
    parser.add_argument("--database-url", default="", help="a database national_data.py filled (default: generate)")
    parser.add_argument("--mix", default="70,20,10", help="volunteer home, check-in, coordinator dashboard weights")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, server log)")
    args = parser.parse_args()
    mix = tuple(int(x) for x in args.mix.split(","))
    if len(mix) != 3 or args.users < 2:
        raise SystemExit("--mix takes three weights, and --users must be at least 2")

    workdir = Path(tempfile.mkdtemp(prefix="cosa-load-"))
    try:
        await run(args, mix, workdir)
    finally:
        if args.keep:
            print(f"\nkept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


async def run(args: argparse.Namespace, mix: tuple[int, ...], workdir: Path) -> None:
    url = args.database_url or generate(workdir)
    coordinators_wanted = max(1, round(args.users * mix[2] / sum(mix)))
    volunteer_emails, coordinator_emails, password = await pick_users(
        url, args.users - coordinators_wanted, coordinators_wanted
    )
    if not volunteer_emails or not coordinator_emails:
        raise SystemExit(f"{url} has no volunteers serving in circles or no coordinators: run national_data.py")

    log_path = workdir / "server.log"
    process, base = start_server(url, args.processes, log_path)
    clients: list[httpx.AsyncClient] = []
    try:
        gate = asyncio.Semaphore(8)  # sign-ins hash a password each (argon2): not all at once

        async def signed_in(email: str) -> httpx.AsyncClient:
            async with gate:
                client = await sign_in(base, email, password)
                clients.append(client)
                return client

        started = time.perf_counter()
        volunteers = await asyncio.gather(*(signed_in(e) for e in volunteer_emails))
        coordinators = await asyncio.gather(*(signed_in(e) for e in coordinator_emails))
        scheme = "postgresql" if url.startswith("postgres") else "sqlite"
        print(
            f"\n{scheme}, {args.processes} server process(es); {len(clients)} users signed in "
            f"({len(volunteers)} volunteers, {len(coordinators)} coordinators) in "
            f"{time.perf_counter() - started:.1f} s; {args.users} concurrent loops for {args.seconds:g} s, "
            f"mix {args.mix}"
        )
        before = memory_and_cpu(process_tree(process.pid))
        reset = reset_peaks([pid for pid, *_ in before])
        load_before, machine_before, postgres_before = os.getloadavg()[0], busy_cpu_seconds(), postgres_cpu()
        cpu_before = time.process_time()
        stats, elapsed = await run_load(volunteers, coordinators, args.users, args.seconds, mix)
        client_cpu = time.process_time() - cpu_before
        machine_cpu = busy_cpu_seconds() - machine_before
        database_cpu = sum(cpu - postgres_before.get(pid, 0.0) for pid, cpu in postgres_cpu().items())
        usage = memory_and_cpu(process_tree(process.pid))
    finally:
        for client in clients:
            await client.aclose()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    report(stats, elapsed)
    print(f"\nelapsed {elapsed:.1f} s; load generator CPU {client_cpu:.1f} s")
    signing_in = {pid: (hwm, cpu) for pid, _, hwm, cpu in before}
    print(
        "server processes (peak RSS is VmHWM: up to the end of the sign-ins, whose argon2 hashes take 64 MiB "
        f"each, then {'during the load alone' if reset else 'since start (could not reset it)'}; CPU is user+system):"
    )
    for pid, command, hwm, cpu in usage:
        hwm_then, cpu_then = signing_in.get(pid, (0, 0.0))
        print(
            f"  pid {pid:<8} {command:<16} peak RSS sign-ins {hwm_then / 1024:6.1f} MiB, load {hwm / 1024:6.1f} MiB;"
            f"  CPU during the load {cpu - cpu_then:5.1f} s"
        )
    load_cpu = sum(u[3] for u in usage) - sum(cpu for _, cpu in signing_in.values())
    print(
        f"  total: peak RSS sign-ins {sum(h for h, _ in signing_in.values()) / 1024:.1f} MiB, "
        f"load {sum(u[2] for u in usage) / 1024:.1f} MiB; CPU during the load {load_cpu:.1f} s "
        f"of {os.cpu_count()} CPUs x {elapsed:.1f} s"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, busy {machine_cpu:.1f} CPU-seconds during the load: the app {load_cpu:.1f}, "
        f"the load generator {client_cpu:.1f}, PostgreSQL processes {database_cpu:.1f}, anything else "
        f"{max(0.0, machine_cpu - load_cpu - client_cpu - database_cpu):.1f} (figures are comparable only when "
        f"that is near 0); 1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    report_server_log(log_path.read_text(errors="replace"))


if __name__ == "__main__":
    asyncio.run(main())
