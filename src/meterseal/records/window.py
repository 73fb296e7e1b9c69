"""The receiver's sliding replay window: 64 sequence numbers in one integer bitmap.

The window is the anti-replay scheme of RFC 4303 section 3.4.3 and RFC 9147 section 4.5.1
(and OSCORE's replay window, RFC 8613 section 7.4): ``top`` is the highest sequence
number accepted so far (-1 before the first), and bit ``i`` of ``bitmap`` is set when
``top - i`` was accepted. A number right of ``top`` is always fresh; one more than
``WINDOW_SIZE - 1`` left of it is too old to tell and is rejected.

Checking and accepting are separate, pure functions: the record layer checks before it
decrypts and accepts only after the record authenticated, so a forged record never moves
the window.
"""

from __future__ import annotations

from meterseal.errors import ReplayError

WINDOW_SIZE = 64
_MASK = (1 << WINDOW_SIZE) - 1


def check(top: int, bitmap: int, seq: int) -> None:
    """Raise :class:`ReplayError` if ``seq`` was accepted before or lies left of the window."""
    if seq > top:
        return
    offset = top - seq
    if offset >= WINDOW_SIZE:
        raise ReplayError(f"sequence number {seq} is left of the replay window (top {top})")
    if (bitmap >> offset) & 1:
        raise ReplayError(f"sequence number {seq} was already received")


def accept(top: int, bitmap: int, seq: int) -> tuple[int, int]:
    """The window ``(top, bitmap)`` after accepting ``seq`` (which :func:`check` passed)."""
    if seq > top:
        return seq, ((bitmap << (seq - top)) | 1) & _MASK
    return top, bitmap | (1 << (top - seq))
