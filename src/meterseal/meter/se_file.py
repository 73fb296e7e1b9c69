"""The secure element's state blob on disk: atomic replace, so a crash keeps a whole blob.

``SecureElement.create(..., on_change=BlobFile(path).write)`` writes through on every
change; ``SecureElement.load(BlobFile(path).read(), ...)`` reads it back. The blob is
already encrypted and authenticated (:mod:`meterseal.meter.se_state`); this module only
makes the write durable: temporary file, fsync, ``os.replace``, fsync of the directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from meterseal.errors import SecureElementError


class BlobFile:
    """One file holding the latest state blob."""

    __slots__ = ("path",)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def read(self) -> bytes:
        """The stored blob, or raise :class:`SecureElementError` if there is none."""
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise SecureElementError(f"cannot read the state blob {self.path}: {exc}") from exc

    def write(self, blob: bytes) -> None:
        """Replace the stored blob atomically and durably."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with tmp.open("wb") as out:
                out.write(blob)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(self.path)
            _fsync_directory(self.path.parent)
        except OSError as exc:
            raise SecureElementError(f"cannot write the state blob {self.path}: {exc}") from exc


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
