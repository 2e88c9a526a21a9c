"""Admission control: at most N requests run at once in a process, across every route, in arrival order."""

from __future__ import annotations

import asyncio
from typing import Any

from cosa.app import admission_control


async def test_requests_beyond_the_limit_wait_their_turn_across_routes():
    running = 0
    most = 0
    order: list[int] = []

    async def route(scope: Any, receive: Any, send: Any) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        order.append(scope["n"])
        await asyncio.sleep(0.01)
        running -= 1

    limit = admission_control(3)
    # Litestar builds a middleware stack per route: the limit must hold across all of them.
    routes = [limit(route), limit(route), limit(route)]
    await asyncio.gather(*(routes[n % 3]({"type": "http", "n": n}, None, None) for n in range(30)))
    assert most == 3
    assert order == list(range(30))  # first come, first served


async def test_zero_means_no_limit_and_websockets_are_not_held():
    async def route(scope: Any, receive: Any, send: Any) -> None:
        return None

    assert admission_control(0)(route) is route
    await admission_control(1)(route)({"type": "lifespan"}, None, None)
