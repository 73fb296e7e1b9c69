"""Helpers for the record-layer property tests: a fake exporter and session pairs.

The exporter has the shape of RFC 9528 section 4.2.1's EDHOC_Exporter over a fixed PRK.
"""

from __future__ import annotations

import contextlib

from hypothesis import strategies as st

from meterseal import cbor
from meterseal.crypto.hashes import SHA_256
from meterseal.crypto.suites import SUITE_0, SUITE_2, CipherSuite, get_suite
from meterseal.errors import UnsupportedAlgorithmError
from meterseal.records import RecordConfig, RecordLayer

C_I = b"\x37"
C_R = b"\x27"


def _exporter(label: int, context: bytes, length: int) -> bytes:
    info = cbor.encode_sequence(label, context, length)
    return SHA_256.hkdf_expand(b"\x11" * 32, info, length)


def _available_suites() -> list[CipherSuite]:
    suites = [SUITE_0, SUITE_2]
    with contextlib.suppress(UnsupportedAlgorithmError):  # GM/T may not be in this build yet
        suites.append(get_suite(-24))
    return suites


suites = st.sampled_from(_available_suites())
"""Every cipher suite this build offers."""


def make_pair(
    suite: CipherSuite = SUITE_2, config: RecordConfig | None = None
) -> tuple[RecordLayer, RecordLayer]:
    """An initiator's and a responder's layer of one session."""
    return (
        RecordLayer.for_initiator(suite, _exporter, C_I, C_R, config),
        RecordLayer.for_responder(suite, _exporter, C_I, C_R, config),
    )
