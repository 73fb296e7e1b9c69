"""The queue of MeterSeal writers on one SQLite file: an advisory lock beside the database.

SQLite serialises writers itself: ``BEGIN IMMEDIATE`` on a file another connection is
writing to fails busy, and SQLite's busy handler sleeps and tries again, 1, 2, 5, 10,
15, 20, 25 ms apart. A head-end's worker processes write transactions of tens of
milliseconds back to back, so a waiting worker typically oversleeps the other's commit by
several milliseconds, during which the file is not written at all. MeterSeal's writers
therefore queue on an ``flock`` of ``<database>-writer.lock`` first, which wakes the next
writer the moment the last one commits. SQLite's own locking still decides: the lock only
orders MeterSeal's writers (other programs writing the file meet the busy handler as
before).

A writer that cannot take the lock within the store's timeout gets
:class:`~meterseal.store.errors.StoreUnavailable`, as it would from SQLite. The lock is
held by an open file description, so the kernel drops it if the process dies. The lock
file is created on the first write and never removed (removing it would let two writers
lock two different files).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from meterseal.store.errors import StoreUnavailable


class WriterLock:
    """The advisory writer lock of the SQLite database at ``database``.

    Waiting costs nothing: when the lock is taken, a helper thread blocks in ``flock``
    (without the GIL) and wakes the writer the moment it gets the lock; a writer that
    gives up after the timeout leaves the helper to release the lock once it gets it, on
    a file description of its own, so the next writer cannot mistake it for its own.
    """

    def __init__(self, database: str, timeout: float) -> None:
        self.path = f"{database}-writer.lock"
        self._timeout = timeout
        self._fd: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the block (waiting up to the timeout for it)."""
        fd = self._acquire()
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _acquire(self) -> int:
        fd = self._open()
        if _try_lock(fd):
            return fd
        waiter = _Waiter(fd)
        if waiter.wait(self._timeout):
            return fd
        self._fd = None  # the waiter owns it now, and closes it
        raise StoreUnavailable(
            f"SQLite database is locked: another MeterSeal writer held {self.path} "
            f"for more than {self._timeout} s"
        )

    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise StoreUnavailable(f"cannot open the writer lock {self.path}: {exc}") from exc
        return self._fd

    def close(self) -> None:
        """Close the lock file (releasing the lock if held)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _Waiter:
    """A thread blocked in ``flock`` on ``fd`` for a writer that waits with a timeout."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._mutex = threading.Lock()
        self._locked = threading.Event()
        self._abandoned = False
        threading.Thread(target=self._block, name="sqlite-writer-lock", daemon=True).start()

    def _block(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        with self._mutex:
            if not self._abandoned:
                self._locked.set()
                return
        os.close(self._fd)  # releases the lock nobody waits for any more

    def wait(self, timeout: float) -> bool:
        """True once the lock is held; False (abandoning it) after ``timeout`` seconds."""
        if self._locked.wait(timeout):
            return True
        with self._mutex:
            self._abandoned = not self._locked.is_set()
            return not self._abandoned


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
