"""From the collection store's outbox into the ledger: the forwarder, and the head-end's
authentication results on their way into the outbox.

docs/ledger.md, "From ingest to the ledger", is the design. In short: every leaf is first
queued in the store's ``ledger_outbox`` (:mod:`meterseal.store.outbox`), in the same
transaction as what it records wherever there is one; one :class:`LedgerForwarder` per
store drains that queue into a :class:`~meterseal.ledger.interface.Ledger`.

* :class:`OutboxPump` is the forwarder's synchronous core: one :meth:`~OutboxPump.step`
  moves one chunk (record it in flight, ``submit``, mark it submitted) or settles the
  chunk a crash or a lost answer left in flight, by finding it in the log (then it is
  marked where it landed) or submitting it again. Exactly once, also across crashes.
* :class:`LedgerForwarder` runs the pump on its own thread (store and ledger calls are
  blocking I/O) from the event loop: chunk after chunk while leaves are queued, then
  every ``idle`` seconds or when poked; a ledger or store failure is logged and retried
  with exponential backoff. Nothing is lost and ingest never waits for the ledger.
* :class:`LeafBuffer` collects the head-end's authentication results (one per
  connection, :func:`authentication_leaf`) and queues them every ``interval`` seconds in
  one transaction, so a handshake storm does not become a transaction storm.

Only one forwarder may run per store: the in-process head-end runs it beside its core,
the multi-process head-end in the parent process (:mod:`meterseal.headend.workers`),
never in a worker. Head-ends on several machines sharing one PostgreSQL store each run
one, and a lease in the store (``LEASE_TTL`` seconds, renewed while forwarding) lets one
of them forward while the others wait on standby; a forwarder that stops gracefully
gives the lease up, one that crashes holds it until it runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from meterseal.headend.config import StoreFactory
from meterseal.headend.events import CloseReason
from meterseal.headend.runner import StoreRunner
from meterseal.ledger.checkpoint import parse_checkpoint
from meterseal.ledger.config import LedgerConfig
from meterseal.ledger.errors import LedgerError, MalformedLeafError
from meterseal.ledger.interface import Ledger, Submitted
from meterseal.ledger.leaves import AuthenticationResult, AuthReason, leaf_data, parse_leaf
from meterseal.ledger.local import open_local_ledger
from meterseal.ledger.note import parse_note
from meterseal.store import Store, StoreError
from meterseal.store.outbox import InFlight

log = logging.getLogger("meterseal.headend.ledger")

T = TypeVar("T")

CHUNK = 4096
"""Leaves per submission."""

LEASE_TTL = 30
"""Seconds a forwarder's lease on the outbox lasts unless renewed (it renews at half)."""

AUTH_REASONS: dict[CloseReason, AuthReason] = {
    CloseReason.HANDSHAKE_FAILED: AuthReason.BAD_SIGNATURE,
    CloseReason.UNKNOWN_METER: AuthReason.UNKNOWN_CREDENTIAL,
    CloseReason.INACTIVE_METER: AuthReason.CREDENTIAL_REVOKED,
    CloseReason.UNSUPPORTED: AuthReason.SUITE_REJECTED,
    CloseReason.HANDSHAKE_TIMEOUT: AuthReason.TIMEOUT,
    CloseReason.CONNECTION_LOST: AuthReason.ABANDONED,
    CloseReason.STORE_UNAVAILABLE: AuthReason.HEADEND_UNAVAILABLE,
    CloseReason.SHUTDOWN: AuthReason.HEADEND_UNAVAILABLE,
}
"""Why a handshake failed, as the ledger records it; any other reason (framing, protocol,
malformed message, the meter's EDHOC error) is ``PROTOCOL_ERROR``."""


def auth_reason(reason: CloseReason) -> AuthReason:
    """The :class:`AuthReason` of a session that ended before it was established."""
    return AUTH_REASONS.get(reason, AuthReason.PROTOCOL_ERROR)


def authentication_leaf(meter_id: str | None, reason: CloseReason | None, now: int) -> bytes:
    """The ``AuthenticationResult`` leaf of one connection: success when ``reason`` is
    None, else the failure. The kid is the meter id message_3 presented (empty if the
    handshake never got that far, or it named no valid meter id)."""
    kid = b"" if meter_id is None else meter_id.encode("ascii")
    outcome = AuthReason.OK if reason is None else auth_reason(reason)
    return leaf_data(AuthenticationResult(kid, reason is None, outcome, now))


def checkpoint_size(checkpoint: bytes) -> int:
    """The tree size a signed checkpoint note commits to (format checked, not signatures:
    the ledger that returned it is the one this store submits to)."""
    return parse_checkpoint(parse_note(checkpoint).text).size


def default_holder() -> str:
    """A forwarder's name in the lease: host, process and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def well_formed(leaf: bytes) -> bool:
    """True if ``leaf`` is a MeterSeal leaf in its canonical encoding."""
    try:
        parse_leaf(leaf)
    except MalformedLeafError:
        return False
    return True


def find_run(entries: Sequence[bytes], run: Sequence[bytes]) -> int | None:
    """The first index at which ``run`` appears contiguously in ``entries``, or None."""
    count, first = len(run), run[0]
    for index in range(len(entries) - count + 1):
        if entries[index] == first and list(entries[index : index + count]) == list(run):
            return index
    return None


# --- the synchronous core ------------------------------------------------------------------


class OutboxPump:
    """Moves the store's outbox into the ledger, one chunk per :meth:`step`."""

    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        *,
        chunk: int = CHUNK,
        holder: str | None = None,
        lease_ttl: int = LEASE_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store, self._ledger, self._chunk, self._clock = store, ledger, chunk, clock
        self.holder = holder or default_holder()
        self._lease_ttl = lease_ttl
        self._lease_until = 0
        self.standby = False
        self._size_hint: int | None = None
        self.forwarded = 0
        self.submissions = 0
        self.recovered = 0
        self.refused = 0
        self.last: Submitted | None = None

    def _now(self) -> int:
        return int(self._clock())

    def step(self) -> int:
        """Forward one chunk, or settle the one in flight; the number of leaves moved
        (0: nothing was queued). Raises ``LedgerError`` or ``StoreError``, after which
        calling it again is safe. On standby (another forwarder holds the lease) it
        moves nothing."""
        if not self._leased():
            return 0
        inflight = self._store.inflight_submission()
        if inflight is not None:
            return self._settle(inflight)
        pending = self._store.pending_leaves(self._chunk)
        if not pending:
            return 0
        ids = [row_id for row_id, _ in pending]
        self._store.begin_submission(ids, self._hint(), self._now())
        return self._submit(ids, [leaf for _, leaf in pending])

    def _leased(self) -> bool:
        """Hold the lease: renewed once half of it has run, so not every round writes."""
        now = self._now()
        if now < self._lease_until - self._lease_ttl // 2:
            return True
        self.standby = not self._store.take_forwarder_lease(self.holder, now, self._lease_ttl)
        self._lease_until = 0 if self.standby else now + self._lease_ttl
        return not self.standby

    def release(self) -> None:
        """Give the lease up (a standby forwarder may take over at once)."""
        self._lease_until = 0
        self._store.release_forwarder_lease(self.holder)

    def _hint(self) -> int:
        """A lower bound of the tree size the next chunk lands at."""
        if self._size_hint is None:
            self._size_hint = self._store.last_tree_size()
        return self._size_hint

    def _submit(self, ids: Sequence[int], leaves: Sequence[bytes]) -> int:
        try:
            submitted = self._ledger.submit(leaves)
        except MalformedLeafError as refusal:
            return self._set_aside(ids, leaves, refusal)
        self._marked(ids, submitted, recovered=False)
        return len(ids)

    def _set_aside(
        self, ids: Sequence[int], leaves: Sequence[bytes], refusal: MalformedLeafError
    ) -> int:
        """The ledger refused the chunk as malformed (and integrated none of it): move the
        leaves that do not parse to ``ledger_refused`` so that the others can go on."""
        bad = [row_id for row_id, leaf in zip(ids, leaves, strict=True) if not well_formed(leaf)]
        if not bad:
            raise refusal  # nothing here is malformed to this code: retried after a backoff
        log.error("the ledger refused %d malformed leaves, set aside: %s", len(bad), refusal)
        self._store.refuse_leaves(bad, str(refusal), self._now())
        self.refused += len(bad)
        return len(bad)

    def _marked(self, ids: Sequence[int], submitted: Submitted, *, recovered: bool) -> None:
        self._store.mark_submitted(ids, submitted, self._now(), recovered=recovered)
        self._size_hint = max(self._size_hint or 0, submitted.tree_size)
        self.forwarded += len(ids)
        self.submissions += 1
        self.recovered += recovered
        self.last = submitted

    def _settle(self, inflight: InFlight) -> int:
        """The chunk left in flight: marked where it landed if the log has it, else sent."""
        landed = self.locate(inflight)
        if landed is None:
            log.info("resubmitting %d ledger leaves left in flight", len(inflight.ids))
            return self._submit(inflight.ids, inflight.leaves)
        log.info("%d ledger leaves left in flight were already in the log", len(inflight.ids))
        self._marked(inflight.ids, landed, recovered=True)
        return len(inflight.ids)

    def locate(self, inflight: InFlight) -> Submitted | None:
        """Where the log holds the in-flight chunk (at or after its size hint), or None."""
        checkpoint = self._ledger.checkpoint()
        size = checkpoint_size(checkpoint)
        start = inflight.size_hint
        if size - start < len(inflight.leaves):
            return None
        index = find_run(list(self._ledger.entries(start, size)), inflight.leaves)
        if index is None:
            return None
        return Submitted(start + index, len(inflight.leaves), size, checkpoint)


# --- the asyncio forwarder -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ForwarderStatus:
    """What the forwarder has done (a snapshot)."""

    forwarded: int = 0  # leaves submitted (or found in the log) since start
    submissions: int = 0
    recovered: int = 0  # chunks found in the log after a crash or a lost answer
    standby: bool = False  # another forwarder holds the lease on this store's outbox
    refused: int = 0  # malformed leaves the ledger refused, set aside in ledger_refused
    failures: int = 0  # failed rounds (ledger or store unavailable), each retried
    tree_size: int | None = None  # the tree size of the last submission
    checkpoint: bytes | None = None  # the checkpoint of the last submission
    last_error: str | None = None


class LedgerForwarder:
    """Drains one store's ledger outbox into a ledger (see the module docstring)."""

    def __init__(
        self,
        store_factory: StoreFactory,
        ledger: Ledger,
        *,
        chunk: int = CHUNK,
        idle: float = 1.0,
        backoff: tuple[float, float] = (0.25, 30.0),
        close_ledger: bool = False,
    ) -> None:
        self._factory, self._ledger, self._chunk = store_factory, ledger, chunk
        self._idle, self._backoff, self._close_ledger = idle, backoff, close_ledger
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-forwarder")
        self._store: Store | None = None
        self._pump: OutboxPump | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._drained: list[asyncio.Future[None]] = []
        self._failures = 0
        self._last_error: str | None = None

    @property
    def ledger(self) -> Ledger:
        """The ledger the leaves go to."""
        return self._ledger

    async def start(self) -> None:
        """Open the forwarder's own store connection and start forwarding."""
        self._store = await self._call(self._factory)
        self._pump = OutboxPump(self._store, self._ledger, chunk=self._chunk)
        self._task = asyncio.get_running_loop().create_task(self._run())

    def status(self) -> ForwarderStatus:
        """What the forwarder has done so far."""
        pump = self._pump
        if pump is None:
            return ForwarderStatus(failures=self._failures, last_error=self._last_error)
        last = pump.last
        return ForwarderStatus(
            forwarded=pump.forwarded,
            submissions=pump.submissions,
            recovered=pump.recovered,
            standby=pump.standby,
            refused=pump.refused,
            failures=self._failures,
            tree_size=None if last is None else last.tree_size,
            checkpoint=None if last is None else last.checkpoint,
            last_error=self._last_error,
        )

    def poke(self) -> None:
        """Look at the outbox now instead of after the idle wait."""
        self._wake.set()

    async def drain(self) -> None:
        """Return once a round that began after this call found the outbox empty."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._drained.append(future)
        self.poke()
        await future

    async def close(self, drain_timeout: float = 0.0) -> None:
        """Forward what is queued (waiting up to ``drain_timeout`` s), then stop, close
        the store connection and, if the forwarder owns it, the ledger."""
        if self._task is not None and drain_timeout > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drain(), drain_timeout)
        self._stopping = True
        self.poke()
        if self._task is not None:
            await self._task
            self._task = None
        for future in self._drained:
            future.cancel()
        status = self.status()
        log.info(
            "ledger forwarder stopped: %d leaves in %d submissions (%d recovered), tree size %s",
            status.forwarded,
            status.submissions,
            status.recovered,
            status.tree_size,
        )
        store, self._store = self._store, None
        if self._pump is not None:
            with contextlib.suppress(StoreError):
                await self._call(self._pump.release)
        if store is not None:
            await self._call(store.close)
        if self._close_ledger:
            await self._call(self._ledger.close)
        self._executor.shutdown(wait=False)

    async def _call(self, function: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    async def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stopping:
            waiting, self._drained = self._drained, []
            moved = await self._round()
            if moved is None:
                self._drained[:0] = waiting
                await self._sleep(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            delay = self._backoff[0]
            if moved:
                self._drained[:0] = waiting
                continue
            for future in waiting:
                if not future.done():
                    future.set_result(None)
            await self._sleep(self._idle)

    async def _round(self) -> int | None:
        """One pump step; None if it failed (logged, to be retried after a backoff)."""
        pump = self._pump
        assert pump is not None  # noqa: S101 - started before the loop runs
        try:
            return await self._call(pump.step)
        except (LedgerError, StoreError) as exc:
            self._failed(exc)
        except Exception as exc:  # a bug must not stop the forwarder: leaves stay queued
            log.exception("ledger forwarder round failed")
            self._failed(exc)
        return None

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        self._last_error = f"{type(exc).__name__}: {exc}"
        log.warning("ledger forwarding failed, will retry: %s", self._last_error)

    async def _sleep(self, seconds: float) -> None:
        if self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()


# --- authentication results ----------------------------------------------------------------


class LeafBuffer:
    """Collects leaves on the event loop and queues them in the outbox in one transaction
    every ``interval`` seconds (or at once when ``max_items`` are waiting)."""

    def __init__(
        self, writer: StoreRunner, *, interval: float = 0.5, max_items: int = CHUNK
    ) -> None:
        self._writer, self._interval, self._max_items = writer, interval, max_items
        self._leaves: list[bytes] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.queued = 0  # leaves handed to the store
        self.failures = 0

    @property
    def waiting(self) -> int:
        """Leaves collected and not yet queued in the store."""
        return len(self._leaves)

    def add(self, leaf: bytes) -> None:
        """Collect one leaf."""
        self._leaves.append(leaf)
        if len(self._leaves) >= self._max_items:
            self._wake.set()

    def start(self) -> None:
        """Flush periodically from now on."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Queue what was collected (kept for the next flush if the store fails)."""
        if not self._leaves:
            return
        leaves, self._leaves = self._leaves, []
        now = int(time.time())
        try:
            await self._writer.call(lambda store: store.enqueue_leaves(leaves, now))
        except StoreError as exc:
            self.failures += 1
            self._leaves[:0] = leaves
            log.warning("%d authentication results not yet queued: %s", len(leaves), exc)
            return
        self.queued += len(leaves)

    async def close(self) -> None:
        """Stop the periodic flush, letting a flush under way finish (cancelling it could
        drop its leaves before the store saw them), and flush once more."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()


# --- which ledger -------------------------------------------------------------------------

NO_LEDGER = "none"


def ledger_location(spec: str | None) -> str | None:
    """What a ledger setting names, fit to print (None: no ledger)."""
    if spec is None or spec == NO_LEDGER:
        return None
    if _is_url(spec):
        return f"ledger service {spec}"
    return f"in process, {LedgerConfig(data_dir=Path(spec).resolve()).ledger_dir}"


def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def open_ledger(spec: str) -> Ledger:
    """The ledger a setting names: an ``http(s)://`` URL (the ledger service, through
    ``LedgerClient``), or a data directory whose ``ledger/`` holds the in-process
    :class:`~meterseal.ledger.local.LocalLedger` (its own store and keys, made on first
    use), as ``meterseal ledger --data-dir`` uses it."""
    if _is_url(spec):
        from meterseal.ledger.client import LedgerClient  # noqa: PLC0415 - httpx only if used

        return LedgerClient(spec)
    return open_local_ledger(LedgerConfig(data_dir=Path(spec).resolve()), create=True)
