"""Commands: the persisted queue, delivery on connect and at once, and the meter's ack."""

from __future__ import annotations

import time

import pytest
from headend_support import Backend, running, wait_until

from meterseal.crypto.suites import SUITE_2
from meterseal.headend import CommandKeyMissingError, HeadendKeys, queue_command
from meterseal.headend.testing import async_test, command_key, make_meter, sample_keys
from meterseal.messages import (
    CommandAck,
    CommandKind,
    CommandRejectReason,
    CommandStatus,
    SignedCommand,
    TimeSync,
    verify_command,
)
from meterseal.store import (
    COMMAND_ACKED,
    COMMAND_EXPIRED,
    COMMAND_QUEUED,
    COMMAND_REJECTED,
    COMMAND_SENT,
    Store,
    UnknownMeterError,
)

pytest_plugins = ["headend_fixtures"]  # the backend and sqlite fixtures
pytestmark = pytest.mark.timeout(30)

NOW = 1_750_000_000


def queued(store: Store, meter_id: str, *, now: int = NOW, ttl: int = 300) -> int:
    row = queue_command(store, sample_keys(), meter_id, TimeSync(now), now=now, ttl=ttl)
    return row.command_id


# --- the queue in the store (both backends) ------------------------------------------------


def test_queued_commands_get_increasing_ids_and_verify_at_the_meter(backend: Backend) -> None:
    store = backend.factory()
    store.add_meter(make_meter("ELEC-1").record())
    first, second = queued(store, "ELEC-1"), queued(store, "ELEC-1")
    [one, two] = store.open_commands("ELEC-1", NOW)
    store.close()
    assert first < second
    assert [one.command_id, two.command_id] == [first, second]
    assert (one.kind, one.state, one.expires_at) == (
        CommandKind.TIME_SYNC,
        COMMAND_QUEUED,
        NOW + 300,
    )
    command = verify_command(
        one.signed_command,
        SUITE_2.signature,
        command_key().public_key,
        meter_id="ELEC-1",
        now=NOW,
        last_command_id=0,
    )
    assert (command.command_id, command.params) == (first, TimeSync(NOW))


def test_a_command_for_an_unknown_meter_is_refused(backend: Backend) -> None:
    store = backend.factory()
    with pytest.raises(UnknownMeterError):
        queued(store, "GHOST")
    store.close()


def test_without_a_key_for_the_suite_nothing_is_queued(backend: Backend) -> None:
    store = backend.factory()
    store.add_meter(make_meter("ELEC-1").record())
    keys = HeadendKeys(sample_keys().identities, {})
    with pytest.raises(CommandKeyMissingError):
        queue_command(store, keys, "ELEC-1", TimeSync(NOW), now=NOW, ttl=60)
    assert store.open_commands("ELEC-1", NOW) == []
    store.close()


def test_undelivered_commands_expire(backend: Backend) -> None:
    store = backend.factory()
    store.add_meter(make_meter("ELEC-1").record())
    command_id = queued(store, "ELEC-1", ttl=60)
    assert store.open_commands("ELEC-1", NOW + 60) == []
    row = store.get_command(command_id)
    store.close()
    assert row is not None
    assert row.state == COMMAND_EXPIRED


def test_an_ack_is_recorded_once_and_only_for_the_meters_own_command(backend: Backend) -> None:
    store = backend.factory()
    store.add_meter(make_meter("ELEC-1").record())
    store.add_meter(make_meter("ELEC-2").record())
    command_id = queued(store, "ELEC-1")
    store.mark_commands_sent([command_id], NOW + 1)
    ack = {"acked_at": NOW + 2, "status": 1, "reason": 4, "detail": 0}
    assert not store.record_command_ack("ELEC-2", command_id, state=COMMAND_REJECTED, **ack)
    assert store.record_command_ack("ELEC-1", command_id, state=COMMAND_REJECTED, **ack)
    assert not store.record_command_ack("ELEC-1", command_id, state=COMMAND_ACKED, **ack)
    row = store.get_command(command_id)
    store.close()
    assert row is not None
    assert (row.state, row.sent_at, row.ack_reason) == (COMMAND_REJECTED, NOW + 1, 4)


# --- delivery over TCP ---------------------------------------------------------------------


@async_test
async def test_a_queued_time_sync_is_delivered_on_connect_and_its_ack_recorded(
    sqlite: Backend,
) -> None:
    meter = make_meter("ELEC-1")
    async with running(sqlite) as harness:
        harness.register(meter)
        row = await harness.handle.queue_command("ELEC-1", TimeSync(int(time.time())))
        link = await harness.connect(meter)
        message = await link.receive()
        assert isinstance(message, SignedCommand)
        assert message.data == row.signed_command
        command = verify_command(
            message.data,
            SUITE_2.signature,
            command_key().public_key,
            meter_id="ELEC-1",
            now=int(time.time()),
            last_command_id=0,
        )
        await link.send(CommandAck(command.command_id, CommandStatus.EXECUTED, detail=-42))
        await wait_until(lambda: _state(harness.store, row.command_id) == COMMAND_ACKED)
        stored = harness.store.get_command(row.command_id)
        stats = harness.handle.stats()
    assert stored is not None
    assert (stored.ack_status, stored.ack_detail) == (CommandStatus.EXECUTED, -42)
    assert (stats.commands_queued, stats.commands_sent, stats.command_acks) == (1, 1, 1)


def _state(store: Store, command_id: int) -> str | None:
    row = store.get_command(command_id)
    return None if row is None else row.state


@async_test
async def test_a_command_for_a_connected_meter_goes_out_at_once(sqlite: Backend) -> None:
    meter = make_meter("ELEC-1")
    async with running(sqlite) as harness:
        harness.register(meter)
        link = await harness.connect(meter)
        row = await harness.handle.queue_command("ELEC-1", TimeSync(int(time.time())))
        message = await link.receive()
        assert message == SignedCommand(row.signed_command)
        assert _state(harness.store, row.command_id) == COMMAND_SENT


@async_test
async def test_a_sent_command_without_ack_is_sent_again_on_the_next_connection(
    sqlite: Backend,
) -> None:
    meter = make_meter("ELEC-1")
    async with running(sqlite) as harness:
        harness.register(meter)
        row = await harness.handle.queue_command("ELEC-1", TimeSync(int(time.time())))
        first = await harness.connect(meter)
        assert await first.receive() == SignedCommand(row.signed_command)
        await first.close()
        second = await harness.connect(meter)
        assert await second.receive() == SignedCommand(row.signed_command)
        reject = CommandAck(row.command_id, CommandStatus.REJECTED, CommandRejectReason.REPLAYED)
        await second.send(reject)
        await wait_until(lambda: _state(harness.store, row.command_id) == COMMAND_REJECTED)
