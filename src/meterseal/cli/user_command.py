"""``meterseal user add|list|disable|enable|token``: console accounts from the command line.

Works on the store the settings name (``--config FILE``, ``--data-dir DIR``: the same
store ``meterseal serve`` and ``meterseal console`` use). Passwords are read from the
terminal without echo, twice, or from one line of standard input with
``--password-stdin``; they are stored as argon2id hashes only. ``user token`` prints a
new API token once: the store keeps its hash. Every change is written to the audit log
with the actor ``cli``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from meterseal.api.auth import Authenticator
from meterseal.api.context import ApiContext, console_store
from meterseal.api.ledger_hook import outbox_hook
from meterseal.api.roles import Role
from meterseal.api.settings import ConsoleSettings
from meterseal.config import load_settings
from meterseal.errors import MeterSealError
from meterseal.store import open_store

ACTOR = "cli"


class PasswordEntryError(MeterSealError):
    """The password could not be read, or the two entries differ."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommands of ``user``."""
    actions = parser.add_subparsers(dest="user_action", required=True)
    add = _action(actions, "add", "add an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=run_add)
    listing = _action(actions, "list", "list accounts and their tokens")
    listing.set_defaults(handler=run_list)
    for name, handler in (("disable", run_disable), ("enable", run_enable)):
        sub = _action(actions, name, f"{name} an account (ends its sessions)")
        sub.add_argument("name")
        sub.set_defaults(handler=handler)
    token = _action(actions, "token", "issue an API token (printed once)")
    token.add_argument("name")
    token.add_argument("--role-cap", choices=[role.value for role in Role])
    token.add_argument("--label", default="", help="what the token is for")
    token.set_defaults(handler=run_token)


def _action(
    actions: argparse._SubParsersAction[argparse.ArgumentParser], name: str, about: str
) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, help=about, description=about)
    parser.add_argument("--config", type=Path, help="TOML settings (see meterseal.config)")
    parser.add_argument("--data-dir", type=Path, help="the store lives here")
    return parser


@contextmanager
def _accounts(args: argparse.Namespace) -> Iterator[ApiContext]:
    settings = load_settings(args.config).override(data_dir=args.data_dir)
    with closing(open_store(settings.store)) as store:
        accounts = console_store(store)
        console = ConsoleSettings(on_audit=outbox_hook(store))
        yield ApiContext(accounts, console, Authenticator(accounts, console))


def read_password(from_stdin: bool) -> str:
    """The new password: a line of stdin, or typed twice at the terminal."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise PasswordEntryError("the two passwords differ")
    if not password:
        raise PasswordEntryError("no password given")
    return password


def run_add(args: argparse.Namespace) -> int:
    """``user add NAME --role ROLE``."""
    password = read_password(args.password_stdin)
    with _accounts(args) as context:
        user = context.auth.add_user(args.name, password, args.role)
        context.audit(ACTOR, "user.add", user.name, {"role": user.role})
    print(f"added {user.name} ({user.role})")
    return 0


def _when(at: int | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M")


def run_list(args: argparse.Namespace) -> int:
    """``user list``: accounts, then tokens (prefixes only)."""
    with _accounts(args) as context:
        users, tokens = context.store.list_users(), context.store.list_tokens()
    for user in users:
        state = "disabled" if user.disabled else "active"
        print(f"{user.name:24} {user.role:9} {state:8} created {_when(user.created_at)}")
    for token in tokens:
        revoked = f"revoked {_when(token.revoked_at)}" if token.revoked_at else "active"
        print(
            f"token {token.token_id}: {token.prefix}... user {token.user_name} cap "
            f"{token.role_cap} {revoked} last used {_when(token.last_used)} {token.label}"
        )
    return 0


def _set_disabled(args: argparse.Namespace, disabled: bool) -> int:
    with _accounts(args) as context:
        user = context.auth.update_user(args.name, role=None, disabled=disabled)
        context.audit(ACTOR, "user.update", user.name, {"disabled": disabled})
    print(f"{user.name} is {'disabled' if disabled else 'enabled'}")
    return 0


def run_disable(args: argparse.Namespace) -> int:
    """``user disable NAME``."""
    return _set_disabled(args, disabled=True)


def run_enable(args: argparse.Namespace) -> int:
    """``user enable NAME``."""
    return _set_disabled(args, disabled=False)


def run_token(args: argparse.Namespace) -> int:
    """``user token NAME [--role-cap ROLE] [--label TEXT]``: print a new API token once."""
    with _accounts(args) as context:
        user = context.store.get_user(args.name)
        cap = args.role_cap or (user.role if user is not None else Role.READONLY.value)
        token, row = context.auth.issue_token(args.name, cap, args.label)
        detail = {"token_id": row.token_id, "role_cap": cap, "prefix": row.prefix}
        context.audit(ACTOR, "token.issue", row.user_name, detail)
    print(token)
    print(
        f"token {row.token_id} for {row.user_name}, role cap {cap}: shown once, keep it safe",
        file=sys.stderr,
    )
    return 0
