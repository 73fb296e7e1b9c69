"""The console served beside a running head-end, in its process and event loop.

``meterseal serve`` and ``meterseal demo --console`` call :func:`embedded_console` once
the head-end listens. The console gets its own connection to the head-end's store, reads
the ledger read-only (the in-process ledger's own store under ``DATA_DIR/ledger``, or the
ledger service through :class:`~meterseal.ledger.client.LedgerClient`), queues commands
through the head-end, and sends every audit row to the store's ledger outbox.

Cookies are ``Secure`` unless the console listens on a loopback address without TLS
(one machine, a demo): there the browser would otherwise drop the session cookie over
plain HTTP, and nothing else can see the traffic.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from meterseal.api.app import create_app
from meterseal.api.context import CommandQueue, LedgerView, console_store
from meterseal.api.ledger_hook import outbox_hook
from meterseal.api.server import RunningConsole, start_console
from meterseal.api.settings import ConsoleSettings
from meterseal.errors import MeterSealError
from meterseal.ledger.config import DB_NAME, LedgerConfig
from meterseal.ledger.local import LedgerReader
from meterseal.store import open_store

DEFAULT_CONSOLE_LISTEN: Final = "127.0.0.1:7480"
NO_CONSOLE: Final = "none"


class ConsoleOptionError(MeterSealError):
    """A console address or TLS option that cannot be used."""


@dataclass(frozen=True, slots=True)
class ConsoleListen:
    """Where the console listens, and the TLS certificate and key files if any."""

    host: str
    port: int
    tls: tuple[Path, Path] | None = None

    @property
    def insecure_http(self) -> bool:
        """Plain HTTP cookies: only on loopback without TLS."""
        return self.tls is None and is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def ledger_reader(spec: str | None) -> Iterator[LedgerView | None]:
    """What the console shows of the ledger that ``spec`` names (a data directory, an
    ``http(s)://`` URL, or None/``none``): a read-only reader, or None when there is none."""
    if spec is None or spec == NO_CONSOLE:
        yield None
        return
    if spec.startswith(("http://", "https://")):
        from meterseal.ledger.client import LedgerClient  # noqa: PLC0415 - httpx only if used

        with closing(LedgerClient(spec)) as client:
            yield client
        return
    config = LedgerConfig(data_dir=Path(spec).resolve())
    if not (config.ledger_dir / DB_NAME).exists():
        yield None
        return
    with closing(LedgerReader.open(config.store)) as reader:
        yield reader


@asynccontextmanager
async def embedded_console(
    listen: ConsoleListen,
    *,
    store_url: str,
    ledger_spec: str | None,
    commands: CommandQueue | None,
) -> AsyncIterator[RunningConsole]:
    """Serve the console on ``listen`` until the block exits, then stop it and close its
    store connection and ledger reader."""
    with closing(open_store(store_url)) as store, ledger_reader(ledger_spec) as ledger:
        settings = ConsoleSettings(insecure_http=listen.insecure_http, on_audit=outbox_hook(store))
        app = create_app(console_store(store), ledger=ledger, commands=commands, settings=settings)
        running = await start_console(app, listen.host, listen.port, tls=listen.tls)
        try:
            yield running
        finally:
            await running.stop()
