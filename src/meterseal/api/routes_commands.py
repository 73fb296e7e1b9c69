"""``/api/.../commands``: queue a signed time-sync command; read a command's state.

Time sync is the only command type the meters implement today. Commands are queued through
a :class:`~meterseal.api.context.CommandQueue`: the head-end running in the same process
(which also delivers at once to a connected meter), or :class:`StoreCommandQueue`, which
signs with the head-end's command keys and leaves the command in the store for whichever
head-end the meter connects to next.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from meterseal.api.auth import Principal
from meterseal.api.context import Context, require
from meterseal.api.errors import NotFoundError, ServiceUnavailableError
from meterseal.api.roles import Action
from meterseal.api.schemas import ERROR_RESPONSES, CommandOut
from meterseal.api.settings import ConsoleSettings
from meterseal.headend.commands import DEFAULT_OPERATOR, CommandKeyMissingError, queue_command
from meterseal.headend.config import HeadendKeys
from meterseal.messages import CommandParams, TimeSync
from meterseal.store import CommandRow, Store, UnknownMeterError

router = APIRouter(prefix="/api", tags=["commands"], responses=ERROR_RESPONSES)

DEFAULT_TTL: Final = 300
"""Seconds a queued time sync stays valid (an old time must not be set on a meter)."""

CommandsReader = Annotated[Principal, Depends(require(Action.COMMANDS_READ))]
CommandsQueuer = Annotated[Principal, Depends(require(Action.COMMANDS_QUEUE))]


class StoreCommandQueue:
    """Queue commands straight into the store, signed with the head-end's command keys."""

    def __init__(self, store: Store, keys: HeadendKeys, settings: ConsoleSettings) -> None:
        self._store, self._keys, self._settings = store, keys, settings

    async def queue_command(
        self,
        meter_id: str,
        params: CommandParams,
        ttl: int | None = None,
        *,
        operator: str = DEFAULT_OPERATOR,
    ) -> CommandRow:
        """Sign and store the command ``queued``, with its ledger leaf naming ``operator``."""
        life = DEFAULT_TTL if ttl is None else ttl
        now = self._settings.now()
        return await run_in_threadpool(
            queue_command,
            self._store,
            self._keys,
            meter_id,
            params,
            now=now,
            ttl=life,
            operator=operator,
        )


def command_out(row: CommandRow) -> CommandOut:
    """The API form of a command row (without its signed bytes)."""
    return CommandOut(
        command_id=row.command_id,
        meter_id=row.meter_id,
        kind=row.kind,
        state=row.state,
        created_at=row.created_at,
        expires_at=row.expires_at,
        sent_at=row.sent_at,
        acked_at=row.acked_at,
        ack_status=row.ack_status,
    )


async def queue_time_sync(context: Context, principal: Principal, meter_id: str) -> CommandRow:
    """Queue a time sync to the current time for ``meter_id``, audited either way.

    Runs in the event loop the head-end may share, so the store calls go to a thread.
    """
    if context.commands is None:
        raise ServiceUnavailableError("commands need the head-end; none runs with this console")
    action = "command.time_sync"
    try:
        row = await context.commands.queue_command(
            meter_id, TimeSync(context.now()), operator=principal.name
        )
    except UnknownMeterError as exc:
        await run_in_threadpool(context.audit, principal.name, action, meter_id, {}, "failed")
        raise NotFoundError(f"no meter {meter_id!r}") from exc
    except CommandKeyMissingError as exc:
        await run_in_threadpool(context.audit, principal.name, action, meter_id, {}, "failed")
        raise ServiceUnavailableError(str(exc)) from exc
    detail = {"command_id": row.command_id, "kind": row.kind}
    await run_in_threadpool(context.audit, principal.name, action, meter_id, detail)
    return row


@router.post("/meters/{meter_id}/commands/time-sync", status_code=201)
async def time_sync(context: Context, principal: CommandsQueuer, meter_id: str) -> CommandOut:
    """Queue a signed time-sync command for the meter (delivered when it connects)."""
    return command_out(await queue_time_sync(context, principal, meter_id))


@router.get("/commands/{command_id}")
def get_command(context: Context, _: CommandsReader, command_id: int) -> CommandOut:
    """A command's state: queued, sent, acked, rejected, failed or expired."""
    row = context.store.get_command(command_id) if 0 < command_id < 2**62 else None
    if row is None:
        raise NotFoundError(f"no command {command_id}")
    return command_out(row)
