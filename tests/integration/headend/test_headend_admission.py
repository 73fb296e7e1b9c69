"""Who gets in, and what ends a connection: refusals, garbage, limits, shutdown."""

from __future__ import annotations

import asyncio
import os

import pytest
from headend_support import Backend, running, wait_until

from meterseal.crypto.suites import SUITE_GMT
from meterseal.edhoc import Initiator, InitiatorConfig, connection_id
from meterseal.errors import PeerReportedError
from meterseal.framing import FrameKind, encode_frame
from meterseal.headend.testing import LinkClosedError, async_test, make_meter
from meterseal.messages import AckStatus, Ping, Pong

pytest_plugins = ["headend_fixtures"]  # the backend and sqlite fixtures
pytestmark = pytest.mark.timeout(30)


async def read_to_eof(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    """Everything the head-end sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), timeout)


@async_test
async def test_an_unknown_meter_is_refused_with_err_code_3(sqlite: Backend) -> None:
    async with running(sqlite) as harness:
        with pytest.raises(PeerReportedError) as refused:
            await harness.connect(make_meter("GHOST-1"))
        await wait_until(lambda: harness.handle.stats().handshakes_failed == 1)
        stats = harness.handle.stats()
    assert refused.value.wire_code == 3
    assert stats.handshakes_failed_by == {"unknown_meter": 1}


@async_test
async def test_a_revoked_meter_is_refused_with_err_code_1(sqlite: Backend) -> None:
    meter = make_meter("OLD-1")
    async with running(sqlite) as harness:
        harness.register(meter, state="revoked")
        with pytest.raises(PeerReportedError) as refused:
            await harness.connect(meter)
        await wait_until(lambda: harness.handle.stats().handshakes_failed == 1)
        assert harness.handle.stats().handshakes_failed_by == {"inactive_meter": 1}
    assert (refused.value.wire_code, refused.value.err_info) == (1, "")


@async_test
async def test_revoking_a_connected_meter_closes_it_and_refuses_it_after(sqlite: Backend) -> None:
    meter = make_meter("ELEC-1")
    async with running(sqlite) as harness:
        harness.register(meter)
        link = await harness.connect(meter)
        await harness.handle.revoke("ELEC-1")
        with pytest.raises(LinkClosedError):
            await link.receive()
        assert link.closed_by_headend == b"inactive_meter"
        with pytest.raises(PeerReportedError):
            await harness.connect(meter)


@pytest.mark.parametrize(
    "garbage",
    [b"GET / HTTP/1.1\r\n\r\n", b"\xff\xff\x01" + bytes(100), b"\x00\x00\x01"],
    ids=["http", "oversized-header", "zero-length"],
)
@async_test
async def test_garbage_closes_the_connection_and_others_are_still_served(
    sqlite: Backend, garbage: bytes
) -> None:
    meter = make_meter("ELEC-1")
    async with running(sqlite) as harness:
        harness.register(meter)
        reader, writer = await harness.open_tcp()
        writer.write(garbage)
        assert await read_to_eof(reader) == b""  # closed without a word
        writer.close()
        link = await harness.connect(meter)
        assert (await link.upload(meter.signed_batch(1))).status is AckStatus.ACCEPTED
        assert harness.handle.stats().handshakes_failed_by == {"framing": 1}


@async_test
async def test_a_meter_of_a_suite_without_a_headend_identity_gets_err_code_2(
    sqlite: Backend,
) -> None:
    meter = make_meter("GMT-1", suite=SUITE_GMT)
    async with running(sqlite) as harness:  # keys for suite 2 only
        harness.register(meter)
        with pytest.raises(PeerReportedError) as refused:
            await harness.connect(meter)
    assert (refused.value.wire_code, refused.value.err_info) == (2, 2)


@async_test
async def test_a_record_before_the_handshake_gets_an_edhoc_error(sqlite: Backend) -> None:
    async with running(sqlite) as harness:
        reader, writer = await harness.open_tcp()
        writer.write(encode_frame(FrameKind.RECORD, b"\x40\x00" + bytes(16)))
        reply = await read_to_eof(reader)
        writer.close()
    assert reply[2] == FrameKind.EDHOC
    assert b"protocol error" in reply


@async_test
async def test_a_silent_client_is_dropped_after_the_handshake_timeout(sqlite: Backend) -> None:
    async with running(sqlite, handshake_timeout=0.3) as harness:
        reader, writer = await harness.open_tcp()
        started = asyncio.get_running_loop().time()
        assert await read_to_eof(reader) == b""
        waited = asyncio.get_running_loop().time() - started
        writer.close()
        await wait_until(lambda: harness.handle.stats().handshakes_failed == 1)
        assert harness.handle.stats().handshakes_failed_by == {"handshake_timeout": 1}
    assert 0.25 < waited < 2.0


@async_test
async def test_a_stalled_handshake_is_dropped_after_the_timeout(sqlite: Backend) -> None:
    meter = make_meter("ELEC-1")
    async with running(sqlite, handshake_timeout=0.3) as harness:
        reader, writer = await harness.open_tcp()
        config = InitiatorConfig(meter.identity, meter.method, (meter.suite,), True)
        writer.write(encode_frame(FrameKind.EDHOC, Initiator(config, os.urandom).start(b"\x37")))
        reply = await read_to_eof(reader)  # message_2, then nothing: no message_3 came
        writer.close()
    assert reply[2] == FrameKind.EDHOC


@async_test
async def test_an_idle_session_is_closed_with_a_close_record(sqlite: Backend) -> None:
    meter = make_meter("ELEC-1")
    async with running(sqlite, idle_timeout=0.3) as harness:
        harness.register(meter)
        link = await harness.connect(meter)
        await link.send(Ping(1))
        assert await link.receive() == Pong(1)
        with pytest.raises(LinkClosedError):
            await link.receive(timeout=3)
        assert link.closed_by_headend == b"idle_timeout"


@async_test
async def test_a_second_connection_of_a_meter_replaces_the_first(sqlite: Backend) -> None:
    meter = make_meter("ELEC-1")
    async with running(sqlite) as harness:
        harness.register(meter)
        first = await harness.connect(meter)
        second = await harness.connect(meter, c_i=connection_id(-8))
        with pytest.raises(LinkClosedError):
            await first.receive()
        assert first.closed_by_headend == b"replaced"
        assert (await second.upload(meter.signed_batch(1))).status is AckStatus.ACCEPTED


@async_test
async def test_shutdown_closes_sessions_with_a_close_record(sqlite: Backend) -> None:
    meter = make_meter("ELEC-1")
    async with running(sqlite) as harness:
        harness.register(meter)
        link = await harness.connect(meter)
        await link.upload(meter.signed_batch(1))
        final = await harness.handle.close()
        with pytest.raises(LinkClosedError):
            await link.receive()
    assert link.closed_by_headend == b"shutdown"
    assert final.batches_accepted == 1
    assert final.connections_closed_by.get("shutdown") == 1
