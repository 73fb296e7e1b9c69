"""Who may do what: the one permission table of the console and the REST API.

Four roles (issue 6). ``admin`` does everything; ``operator`` runs the fleet (reads meters,
readings and the ledger, queues commands) but sees no key material, no audit log and no
accounts; ``auditor`` reads everything, including public keys, accounts and the audit log,
and changes nothing; ``readonly`` sees the fleet, readings, commands and the ledger.

Private keys are never reachable by any role: no endpoint returns one. ``keys.read`` is the
meters' *public* keys and credentials. An API token carries a role cap and acts with the
permissions its cap and its user's current role both grant.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    """A console account's role (the ``users.role`` column)."""

    ADMIN = "admin"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    READONLY = "readonly"


class Action(StrEnum):
    """Something a request does; every route requires exactly one."""

    METERS_READ = "meters.read"  # fleet, meter list and detail, credential status
    READINGS_READ = "readings.read"  # readings, daily consumption
    KEYS_READ = "keys.read"  # meters' public keys and credentials (never private keys)
    LEDGER_READ = "ledger.read"  # checkpoint, witness cosignatures, proofs
    COMMANDS_READ = "commands.read"
    COMMANDS_QUEUE = "commands.queue"
    AUDIT_READ = "audit.read"
    USERS_READ = "users.read"  # accounts and their tokens (never hashes)
    USERS_MANAGE = "users.manage"  # add, disable, change role, issue and revoke tokens


_READ_FLEET: Final = frozenset(
    {Action.METERS_READ, Action.READINGS_READ, Action.LEDGER_READ, Action.COMMANDS_READ}
)

PERMISSIONS: Final[dict[Role, frozenset[Action]]] = {
    Role.ADMIN: frozenset(Action),
    Role.OPERATOR: _READ_FLEET | {Action.COMMANDS_QUEUE},
    Role.AUDITOR: _READ_FLEET | {Action.KEYS_READ, Action.AUDIT_READ, Action.USERS_READ},
    Role.READONLY: _READ_FLEET,
}
"""Role x action: the only place that says who may do what."""


def permissions(role: str, cap: str | None = None) -> frozenset[Action]:
    """What ``role`` may do, limited to what ``cap`` (an API token's role cap) allows."""
    granted = PERMISSIONS[Role(role)]
    return granted if cap is None else granted & PERMISSIONS[Role(cap)]
