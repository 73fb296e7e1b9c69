"""The protected record's wire format: one header byte, the sequence number, the AEAD output.

See docs/protocol.md section 6.4. A record is::

    record = header || ciphertext || tag
    header = flags (1 byte) || seq (1..5 bytes, big-endian, shortest form)

    flags:  7 6 | 5 4 | 3 | 2 1 0
            ver | type| P | seq length - 1

``ver`` is :data:`VERSION`, ``type`` a :class:`RecordType`, ``P`` the key phase (the low bit
of the sender's epoch, as QUIC's Key Phase bit, RFC 9001 section 6) and the last three bits
the length of the sequence number field minus one (0..4). The sequence number is the
OSCORE partial IV (RFC 8613 section 6.1): at most 5 bytes, never reused under one key.

Nothing here touches keys; :mod:`meterseal.records.layer` uses these helpers on its hot
path, so they are plain functions over ints and bytes.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from meterseal.errors import RecordError

VERSION = 1
"""The record format version carried in the two high bits of the flags byte."""

MAX_SEQ_LENGTH = 5
"""The sequence number is at most 5 bytes (the OSCORE partial IV, RFC 8613 section 5)."""

MAX_SEQ = (1 << (8 * MAX_SEQ_LENGTH)) - 1
"""The largest sequence number that fits the header (2^40 - 1)."""


class RecordType(IntEnum):
    """What a record carries (the ``type`` bits of the flags byte)."""

    APPLICATION_DATA = 0
    """Application bytes (CBOR messages: reading batches, commands, acks)."""
    KEY_UPDATE = 1
    """Asks the peer to move its sending direction to the next epoch (cf. RFC 8446 4.6.3)."""
    CLOSE = 2
    """The sender's last record in this direction; the payload is an optional reason."""


RECORD_TYPES: tuple[RecordType, ...] = tuple(RecordType)
"""Record types indexed by their wire value (a tuple lookup is faster than ``RecordType(n)``)."""


class Record(NamedTuple):
    """One authenticated record, as :meth:`RecordLayer.open` returns it. Immutable."""

    type: RecordType
    epoch: int
    seq: int
    payload: bytes


Header = tuple[RecordType, int, int, int]
"""A parsed, not yet authenticated header: ``(type, key phase, seq, header length)``.

A plain tuple rather than a NamedTuple: it is built for every received record.
"""


def flags_byte(record_type: int, phase: int, seq_length: int) -> int:
    """The first header byte for a record of ``record_type`` under key ``phase``."""
    return (VERSION << 6) | (record_type << 4) | (phase << 3) | (seq_length - 1)


def seq_length(seq: int) -> int:
    """Length of the shortest big-endian encoding of ``seq`` (at least one byte)."""
    return 1 if seq < 0x100 else (seq.bit_length() + 7) >> 3


def encode_header(record_type: int, phase: int, seq: int) -> bytes:
    """Encode the header of record ``seq`` (``0 <= seq <= MAX_SEQ``)."""
    length = seq_length(seq)
    flags = flags_byte(record_type, phase, length)
    return ((flags << (8 * length)) | seq).to_bytes(length + 1, "big")


def parse_header(record: bytes, tag_length: int) -> Header:
    """Parse the header of ``record``, or raise :class:`RecordError`.

    Rejects an unknown version or record type, a sequence number field longer than 5
    bytes or not in shortest form, and a record too short to hold its header and tag.
    """
    if len(record) < 2 + tag_length:
        raise RecordError("record truncated")
    flags = record[0]
    if flags >> 6 != VERSION:
        raise RecordError(f"record version {flags >> 6} is not {VERSION}")
    wire_type = (flags >> 4) & 0x03
    if wire_type >= len(RECORD_TYPES):
        raise RecordError(f"record type {wire_type} is not defined")
    length = (flags & 0x07) + 1
    if length > MAX_SEQ_LENGTH:
        raise RecordError(f"sequence number field of {length} bytes exceeds {MAX_SEQ_LENGTH}")
    if len(record) < 1 + length + tag_length:
        raise RecordError("record truncated")
    if length > 1 and record[1] == 0:
        raise RecordError("sequence number not in shortest form")
    seq = int.from_bytes(record[1 : 1 + length], "big")
    return RECORD_TYPES[wire_type], (flags >> 3) & 0x01, seq, 1 + length
