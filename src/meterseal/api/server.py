"""Serving the app with uvicorn inside an asyncio loop the caller already runs.

``meterseal serve`` and ``meterseal demo`` run the head-end in their event loop; they call
:func:`start_console` in the same loop to serve the console beside it, and
:meth:`RunningConsole.stop` at shutdown. uvicorn's own signal handling is switched off:
the host process owns SIGINT and SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from meterseal.errors import MeterSealError
from meterseal.http_server import bind


class ConsoleServeError(MeterSealError):
    """The console could not listen (address in use, not permitted)."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process that embeds the console handles signals itself


@dataclass(slots=True)
class RunningConsole:
    """A console being served: its URL, and how to stop it."""

    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        """Stop accepting, finish the requests in flight, return when closed."""
        self.server.should_exit = True
        await self.task


def console_url(host: str, port: int, *, https: bool = False) -> str:
    """The URL to print for a console listening on ``host:port``."""
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if https else 'http'}://{shown}:{port}/"


async def start_console(
    app: FastAPI,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    tls: tuple[Path, Path] | None = None,
) -> RunningConsole:
    """Serve ``app`` on ``host:port`` (0: any free port) in the running loop.

    ``tls``: a certificate chain file and its private key file (PEM) to serve HTTPS.
    Returns once the server accepts connections; ``url`` names the bound port.
    """
    sock = bind(host, port, service="the console", error=ConsoleServeError)
    cert, key = (None, None) if tls is None else tls
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ssl_certfile=cert,
        ssl_keyfile=key,
    )
    server = _Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            sock.close()
            task.result()
            raise ConsoleServeError("the console stopped while starting")
        await asyncio.sleep(0.01)
    bound_port = sock.getsockname()[1]
    return RunningConsole(console_url(host, bound_port, https=tls is not None), server, task)
