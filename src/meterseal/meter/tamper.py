"""Signed tamper events: what the secure element records before it zeroizes its keys.

An event is signed with the meter's data key over a CBOR array (RFC 8949)::

    to_be_signed = ["MeterSeal tamper event", device_id: bstr, seq: uint, kind: tstr,
                    time: uint]

``seq`` numbers the events of one element from 1; ``time`` is the caller's clock (Unix
seconds) at the tamper signal. An event recorded after the element was already zeroized
cannot be signed and carries an empty signature.
"""

from __future__ import annotations

from dataclasses import dataclass

from meterseal import cbor
from meterseal.crypto.interfaces import SignatureAlg
from meterseal.errors import SignatureError

TAMPER_CONTEXT = "MeterSeal tamper event"


@dataclass(frozen=True, slots=True)
class TamperEvent:
    """One tamper event, as recorded and signed by the secure element."""

    device_id: bytes
    seq: int
    kind: str
    time: int
    signature: bytes

    def to_be_signed(self) -> bytes:
        """The bytes the data key signed."""
        return tamper_to_be_signed(self.device_id, self.seq, self.kind, self.time)

    def verify(self, alg: SignatureAlg, data_public_key: bytes) -> None:
        """Return quietly, or raise :class:`SignatureError` (also for an unsigned event)."""
        if not self.signature:
            raise SignatureError("tamper event recorded after zeroization is unsigned")
        alg.verify(data_public_key, self.to_be_signed(), self.signature)


def tamper_to_be_signed(device_id: bytes, seq: int, kind: str, time: int) -> bytes:
    """``["MeterSeal tamper event", device_id, seq, kind, time]`` in CBOR."""
    return cbor.encode([TAMPER_CONTEXT, device_id, seq, kind, time])
