"""Frames on a byte stream (TCP): how EDHOC messages and records share one connection.

A frame is ``length (2 bytes, big-endian) || kind (1 byte) || body``, where ``length``
counts the kind byte and the body (docs/protocol.md, "Framing over TCP"). The decoder is
sans-IO: feed it whatever bytes arrived and take the complete frames it returns. A frame
over the size limit or of an unknown kind raises :class:`~meterseal.errors.FramingError`
before its body is buffered, so that a peer cannot make the receiver hold more than one
limit's worth of memory.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from meterseal.errors import FramingError

HEADER_LENGTH = 3
MAX_FRAME_BODY = 0xFFFF - 1
"""The largest body the 2-byte length can describe (the length also counts the kind)."""


class FrameKind(enum.IntEnum):
    """What a frame carries; the value is the kind byte on the wire."""

    EDHOC = 0x01
    """An EDHOC message (message_1 to message_4) or an EDHOC error message."""
    RECORD = 0x02
    """A protected record (docs/protocol.md, "Protected records")."""


@dataclass(frozen=True, slots=True)
class Frame:
    kind: FrameKind
    body: bytes


def encode_frame(kind: FrameKind, body: bytes) -> bytes:
    """Return the frame's bytes; raise FramingError if the body is too long."""
    if len(body) > MAX_FRAME_BODY:
        raise FramingError(f"frame body of {len(body)} bytes exceeds {MAX_FRAME_BODY}")
    return (len(body) + 1).to_bytes(2, "big") + bytes([kind]) + body


class FrameDecoder:
    """Turns a stream of bytes into frames, enforcing ``max_body`` per frame."""

    __slots__ = ("_buffer", "_max_body")

    def __init__(self, max_body: int = MAX_FRAME_BODY) -> None:
        if not 0 < max_body <= MAX_FRAME_BODY:
            raise ValueError(f"max_body must be in 1..{MAX_FRAME_BODY}")
        self._max_body = max_body
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Add ``data`` and return every frame it completes, in order."""
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= HEADER_LENGTH:
            length = int.from_bytes(self._buffer[:2], "big")
            kind = self._check_header(length, self._buffer[2])
            end = 2 + length
            if len(self._buffer) < end:
                break
            frames.append(Frame(kind, bytes(self._buffer[HEADER_LENGTH:end])))
            del self._buffer[:end]
        return frames

    def _check_header(self, length: int, kind_byte: int) -> FrameKind:
        if length == 0:
            raise FramingError("frame length 0: a frame has at least its kind byte")
        if length - 1 > self._max_body:
            raise FramingError(f"frame body of {length - 1} bytes exceeds {self._max_body}")
        try:
            return FrameKind(kind_byte)
        except ValueError:
            raise FramingError(f"unknown frame kind 0x{kind_byte:02x}") from None
