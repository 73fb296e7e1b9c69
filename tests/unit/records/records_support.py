"""Shared helpers for the record-layer unit tests: a fake EDHOC exporter and the suites.

The fake exporter has the shape of RFC 9528 section 4.2.1's EDHOC_Exporter
(HKDF-Expand(PRK_exporter, CBOR sequence (label, context, length), length)) over a fixed
PRK, so tests are exact without running a handshake.
"""

from __future__ import annotations

from typing import Any

import pytest

from meterseal import cbor
from meterseal.crypto.hashes import SHA_256
from meterseal.crypto.suites import SUITE_0, SUITE_2, CipherSuite, get_suite
from meterseal.errors import UnsupportedAlgorithmError
from meterseal.records import Exporter, RecordConfig, RecordLayer

C_I = bytes.fromhex("37")
"""C_I = -24 as in RFC 9529 chapter 3 (its CBOR encoding is its byte-string form)."""
C_R = bytes.fromhex("27")
"""C_R = -8 as in RFC 9529 chapter 3."""


def fake_exporter(prk_exporter: bytes = b"\x11" * 32, calls: list[Any] | None = None) -> Exporter:
    """An EDHOC_Exporter over a fixed PRK_exporter, optionally logging its calls."""

    def exporter(label: int, context: bytes, length: int) -> bytes:
        if calls is not None:
            calls.append((label, context, length))
        info = cbor.encode_sequence(label, context, length)
        return SHA_256.hkdf_expand(prk_exporter, info, length)

    return exporter


def gm_suite() -> CipherSuite | None:
    """The GM/T suite -24 if this build offers it yet."""
    try:
        return get_suite(-24)
    except UnsupportedAlgorithmError:
        return None


def suite_params() -> list[Any]:
    """SUITE_0, SUITE_2 and, where available, suite -24, as pytest parameters."""
    gm = gm_suite()
    gm_param = (
        pytest.param(gm, id="suite-24")
        if gm is not None
        else pytest.param(SUITE_2, id="suite-24", marks=pytest.mark.skip(reason="no suite -24"))
    )
    return [pytest.param(SUITE_0, id="suite0"), pytest.param(SUITE_2, id="suite2"), gm_param]


def make_pair(
    suite: CipherSuite, config: RecordConfig | None = None, exporter: Exporter | None = None
) -> tuple[RecordLayer, RecordLayer]:
    """An initiator's and a responder's layer of one session."""
    exp = exporter or fake_exporter()
    return (
        RecordLayer.for_initiator(suite, exp, C_I, C_R, config),
        RecordLayer.for_responder(suite, exp, C_I, C_R, config),
    )
