"""HKDF (RFC 5869) as used by EDHOC and the record layer, for SHA-256 and SM3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from meterseal.crypto.hashes import SHA_256, SM3, OpenSslHash
from meterseal.errors import CryptoError

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "hkdf" / "rfc5869.json").read_text()
)["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_rfc5869_extract_and_expand_match_the_rfc(case: dict[str, Any]) -> None:
    prk = SHA_256.hkdf_extract(bytes.fromhex(case["salt"]), bytes.fromhex(case["ikm"]))
    assert prk.hex() == case["prk"]
    okm = SHA_256.hkdf_expand(prk, bytes.fromhex(case["info"]), case["length"])
    assert okm.hex() == case["okm"]


@pytest.mark.parametrize(
    ("ours", "theirs"), [(SHA_256, hashes.SHA256()), (SM3, hashes.SM3())], ids=["SHA-256", "SM3"]
)
@pytest.mark.parametrize("length", [1, 16, 32, 33, 100, 255])
def test_hkdf_agrees_with_cryptography(
    ours: OpenSslHash, theirs: hashes.HashAlgorithm, length: int
) -> None:
    salt, ikm, info = b"salt" * 3, b"input keying material", b"context"
    expected = HKDF(algorithm=theirs, length=length, salt=salt, info=info).derive(ikm)
    assert ours.hkdf_expand(ours.hkdf_extract(salt, ikm), info, length) == expected


def test_hkdf_expand_refuses_more_than_255_blocks() -> None:
    with pytest.raises(CryptoError):
        SHA_256.hkdf_expand(bytes(32), b"", 255 * 32 + 1)
