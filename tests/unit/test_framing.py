"""Framing on a byte stream: reassembly, limits, and malformed headers."""

from __future__ import annotations

import pytest

from meterseal.errors import FramingError
from meterseal.framing import MAX_FRAME_BODY, Frame, FrameDecoder, FrameKind, encode_frame


def test_frames_survive_any_split_of_the_stream() -> None:
    frames = [Frame(FrameKind.EDHOC, b"m1"), Frame(FrameKind.RECORD, bytes(300))]
    stream = b"".join(encode_frame(f.kind, f.body) for f in frames)
    for cut in range(len(stream) + 1):
        decoder = FrameDecoder()
        assert decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) == frames
        assert decoder.buffered == 0


def test_byte_by_byte_delivery_yields_each_frame_once() -> None:
    stream = encode_frame(FrameKind.RECORD, b"abc") * 3
    decoder = FrameDecoder()
    got = [frame for byte in stream for frame in decoder.feed(bytes([byte]))]
    assert got == [Frame(FrameKind.RECORD, b"abc")] * 3


def test_an_oversized_frame_is_refused_from_its_header_alone() -> None:
    decoder = FrameDecoder(max_body=100)
    header = (102).to_bytes(2, "big") + bytes([FrameKind.RECORD])
    with pytest.raises(FramingError, match="exceeds"):
        decoder.feed(header)


def test_unknown_kind_and_zero_length_are_refused() -> None:
    with pytest.raises(FramingError, match="unknown frame kind"):
        FrameDecoder().feed(b"\x00\x01\x7f")
    with pytest.raises(FramingError, match="length 0"):
        FrameDecoder().feed(b"\x00\x00\x01")


def test_encode_refuses_a_body_the_length_cannot_describe() -> None:
    encode_frame(FrameKind.RECORD, bytes(MAX_FRAME_BODY))
    with pytest.raises(FramingError):
        encode_frame(FrameKind.RECORD, bytes(MAX_FRAME_BODY + 1))
