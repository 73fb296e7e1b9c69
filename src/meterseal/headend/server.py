"""The head-end's entry points: start it (tests, the demo) or run it until a signal (serve).

Two modes, one code path per connection:

* ``workers == 1``: in-process. One asyncio loop (the caller's) accepts connections and
  runs TCP, EDHOC, records and signature checks; two store threads (writer, reader) do
  the database work. For tests, the demo and small fleets.
* ``workers > 1``: :mod:`meterseal.headend.workers`. N processes accept on one port
  (``SO_REUSEPORT``), each a complete in-process head-end with its own store
  connections, so that every core verifies signatures and decrypts records. The
  processes share nothing but the database (SQLite serialises their write transactions,
  PostgreSQL runs them side by side).

Both return a handle: ``.port``, ``.stats()``, ``await .queue_command(...)``,
``await .revoke(...)`` and ``await .close()`` (graceful: whatever arrived is stored and
acked, sessions get a CLOSE record, the ledger outbox is forwarded, the stores are closed).

The ledger. With a ledger (``ledger=`` or ``config.ledger``), one
:class:`~meterseal.headend.ledger_forwarder.LedgerForwarder` drains the store's ledger
outbox into it: beside the core in-process, in the parent with workers (one per store).
``.forwarder`` is it (None without a ledger).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from functools import partial
from typing import Protocol

from meterseal.crypto.interfaces import Rng
from meterseal.headend.commands import DEFAULT_OPERATOR
from meterseal.headend.config import HeadendConfig, KeySource, StoreFactory, open_keys
from meterseal.headend.connection import MeterConnection
from meterseal.headend.core import HeadendCore
from meterseal.headend.ledger_forwarder import NO_LEDGER, LedgerForwarder, open_ledger
from meterseal.headend.stats import HeadendStats
from meterseal.ledger.interface import Ledger
from meterseal.messages import CommandParams
from meterseal.store import CommandRow, open_store


class HeadendHandle(Protocol):
    """A running head-end, in-process or multi-process."""

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        ...

    @property
    def forwarder(self) -> LedgerForwarder | None:
        """The ledger forwarder of this head-end's store, if it has a ledger."""
        ...

    def stats(self) -> HeadendStats:
        """The counters now (summed over the workers)."""
        ...

    async def queue_command(
        self,
        meter_id: str,
        params: CommandParams,
        ttl: int | None = None,
        *,
        operator: str = DEFAULT_OPERATOR,
    ) -> CommandRow:
        """Sign and queue a command (and its ledger leaf); a connected meter gets it at once."""
        ...

    async def revoke(self, meter_id: str) -> None:
        """Revoke a meter: refused from now on, its live session closed."""
        ...

    async def close(self) -> HeadendStats:
        """Shut down gracefully; return the final counters."""
        ...


class LocalHeadend:
    """The in-process head-end (``workers == 1``)."""

    def __init__(
        self, core: HeadendCore, server: asyncio.Server, forwarder: LedgerForwarder | None = None
    ) -> None:
        self.core = core
        self._server = server
        self._port: int = server.sockets[0].getsockname()[1]
        self._forwarder = forwarder

    @property
    def forwarder(self) -> LedgerForwarder | None:
        """The ledger forwarder of this head-end's store, if it has a ledger."""
        return self._forwarder

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return self._port

    def stats(self) -> HeadendStats:
        """A copy of the counters (the one process counted in ``workers_alive``)."""
        stats = self.core.snapshot()
        stats.workers_alive = 1
        return stats

    async def queue_command(
        self,
        meter_id: str,
        params: CommandParams,
        ttl: int | None = None,
        *,
        operator: str = DEFAULT_OPERATOR,
    ) -> CommandRow:
        """Sign and queue a command (and its ledger leaf); a connected meter gets it at once."""
        return await self.core.queue_command(meter_id, params, ttl, operator=operator)

    async def revoke(self, meter_id: str) -> None:
        """Revoke a meter: refused from now on, its live session closed."""
        await self.core.revoke(meter_id)

    async def close(self) -> HeadendStats:
        """Stop accepting, drain, close the sessions and the store, forward the ledger
        outbox (up to ``shutdown_grace`` seconds); the final counters."""
        self._server.close()
        await self.core.close()
        if self._forwarder is not None:
            await self._forwarder.close(self.core.config.shutdown_grace)
        return self.stats()


def default_store_factory(config: HeadendConfig) -> StoreFactory:
    """Opens (and migrates) the store that ``config.store_url`` names."""
    return partial(open_store, config.store_url)


async def start_headend(
    config: HeadendConfig,
    keys: KeySource,
    *,
    store_factory: StoreFactory | None = None,
    ledger: Ledger | None = None,
    rng: Rng = os.urandom,
    clock: Callable[[], float] = time.time,
) -> HeadendHandle:
    """Start a head-end on the running loop (``workers > 1``: start worker processes).

    With workers, ``keys`` and ``store_factory`` must be picklable (module-level
    functions or partials of them): each worker process calls them itself. ``ledger``
    (the caller's, left open) overrides ``config.ledger`` (opened here, closed at the end).
    """
    factory = store_factory or default_store_factory(config)
    if config.workers > 1:
        from meterseal.headend.workers import start_workers  # noqa: PLC0415 - optional mode

        return await start_workers(
            config, keys, store_factory, partial(start_forwarder, config, factory, ledger)
        )
    core = HeadendCore(config, open_keys(keys), store_factory=factory, rng=rng, clock=clock)
    await core.start()
    forwarder = await start_forwarder(config, factory, ledger)
    server = await asyncio.get_running_loop().create_server(
        partial(MeterConnection, core), config.host, config.port, backlog=config.backlog
    )
    return LocalHeadend(core, server, forwarder)


async def start_forwarder(
    config: HeadendConfig, factory: StoreFactory, ledger: Ledger | None
) -> LedgerForwarder | None:
    """The store's one ledger forwarder, started: for ``ledger``, else the ledger that
    ``config.ledger`` names (None: no ledger, leaves stay queued in the store)."""
    owned = ledger is None
    if ledger is None:
        if config.ledger is None or config.ledger == NO_LEDGER:
            return None
        ledger = open_ledger(config.ledger)
    forwarder = LedgerForwarder(
        factory,
        ledger,
        chunk=config.ledger_chunk,
        idle=config.ledger_idle,
        close_ledger=owned,
    )
    await forwarder.start()
    return forwarder


def run_headend(
    config: HeadendConfig,
    keys: KeySource,
    *,
    store_factory: StoreFactory | None = None,
    on_ready: Callable[[HeadendHandle], None] | None = None,
) -> HeadendStats:
    """Run a head-end until SIGINT or SIGTERM; return the final counters (``serve``)."""
    return asyncio.run(_serve(config, keys, store_factory, on_ready))


async def _serve(
    config: HeadendConfig,
    keys: KeySource,
    store_factory: StoreFactory | None,
    on_ready: Callable[[HeadendHandle], None] | None,
) -> HeadendStats:
    handle = await start_headend(config, keys, store_factory=store_factory)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if on_ready is not None:
        on_ready(handle)
    await stop.wait()
    return await handle.close()
