"""Credential serials: random, positive, 63 bits, carried as the cti claim."""

from __future__ import annotations

import os
import random

import pytest

from meterseal import cbor
from meterseal.errors import EncodingError
from meterseal.pki.serials import SERIAL_BITS, ccs_serial, cti_serial, new_serial, serial_cti


def test_serials_are_positive_63_bit_and_distinct() -> None:
    serials = {new_serial(os.urandom) for _ in range(1000)}
    assert len(serials) == 1000
    assert all(0 < s < 1 << SERIAL_BITS for s in serials)


def test_a_zero_draw_is_drawn_again() -> None:
    draws = iter([b"\x00" * 8, b"\x00" * 7 + b"\x02"])
    assert new_serial(lambda _n: next(draws)) == 1


@pytest.mark.parametrize("serial", [1, 255, 256, 2**62, 2**63 - 1])
def test_cti_round_trips_in_shortest_form(serial: int) -> None:
    cti = serial_cti(serial)
    assert cti[0] != 0
    assert cti_serial(cti) == serial


def test_out_of_range_serials_and_bad_cti_are_refused() -> None:
    for serial in (0, -1, 2**63):
        with pytest.raises(ValueError, match="range"):
            serial_cti(serial)
    for cti in (b"", b"\x01" * 9, "7", 7):
        with pytest.raises(EncodingError):
            cti_serial(cti)


def test_ccs_serial_reads_the_cti_claim() -> None:
    serial = random.Random(1).getrandbits(62) + 1  # noqa: S311 - test data
    assert ccs_serial(cbor.encode({2: "m-1", 7: serial_cti(serial)})) == serial
    assert ccs_serial(cbor.encode({2: "m-1"})) is None
    with pytest.raises(EncodingError):
        ccs_serial(cbor.encode([7]))
