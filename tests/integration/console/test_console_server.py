"""``start_console``: uvicorn in the caller's event loop, beside other work, stopped cleanly."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from console_support import Console

from meterseal.api.server import ConsoleServeError, console_url, start_console
from meterseal.headend.testing import async_test

pytest_plugins = ["console_fixtures"]


@async_test
async def test_the_console_serves_in_the_running_loop_and_stops(sqlite_console: Console) -> None:
    ticks = 0

    async def other_work() -> None:  # the head-end, in meterseal serve
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    beside = asyncio.create_task(other_work())
    running = await start_console(sqlite_console.app, "127.0.0.1", 0)
    try:
        assert running.url.startswith("http://127.0.0.1:")
        token = sqlite_console.tokens["readonly"]
        async with httpx.AsyncClient(base_url=running.url) as client:
            login = await client.get("/login")
            fleet = await client.get("/api/fleet", headers={"Authorization": f"Bearer {token}"})
        assert login.status_code == 200
        assert fleet.json()["meters"] == 4
    finally:
        await running.stop()
    assert running.task.done()
    assert ticks > 0
    beside.cancel()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(running.url)


@async_test
async def test_a_taken_port_is_a_clear_error(sqlite_console: Console) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConsoleServeError, match="cannot listen"):
            await start_console(sqlite_console.app, "127.0.0.1", port)


def test_console_urls_bracket_ipv6() -> None:
    assert console_url("::1", 8443, https=True) == "https://[::1]:8443/"
    assert console_url("127.0.0.1", 80) == "http://127.0.0.1:80/"
