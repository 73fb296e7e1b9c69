"""Signed reading batches: COSE_Sign1 (RFC 9052 section 4.2) over the batch CBOR.

The meter's secure element signs each batch with its data key::

    signed batch = COSE_Sign1 [ protected {1: alg, 4: kid}, {}, payload, signature ]
    kid          = the meter id, ASCII bytes
    payload      = encode_batch(batch)
    external_aad = "MeterSeal batch v1"

The external AAD separates batch signatures from anything else the same key may sign
(RFC 9052 section 4.3). :func:`open_batch` verifies before it parses the payload, refuses
any encoding other than the canonical one above (an empty unprotected header, shortest
lengths), and checks that the signed kid names the meter the batch claims to come from.
The signed bytes are what the ledger hashes, so they travel and are stored unchanged; note
that an ECDSA signature stays malleable (``s`` versus ``n - s``), so duplicates are found by
``(meter_id, batch_seq)``, never by the hash of the signed bytes.
"""

from __future__ import annotations

from collections.abc import Mapping

from meterseal import cbor
from meterseal.crypto.cose import COSE_SIGN1_TAG, Sign1, decode_sign1, sign1, verify1
from meterseal.crypto.interfaces import SignatureAlg, SigningKey
from meterseal.errors import EncodingError
from meterseal.messages.batch import (
    BATCH_SEQ,
    METER_ID,
    ReadingBatch,
    batch_from_cbor,
    encode_batch,
)
from meterseal.messages.errors import IdentityMismatchError
from meterseal.messages.fields import METER_ID_PATTERN, expect_text, expect_uint, type_name

BATCH_AAD = b"MeterSeal batch v1"
"""External AAD of every batch signature (domain separation)."""


def seal_batch(batch: ReadingBatch, key: SigningKey, alg: SignatureAlg) -> bytes:
    """Encode ``batch`` and sign it with the meter's data key (a key handle)."""
    kid = batch.meter_id.encode("ascii")
    return sign1(key, alg, encode_batch(batch), kid=kid, external_aad=BATCH_AAD)


def open_batch(signed: bytes, alg: SignatureAlg, public_key: bytes) -> ReadingBatch:
    """Verify a signed batch, then parse it.

    Raises :class:`~meterseal.errors.EncodingError` for a malformed message,
    :class:`~meterseal.errors.SignatureError` for a bad signature, and
    :class:`IdentityMismatchError` if the signed kid is not the batch's meter id.
    """
    message = verify1(signed, alg, public_key, external_aad=BATCH_AAD)
    require_canonical(signed, message)
    batch = batch_from_cbor(cbor.decode(message.payload))
    if message.kid != batch.meter_id.encode("ascii"):
        raise IdentityMismatchError(
            f"batch signed with kid {message.kid!r} claims meter {batch.meter_id!r}"
        )
    return batch


def require_canonical(signed: bytes, message: Sign1) -> None:
    """Refuse any encoding of a COSE_Sign1 other than the one :func:`sign1` writes.

    The unprotected header is not signed (RFC 9052 section 3), and CBOR allows several
    encodings of one value; MeterSeal leaves the header empty and writes the canonical
    form, so signed bytes that differ from it were altered on the way.
    """
    expected = cbor.encode(
        cbor.CBORTag(COSE_SIGN1_TAG, [message.protected, {}, message.payload, message.signature])
    )
    if signed != expected:
        raise EncodingError("COSE_Sign1 is not in MeterSeal's canonical form")


def peek_batch_header(signed: bytes) -> tuple[str, int]:
    """``(meter_id, batch_seq)`` of a signed batch, WITHOUT verifying anything.

    For routing (which meter's key to verify with) and logging only: the values are
    unauthenticated until :func:`open_batch` has succeeded, and must not be stored or acted
    on before that. Raises :class:`~meterseal.errors.EncodingError` if they cannot be read.
    """
    payload = cbor.decode(decode_sign1(signed).payload)
    if not isinstance(payload, Mapping):
        raise EncodingError(f"ReadingBatch must be a CBOR map, got {type_name(payload)}")
    meter_id = expect_text(payload.get(METER_ID), "ReadingBatch meter_id", METER_ID_PATTERN)
    return meter_id, expect_uint(payload.get(BATCH_SEQ), "ReadingBatch batch_seq")
