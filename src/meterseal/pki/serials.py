"""Credential serial numbers: random, unique, carried in the CWT's cti claim.

Every credential the CA issues gets a serial: a random positive 63-bit integer drawn from
the ``rng`` parameter (RFC 5280 section 4.1.2.2 asks for positive serials of at most 20
octets that the CA keeps unique; unpredictable serials follow the CA/Browser Forum's
practice and keep serials from revealing how many meters were registered). 63 bits fit
SQLite's INTEGER and PostgreSQL's bigint; the credentials table's primary key enforces
uniqueness, and a draw that collides is simply drawn again by the caller.

The serial travels as the cti claim (RFC 8392 section 3.1.7, label 7), a byte string:
the serial's big-endian bytes, shortest form.
"""

from __future__ import annotations

from typing import Any, Final

from meterseal import cbor
from meterseal.crypto.interfaces import Rng
from meterseal.errors import EncodingError

SERIAL_BITS: Final = 63
CLAIM_CTI: Final = 7
_MAX_CTI = 8


def new_serial(rng: Rng) -> int:
    """A random serial in ``[1, 2**63)``."""
    while True:
        serial = int.from_bytes(rng(8), "big") >> (64 - SERIAL_BITS)
        if serial:
            return serial


def serial_cti(serial: int) -> bytes:
    """The cti claim of ``serial``: big-endian, shortest form."""
    if not 0 < serial < 1 << SERIAL_BITS:
        raise ValueError(f"serial out of range: {serial}")
    return serial.to_bytes((serial.bit_length() + 7) // 8, "big")


def cti_serial(cti: object) -> int:
    """The serial a cti claim carries; EncodingError if it is not one."""
    if type(cti) is not bytes or not 0 < len(cti) <= _MAX_CTI:
        raise EncodingError("cti (7) must be a byte string of 1 to 8 bytes")
    return int.from_bytes(cti, "big")


def ccs_serial(ccs: bytes) -> int | None:
    """The serial of a CA-issued CCS (its cti claim); None for a CCS without one (a
    credential provisioned outside the CA). EncodingError if the CCS is malformed."""
    claims: Any = cbor.decode(ccs)
    if type(claims) is not dict:
        raise EncodingError("a CCS is a CBOR map")
    if CLAIM_CTI not in claims:
        return None
    return cti_serial(claims[CLAIM_CTI])
