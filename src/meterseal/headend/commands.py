"""Commands to meters: sign, queue (persisted), deliver on connect, record the meter's ack.

A command is signed once, when it is queued, with the head-end's command key for the
meter's suite (:func:`~meterseal.messages.sign_command`, COSE_Sign1 with the external
AAD "MeterSeal command v1"); the store allocates its id (strictly increasing per meter,
as the meter's replay check requires) and keeps the signed bytes in the ``commands``
table (:mod:`meterseal.store.commands`). The signed bytes are what is delivered, byte for
byte, so what was queued is exactly what a meter can act on.

Delivery: when a meter's session is established, its open commands (queued, or sent
without an ack) go out oldest first; a command queued while the meter is connected to
this process goes out at once. A command not delivered by ``expires_at`` expires (the
meter would refuse it anyway: a time sync must not set a clock to an old time, so
time-sync commands get a short validity, ``command_ttl``). Each command is sent at most
once per session; one that was sent but not acked is sent again on the next session,
and the meter's replay check refuses a second execution.

Acks: the meter's :class:`~meterseal.messages.CommandAck` for one of its own open
commands moves it to ``acked`` (executed), ``rejected`` or ``failed`` with the reason
and detail (for a time sync, the clock adjustment in seconds). An ack for another
meter's command, or for a command already closed, is ignored and logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from meterseal.crypto.suites import get_suite
from meterseal.errors import MeterSealError
from meterseal.headend.config import HeadendKeys
from meterseal.headend.runner import StoreRunner
from meterseal.headend.stats import HeadendStats
from meterseal.messages import Command, CommandAck, CommandParams, CommandStatus, sign_command
from meterseal.store import (
    COMMAND_ACKED,
    COMMAND_FAILED,
    COMMAND_REJECTED,
    CommandRow,
    Store,
    UnknownMeterError,
)

log = logging.getLogger("meterseal.headend.commands")

_ACK_STATES = {
    CommandStatus.EXECUTED: COMMAND_ACKED,
    CommandStatus.REJECTED: COMMAND_REJECTED,
    CommandStatus.FAILED: COMMAND_FAILED,
}

DEFAULT_OPERATOR = "headend"
"""The operator a command's ledger leaf names when the caller names none."""

SendCommand = Callable[[bytes], bool]
"""Writes a signed command to the meter's session; False if the session is gone."""


class CommandKeyMissingError(MeterSealError):
    """The head-end has no command-signing key for the meter's suite."""


def queue_command(
    store: Store,
    keys: HeadendKeys,
    meter_id: str,
    params: CommandParams,
    *,
    now: int,
    ttl: int,
    operator: str = DEFAULT_OPERATOR,
) -> CommandRow:
    """Sign a command for ``meter_id`` and queue it in ``store`` (synchronous), with its
    ``OperatorCommand`` ledger leaf (naming ``operator``) in the same transaction.

    :class:`~meterseal.store.UnknownMeterError` for an unknown meter,
    :class:`CommandKeyMissingError` if no command key fits its suite.
    """
    meter = store.get_meter(meter_id)
    if meter is None:
        raise UnknownMeterError(f"meter {meter_id!r} is not registered")
    key = keys.command_keys.get(meter.suite)
    if key is None:
        raise CommandKeyMissingError(f"no command key for suite {meter.suite} ({meter_id})")
    alg = get_suite(meter.suite).signature
    expires = now + ttl

    def sign(command_id: int) -> bytes:
        command = Command(command_id, meter_id, now, expires, params)
        return sign_command(command, key, alg, kid=keys.command_kid)

    kind = int(params.KIND)
    return store.queue_logged_command(meter_id, kind, now, expires, sign, operator=operator)


class CommandDispatcher:
    """Queues, delivers and records commands for the meters of one head-end process."""

    def __init__(
        self,
        writer: StoreRunner,
        keys: HeadendKeys,
        stats: HeadendStats,
        *,
        ttl: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._writer, self._keys, self._stats = writer, keys, stats
        self._ttl, self._clock = ttl, clock

    def _now(self) -> int:
        return int(self._clock())

    async def queue(
        self,
        meter_id: str,
        params: CommandParams,
        ttl: int | None = None,
        *,
        operator: str = DEFAULT_OPERATOR,
    ) -> CommandRow:
        """Sign and persist a command for ``meter_id`` (and its ledger leaf); the caller
        then delivers it."""
        keys, now, life = self._keys, self._now(), self._ttl if ttl is None else ttl
        row = await self._writer.call(
            lambda store: queue_command(
                store, keys, meter_id, params, now=now, ttl=life, operator=operator
            )
        )
        self._stats.commands_queued += 1
        log.info("command %d (%s) queued for meter %s", row.command_id, params.KIND.name, meter_id)
        return row

    async def deliver(self, meter_id: str, send: SendCommand, already: set[int]) -> list[int]:
        """Send the meter's open commands not in ``already`` (ids sent this session).

        Returns the ids sent, which are added to ``already`` and marked sent.
        """
        now = self._now()
        rows = await self._writer.call(lambda store: store.open_commands(meter_id, now))
        sent = [row.command_id for row in rows if _send_once(row, send, already)]
        if sent:
            await self._writer.call(lambda store: store.mark_commands_sent(sent, now))
            self._stats.commands_sent += len(sent)
        return sent

    async def record_ack(self, meter_id: str, ack: CommandAck) -> bool:
        """Record the meter's ack; False (and a log line) if it matched no open command."""
        state, now = _ACK_STATES[ack.status], self._now()
        recorded = await self._writer.call(
            lambda store: store.record_command_ack(
                meter_id,
                ack.command_id,
                state=state,
                acked_at=now,
                status=int(ack.status),
                reason=int(ack.reason),
                detail=ack.detail,
            )
        )
        self._stats.command_acks += 1
        if not recorded:
            log.warning("meter %s acked command %d, which it has no open", meter_id, ack.command_id)
        return recorded


def _send_once(row: CommandRow, send: SendCommand, already: set[int]) -> bool:
    if row.command_id in already or not send(row.signed_command):
        return False
    already.add(row.command_id)
    return True
