"""From ingest to the ledger: the outbox forwarder, exactly once, and what the head-end logs.

Real stores (SQLite, PostgreSQL), real TCP handshakes and uploads on 127.0.0.1; the ledger
is :class:`MemoryLedger` (in memory, real signed checkpoints) or the real in-process
:class:`~meterseal.ledger.local.LocalLedger` over its own files.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from headend_support import Backend, wait_until
from ledger_outbox_support import (
    MemoryLedger,
    batch_leaves,
    entries_of_kind,
    running_with_ledger,
    stored_after,
    stored_batch_leaves,
)

from meterseal.errors import PeerReportedError
from meterseal.headend.ledger_forwarder import OutboxPump, authentication_leaf, checkpoint_size
from meterseal.headend.testing import async_test, make_meter
from meterseal.http_server import ServerThread
from meterseal.ledger.config import LedgerConfig
from meterseal.ledger.errors import LedgerUnavailableError
from meterseal.ledger.http_app import create_app
from meterseal.ledger.leaves import (
    AuthenticationResult,
    AuthReason,
    BatchAccepted,
    OperatorCommand,
    parse_leaf,
)
from meterseal.ledger.local import open_local_ledger
from meterseal.messages import AckStatus, TimeSync
from meterseal.store import Store

pytest_plugins = ["headend_fixtures"]  # the backend and sqlite fixtures
pytestmark = pytest.mark.timeout(60)


def queue(store: Store, count: int) -> list[bytes]:
    leaves = [b"leaf %d" % i for i in range(count)]
    store.enqueue_leaves(leaves, now=1)
    return leaves


# --- the pump, on a real store ---------------------------------------------------------------


def test_the_pump_moves_the_outbox_in_chunks_in_order(backend: Backend) -> None:
    store, ledger = backend.factory(), MemoryLedger()
    leaves = queue(store, 10)
    pump = OutboxPump(store, ledger, chunk=4)
    assert [pump.step() for _ in range(4)] == [4, 4, 2, 0]
    assert ledger.entries_now == leaves
    assert store.count_pending_leaves() == 0
    records = store.ledger_submissions()
    assert [(r.first_index, r.count, r.tree_size) for r in records] == [
        (0, 4, 4),
        (4, 4, 8),
        (8, 2, 10),
    ]
    assert checkpoint_size(records[-1].checkpoint) == 10
    store.close()


def test_a_lost_answer_is_found_in_the_log_after_a_restart_not_sent_twice(backend: Backend) -> None:
    store, ledger = backend.factory(), MemoryLedger()
    leaves = queue(store, 5)
    ledger.lose_answers = 1
    with pytest.raises(LedgerUnavailableError):
        OutboxPump(store, ledger, holder="site-1").step()  # integrated, answer lost
    store.close()
    restarted = backend.factory()  # a new process: nothing in memory survives
    pump = OutboxPump(restarted, ledger, holder="site-1")
    assert pump.step() == 5
    assert pump.step() == 0
    assert ledger.entries_now == leaves  # exactly once
    assert ledger.submits == 1
    [record] = restarted.ledger_submissions()
    assert (record.recovered, record.first_index, record.count) == (True, 0, 5)
    restarted.close()


def test_a_chunk_that_never_reached_the_ledger_is_sent_once_later(backend: Backend) -> None:
    store, ledger = backend.factory(), MemoryLedger()
    ledger.submit([b"someone else's entry"])
    leaves = queue(store, 3)
    ledger.down = True
    pump = OutboxPump(store, ledger)
    with pytest.raises(LedgerUnavailableError):
        pump.step()
    assert store.inflight_submission() is not None
    ledger.down = False
    assert pump.step() == 3
    assert ledger.entries_now == [b"someone else's entry", *leaves]
    [record] = store.ledger_submissions()
    assert (record.recovered, record.first_index, record.tree_size) == (False, 1, 4)
    store.close()


def test_a_malformed_leaf_the_ledger_refuses_is_set_aside_and_the_rest_goes_on(
    backend: Backend,
) -> None:
    store, ledger = backend.factory(), MemoryLedger()
    ledger.validate = True
    good = [authentication_leaf(f"M-{i}", None, 1000) for i in range(2)]
    store.enqueue_leaves([good[0], b"not a leaf", good[1]], now=1)
    pump = OutboxPump(store, ledger)
    assert [pump.step(), pump.step(), pump.step()] == [1, 2, 0]
    assert ledger.entries_now == good
    [(_, leaf, reason)] = store.refused_leaves()
    assert leaf == b"not a leaf"
    assert "malformed" in reason
    assert (pump.refused, store.count_pending_leaves()) == (1, 0)
    store.close()


def test_a_second_forwarder_waits_on_standby_until_the_lease_runs_out(backend: Backend) -> None:
    store, ledger = backend.factory(), MemoryLedger()
    now = [1000.0]
    first = OutboxPump(store, ledger, holder="a", lease_ttl=30, clock=lambda: now[0])
    second = OutboxPump(store, ledger, holder="b", lease_ttl=30, clock=lambda: now[0])
    assert first.step() == 0  # the lease is taken; nothing was queued yet
    leaves = queue(store, 3)
    assert (second.step(), second.standby) == (0, True)
    assert store.count_pending_leaves() == 3
    now[0] += 31  # the first forwarder died without giving the lease up
    assert (second.step(), second.standby) == (3, False)
    assert first.step() == 0
    assert first.standby
    assert ledger.entries_now == leaves
    second.release()
    assert (first.step(), first.standby) == (0, False)  # given up: taken over at once
    store.close()


# --- the head-end, over TCP ------------------------------------------------------------------


@async_test
async def test_every_accepted_batch_reaches_the_ledger_once(backend: Backend) -> None:
    meters = [make_meter(f"ELEC-{i}") for i in range(3)]
    ledger = MemoryLedger()
    async with running_with_ledger(backend, ledger, ledger_idle=0.05) as harness:
        harness.register(*meters)
        for meter in meters:
            link = await harness.connect(meter)
            signed = [meter.signed_batch(seq, 8) for seq in range(4)]
            acks = [await link.upload(batch) for batch in signed]
            assert {ack.status for ack in acks} == {AckStatus.ACCEPTED}
            resent = await link.upload(signed[0])  # the same bytes again
            assert resent.status is AckStatus.DUPLICATE
    entries = ledger.entries_now
    stored, _, pending = stored_after(backend)
    assert batch_leaves(entries) == stored != []
    assert pending == 0
    assert len(entries_of_kind(entries, BatchAccepted)) == 12  # the duplicate logged nothing
    assert len(set(entries)) == len(entries)  # no entry twice


@async_test
async def test_with_the_ledger_down_ingest_goes_on_and_the_leaves_follow_later(
    sqlite: Backend,
) -> None:
    meter = make_meter("ELEC-1")
    ledger = MemoryLedger()
    ledger.down = True
    async with running_with_ledger(sqlite, ledger, ledger_idle=0.05) as harness:
        forwarder = harness.handle.forwarder
        assert forwarder is not None
        harness.register(meter)
        link = await harness.connect(meter)
        acks = [await link.upload(meter.signed_batch(seq, 8)) for seq in range(5)]
        assert {ack.status for ack in acks} == {AckStatus.ACCEPTED}
        assert harness.store.count_pending_leaves() >= 5
        await wait_until(lambda: forwarder.status().failures >= 2)
        assert ledger.entries_now == []
        ledger.down = False
        await asyncio.wait_for(forwarder.drain(), 10)
        assert batch_leaves(ledger.entries_now) == stored_batch_leaves(harness.store)
        assert forwarder.status().tree_size == len(ledger.entries_now)


@async_test
async def test_handshakes_good_and_bad_become_authentication_results(sqlite: Backend) -> None:
    good, revoked = make_meter("ELEC-1"), make_meter("OLD-1")
    ledger = MemoryLedger()
    before = int(time.time())
    async with running_with_ledger(sqlite, ledger, auth_flush_interval=0.05) as harness:
        harness.register(good)
        harness.register(revoked, state="revoked")
        await harness.connect(good)
        for meter in (make_meter("GHOST-1"), revoked):
            with pytest.raises(PeerReportedError):
                await harness.connect(meter)
        _, writer = await harness.open_tcp()
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        await writer.drain()
        await wait_until(lambda: harness.handle.stats().handshakes_failed == 3)
        writer.close()
    results = entries_of_kind(ledger.entries_now, AuthenticationResult)
    by_kid = {(r.kid, r.success, r.reason) for r in results if isinstance(r, AuthenticationResult)}
    assert by_kid == {
        (b"ELEC-1", True, AuthReason.OK),
        (b"GHOST-1", False, AuthReason.UNKNOWN_CREDENTIAL),
        (b"OLD-1", False, AuthReason.CREDENTIAL_REVOKED),
        (b"", False, AuthReason.PROTOCOL_ERROR),
    }
    assert all(isinstance(r, AuthenticationResult) and r.time >= before for r in results)
    assert harness.handle.stats().auth_results_logged == 4


@async_test
async def test_a_queued_command_is_logged_with_its_operator(sqlite: Backend) -> None:
    meter = make_meter("ELEC-1")
    ledger = MemoryLedger()
    async with running_with_ledger(sqlite, ledger) as harness:
        harness.register(meter)
        row = await harness.handle.queue_command(
            "ELEC-1", TimeSync(int(time.time())), operator="alice"
        )
    [logged] = entries_of_kind(ledger.entries_now, OperatorCommand)
    assert isinstance(logged, OperatorCommand)
    assert (logged.operator, logged.meter_id, logged.command_id) == (
        "alice",
        "ELEC-1",
        row.command_id,
    )


@pytest.mark.slow
@async_test
async def test_two_workers_one_forwarder_into_the_local_ledger(
    sqlite: Backend, tmp_path: Path
) -> None:
    meters = [make_meter(f"M-{i:02d}") for i in range(8)]
    ledger_home = tmp_path / "data"
    async with running_with_ledger(
        sqlite, None, workers=2, ledger=str(ledger_home), ledger_idle=0.05
    ) as harness:
        assert harness.handle.forwarder is not None
        harness.register(*meters)
        links = await asyncio.gather(*(harness.connect(meter) for meter in meters))
        acks = await asyncio.gather(*(link.upload(link.meter.signed_batch(1, 8)) for link in links))
        assert {ack.status for ack in acks} == {AckStatus.ACCEPTED}
    local = open_local_ledger(LedgerConfig(data_dir=ledger_home))
    try:
        size = local.size()
        entries = list(local.entries(0, size))
    finally:
        local.close()
    stored, submissions, pending = stored_after(sqlite)
    assert batch_leaves(entries) == stored
    assert len(set(entries)) == len(entries)  # nothing forwarded twice
    kinds = [type(parse_leaf(entry)) for entry in entries]
    assert kinds.count(AuthenticationResult) == 8
    assert sum(r.count for r in submissions) == size
    assert pending == 0


@async_test
async def test_forwarding_to_the_ledger_service_over_http(sqlite: Backend, tmp_path: Path) -> None:
    meter = make_meter("ELEC-1")
    service = open_local_ledger(LedgerConfig(data_dir=tmp_path / "service"), create=True)
    try:
        with ServerThread(create_app(service)) as server:
            async with running_with_ledger(sqlite, None, ledger=server.url) as harness:
                harness.register(meter)
                link = await harness.connect(meter)
                for seq in range(3):
                    assert (
                        await link.upload(meter.signed_batch(seq, 8))
                    ).status is AckStatus.ACCEPTED
        entries = list(service.entries(0, service.size()))
    finally:
        service.close()
    stored, submissions, pending = stored_after(sqlite)
    assert batch_leaves(entries) == stored
    assert len(entries) == 3 + 1  # three batches and one authentication result
    assert (pending, sum(s.count for s in submissions)) == (0, 4)
