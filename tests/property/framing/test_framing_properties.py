"""Properties of the TCP framing (docs/protocol.md section 2), checked with Hypothesis."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from meterseal.errors import FramingError
from meterseal.framing import Frame, FrameDecoder, FrameKind, encode_frame

frames = st.lists(
    st.builds(Frame, st.sampled_from(list(FrameKind)), st.binary(max_size=600)), max_size=8
)


@given(frames, st.lists(st.integers(min_value=0, max_value=5000), max_size=6))
def test_any_frames_cut_anywhere_come_back_in_order(items: list[Frame], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(frame.kind, frame.body) for frame in items)
    decoder = FrameDecoder()
    got: list[Frame] = []
    start = 0
    for cut in [*sorted(c % (len(stream) + 1) for c in cuts), len(stream)]:
        got += decoder.feed(stream[start:cut])
        start = cut
    assert got == items
    assert decoder.buffered == 0


@settings(max_examples=300)
@given(st.binary(max_size=2000))
def test_random_bytes_yield_frames_or_a_framing_error(data: bytes) -> None:
    decoder = FrameDecoder(max_body=512)
    try:
        for frame in decoder.feed(data):
            assert len(frame.body) <= 512
    except FramingError:
        pass
    assert decoder.buffered <= len(data)
