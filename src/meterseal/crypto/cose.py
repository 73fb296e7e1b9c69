"""COSE_Sign1 (RFC 9052 section 4.2): signed batches, commands and credentials.

Only what MeterSeal needs: one signer, the algorithm in the protected header, an optional
key identifier, an attached payload, and external AAD. The signature is computed over the
Sig_structure ``["Signature1", protected, external_aad, payload]`` (section 4.4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meterseal import cbor
from meterseal.crypto.interfaces import SignatureAlg, SigningKey
from meterseal.errors import EncodingError

HEADER_ALG = 1
HEADER_KID = 4
COSE_SIGN1_TAG = 18


@dataclass(frozen=True, slots=True)
class Sign1:
    """A decoded COSE_Sign1 whose signature has NOT yet been checked."""

    protected: bytes
    alg: int
    kid: bytes | None
    payload: bytes
    signature: bytes

    def to_be_signed(self, external_aad: bytes = b"") -> bytes:
        return _sig_structure(self.protected, external_aad, self.payload)


def _sig_structure(protected: bytes, external_aad: bytes, payload: bytes) -> bytes:
    return cbor.encode(["Signature1", protected, external_aad, payload])


def sign1(
    key: SigningKey,
    alg: SignatureAlg,
    payload: bytes,
    *,
    kid: bytes | None = None,
    external_aad: bytes = b"",
) -> bytes:
    """Return the tagged COSE_Sign1 of ``payload`` signed with ``key``."""
    header: dict[int, Any] = {HEADER_ALG: alg.cose_alg}
    if kid is not None:
        header[HEADER_KID] = kid
    protected = cbor.encode(header)
    signature = key.sign(_sig_structure(protected, external_aad, payload))
    return cbor.encode(cbor.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def decode_sign1(data: bytes) -> Sign1:
    """Parse a (tagged or untagged) COSE_Sign1; raise EncodingError if it is not one."""
    item = cbor.decode(data)
    if isinstance(item, cbor.CBORTag):
        if item.tag != COSE_SIGN1_TAG:
            raise EncodingError(f"CBOR tag {item.tag} is not COSE_Sign1")
        item = item.value
    if not (isinstance(item, list | tuple) and len(item) == 4):
        raise EncodingError("COSE_Sign1 must be an array of four items")
    protected, unprotected, payload, signature = item
    if not isinstance(unprotected, Mapping):
        raise EncodingError("COSE_Sign1 unprotected header must be a map")
    if not all(isinstance(x, bytes) for x in (protected, payload, signature)):
        raise EncodingError("COSE_Sign1 protected header, payload and signature are bstr")
    header = cbor.decode(protected) if protected else {}
    if not isinstance(header, dict) or not isinstance(header.get(HEADER_ALG), int):
        raise EncodingError("COSE_Sign1 protected header must name an integer alg")
    kid = header.get(HEADER_KID)
    if kid is not None and not isinstance(kid, bytes):
        raise EncodingError("COSE kid must be a bstr")
    return Sign1(protected, header[HEADER_ALG], kid, payload, signature)


def verify1(
    data: bytes, alg: SignatureAlg, public_key: bytes, *, external_aad: bytes = b""
) -> Sign1:
    """Decode and verify; return the message, or raise EncodingError / SignatureError."""
    message = decode_sign1(data)
    if message.alg != alg.cose_alg:
        raise EncodingError(f"COSE_Sign1 alg {message.alg} is not the expected {alg.cose_alg}")
    alg.verify(public_key, message.to_be_signed(external_aad), message.signature)
    return message
