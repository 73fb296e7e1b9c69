"""The parent's watch over its worker processes: restart the ones that die, within limits.

A worker that exits unexpectedly (a crash, an OOM kill, SIGKILL) leaves the SO_REUSEPORT
group when the kernel closes its listening socket: from then on the other workers get
every new connection (connections already queued on the dead socket are reset, and the
sessions it held are cut; meters reconnect with their backoff, docs/protocol.md section
5, and the store answers a batch it already holds DUPLICATE, so each is stored once).
Nothing is lost for good, but the head-end runs with fewer cores until the worker is
back. The supervisor brings it back.

What counts as unexpected. A worker exits with code 0 only after a graceful stop (the
parent's ``stop``, its own SIGTERM, or the parent gone): that is never restarted. Any
other exit code, and death by a signal, is a crash. During :meth:`Supervisor.close`
(the head-end's graceful shutdown) nothing is restarted at all.

Backoff and the crash-loop cap (:class:`RestartPolicy`, decided by the pure
:meth:`RestartPolicy.decide`). The first restart of a slot waits ``base`` seconds, each
further one within ``window`` seconds twice as long as the last, up to ``cap``. A slot
restarted ``max_restarts`` times within ``window`` seconds that dies again is given up:
an error is logged, the head-end serves on with the other workers, and the counters say
so (``workers_abandoned``). A restart attempt whose process dies before it listens counts
as a restart and as a death, so a worker that cannot start hits the cap quickly.

The restarted process is started exactly as the first was: it opens its keys and its
store itself and binds a new socket into the port's SO_REUSEPORT group.

The watch is asyncio-native: each worker's process sentinel (a descriptor that becomes
readable when the process ends) is registered with the parent's event loop, and so is
the control pipe of a process that is starting. Counters: ``worker_restarts`` (processes
started to replace a dead one) and ``workers_abandoned`` (slots given up), added to the
workers' summed counters by the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from meterseal.errors import MeterSealError

log = logging.getLogger("meterseal.headend.supervisor")

START_TIMEOUT = 60.0
"""Seconds a worker process has to report ``ready`` (opening a PKCS#11 token can be slow)."""
JOIN_TIMEOUT = 5.0


class WorkerError(MeterSealError):
    """A worker process failed to start or stopped answering."""


@dataclass
class WorkerProcess:
    """A worker process and the parent's end of its control pipe."""

    process: BaseProcess
    control: Connection


@dataclass(frozen=True)
class RestartPolicy:
    """How dead workers are restarted: backoff from ``base`` doubling to ``cap`` seconds;
    a slot restarted ``max_restarts`` times within ``window`` seconds that dies again is
    given up (``max_restarts = 0``: never restart)."""

    base: float = 0.5
    cap: float = 30.0
    max_restarts: int = 5
    window: float = 60.0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base or self.window <= 0:
            raise ValueError("restart backoff needs 0 < base <= cap and a positive window")
        if self.max_restarts < 0:
            raise ValueError("max_restarts must be >= 0")

    def decide(self, restarts: Sequence[float], now: float) -> float | None:
        """The delay before restarting a slot that died at ``now``, having been restarted
        at the times ``restarts`` (same clock); None: give the slot up."""
        recent = sum(1 for at in restarts if now - at < self.window)
        if recent >= self.max_restarts:
            return None
        return min(self.cap, self.base * 2.0**recent)


def describe_exit(exitcode: int | None) -> str:
    """``exit code 3``, ``signal SIGKILL``: how a process ended, for the log."""
    if exitcode is None:
        return "unknown exit status"
    if exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


async def wait_ready(worker: WorkerProcess, timeout: float = START_TIMEOUT) -> None:
    """Wait, without blocking the loop, for the worker's ``ready``; WorkerError if it
    reports a failure, dies or stays silent for ``timeout`` seconds."""
    name = worker.process.name
    try:
        await _readable((worker.control.fileno(), worker.process.sentinel), timeout)
    except TimeoutError:
        raise WorkerError(f"worker {name} did not start within {timeout} s") from None
    try:
        reply = worker.control.recv() if worker.control.poll() else None
    except (EOFError, OSError):
        reply = None
    if reply is None:
        worker.process.join(JOIN_TIMEOUT)
        raise WorkerError(f"worker {name} died at start ({describe_exit(worker.process.exitcode)})")
    if reply[0] != "ready":
        raise WorkerError(f"worker {name} failed: {reply[1]}")


async def _readable(fds: Sequence[int], timeout: float) -> None:
    """Return once any of ``fds`` is readable (TimeoutError after ``timeout`` seconds)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not done.done():
            done.set_result(None)

    for fd in fds:
        loop.add_reader(fd, wake)
    try:
        await asyncio.wait_for(done, timeout)
    finally:
        for fd in fds:
            loop.remove_reader(fd)


def terminate(worker: WorkerProcess, timeout: float = JOIN_TIMEOUT) -> None:
    """Stop a worker the hard way (SIGTERM, then SIGKILL) and close its pipe (blocking)."""
    worker.process.terminate()
    worker.process.join(timeout)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join(timeout)
    worker.control.close()


async def _start_failure(worker: WorkerProcess) -> WorkerError | None:
    """None once the worker listens, else why it did not start (a worker being started
    when the wait is cancelled is terminated)."""
    try:
        await wait_ready(worker)
    except WorkerError as exc:
        return exc
    except BaseException:
        terminate(worker)
        raise
    return None


Spawn = Callable[[int], WorkerProcess]
"""Starts a new worker process for slot ``index`` (as at the head-end's start)."""
Install = Callable[[int, WorkerProcess], None]
"""Puts a restarted, listening worker into slot ``index`` of the pool (which closes the
dead one's pipe when it closes: a thread may still be reading it)."""


@dataclass
class _Slot:
    index: int
    worker: WorkerProcess
    restarts: list[float] = field(default_factory=list)
    abandoned: bool = False


class Supervisor:
    """Watches the worker processes on the running loop and restarts dead ones."""

    def __init__(
        self,
        workers: Sequence[WorkerProcess],
        spawn: Spawn,
        install: Install,
        policy: RestartPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slots = [_Slot(i, worker) for i, worker in enumerate(workers)]
        self._spawn, self._install = spawn, install
        self._policy = policy or RestartPolicy()
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self.restarts = 0
        self.abandoned = 0

    def start(self) -> None:
        """Start watching every worker (call on the loop, once all are ready)."""
        for slot in self._slots:
            self._watch(slot)

    def _watch(self, slot: _Slot) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(slot.worker.process.sentinel, self._on_exit, slot)

    def _on_exit(self, slot: _Slot) -> None:
        asyncio.get_running_loop().remove_reader(slot.worker.process.sentinel)
        if self._closing:
            return
        task = asyncio.ensure_future(self._recover(slot))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _recover(self, slot: _Slot) -> None:
        """Log the death; restart the slot with backoff until a worker listens or the slot
        is given up."""
        loop = asyncio.get_running_loop()
        process = slot.worker.process
        await loop.run_in_executor(None, process.join, JOIN_TIMEOUT)
        if process.exitcode == 0:
            log.warning(
                "worker %d (pid %s) stopped by itself; not restarted", slot.index, process.pid
            )
            return
        log.error(
            "worker %d (pid %s) died: %s", slot.index, process.pid, describe_exit(process.exitcode)
        )
        while not await self._restart(slot):
            pass

    async def _restart(self, slot: _Slot) -> bool:
        """One restart attempt: True once the slot is served again or given up."""
        delay = self._policy.decide(slot.restarts, self._clock())
        if delay is None:
            self._abandon(slot)
            return True
        log.warning("restarting worker %d in %.1f s", slot.index, delay)
        await asyncio.sleep(delay)
        slot.restarts.append(self._clock())
        self.restarts += 1
        worker = self._spawn(slot.index)
        failure = await _start_failure(worker)
        if failure is not None:
            log.error("restart of worker %d failed: %s", slot.index, failure)
            await asyncio.get_running_loop().run_in_executor(None, terminate, worker)
            return False
        self._serve(slot, worker)
        return True

    def _serve(self, slot: _Slot, worker: WorkerProcess) -> None:
        slot.worker = worker  # the pool keeps the dead one's pipe until it closes
        self._install(slot.index, worker)
        self._watch(slot)
        log.warning("worker %d restarted (pid %s)", slot.index, worker.process.pid)

    def _abandon(self, slot: _Slot) -> None:
        slot.abandoned = True
        self.abandoned += 1
        policy = self._policy
        log.error(
            "worker %d died again after %d restarts within %.0f s: giving it up; "
            "serving with the other workers",
            slot.index,
            policy.max_restarts,
            policy.window,
        )

    async def close(self) -> None:
        """Stop watching and restarting (the graceful shutdown starts): pending restarts
        are cancelled and a process being started is terminated."""
        self._closing = True
        loop = asyncio.get_running_loop()
        for slot in self._slots:
            loop.remove_reader(slot.worker.process.sentinel)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
