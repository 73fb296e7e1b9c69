"""External Authorization Data: EAD items carried through EDHOC (RFC 9528 section 3.8).

An EAD field is a sequence of items ``(ead_label: int, ? ead_value: bstr)``. A negative
label marks the item *critical*: an endpoint that does not understand a critical item
must abort the session. Label 0 is padding and is dropped on receipt (section 3.8.1).
MeterSeal passes the items to the application untouched; the connection's
``understood_ead`` setting names the (absolute) labels the application processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from meterseal import cbor
from meterseal.edhoc.encoding import Item, expect_bstr, expect_int
from meterseal.errors import EdhocError

PADDING_LABEL = 0


@dataclass(frozen=True, slots=True)
class EadItem:
    """One EAD item: ``label`` as on the wire (negative = critical), optional ``value``."""

    label: int
    value: bytes | None = None

    @property
    def critical(self) -> bool:
        """True for a critical item (RFC 9528 section 3.8: a negative ead_label)."""
        return self.label < 0

    def encode(self) -> bytes:
        """The item's CBOR sequence: the label, then the value if there is one."""
        if self.value is None:
            return cbor.encode_int(self.label)
        return cbor.encode_int(self.label) + cbor.encode_bstr(self.value)


def encode_ead(items: Iterable[EadItem]) -> bytes:
    """Encode an EAD field (an empty field is absent: no bytes)."""
    return b"".join([item.encode() for item in items])


def decode_ead(items: Sequence[Item], what: str) -> tuple[EadItem, ...]:
    """Decode the trailing items of a message as an EAD field; padding is dropped."""
    decoded: list[EadItem] = []
    index = 0
    while index < len(items):
        label = expect_int(items[index], f"{what} label")
        value = None
        if index + 1 < len(items) and type(items[index + 1].value) is bytes:
            value = expect_bstr(items[index + 1], f"{what} value")
            index += 1
        index += 1
        if label != PADDING_LABEL:
            decoded.append(EadItem(label, value))
    return tuple(decoded)


def check_critical(items: Iterable[EadItem], understood: frozenset[int]) -> None:
    """Raise EdhocError for a critical item whose label the application does not know."""
    for item in items:
        if item.critical and -item.label not in understood:
            raise EdhocError(f"critical EAD item {item.label} is not understood")


def ead_raw(items: Sequence[Item]) -> bytes:
    """The received EAD field's bytes exactly as sent (for context_2 and context_3)."""
    return b"".join([item.raw for item in items])
