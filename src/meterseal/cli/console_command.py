"""``meterseal console [--config FILE] [--data-dir DIR] [--listen HOST:PORT]``.

Serves the web console and REST API on their own, over the store the settings name (the
one ``meterseal serve`` writes), until SIGINT or SIGTERM. Without the head-end in the
process, commands cannot be queued (503). The ledger page reads the ledger's own store
in ``DATA_DIR/ledger`` (read-only, :class:`~meterseal.ledger.local.LedgerReader`) when
there is one, and says the ledger is not configured otherwise.

Cookies are ``Secure``: browsers send them over HTTPS only, so serve with
``--tls-cert``/``--tls-key``, or behind a TLS-terminating proxy. ``--insecure-http``
drops that for a console on the loopback interface (a demo on one machine) and is refused
on any other address.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from contextlib import closing
from pathlib import Path
from typing import Final

from fastapi import FastAPI

from meterseal.api.app import create_app
from meterseal.api.context import console_store
from meterseal.api.embedded import (
    DEFAULT_CONSOLE_LISTEN,
    ConsoleOptionError,
    is_loopback,
    ledger_reader,
)
from meterseal.api.ledger_hook import outbox_hook
from meterseal.api.server import start_console
from meterseal.api.settings import ConsoleSettings
from meterseal.config import load_settings
from meterseal.http_server import parse_listen
from meterseal.store import open_store

DEFAULT_LISTEN: Final = DEFAULT_CONSOLE_LISTEN


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``console``."""
    parser.add_argument("--config", type=Path, help="TOML settings (see meterseal.config)")
    parser.add_argument("--data-dir", type=Path, help="the store lives here")
    parser.add_argument(
        "--listen", default=DEFAULT_LISTEN, help=f"HOST:PORT (default {DEFAULT_LISTEN})"
    )
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate chain for HTTPS")
    parser.add_argument("--tls-key", type=Path, help="PEM private key for HTTPS")
    parser.add_argument(
        "--insecure-http",
        action="store_true",
        help="cookies without Secure, for a loopback-only console (demo)",
    )


def _tls(args: argparse.Namespace) -> tuple[Path, Path] | None:
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ConsoleOptionError("--tls-cert and --tls-key go together")
    return None if args.tls_cert is None else (args.tls_cert, args.tls_key)


def run_console_command(args: argparse.Namespace) -> int:
    """Serve the console until a signal."""
    host, port = parse_listen(args.listen)
    if args.insecure_http and not is_loopback(host):
        raise ConsoleOptionError("--insecure-http is only for a loopback address")
    tls = _tls(args)
    settings = load_settings(args.config).override(data_dir=args.data_dir)
    with (
        closing(open_store(settings.store)) as store,
        ledger_reader(settings.ledger_spec) as ledger,
    ):
        accounts = console_store(store)
        console = ConsoleSettings(insecure_http=args.insecure_http, on_audit=outbox_hook(store))
        app = create_app(accounts, ledger=ledger, settings=console)
        asyncio.run(_serve(app, host, port, tls))
    return 0


async def _serve(app: FastAPI, host: str, port: int, tls: tuple[Path, Path] | None) -> None:
    running = await start_console(app, host, port, tls=tls)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"console: {running.url}", flush=True)
    await stop.wait()
    await running.stop()
