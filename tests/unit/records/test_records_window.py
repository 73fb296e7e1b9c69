"""The 64-entry replay window (RFC 4303 section 3.4.3, RFC 8613 section 7.4)."""

from __future__ import annotations

import pytest

from meterseal.errors import ReplayError
from meterseal.records.window import WINDOW_SIZE, accept, check


def _accept_all(seqs: list[int]) -> tuple[int, int]:
    top, bitmap = -1, 0
    for seq in seqs:
        check(top, bitmap, seq)
        top, bitmap = accept(top, bitmap, seq)
    return top, bitmap


def test_window_is_64_entries() -> None:
    assert WINDOW_SIZE == 64


def test_fresh_window_accepts_any_first_number() -> None:
    check(-1, 0, 0)
    check(-1, 0, 10**9)
    assert accept(-1, 0, 7) == (7, 1)


def test_accepted_number_is_rejected_again() -> None:
    top, bitmap = _accept_all([0, 1, 2])
    for seq in (0, 1, 2):
        with pytest.raises(ReplayError, match="already"):
            check(top, bitmap, seq)


def test_gap_left_of_top_is_still_accepted() -> None:
    top, bitmap = _accept_all([0, 5])
    for seq in (1, 2, 3, 4):
        check(top, bitmap, seq)


def test_oldest_entry_inside_the_window_is_accepted() -> None:
    top, bitmap = _accept_all([WINDOW_SIZE - 1])
    check(top, bitmap, 0)


def test_number_left_of_the_window_is_rejected() -> None:
    top, bitmap = _accept_all([WINDOW_SIZE])
    with pytest.raises(ReplayError, match="left of the replay window"):
        check(top, bitmap, 0)


def test_bitmap_keeps_only_64_bits() -> None:
    top, bitmap = _accept_all(list(range(200)))
    assert top == 199
    assert bitmap == (1 << WINDOW_SIZE) - 1


def test_accepting_an_older_number_sets_its_bit_only() -> None:
    top, bitmap = _accept_all([10])
    assert accept(top, bitmap, 7) == (10, 0b1001)
