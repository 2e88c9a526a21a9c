"""Scheduled jobs: every feature lists its jobs in `JOBS` of its jobs module; this runs them all.

Every process runs the same scheduler, so each job must be idempotent and claim its work from the
database (see STACK.md). Tests call the job functions directly with an explicit `now`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from cosa.settings import Settings


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[[Settings], Awaitable[Any]]
    seconds: int


def all_jobs() -> list[Job]:
    from circles import escalation_jobs, retention
    from circles import jobs as circle_jobs
    from cosa import jobs

    return [*jobs.JOBS, *circle_jobs.JOBS, *escalation_jobs.JOBS, *retention.JOBS]


def start_scheduler(settings: Settings) -> AsyncIOScheduler:
    """Start in the running event loop (the app's lifespan), never at import."""
    scheduler = AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60})
    for job in all_jobs():
        scheduler.add_job(job.func, "interval", seconds=job.seconds, args=[settings], id=job.name, name=job.name)
    scheduler.start()
    return scheduler
