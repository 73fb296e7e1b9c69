"""The loopback head-end (:mod:`meterseal.meter.testing`) over asyncio TCP, for tests.

NOT ``meterseal.headend``: a small server that lets the meter client, the fleet simulator
and the attackers run against real sockets on 127.0.0.1. It enforces the head-end limits
of docs/protocol.md section 5 that a meter can observe: the handshake must complete within
``handshake_timeout``, an idle session is closed after ``idle_timeout``, framing and EDHOC
errors close the connection. :meth:`LoopbackServer.stop` also closes every live
connection, which is what a head-end crash looks like to a meter; :meth:`start` again on
the same port is the restart.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from types import TracebackType

from meterseal.meter.testing import LoopbackConnection, LoopbackHeadend


class LoopbackServer:
    """Serves a :class:`LoopbackHeadend` on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        headend: LoopbackHeadend,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        handshake_timeout: float = 10.0,
        idle_timeout: float = 120.0,
    ) -> None:
        self.headend = headend
        self.host = host
        self.port = port
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.peak_connections = 0
        """The most connections open at once (tests of the fleet's concurrency limit)."""

    async def start(self) -> None:
        """Listen; remember the port actually bound (for a restart on the same port)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and cut every live connection (a head-end crash)."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> LoopbackServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.peak_connections = max(self.peak_connections, len(self._writers))
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        connection = self.headend.connection()
        try:
            with suppress(OSError, TimeoutError):
                await self._pump(reader, writer, connection)
        finally:
            self._writers.discard(writer)
            writer.close()
            with suppress(OSError, ConnectionError):
                await writer.wait_closed()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connection: LoopbackConnection,
    ) -> None:
        """Bytes in, bytes out, until either side closes or a time limit passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.handshake_timeout
        while not connection.closed:
            limit = self.idle_timeout if connection.established else deadline - loop.time()
            data = await asyncio.wait_for(reader.read(64 * 1024), max(limit, 0.0))
            if not data:
                return
            reply = connection.receive(data)
            if reply:
                writer.write(reply)
                await writer.drain()
