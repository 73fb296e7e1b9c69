"""What every crypto-machine key handle shares: a label, no pickling, a safe repr."""

from __future__ import annotations

from typing import NoReturn


class LabelledHandle:
    """A key handle known to its machine by ``label``; it carries no private material,
    and refuses to be pickled or copied so that it never leaves the process."""

    __slots__ = ("_label",)
    _kind = "key"

    def __init__(self, label: str) -> None:
        self._label = label

    def __repr__(self) -> str:
        return f"<{self._kind} {self._label!r}>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("key handles cannot be pickled")

    @property
    def label(self) -> str:
        return self._label
