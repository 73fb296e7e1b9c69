"""The meter client over real TCP on 127.0.0.1: store-and-forward, reconnects, commands."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from meter_tcp_support import (
    QUICK,
    START,
    accepted_at_most_once,
    acked_once,
    client_for,
    fill,
    jitter,
    loopback,
    meter_for,
    registered_meter,
    signed_day,
)

from meterseal.messages import (
    AckStatus,
    BatchRejectReason,
    Command,
    CommandAck,
    CommandRejectReason,
    CommandStatus,
    TimeSync,
)
from meterseal.meter.buffer import MemoryBuffer, SqliteBuffer
from meterseal.meter.testing_server import LoopbackServer


def test_connection_dropped_mid_upload_every_batch_is_acked_exactly_once() -> None:
    headend, registry = loopback()
    meter = registered_meter(registry)
    buffer = MemoryBuffer()
    seqs = fill(buffer, meter, 20)
    headend.drop_connections(3, 5)

    async def scenario() -> None:
        async with LoopbackServer(headend) as server:
            stats = await client_for(meter, buffer, server.port).upload()
            assert stats.connections == 3

    asyncio.run(scenario())
    statuses = headend.log.statuses(meter.meter_id)
    assert sorted(seq for _, seq in headend.log.stored) == seqs
    assert acked_once(statuses, seqs)
    assert [seq for seq, status in statuses if status is AckStatus.DUPLICATE] == [3, 8]
    assert buffer.pending(meter.meter_id) == []


def test_headend_restart_mid_upload_meter_reconnects_and_resends() -> None:
    headend, registry = loopback()
    meter = registered_meter(registry)
    buffer = MemoryBuffer()
    seqs = fill(buffer, meter, 40)
    tenth = asyncio.Event()
    headend.on_store = lambda _meter, seq: tenth.set() if seq == 10 else None

    async def scenario() -> int:
        server = LoopbackServer(headend)
        await server.start()
        upload = asyncio.create_task(client_for(meter, buffer, server.port).upload())
        await tenth.wait()
        await server.stop()
        await asyncio.sleep(0.2)
        await server.start()
        stats = await upload
        await server.stop()
        return stats.connections

    connections = asyncio.run(scenario())
    assert connections >= 2
    assert sorted(seq for _, seq in headend.log.stored) == seqs
    assert accepted_at_most_once(headend.log.statuses(meter.meter_id))
    assert buffer.pending(meter.meter_id) == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_refused_connections_back_off_with_the_seeded_full_jitter_schedule() -> None:
    _, registry = loopback()
    meter = registered_meter(registry)
    buffer = MemoryBuffer()
    fill(buffer, meter, 1)
    slept: list[float] = []

    async def record(delay: float) -> None:
        slept.append(delay)

    client = client_for(meter, buffer, _closed_port(), max_attempts=4, sleep=record)
    stats = asyncio.run(client.upload())
    reference = jitter()
    assert slept == [QUICK.delay(n, reference) for n in (1, 2, 3)]
    assert (stats.connections, stats.handshakes_failed) == (4, 4)
    assert len(buffer.pending(meter.meter_id)) == 1


def test_unregistered_meter_keeps_its_batches_and_stops_after_max_attempts() -> None:
    headend, _ = loopback()
    stranger = meter_for(meter_id="GAS-404")
    buffer = MemoryBuffer()
    fill(buffer, stranger, 2)

    async def scenario() -> None:
        async with LoopbackServer(headend) as server:
            stats = await client_for(stranger, buffer, server.port, max_attempts=2).upload()
            assert stats.handshakes_failed == 2
            assert all("PeerReportedError" in error for error in stats.errors)

    asyncio.run(scenario())
    assert len(buffer.pending("GAS-404")) == 2
    assert headend.log.stored == {}


def test_durable_buffer_resumes_after_the_meter_restarts(tmp_path: Path) -> None:
    headend, registry = loopback()
    meter = registered_meter(registry)
    path = tmp_path / "meters.db"
    first = SqliteBuffer(path)
    seqs = fill(first, meter, 20)
    headend.drop_connections(4)

    async def upload(buffer: SqliteBuffer, attempts: int) -> None:
        async with LoopbackServer(headend) as server:
            await client_for(meter, buffer, server.port, max_attempts=attempts).upload()

    asyncio.run(upload(first, 1))
    first.close()
    reopened = SqliteBuffer(path)
    assert [p.batch_seq for p in reopened.pending(meter.meter_id)] == seqs[3:]
    asyncio.run(upload(reopened, 5))
    assert reopened.pending(meter.meter_id) == []
    reopened.close()
    statuses = headend.log.statuses(meter.meter_id)
    assert acked_once(statuses, seqs)
    assert (4, AckStatus.DUPLICATE) in statuses


def test_finally_rejected_batch_is_set_aside_and_not_resent() -> None:
    headend, registry = loopback()
    meter = registered_meter(registry)
    buffer = MemoryBuffer()
    fill(buffer, meter, 2)
    batch_seq, signed = signed_day(meter, 2)
    buffer.put(meter.meter_id, batch_seq, signed[:-1] + bytes([signed[-1] ^ 1]))

    async def scenario() -> int:
        async with LoopbackServer(headend) as server:
            stats = await client_for(meter, buffer, server.port).upload()
            return stats.connections

    assert asyncio.run(scenario()) == 1
    assert buffer.rejected_batches(meter.meter_id) == [(batch_seq, BatchRejectReason.BAD_SIGNATURE)]
    assert buffer.pending(meter.meter_id) == []


def test_unavailable_batches_stay_buffered_and_are_sent_again_later() -> None:
    headend, registry = loopback()
    meter = registered_meter(registry)
    buffer = MemoryBuffer()
    seqs = fill(buffer, meter, 5)
    headend.unavailable = 2

    async def scenario() -> tuple[int, int]:
        async with LoopbackServer(headend) as server:
            stats = await client_for(meter, buffer, server.port).upload()
            return stats.connections, stats.unavailable

    assert asyncio.run(scenario()) == (2, 2)
    statuses = headend.log.statuses(meter.meter_id)
    assert [seq for seq, status in statuses if status is AckStatus.REJECTED] == [1, 2]
    assert sorted(seq for _, seq in headend.log.stored) == seqs
    assert buffer.pending(meter.meter_id) == []


def test_time_sync_is_executed_acked_persisted_and_not_replayed() -> None:
    headend, registry = loopback()
    meter = registered_meter(registry)
    buffer = MemoryBuffer()
    command = Command(7, meter.meter_id, START, START + 3600, TimeSync(START + 100))
    signed = headend.sign(command)

    async def upload_with(command_bytes: bytes, day: int) -> int:
        fill(buffer, meter, 1, first_day=day)
        headend.queue_command(meter.meter_id, command_bytes)
        async with LoopbackServer(headend) as server:
            client = client_for(meter, buffer, server.port)
            await client.upload()
            return client.clock.offset

    assert asyncio.run(upload_with(signed, 0)) == 100
    assert buffer.last_command_id(meter.meter_id) == 7
    assert asyncio.run(upload_with(signed, 1)) == 0
    assert headend.log.command_acks == [
        CommandAck(7, CommandStatus.EXECUTED, detail=100),
        CommandAck(7, CommandStatus.REJECTED, CommandRejectReason.REPLAYED),
    ]
