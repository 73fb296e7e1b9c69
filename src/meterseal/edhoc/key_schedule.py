"""The EDHOC key schedule (RFC 9528 section 4 and appendix H), generic over the suite.

All keys come from HKDF over the suite's EDHOC hash::

    EDHOC_KDF(PRK, label, context, length) = HKDF-Expand(PRK, info, length)
    info = (label: int, context: bstr, length: uint)        a CBOR sequence

    TH_2 = H(G_Y, H(message_1))            PRK_2e   = Extract(TH_2, G_XY)
    TH_3 = H(TH_2, PLAINTEXT_2, CRED_R)    PRK_3e2m = PRK_2e, or Extract(SALT_3e2m, G_RX)
    TH_4 = H(TH_3, PLAINTEXT_3, CRED_I)    PRK_4e3m = PRK_3e2m, or Extract(SALT_4e3m, G_IY)
    PRK_out = KDF(PRK_4e3m, 7, TH_4, hash_length)
    PRK_exporter = KDF(PRK_out, 10, h'', hash_length)

The static-DH steps apply when the Responder (PRK_3e2m) or the Initiator (PRK_4e3m)
authenticates with a static DH key; with a signature key the PRK carries over.
"""

from __future__ import annotations

import enum

from meterseal.cbor import MAJOR_ARRAY, encode_bstr, encode_head, encode_int, encode_tstr
from meterseal.crypto.interfaces import HashAlg
from meterseal.crypto.suites import CipherSuite


class KdfLabel(enum.IntEnum):
    """EDHOC_KDF info labels (RFC 9528 section 4.1.2, figure 6; appendix H)."""

    KEYSTREAM_2 = 0
    SALT_3E2M = 1
    MAC_2 = 2
    K_3 = 3
    IV_3 = 4
    SALT_4E3M = 5
    MAC_3 = 6
    PRK_OUT = 7
    K_4 = 8
    IV_4 = 9
    PRK_EXPORTER = 10
    KEY_UPDATE = 11


def edhoc_kdf(hash_alg: HashAlg, prk: bytes, label: int, context: bytes, length: int) -> bytes:
    """EDHOC_KDF (RFC 9528 section 4.1.2): HKDF-Expand with a CBOR-sequence info."""
    info = encode_int(label) + encode_bstr(context) + encode_int(length)
    return hash_alg.hkdf_expand(prk, info, length)


def transcript_hash(hash_alg: HashAlg, previous_th: bytes, *parts: bytes) -> bytes:
    """TH_3 / TH_4 = H(TH as bstr, PLAINTEXT, CRED) (RFC 9528 sections 5.3.2, 5.4.2)."""
    return hash_alg.digest(encode_bstr(previous_th) + b"".join(parts))


def th_2(hash_alg: HashAlg, g_y: bytes, h_message_1: bytes) -> bytes:
    """TH_2 = H(G_Y, H(message_1)), both as byte strings (RFC 9528 section 5.3.2)."""
    return hash_alg.digest(encode_bstr(g_y) + encode_bstr(h_message_1))


def prk_2e(hash_alg: HashAlg, th2: bytes, g_xy: bytes) -> bytes:
    """PRK_2e = HKDF-Extract(salt = TH_2, IKM = G_XY) (RFC 9528 section 4.1.1.1)."""
    return hash_alg.hkdf_extract(th2, g_xy)


def salt(hash_alg: HashAlg, prk: bytes, label: KdfLabel, th: bytes) -> bytes:
    """SALT_3e2m = KDF(PRK_2e, 1, TH_2, hash_length), SALT_4e3m = KDF(PRK_3e2m, 5, TH_3,
    hash_length) (RFC 9528 sections 4.1.1.2 and 4.1.1.3)."""
    return edhoc_kdf(hash_alg, prk, label, th, hash_alg.digest_size)


def extract(hash_alg: HashAlg, salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract for PRK_3e2m and PRK_4e3m with a static DH secret."""
    return hash_alg.hkdf_extract(salt, ikm)


def keystream_2(hash_alg: HashAlg, prk2e: bytes, th2: bytes, length: int) -> bytes:
    """KEYSTREAM_2 = EDHOC_KDF(PRK_2e, 0, TH_2, plaintext_length) (section 5.3.2)."""
    return edhoc_kdf(hash_alg, prk2e, KdfLabel.KEYSTREAM_2, th2, length)


def xor(data: bytes, keystream: bytes) -> bytes:
    """CIPHERTEXT_2 = PLAINTEXT_2 XOR KEYSTREAM_2 (and back)."""
    return (int.from_bytes(data, "big") ^ int.from_bytes(keystream, "big")).to_bytes(
        len(data), "big"
    )


def mac_length(suite: CipherSuite, signs: bool) -> int:
    """mac_length_2/3: the hash length for a signing party, else the suite's MAC length."""
    return suite.edhoc_hash.digest_size if signs else suite.mac_length


def mac(hash_alg: HashAlg, prk: bytes, label: int, context: bytes, length: int) -> bytes:
    """MAC_2 = KDF(PRK_3e2m, 2, context_2, len); MAC_3 = KDF(PRK_4e3m, 6, context_3, len)."""
    return edhoc_kdf(hash_alg, prk, label, context, length)


def aead_key_iv(
    suite: CipherSuite, prk: bytes, th: bytes, labels: tuple[int, int]
) -> tuple[bytes, bytes]:
    """K_3/IV_3 from PRK_3e2m and TH_3, or K_4/IV_4 from PRK_4e3m and TH_4."""
    aead, hash_alg = suite.edhoc_aead, suite.edhoc_hash
    key = edhoc_kdf(hash_alg, prk, labels[0], th, aead.key_length)
    return key, edhoc_kdf(hash_alg, prk, labels[1], th, aead.nonce_length)


_ENCRYPT0_HEAD = encode_head(MAJOR_ARRAY, 3) + encode_tstr("Encrypt0") + encode_bstr(b"")
"""The first bytes of A_3 and A_4: an array of three items, "Encrypt0" and h''."""


def encrypt0_aad(th: bytes) -> bytes:
    """A_3 / A_4 = ["Encrypt0", h'', TH] (RFC 9528 sections 5.4.2, 5.5.2)."""
    return _ENCRYPT0_HEAD + encode_bstr(th)


def prk_out(hash_alg: HashAlg, prk4e3m: bytes, th4: bytes) -> bytes:
    """PRK_out = EDHOC_KDF(PRK_4e3m, 7, TH_4, hash_length) (RFC 9528 section 4.1.3)."""
    return edhoc_kdf(hash_alg, prk4e3m, KdfLabel.PRK_OUT, th4, hash_alg.digest_size)


def prk_exporter(hash_alg: HashAlg, prkout: bytes) -> bytes:
    """PRK_exporter = EDHOC_KDF(PRK_out, 10, h'', hash_length) (section 4.2.1)."""
    return edhoc_kdf(hash_alg, prkout, KdfLabel.PRK_EXPORTER, b"", hash_alg.digest_size)


def exporter(
    hash_alg: HashAlg, prkexporter: bytes, label: int, context: bytes, length: int
) -> bytes:
    """EDHOC_Exporter(label, context, length) (RFC 9528 section 4.2.1)."""
    if label < 0:
        raise ValueError("exporter labels are unsigned integers")
    return edhoc_kdf(hash_alg, prkexporter, label, context, length)


def key_update(hash_alg: HashAlg, prkout: bytes, context: bytes) -> bytes:
    """EDHOC_KeyUpdate: PRK_out = EDHOC_KDF(PRK_out, 11, context, hash_length) (app. H)."""
    return edhoc_kdf(hash_alg, prkout, KdfLabel.KEY_UPDATE, context, hash_alg.digest_size)
