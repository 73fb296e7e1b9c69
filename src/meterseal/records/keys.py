"""The record key schedule: from the EDHOC exporter to per-direction, per-epoch AEAD keys.

See docs/protocol.md section 6.2. In short (H = the suite's
``app_hash``, HKDF per RFC 5869, info an OSCORE-style CBOR array, RFC 8613 section 3.2.1)::

    master_secret = EDHOC_Exporter(32768, h'', H.digest_size)   RFC 9528 section 4.2.1
    master_salt   = EDHOC_Exporter(32769, h'',  8)              private-use labels (10.1)
    PRK           = HKDF-Extract(master_salt, master_secret)
    S_0           = HKDF-Expand(PRK, info(sid, "secret", Hlen, 0), Hlen)
    S_{e+1}       = HKDF-Expand(S_e, info(sid, "secret", Hlen, e + 1), Hlen)   one-way ratchet
    key_e         = HKDF-Expand(S_e, info(sid, "key", key_length, e), key_length)
    iv_e          = HKDF-Expand(S_e, info(sid, "iv", nonce_length, e), nonce_length)
    info(sid, type, L, e) = [sid: bstr, suite: int, aead: int, type: tstr, L: uint, e: uint]

``sid`` is the sending direction's sender id: C_R for the initiator and C_I for the
responder, as OSCORE's sender ids over EDHOC (RFC 9528 appendix A.1). Each direction
ratchets its own chain, so a leaked epoch secret reveals neither older epochs nor the
other direction.

CBOR appears only here, once per epoch; the per-record path works on the precomputed
:class:`EpochKeys` (an AEAD key object, an integer nonce base and the AAD suffix).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from meterseal import cbor
from meterseal.crypto.interfaces import AeadKey
from meterseal.crypto.suites import CipherSuite
from meterseal.errors import RecordError
from meterseal.records.wire import MAX_SEQ_LENGTH

Exporter = Callable[[int, bytes, int], bytes]
"""``EDHOC_Exporter(label, context, length)`` (RFC 9528 section 4.2.1)."""

LABEL_MASTER_SECRET = 32768
"""EDHOC exporter label of the record master secret (private use, RFC 9528 section 10.1)."""

LABEL_MASTER_SALT = 32769
"""EDHOC exporter label of the record master salt (private use, RFC 9528 section 10.1)."""

MASTER_SALT_LENGTH = 8
"""Length of the master salt, as OSCORE's default (RFC 8613 section 3.2)."""

MAX_EPOCH = (1 << 32) - 1
"""Epochs are bound into the AAD as four bytes."""


@dataclass(frozen=True, slots=True)
class EpochKeys:
    """Everything one direction needs to protect records in one epoch.

    ``nonce_base`` is the OSCORE nonce (RFC 8613 section 5.2) with a zero partial IV, as an
    integer: ``nonce(seq) = (nonce_base ^ seq).to_bytes(nonce_length, "big")``.
    """

    epoch: int
    aead: AeadKey
    nonce_base: int
    nonce_length: int
    aad_suffix: bytes


def max_sender_id_length(suite: CipherSuite) -> int:
    """The longest sender id the nonce has room for (RFC 8613 section 3.3: nonce - 6)."""
    return suite.record_aead.nonce_length - 1 - MAX_SEQ_LENGTH


def check_sender_ids(suite: CipherSuite, c_i: bytes, c_r: bytes) -> None:
    """Raise :class:`RecordError` unless C_I and C_R are distinct and fit the nonce.

    Equal identifiers would give both directions the same keys and nonces (RFC 9528
    section 3.3.2 requires C_R to differ from C_I for OSCORE; the same holds here).
    """
    if c_i == c_r:
        raise RecordError("C_I and C_R must differ: both directions would share keys")
    limit = max_sender_id_length(suite)
    for name, sid in (("C_I", c_i), ("C_R", c_r)):
        if len(sid) > limit:
            raise RecordError(f"{name} is {len(sid)} bytes; the nonce leaves room for {limit}")


def master_prk(suite: CipherSuite, exporter: Exporter) -> bytes:
    """HKDF-Extract(master_salt, master_secret) from the two exporter outputs."""
    hash_alg = suite.app_hash
    secret = exporter(LABEL_MASTER_SECRET, b"", hash_alg.digest_size)
    salt = exporter(LABEL_MASTER_SALT, b"", MASTER_SALT_LENGTH)
    return hash_alg.hkdf_extract(salt, secret)


def _info(suite: CipherSuite, sender_id: bytes, kind: str, length: int, epoch: int) -> bytes:
    """The HKDF info: ``[sid, suite, aead, type, L, epoch]`` in CBOR (RFC 8613 3.2.1)."""
    return cbor.encode([sender_id, suite.value, suite.record_aead.cose_alg, kind, length, epoch])


def _expand(
    suite: CipherSuite, prk: bytes, sender_id: bytes, kind: str, length: int, *, epoch: int
) -> bytes:
    return suite.app_hash.hkdf_expand(prk, _info(suite, sender_id, kind, length, epoch), length)


def first_epoch_secret(suite: CipherSuite, prk: bytes, sender_id: bytes) -> bytes:
    """S_0 of the direction whose sender id is ``sender_id``."""
    return _expand(suite, prk, sender_id, "secret", suite.app_hash.digest_size, epoch=0)


def next_epoch_secret(suite: CipherSuite, secret: bytes, sender_id: bytes, epoch: int) -> bytes:
    """S_{epoch+1} from S_epoch: the one-way ratchet (S_epoch can then be erased)."""
    if epoch >= MAX_EPOCH:
        raise RecordError("epoch counter exhausted")
    return _expand(suite, secret, sender_id, "secret", suite.app_hash.digest_size, epoch=epoch + 1)


def aad_suffix(suite: CipherSuite, sender_id: bytes, epoch: int) -> bytes:
    """What the AAD adds after the header: epoch, suite, AEAD algorithm and sender id."""
    return b"".join(
        (
            epoch.to_bytes(4, "big"),
            suite.value.to_bytes(4, "big", signed=True),
            suite.record_aead.cose_alg.to_bytes(4, "big", signed=True),
            len(sender_id).to_bytes(1, "big"),
            sender_id,
        )
    )


def nonce_base(common_iv: bytes, sender_id: bytes) -> int:
    """The OSCORE nonce with a zero partial IV (RFC 8613 section 5.2), as an integer.

    ``size(sid) || zero-padded sid || 5 zero bytes`` XORed with the common IV.
    """
    nonce_length = len(common_iv)
    id_block = (len(sender_id) << (8 * (nonce_length - 1))) | (
        int.from_bytes(sender_id, "big") << (8 * MAX_SEQ_LENGTH)
    )
    return id_block ^ int.from_bytes(common_iv, "big")


def epoch_keys(suite: CipherSuite, secret: bytes, sender_id: bytes, epoch: int) -> EpochKeys:
    """Derive epoch ``epoch``'s AEAD key object, nonce base and AAD suffix from S_epoch."""
    aead = suite.record_aead
    key = _expand(suite, secret, sender_id, "key", aead.key_length, epoch=epoch)
    iv = _expand(suite, secret, sender_id, "iv", aead.nonce_length, epoch=epoch)
    return EpochKeys(
        epoch=epoch,
        aead=aead.key(key),
        nonce_base=nonce_base(iv, sender_id),
        nonce_length=aead.nonce_length,
        aad_suffix=aad_suffix(suite, sender_id, epoch),
    )
