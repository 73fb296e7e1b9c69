"""A head-end on a real store and a loopback port, and meters to talk to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from meterseal.headend import HeadendConfig, HeadendHandle, start_headend
from meterseal.headend.config import StoreFactory
from meterseal.headend.testing import MeterLink, SimMeter, sample_keys
from meterseal.store import PostgresStore, SqliteStore, Store


def open_sqlite(path: str) -> Store:
    """A migrated SQLite store (module level: picklable for worker processes)."""
    store = SqliteStore(path)
    store.migrate()
    return store


def open_postgres(dsn: str, schema: str) -> Store:
    """A migrated PostgreSQL store in ``schema``."""
    store = PostgresStore(dsn, schema=schema)
    store.migrate()
    return store


@dataclass(frozen=True)
class Backend:
    """Where a test head-end keeps its data."""

    name: str
    url: str
    factory: StoreFactory


def sqlite_backend(directory: Path) -> Backend:
    """A SQLite file in ``directory``."""
    path = directory / "store.db"
    return Backend("sqlite", f"sqlite:///{path}", partial(open_sqlite, str(path)))


def postgres_backend(dsn: str, schema: str) -> Backend:
    """The PostgreSQL schema ``schema`` at ``dsn``."""
    return Backend("postgres", dsn, partial(open_postgres, dsn, schema))


@dataclass
class Harness:
    """A running head-end, a store connection beside it, and the meters' links."""

    handle: HeadendHandle
    store: Store
    links: list[MeterLink] = field(default_factory=list)

    def register(self, *meters: SimMeter, state: str = "registered") -> None:
        """Add the meters to the registry."""
        for meter in meters:
            self.store.add_meter(meter.record(state))

    async def connect(self, meter: SimMeter, **kwargs: Any) -> MeterLink:
        """Connect and authenticate ``meter``; closed when the harness stops."""
        link = await MeterLink.connect(self.handle.port, meter, **kwargs)
        self.links.append(link)
        return link

    async def open_tcp(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A raw TCP connection to the head-end."""
        return await asyncio.open_connection("127.0.0.1", self.handle.port)


@asynccontextmanager
async def running(
    backend: Backend,
    *,
    factory: StoreFactory | None = None,
    keys: Callable[[], Any] = sample_keys,
    **settings: Any,
) -> AsyncIterator[Harness]:
    """A head-end on ``backend`` listening on a free loopback port."""
    config = HeadendConfig(store_url=backend.url, port=0, **settings)
    store = backend.factory()
    source = keys if config.workers > 1 else keys()
    handle = await start_headend(config, source, store_factory=factory or backend.factory)
    harness = Harness(handle, store)
    try:
        yield harness
    finally:
        for link in harness.links:
            await link.close()
        await handle.close()
        store.close()


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds; AssertionError after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
