"""What every crypto-machine key handle shares: a label, no pickling, a safe repr."""

from __future__ import annotations

from typing import NoReturn, Self


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


class MachineSession:
    """What both crypto machines share: ``with`` closes them, and they cannot be pickled
    (a pickled machine would be a second, unlocked way into the same keys)."""

    __slots__ = ()

    def close(self) -> None:
        raise NotImplementedError

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"a {type(self).__name__} cannot be pickled")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
