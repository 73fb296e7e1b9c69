"""One store connection and the one thread that uses it, for the asyncio head-end.

The store API is synchronous (SQLite, psycopg). Every store call of the head-end goes
through a :class:`StoreRunner`: the event loop hands it a function of the store, the
runner's own thread calls it, and the loop awaits the result without blocking. A worker
keeps two runners: the *writer* (ingest transactions, command updates) and the *reader*
(registry lookups), so a large ``store_batches`` transaction never delays a handshake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from meterseal.headend.config import StoreFactory
from meterseal.store import Store, StoreClosedError

T = TypeVar("T")


class StoreRunner:
    """Runs store calls, one at a time, on a dedicated thread with its own connection."""

    def __init__(self, factory: StoreFactory, name: str) -> None:
        self._factory = factory
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"store-{name}")
        self._store: Store | None = None

    async def start(self) -> None:
        """Open the store connection on the runner's thread."""
        loop = asyncio.get_running_loop()
        self._store = await loop.run_in_executor(self._executor, self._factory)

    async def call(self, function: Callable[[Store], T]) -> T:
        """``function(store)`` on the runner's thread; its exception is raised here."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, function)

    def _run(self, function: Callable[[Store], T]) -> T:
        if self._store is None:
            raise StoreClosedError("the store runner is not started or already closed")
        return function(self._store)

    async def close(self) -> None:
        """Close the connection after the calls already submitted, then the thread."""
        if self._store is not None:
            await self.call(lambda store: store.close())
            self._store = None
        self._executor.shutdown(wait=False)
