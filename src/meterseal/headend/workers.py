"""The multi-process head-end: N worker processes accepting on one port (SO_REUSEPORT).

Why processes, and why each writes for itself. The work per batch is signature
verification, record decryption, CBOR decoding and row building (CPU in one Python
thread, so one core per process), then the store transaction. Each worker is a complete
in-process head-end (:class:`~meterseal.headend.core.HeadendCore`) with its own store
connections and its own micro-batching; the kernel spreads new connections over the
workers' listening sockets (``SO_REUSEPORT`` hashes the 4-tuple). There is no writer
process in between, so no batch is pickled or copied across a pipe: the database is the
only thing the workers share. SQLite serialises their write transactions (``BEGIN
IMMEDIATE``, the workers queueing on the store's writer lock,
:mod:`meterseal.store.writer_lock`) and each transaction carries many batches, so the lock
is taken a few hundred times a second, not per batch; PostgreSQL runs them in parallel.

Processes are started with ``spawn`` (safe whatever threads the parent has). Keys and
store factories are therefore passed as picklable callables and each worker opens its
own: a crypto machine session per process is how PKCS#11 works anyway.

Control. The parent keeps a pipe to each worker: ``stats`` (answered with a snapshot),
``poke`` (a command was queued for this meter: deliver it if connected here), ``revoked``
(drop the cached registration, close the meter's session) and ``stop`` (graceful
shutdown, answered with the final counters). The parent sums the snapshots.

The ledger. The workers write ledger leaves into the store's outbox (with their batches,
and their authentication results); only the parent runs the store's one
:class:`~meterseal.headend.ledger_forwarder.LedgerForwarder`, so there is never a second
one draining the same outbox. It is stopped after the workers, once it has forwarded what
they queued last.

Dead workers. The parent's :class:`~meterseal.headend.supervisor.Supervisor` watches the
processes and restarts one that dies unexpectedly, with backoff and a crash-loop cap
(:class:`~meterseal.headend.supervisor.RestartPolicy`); the pool's counters add
``worker_restarts`` and ``workers_abandoned`` to the workers' sums, and each live worker
counts itself in ``workers_alive``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

from meterseal.headend.commands import DEFAULT_OPERATOR, queue_command
from meterseal.headend.config import HeadendConfig, HeadendKeys, KeySource, StoreFactory, open_keys
from meterseal.headend.connection import MeterConnection
from meterseal.headend.core import HeadendCore
from meterseal.headend.ledger_forwarder import LedgerForwarder
from meterseal.headend.runner import StoreRunner
from meterseal.headend.stats import HeadendStats
from meterseal.headend.supervisor import (
    RestartPolicy,
    Spawn,
    Supervisor,
    WorkerError,
    WorkerProcess,
    wait_ready,
)
from meterseal.messages import CommandParams
from meterseal.store import STATE_REVOKED, CommandRow, open_store

log = logging.getLogger("meterseal.headend.workers")

REPLY_TIMEOUT = 10.0

__all__ = ["RestartPolicy", "WorkerError", "WorkerPool", "WorkerSpec", "start_workers"]


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs; everything in it is pickled into the process."""

    index: int
    config: HeadendConfig
    keys: KeySource
    store_factory: StoreFactory | None
    log_level: int


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound with SO_REUSEADDR and SO_REUSEPORT (not yet listening)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


# --- the worker process --------------------------------------------------------------------


def worker_main(spec: WorkerSpec, control: Connection) -> None:
    """Entry point of a worker process: serve until the parent says stop."""
    logging.basicConfig(level=spec.log_level, format=f"worker {spec.index}: %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    try:
        asyncio.run(_worker(spec, control))
    except Exception as exc:
        log.exception("worker %d failed", spec.index)
        _send(control, ("failed", f"{type(exc).__name__}: {exc}"))
        raise


async def _worker(spec: WorkerSpec, control: Connection) -> None:
    config = spec.config
    factory = spec.store_factory or partial(open_store, config.store_url)
    core = HeadendCore(config, open_keys(spec.keys), store_factory=factory)
    await core.start()
    sock = reuse_port_socket(config.host, config.port)
    sock.listen(config.backlog)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(partial(MeterConnection, core), sock=sock)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(control.fileno(), _on_control, control, core, stop)
    control.send(("ready", spec.index))
    await stop.wait()
    loop.remove_reader(control.fileno())
    server.close()
    await core.close()
    _send(control, ("stopped", _counters(core)))


def _counters(core: HeadendCore) -> dict[str, Any]:
    """This worker's counters, counting itself as alive (the parent sums ``workers_alive``)."""
    stats = core.snapshot()
    stats.workers_alive = 1
    return stats.snapshot()


def _on_control(control: Connection, core: HeadendCore, stop: asyncio.Event) -> None:
    try:
        while control.poll():
            _obey(control.recv(), control, core, stop)
    except (EOFError, OSError):  # the parent is gone: stop serving
        stop.set()


def _obey(
    message: tuple[Any, ...], control: Connection, core: HeadendCore, stop: asyncio.Event
) -> None:
    verb = message[0]
    if verb == "stats":
        control.send(("stats", _counters(core)))
    elif verb == "poke":
        core.spawn(core.poke(message[1]))
    elif verb == "revoked":
        core.revoked(message[1])
    elif verb == "stop":
        stop.set()


def _send(control: Connection, message: tuple[Any, ...]) -> None:
    try:
        control.send(message)
    except (OSError, ValueError):
        log.warning("cannot reach the parent process")


# --- the parent ----------------------------------------------------------------------------


class WorkerPool:
    """The running multi-process head-end: the parent's handle on its workers."""

    def __init__(
        self,
        config: HeadendConfig,
        keys: KeySource,
        workers: list[WorkerProcess],
        reserved: socket.socket,
        store: StoreRunner,
        *,
        forwarder: LedgerForwarder | None = None,
    ) -> None:
        self._config, self._keys, self._workers = config, keys, workers
        self._reserved, self._store, self._forwarder = reserved, store, forwarder
        self._supervisor: Supervisor | None = None
        self._port: int = reserved.getsockname()[1]
        self._opened_keys: HeadendKeys | None = None
        self._lock = threading.Lock()
        self._retired: list[WorkerProcess] = []  # dead workers replaced by a restart
        self._final: list[HeadendStats] | None = None

    @property
    def port(self) -> int:
        """The TCP port every worker listens on."""
        return self._port

    @property
    def forwarder(self) -> LedgerForwarder | None:
        """The store's ledger forwarder (in this, the parent process), if any."""
        return self._forwarder

    def pids(self) -> list[int | None]:
        """The process serving each worker slot (a dead one's until it is replaced)."""
        return [worker.process.pid for worker in self._workers]

    def worker_stats(self) -> list[HeadendStats]:
        """Each live worker's counters (the final ones after :meth:`close`)."""
        if self._final is not None:
            return list(self._final)
        return [HeadendStats.from_snapshot(data) for data in self._ask_all(("stats",), "stats")]

    def stats(self) -> HeadendStats:
        """The counters summed over the workers, with the parent's restart counters."""
        return self._with_restarts(HeadendStats.merge(self.worker_stats()))

    def _with_restarts(self, stats: HeadendStats) -> HeadendStats:
        if self._supervisor is not None:
            stats.worker_restarts += self._supervisor.restarts
            stats.workers_abandoned += self._supervisor.abandoned
        return stats

    def supervise(self, spawn: Spawn, policy: RestartPolicy | None = None) -> None:
        """Watch the workers from now on; ``spawn`` starts a replacement for a slot."""
        self._supervisor = Supervisor(self._workers, spawn, self.install, policy)
        self._supervisor.start()

    def install(self, index: int, worker: WorkerProcess) -> None:
        """Put a restarted worker into slot ``index`` (the supervisor calls this)."""
        self._retired.append(self._workers[index])
        self._workers[index] = worker

    def _ask_all(
        self, message: tuple[Any, ...], answer: str, *, dead_too: bool = False
    ) -> list[dict[str, Any]]:
        """Every worker's answer; ``dead_too``: also read what exited ones left in their
        pipes (a worker stopped by its own SIGTERM has sent its final counters)."""
        with self._lock:
            workers = list(self._workers)
            posted = [w for w in workers if self._post(w, message)]
            asked = workers if dead_too else posted
            return [reply for w in asked if (reply := _await_reply(w, answer)) is not None]

    def _post(self, worker: WorkerProcess, message: tuple[Any, ...]) -> bool:
        try:
            worker.control.send(message)
        except (OSError, ValueError):
            return False
        return True

    def _broadcast(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            for worker in list(self._workers):
                self._post(worker, message)

    async def queue_command(
        self,
        meter_id: str,
        params: CommandParams,
        ttl: int | None = None,
        *,
        operator: str = DEFAULT_OPERATOR,
    ) -> CommandRow:
        """Sign and queue a command (and its ledger leaf); the worker holding the meter's
        session sends it."""
        keys = self._opened_keys = self._opened_keys or open_keys(self._keys)
        life = self._config.command_ttl if ttl is None else ttl
        now = int(time.time())
        row = await self._store.call(
            lambda store: queue_command(
                store, keys, meter_id, params, now=now, ttl=life, operator=operator
            )
        )
        self._broadcast(("poke", meter_id))
        return row

    async def revoke(self, meter_id: str) -> None:
        """Revoke the meter in the store; every worker drops and disconnects it."""
        await self._store.call(lambda store: store.set_meter_state(meter_id, STATE_REVOKED))
        self._broadcast(("revoked", meter_id))

    async def close(self) -> HeadendStats:
        """Stop restarting, stop every worker gracefully; return the summed final counters."""
        if self._final is None:
            if self._supervisor is not None:
                await self._supervisor.close()
            loop = asyncio.get_running_loop()
            ask = partial(self._ask_all, ("stop",), "stopped", dead_too=True)
            replies = await loop.run_in_executor(None, ask)
            self._final = [HeadendStats.from_snapshot(data) for data in replies]
            await loop.run_in_executor(None, self._join)
            self._reserved.close()
            if self._forwarder is not None:
                await self._forwarder.close(self._config.shutdown_grace)
            await self._store.close()
        return self._with_restarts(HeadendStats.merge(self._final))

    def _join(self) -> None:
        for worker in self._workers + self._retired:
            worker.process.join(REPLY_TIMEOUT)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(REPLY_TIMEOUT)
            worker.control.close()


def _await_reply(worker: WorkerProcess, answer: str, timeout: float = REPLY_TIMEOUT) -> Any:
    """The worker's answer to a request, or None if it died or stayed silent."""
    try:
        while worker.control.poll(timeout):
            reply = worker.control.recv()
            if reply[0] == answer:
                return reply[1]
    except (EOFError, OSError):
        return None
    return None


StartForwarder = Callable[[], Awaitable[LedgerForwarder | None]]
"""Starts the store's ledger forwarder in the parent (None: no ledger)."""


async def _no_forwarder() -> None:
    return None


async def start_workers(
    config: HeadendConfig,
    keys: KeySource,
    store_factory: StoreFactory | None,
    start_forwarder: StartForwarder = _no_forwarder,
    *,
    policy: RestartPolicy | None = None,
) -> WorkerPool:
    """Start ``config.workers`` worker processes on one port, and the ledger forwarder
    here in the parent; return once all listen, with dead workers restarted by ``policy``
    (default :class:`RestartPolicy`)."""
    if isinstance(keys, HeadendKeys):
        raise TypeError("with workers > 1, pass a picklable function that returns the keys")
    factory = store_factory or partial(open_store, config.store_url)
    store = StoreRunner(factory, "parent")
    await store.start()  # migrates the schema once, before the workers open it
    reserved = reuse_port_socket(config.host, config.port)
    port = reserved.getsockname()[1]
    level = logging.getLogger("meterseal").getEffectiveLevel()
    worker_config = replace(config, port=port, workers=1)
    specs = [
        WorkerSpec(i, worker_config, keys, store_factory, level) for i in range(config.workers)
    ]
    workers = [_spawn(spec) for spec in specs]
    forwarder = await start_forwarder()
    pool = WorkerPool(config, keys, workers, reserved, store, forwarder=forwarder)
    try:
        for worker in workers:  # they start side by side; wait for each in turn
            await wait_ready(worker)
    except WorkerError:
        await pool.close()
        raise
    pool.supervise(lambda index: _spawn(specs[index]), policy)
    return pool


def _spawn(spec: WorkerSpec) -> WorkerProcess:
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    process = context.Process(
        target=worker_main, args=(spec, child_end), name=f"meterseal-headend-{spec.index}"
    )
    process.daemon = True
    process.start()
    child_end.close()
    return WorkerProcess(process, parent_end)
