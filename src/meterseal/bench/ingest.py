"""``meterseal bench ingest``: interval readings/s end to end over TCP, and idle sessions.

End to end (DESIGN.md, performance targets). A head-end with 2 worker processes listens on
127.0.0.1 and stores into SQLite (a WAL file in a temporary directory, ``synchronous``
FULL, the default) or PostgreSQL (a scratch schema; ``METERSEAL_PG_DSN``, default
``host=127.0.0.1 dbname=test user=postgres``; skipped with a note when unreachable). A
separate load process holds :data:`METERS` meters, each with its own EDHOC session, and
keeps :data:`WINDOW` batches in flight per meter. Every batch is signed by its meter
before the clock starts, and its protected record is sealed after the handshake, also
before the clock starts, so the load process only writes bytes and reads acks while the
head-end decrypts, verifies every signature, decodes, stores (durably) and acks. The
figure is interval readings acknowledged ACCEPTED per second, counted by the load process
over ``seconds`` after a warm-up; every ack is opened and checked. The head-end logs
as in production: each stored batch's ledger leaf is queued in the same transaction, and
the forwarder submits the queue to an in-process ledger (its own SQLite file in another
temporary directory) while the load runs.

A *reading* is an interval reading: one freeze of a meter's registers (an electricity one
holds five register values). The baseline is :func:`meterseal.store.bench.baseline_rate`:
bare ``sqlite3`` ``executemany`` of the same wide rows the store writes for the same
batches, :data:`BASELINE_CHUNK` batches per transaction, no crypto, no network; the goal
is 0.5 of it, and DESIGN.md's absolute goals (250,000 readings/s with P-256 signatures,
150,000 with SM2) are judged in the note. Batches of one reading each are measured the
same way, without a goal.

The PostgreSQL figures are set beside the same SQLite baseline (DESIGN.md names SQLite
as the baseline); the server runs on the same two cores.

Idle sessions. An in-process head-end (``workers == 1``), in a fresh process of its own,
accepts :data:`IDLE_SESSIONS` handshaken sessions (P-256, method 3) from a meter process
that then stays silent; the head-end's memory per session is the growth of its resident
set (``VmRSS`` in ``/proc/self/status``, not tracemalloc: it counts what the process
really holds) from before the sessions (after a warm-up of a hundred sessions opened and
closed) to when all are held, divided by their number. It covers everything the head-end
keeps per meter (connection, session, record layer, transport buffers in user space,
cached registration) plus allocator slack; the goal is at most 20 KiB, and 50,000
sessions on one machine (the note says how far ``RLIMIT_NOFILE`` lets one process go).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

from meterseal.bench.report import BenchResult
from meterseal.crypto.suites import get_suite
from meterseal.framing import FrameKind, encode_frame
from meterseal.headend import HeadendConfig, HeadendHandle, start_headend
from meterseal.headend.ingest import batch_item
from meterseal.headend.testing import MeterLink, SimMeter, make_meter, sample_keys
from meterseal.messages import (
    AckStatus,
    ElectricityReadings,
    MeterType,
    ReadingBatch,
    SignedBatch,
    encode_app_message,
)
from meterseal.store import MeterRecord, PostgresStore, Store, open_store
from meterseal.store.bench import baseline_rate
from meterseal.store.scratch import DEFAULT_TEST_DSN, postgres_reachable, scratch_schema

GOAL = 0.5
"""DESIGN.md: ingest at least half the bare SQLite insert rate of the same rows."""
ABSOLUTE_GOALS = {2: 250_000, -24: 150_000}
"""DESIGN.md: interval readings/s on this 2-core machine, by signature suite."""
SUITE_NAMES = {2: "P-256", -24: "SM2"}
WORKERS = 2
METERS = 64
WINDOW = 16
BASELINE_CHUNK = HeadendConfig(store_url="").batch_max_items
"""Batches per baseline transaction: the head-end's largest micro-batch."""
WARMUP = 0.5
IDLE_SESSIONS = 5_000
IDLE_GOAL_KIB = 20
IDLE_FLEET = 50_000
T0 = 1_736_121_600  # 2025-01-06T00:00:00Z
_EXPECTED_BATCHES_PER_S = {(2, 96): 6_000, (-24, 96): 4_500, (2, 1): 12_000}
"""Generous upper estimates, to pre-sign enough batches for warm-up plus ``seconds``."""
_ACKED, _BATCHES, _REFUSED = range(3)
_GO, _STOP, _EXHAUSTED = range(3)
_TIMEOUT = 120.0
_CONNECTING = 64
"""Handshakes the load process runs at once."""


# --- the batches -----------------------------------------------------------------------


def sample_batch(meter_id: str, seq: int, intervals: int) -> ReadingBatch:
    """A deterministic electricity batch of ``intervals`` quarter-hours (batch ``seq``)."""
    base = 1_000_000 + seq * intervals * 250
    readings = ElectricityReadings(
        index=tuple(range(intervals)),
        energy_import_wh=tuple(range(base, base + intervals * 250, 250)),
        energy_export_wh=(seq,) * intervals,
        voltage_dv=tuple(2300 + i % 17 for i in range(intervals)),
        current_ma=tuple(5_000 + i * 7 % 900 for i in range(intervals)),
        power_w=tuple(1_150 + i * 13 % 400 for i in range(intervals)),
    )
    start = T0 + seq * intervals * 900
    return ReadingBatch(meter_id, seq, MeterType.ELECTRICITY, start, 900, "1.0", readings)


def meter_ids(prefix: str, count: int) -> list[str]:
    """The bench's meter ids."""
    return [f"{prefix}-{i:05d}" for i in range(count)]


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """What the load process does: which meters, how many batches each, what to send."""

    prefix: str
    suite: int
    meters: int
    batches_per_meter: int
    intervals: int
    window: int = WINDOW

    def batches(self) -> list[ReadingBatch]:
        """Every batch of the plan, meter by meter."""
        return [
            sample_batch(meter_id, seq, self.intervals)
            for meter_id in meter_ids(self.prefix, self.meters)
            for seq in range(self.batches_per_meter)
        ]


# --- the load process -------------------------------------------------------------------


def raise_nofile_limit() -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit; (soft, hard) now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


@dataclass(frozen=True)
class _Shared:
    """What the load process shares with the bench: its pipe, counters and flags."""

    control: Connection
    counters: Any  # RawArray("q"): readings acked ACCEPTED, batches ACCEPTED, not accepted
    flags: Any  # RawArray("b"): go, stop, exhausted


def load_main(plan: LoadPlan, counters: Any, flags: Any, control: Connection) -> None:
    """Entry point of the load process: sign, register, connect, seal, then upload."""
    raise_nofile_limit()
    suite = get_suite(plan.suite)
    meters = [make_meter(meter_id, suite=suite) for meter_id in meter_ids(plan.prefix, plan.meters)]
    signed = _sign_all(plan, meters)
    control.send(("records", [meter.record() for meter in meters]))
    _verb, port = control.recv()
    asyncio.run(_load(plan, port, meters, signed, _Shared(control, counters, flags)))


def _sign_all(plan: LoadPlan, meters: Sequence[SimMeter]) -> list[list[bytes]]:
    per_meter = plan.batches_per_meter
    batches = plan.batches()
    return [
        [meter.signed(batch) for batch in batches[m * per_meter : (m + 1) * per_meter]]
        for m, meter in enumerate(meters)
    ]


async def _load(
    plan: LoadPlan,
    port: int,
    meters: Sequence[SimMeter],
    signed: Sequence[Sequence[bytes]],
    shared: _Shared,
) -> None:
    links = await connect_all(port, meters)
    frames = [sealed_frames(link, batches) for link, batches in zip(links, signed, strict=True)]
    shared.control.send(("ready", len(links)))
    while not shared.flags[_GO]:
        await asyncio.sleep(0.001)
    await asyncio.gather(
        *(_drive(link, each, plan, shared) for link, each in zip(links, frames, strict=True))
    )
    shared.control.send(("done", None))
    await asyncio.gather(*(link.close() for link in links))


async def connect_all(port: int, meters: Sequence[SimMeter]) -> list[MeterLink]:
    """A handshaken session per meter, :data:`_CONNECTING` handshakes at a time."""
    gate = asyncio.Semaphore(_CONNECTING)

    async def connect(meter: SimMeter) -> MeterLink:
        async with gate:
            return await MeterLink.connect(port, meter)

    return await asyncio.gather(*(connect(meter) for meter in meters))


def sealed_frames(link: MeterLink, signed: Sequence[bytes]) -> list[bytes]:
    """The framed, protected records of the link's uploads, in the order they will go."""
    return [
        encode_frame(FrameKind.RECORD, link.layer.seal(encode_app_message(SignedBatch(batch))))
        for batch in signed
    ]


async def _drive(link: MeterLink, frames: Sequence[bytes], plan: LoadPlan, shared: _Shared) -> None:
    """Upload ``frames`` keeping up to ``plan.window`` unacknowledged, until told to stop
    or out of frames; count the acks, including those of batches in flight at the stop."""
    flags = shared.flags
    sent = acked = 0
    refill = max(1, plan.window // 2)
    while acked < len(frames) and not flags[_STOP]:
        if sent < len(frames) and sent - acked <= plan.window - refill:
            burst = frames[sent : acked + plan.window]
            link.wire.writer.write(b"".join(burst))
            sent += len(burst)
        await _count_ack(link, plan, shared)
        acked += 1
    if acked == len(frames):
        flags[_EXHAUSTED] = 1
    for _ in range(sent - acked):
        await _count_ack(link, plan, shared)


async def _count_ack(link: MeterLink, plan: LoadPlan, shared: _Shared) -> None:
    ack = await link.next_ack(_TIMEOUT)
    if ack.status is AckStatus.ACCEPTED:
        shared.counters[_ACKED] += plan.intervals
        shared.counters[_BATCHES] += 1
    else:
        shared.counters[_REFUSED] += 1


# --- the stores ---------------------------------------------------------------------------


def open_postgres(dsn: str, schema: str) -> Store:
    """A migrated PostgreSQL store in ``schema`` (picklable, for the worker processes)."""
    store = PostgresStore(dsn, schema=schema)
    store.migrate()
    return store


@dataclass(frozen=True)
class Backend:
    """Where the head-end stores: a name for the results, a URL, a picklable factory."""

    name: str
    url: str
    factory: Callable[[], Store]


@contextlib.asynccontextmanager
async def sqlite_backend(synchronous: str = "full") -> AsyncIterator[Backend]:
    """A SQLite file in a new temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="meterseal-bench-") as directory:
        url = f"sqlite:///{directory}/store.db?synchronous={synchronous}"
        yield Backend("SQLite", url, partial(open_store, url))


@contextlib.asynccontextmanager
async def postgres_backend(dsn: str) -> AsyncIterator[Backend]:
    """A scratch schema at ``dsn``, dropped afterwards."""
    with scratch_schema(dsn, "bench_ingest") as schema:
        yield Backend("PostgreSQL", dsn, partial(open_postgres, dsn, schema))


def register(backend: Backend, records: Sequence[MeterRecord]) -> None:
    """Add the meters to the backend's registry."""
    store = backend.factory()
    try:
        for record in records:
            store.add_meter(record)
    finally:
        store.close()


# --- one end-to-end run -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measured:
    """What one end-to-end run measured."""

    readings_per_s: float
    window_s: float
    refused: int
    exhausted: bool
    batches_per_transaction: float
    acked: int  # readings acked ACCEPTED in the whole run, warm-up included


def plan_for(suite: int, intervals: int, seconds: float, prefix: str) -> LoadPlan:
    """Enough pre-signed batches for the warm-up and ``seconds`` at the expected peak."""
    expected = _EXPECTED_BATCHES_PER_S[suite, intervals]
    per_meter = math.ceil(expected * (WARMUP + seconds) * 1.3 / METERS)
    return LoadPlan(prefix, suite, METERS, per_meter, intervals)


async def measure_ingest(backend: Backend, plan: LoadPlan, seconds: float) -> Measured:
    """Run the load process against a fresh head-end on ``backend``; the measured rate."""
    context = multiprocessing.get_context("spawn")
    counters, flags = context.RawArray("q", 3), context.RawArray("b", 3)
    async with _spawned(load_main, plan, counters, flags) as control:
        try:
            register(backend, (await _receive(control, "records"))[1])
            with tempfile.TemporaryDirectory(prefix="meterseal-bench-ledger-") as ledger:
                config = HeadendConfig(
                    store_url=backend.url,
                    port=0,
                    workers=WORKERS,
                    suites=(plan.suite,),
                    ledger=ledger,  # logged: every accepted batch reaches the ledger
                )
                keys = partial(sample_keys, (plan.suite,))
                handle = await start_headend(config, keys, store_factory=backend.factory)
                try:
                    return await _measure(handle, control, counters, flags, seconds)
                finally:
                    await handle.close()
        finally:
            flags[_STOP] = 1


async def _measure(
    handle: HeadendHandle, control: Connection, counters: Any, flags: Any, seconds: float
) -> Measured:
    control.send(("port", handle.port))
    await _receive(control, "ready")
    before = handle.stats()
    flags[_GO] = 1
    start = time.perf_counter()
    await asyncio.sleep(WARMUP)
    if not flags[_EXHAUSTED]:  # measure after the warm-up, unless there is nothing left
        start = time.perf_counter()
    acked = counters[_ACKED]
    while time.perf_counter() < start + seconds and not flags[_EXHAUSTED]:
        await asyncio.sleep(0.01)
    window = time.perf_counter() - start
    rate = (counters[_ACKED] - acked) / window
    flags[_STOP] = 1
    await _receive(control, "done")
    after = handle.stats()
    per_call = (after.batches_accepted - before.batches_accepted) / max(
        1, after.store_calls - before.store_calls
    )
    exhausted = bool(flags[_EXHAUSTED])
    return Measured(rate, window, counters[_REFUSED], exhausted, per_call, counters[_ACKED])


async def _receive(control: Connection, *verbs: str) -> Any:
    """The other process's next message, ``(verb, value)`` with one of ``verbs``; waits
    off the event loop."""
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, control.poll, _TIMEOUT * 2):
        raise TimeoutError(f"no {verbs} from the other process")
    message = control.recv()
    if message[0] not in verbs:
        raise RuntimeError(f"the other process sent {message!r}, not {verbs}")
    return message


def same_rows_baseline(plan: LoadPlan) -> float:
    """Interval readings/s of bare sqlite3 inserting the rows the store writes for ``plan``."""
    items = [batch_item(batch, b"", 0) for batch in plan.batches()]
    return baseline_rate(items, chunk=BASELINE_CHUNK)


# --- results -------------------------------------------------------------------------------


def _verdict(measured: Measured, suite: int, intervals: int) -> str:
    parts = []
    if intervals > 1 and suite in ABSOLUTE_GOALS:
        absolute = ABSOLUTE_GOALS[suite]
        verdict = "met" if measured.readings_per_s >= absolute else "missed"
        parts.append(f"absolute goal >= {absolute:,} readings/s {verdict}")
    parts.append(f"{measured.batches_per_transaction:.0f} batches/transaction")
    if measured.exhausted:
        parts.append(f"pre-signed batches ran out: measured over {measured.window_s:.2f} s")
    if measured.refused:
        parts.append(f"{measured.refused} batches NOT accepted")
    return "; ".join(parts)


def ingest_result(
    backend: Backend, plan: LoadPlan, measured: Measured, baseline: float
) -> BenchResult:
    """One end-to-end figure beside its baseline."""
    suite, intervals = SUITE_NAMES[plan.suite], plan.intervals
    name = f"ingest {intervals}-reading batches, {suite}, {backend.name}, {WORKERS} workers"
    note = (
        f"{_verdict(measured, plan.suite, intervals)}; baseline: bare sqlite3 executemany of"
        f" the same rows, {BASELINE_CHUNK} batches/transaction"
    )
    goal = GOAL if intervals > 1 else None
    return BenchResult(name, measured.readings_per_s, "readings/s", baseline, goal, note)


async def _backend_results(
    fresh: Callable[[], AbstractAsyncContextManager[Backend]], seconds: float
) -> list[BenchResult]:
    """Each case on a fresh database of one backend."""
    results = []
    for suite, intervals in _EXPECTED_BATCHES_PER_S:
        plan = plan_for(suite, intervals, seconds, f"B{abs(suite)}x{intervals}")
        async with fresh() as backend:
            measured = await measure_ingest(backend, plan, seconds)
        baseline = same_rows_baseline(plan)
        results.append(ingest_result(backend, plan, measured, baseline))
    return results


async def _ingest_results(seconds: float) -> list[BenchResult]:
    results = await _backend_results(sqlite_backend, seconds)
    dsn = os.environ.get("METERSEAL_PG_DSN", DEFAULT_TEST_DSN)
    reason = postgres_reachable(dsn)
    if reason is not None:
        results.append(BenchResult("ingest on PostgreSQL: skipped", 0.0, "", note=reason))
        return results
    return results + await _backend_results(partial(postgres_backend, dsn), seconds)


# --- idle sessions ---------------------------------------------------------------------------


def resident_kib() -> int:
    """This process's resident set size (VmRSS), KiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def idle_main(count: int, warmup: int, control: Connection) -> None:
    """Entry point of the idle-session process: open sessions, hold them, say so."""
    raise_nofile_limit()
    meters = [make_meter(meter_id) for meter_id in meter_ids("IDLE", warmup + count)]
    control.send(("records", [meter.record() for meter in meters]))
    _verb, port = control.recv()
    asyncio.run(_hold(port, meters[:warmup], meters[warmup:], control))


async def _hold(
    port: int, warm: Sequence[SimMeter], idle: Sequence[SimMeter], control: Connection
) -> None:
    for link in await connect_all(port, warm):
        await link.close()
    control.send(("warm", len(warm)))
    control.recv()
    links = await connect_all(port, idle)
    control.send(("held", len(links)))
    control.recv()  # hold until told to let go
    await asyncio.gather(*(link.close() for link in links))


def idle_headend_main(url: str, control: Connection) -> None:
    """Entry point of the idle head-end process: serve, and report its own memory."""
    raise_nofile_limit()
    asyncio.run(_serve_idle(url, control))


async def _serve_idle(url: str, control: Connection) -> None:
    config = HeadendConfig(store_url=url, port=0, idle_timeout=3600.0)
    handle = await start_headend(config, sample_keys(), store_factory=partial(open_store, url))
    control.send(("port", handle.port))
    try:
        while (message := await _receive(control, "measure", "stop"))[0] == "measure":
            await _settle(handle, message[1])
            control.send(("measured", (handle.stats().connections, resident_kib())))
    finally:
        await handle.close()


async def _settle(handle: HeadendHandle, connections: int) -> None:
    """Wait until the head-end holds ``connections`` sessions, then collect garbage."""
    deadline = time.monotonic() + _TIMEOUT
    while handle.stats().connections != connections and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    gc.collect()


@dataclass(frozen=True, slots=True)
class IdleMeasured:
    """Sessions held at once, and the head-end's resident growth while holding them."""

    held: int
    growth_kib: int
    limit: tuple[int, int]


async def measure_idle(count: int, warmup: int = 100) -> IdleMeasured:
    """Hold ``count`` idle sessions against a fresh head-end process; its memory growth.

    The head-end runs in-process (``workers == 1``) in a process of its own, so that what
    this process allocated before does not hide its growth; the meters in another.
    """
    limit = raise_nofile_limit()
    count = min(count, limit[0] - 256)
    async with sqlite_backend("normal") as backend, _spawned(idle_main, count, warmup) as meters:
        register(backend, (await _receive(meters, "records"))[1])
        async with _spawned(idle_headend_main, backend.url) as headend:
            meters.send(("port", (await _receive(headend, "port"))[1]))
            await _receive(meters, "warm")
            headend.send(("measure", 0))
            _, (_, before) = await _receive(headend, "measured")
            meters.send(("go", None))
            await _receive(meters, "held")
            headend.send(("measure", count))
            _, (held, after) = await _receive(headend, "measured")
            meters.send(("release", None))
            headend.send(("stop", None))
    return IdleMeasured(held, after - before, limit)


@contextlib.asynccontextmanager
async def _spawned(target: Callable[..., None], *args: Any) -> AsyncIterator[Connection]:
    """A child process running ``target(*args, pipe)``; our end of the pipe."""
    context = multiprocessing.get_context("spawn")
    control, child = context.Pipe()
    process = context.Process(target=target, args=(*args, child), daemon=True)
    process.start()
    child.close()
    try:
        yield control
    finally:
        process.join(_TIMEOUT)
        if process.is_alive():
            process.terminate()
        control.close()


def idle_results(measured: IdleMeasured) -> list[BenchResult]:
    """Sessions held, and memory per session against the 20 KiB goal (in the note)."""
    per_session = measured.growth_kib / max(1, measured.held)
    verdict = "met" if per_session <= IDLE_GOAL_KIB else "missed"
    fleet_mib = per_session * IDLE_FLEET / 1024
    soft, hard = measured.limit
    return [
        BenchResult(
            "idle sessions held, in-process head-end",
            measured.held,
            "sessions",
            note=f"goal: {IDLE_FLEET:,} on one machine; RLIMIT_NOFILE soft {soft:,} "
            f"(hard {hard:,}) caps one process; at this memory {IDLE_FLEET:,} would take "
            f"{fleet_mib:,.0f} MiB",
        ),
        BenchResult(
            "idle session memory, head-end VmRSS growth",
            per_session,
            "KiB/session",
            note=f"goal <= {IDLE_GOAL_KIB} KiB: {verdict}; VmRSS (/proc/self/status) growth "
            f"over {measured.held:,} sessions, incl. cached registrations and allocator slack",
        ),
    ]


# --- the command -------------------------------------------------------------------------------


def run(seconds: float) -> list[BenchResult]:
    """Every ingest figure: end to end on SQLite and PostgreSQL, then idle sessions."""
    results = asyncio.run(_ingest_results(seconds))
    results += idle_results(asyncio.run(measure_idle(IDLE_SESSIONS)))
    return results
