"""What every connection of one head-end process shares: store runners, registry, ingest
pipeline, command dispatcher, counters, the live connections and the timeout sweeper.

One :class:`HeadendCore` runs per process: the in-process head-end has one, and each
worker process of the multi-process head-end has its own (its own store connections,
its own ingest pipeline). A meter has at most one live session per process: a newer
connection of the same meter replaces the older one, which is closed (a meter that
reconnects after its NAT mapping died should not wait for the idle timeout).

Each core also watches the signed revocation list (``_watch_revocations``, about once a
second, :mod:`meterseal.headend.registry`): a revocation written by the security server
in another process closes the revoked meters' sessions in every worker process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any

from meterseal.crypto.interfaces import Rng
from meterseal.edhoc import ResponderConfig
from meterseal.headend.commands import DEFAULT_OPERATOR, CommandDispatcher
from meterseal.headend.config import (
    HeadendConfig,
    HeadendKeys,
    StoreFactory,
    identity_lookup,
    offered_suites,
)
from meterseal.headend.connection import MeterConnection
from meterseal.headend.events import CloseReason, SessionEstablished
from meterseal.headend.ingest import IngestPipeline
from meterseal.headend.ledger_forwarder import LeafBuffer, authentication_leaf
from meterseal.headend.registry import REVOCATION_POLL_INTERVAL, MeterRegistry
from meterseal.headend.runner import StoreRunner
from meterseal.headend.session import HeadendSession, SessionLimits
from meterseal.headend.stats import HeadendStats
from meterseal.messages import CommandParams
from meterseal.store import CommandRow, StoreError

log = logging.getLogger("meterseal.headend")


class HeadendCore:
    """The shared state of one head-end process (see the module docstring)."""

    def __init__(
        self,
        config: HeadendConfig,
        keys: HeadendKeys,
        *,
        store_factory: StoreFactory,
        rng: Rng = os.urandom,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config, self.keys, self.stats = config, keys, HeadendStats()
        self.now: Callable[[], int] = lambda: int(clock())
        self.monotonic = monotonic
        self._rng = rng
        self._responder_config = ResponderConfig(
            suites=offered_suites(config, keys.identities),
            methods=config.methods,
            send_message_4=config.send_message_4,
        )
        self._identities = identity_lookup(keys.identities)
        self._limits = SessionLimits(config.max_frame_body, config.max_record_failures)
        self.writer = StoreRunner(store_factory, "writer")
        self.reader = StoreRunner(store_factory, "reader")
        self.registry = MeterRegistry(
            self.reader, self.writer, size=config.registry_cache_size, ttl=config.registry_cache_ttl
        )
        self.ingest = IngestPipeline(
            self.writer, max_items=config.batch_max_items, max_delay=config.batch_max_delay
        )
        self.commands = CommandDispatcher(
            self.writer, keys, self.stats, ttl=config.command_ttl, clock=clock
        )
        self.auth_log = LeafBuffer(self.writer, interval=config.auth_flush_interval)
        self.connections: set[MeterConnection] = set()
        self.by_meter: dict[str, MeterConnection] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._revocation_watch: asyncio.Task[None] | None = None
        self._session_serials: dict[str, int | None] = {}  # meter id -> credential serial

    async def start(self) -> None:
        """Open the store connections and start the timeout sweeper."""
        await self.writer.start()
        await self.reader.start()
        self.auth_log.start()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        self._revocation_watch = asyncio.get_running_loop().create_task(self._watch_revocations())

    def snapshot(self) -> HeadendStats:
        """A copy of the counters, with the ingest pipeline's transaction count."""
        self.stats.store_calls = self.ingest.calls
        return HeadendStats.from_snapshot(self.stats.snapshot())

    def new_session(self) -> HeadendSession:
        """A fresh sans-IO session for a new connection."""
        return HeadendSession(
            self._responder_config, self._identities, rng=self._rng, limits=self._limits
        )

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run a background task, keeping a reference and logging its failure."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("head-end task failed", exc_info=task.exception())

    # --- connections ----------------------------------------------------------------------

    def opened(self, connection: MeterConnection) -> None:
        """A TCP connection was accepted."""
        self.connections.add(connection)
        self.stats.connections += 1
        self.stats.connections_total += 1

    def established(self, connection: MeterConnection, event: SessionEstablished) -> None:
        """A meter authenticated: index it, replace an older session, deliver commands."""
        self.stats.handshakes_ok += 1
        self._log_authentication(event.meter_id, None)
        previous = self.by_meter.get(event.meter_id)
        self.by_meter[event.meter_id] = connection
        serial = self._session_serials[event.meter_id] = self.registry.admitted_serial(
            event.meter_id
        )
        if previous is not None and previous is not connection:
            previous.close(CloseReason.REPLACED)
        if self.registry.is_revoked(event.meter_id, serial):  # revoked during the handshake
            connection.close(CloseReason.INACTIVE_METER)
            return
        log.info(
            "meter %s connected (suite %d, method %d)", event.meter_id, event.suite, event.method
        )
        self.spawn(connection.deliver_commands())

    def closed(
        self, meter_id: str | None, reason: CloseReason, detail: str, *, established: bool
    ) -> None:
        """Count (and log) the end of a session."""
        self.stats.connections_closed_by[reason.value] += 1
        if established:
            log.info("meter %s disconnected: %s %s", meter_id, reason.value, detail)
            return
        self.stats.handshake_failed(reason.value)
        self._log_authentication(meter_id, reason)
        log.warning("handshake with meter %s failed: %s: %s", meter_id or "?", reason.value, detail)

    def _log_authentication(self, meter_id: str | None, reason: CloseReason | None) -> None:
        """Collect the connection's AuthenticationResult leaf for the ledger outbox."""
        self.auth_log.add(authentication_leaf(meter_id, reason, self.now()))
        self.stats.auth_results_logged += 1

    def forget(self, connection: MeterConnection) -> None:
        """The TCP connection is gone."""
        if connection in self.connections:
            self.connections.discard(connection)
            self.stats.connections -= 1
        meter_id = connection.authenticated_as
        if meter_id is not None and self.by_meter.get(meter_id) is connection:
            del self.by_meter[meter_id]
            self._session_serials.pop(meter_id, None)

    async def _sweep(self) -> None:
        interval = self.config.sweep_interval
        while True:
            await asyncio.sleep(interval)
            now = self.monotonic()
            for connection in list(self.connections):
                connection.check_timeouts(now)

    # --- operator actions -----------------------------------------------------------------

    async def queue_command(
        self,
        meter_id: str,
        params: CommandParams,
        ttl: int | None = None,
        *,
        operator: str = DEFAULT_OPERATOR,
    ) -> CommandRow:
        """Sign and queue a command (and its ledger leaf); deliver it now if the meter is
        connected here."""
        row = await self.commands.queue(meter_id, params, ttl, operator=operator)
        await self.poke(meter_id)
        return row

    async def poke(self, meter_id: str) -> None:
        """Deliver the meter's open commands if it is connected to this process."""
        connection = self.by_meter.get(meter_id)
        if connection is not None:
            await connection.deliver_commands()

    async def revoke(self, meter_id: str) -> None:
        """Revoke the meter in the store, then act on it here (:meth:`revoked`)."""
        await self.registry.revoke(meter_id)
        self.revoked(meter_id)

    def revoked(self, meter_id: str) -> None:
        """The meter was revoked: drop its cached registration, close its session."""
        self.registry.invalidate(meter_id)
        connection = self.by_meter.get(meter_id)
        if connection is not None:
            connection.close(CloseReason.INACTIVE_METER)

    async def _watch_revocations(self) -> None:
        """Every REVOCATION_POLL_INTERVAL, adopt a new revocation list if there is one and
        close the sessions it revokes (meterseal.headend.registry)."""
        while True:
            await asyncio.sleep(REVOCATION_POLL_INTERVAL)
            try:
                if await self.registry.refresh():
                    self._close_revoked()
            except StoreError as exc:  # the cause is in the message: no traceback
                log.warning("revocation list check failed: %s", exc)

    def _close_revoked(self) -> None:
        """Close each open session whose credential serial is on the list, or whose meter
        is no longer in the registered state."""
        revoked, inactive = self.registry.revoked_serials, self.registry.inactive_meters
        for meter_id, connection in list(self.by_meter.items()):
            if meter_id in inactive or self._session_serials.get(meter_id) in revoked:
                log.info("meter %s: credential revoked, session closed", meter_id)
                connection.close(CloseReason.INACTIVE_METER)

    # --- shutdown -------------------------------------------------------------------------

    async def close(self) -> None:
        """Graceful shutdown: stop reading, store and ack what arrived, close sessions,
        then the store connections. The listening socket is the caller's to close first."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._revocation_watch is not None:
            self._revocation_watch.cancel()
        for connection in list(self.connections):
            connection.pause()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ingest.drain(), self.config.shutdown_grace)
        for connection in list(self.connections):
            connection.close(CloseReason.SHUTDOWN)
        await self._settle_tasks()
        await self.auth_log.close()
        await self.writer.close()
        await self.reader.close()

    async def _settle_tasks(self) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=self.config.shutdown_grace)
        for task in pending:
            task.cancel()
