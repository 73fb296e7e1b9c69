"""Proving and checking identity: Signature_or_MAC_2/3 (RFC 9528 sections 5.3.2, 5.4.2).

A party with a static DH key sends MAC_x itself; a party with a signature key signs the
COSE Sig_structure ``["Signature1", << ID_CRED_x >>, << TH_x, CRED_x, ? EAD_x >>,
MAC_x]`` (RFC 9052 section 4.4). The local key is always a handle (the meter's secure
element, the head-end's crypto machine): this module never sees private key bytes.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from meterseal.cbor import MAJOR_ARRAY, encode_bstr, encode_head, encode_tstr
from meterseal.crypto.interfaces import DhKey, SigningKey
from meterseal.crypto.suites import CipherSuite
from meterseal.edhoc.credentials import Credential, KeyUse
from meterseal.edhoc.id_cred import IdCred
from meterseal.errors import InvalidKeyError, VerificationError


@dataclass(frozen=True, slots=True)
class LocalIdentity:
    """How this party authenticates: credential, its ID_CRED_x, and one key handle.

    Build it with :meth:`signature` or :meth:`static_dh`; the key's public key must be
    the credential's.
    """

    credential: Credential
    id_cred: IdCred
    signing_key: SigningKey | None = None
    dh_key: DhKey | None = None

    def __post_init__(self) -> None:
        if (self.signing_key is None) == (self.dh_key is None):
            raise InvalidKeyError("a local identity holds exactly one key handle")
        if not self._key_matches():
            raise InvalidKeyError("the key handle does not belong to the credential")

    def _key_matches(self) -> bool:
        key = self.credential.key
        if self.signing_key is not None:
            return self.signing_key.public_key == key.signature_public_key()
        if self.dh_key is not None:
            return KeyUse.DH in key.uses and self.dh_key.public_key == key.x
        return False

    @classmethod
    def signature(cls, credential: Credential, id_cred: IdCred, key: SigningKey) -> LocalIdentity:
        """An identity for the signature side of methods 0, 1 and 2."""
        return cls(credential, id_cred, signing_key=key)

    @classmethod
    def static_dh(cls, credential: Credential, id_cred: IdCred, key: DhKey) -> LocalIdentity:
        """An identity for the static DH side of methods 1, 2 and 3."""
        return cls(credential, id_cred, dh_key=key)

    @property
    def signs(self) -> bool:
        """True if this party authenticates with a signature."""
        return self.signing_key is not None


_SIGNATURE1_HEAD = encode_head(MAJOR_ARRAY, 4) + encode_tstr("Signature1")
"""The first bytes of every Sig_structure: an array of four items, then "Signature1"."""


@dataclass(frozen=True, slots=True)
class Covered:
    """What MAC_x and the signature cover (RFC 9528 sections 5.3.2 and 5.4.2).

    ``prefix`` is C_R (as sent) for MAC_2 and empty for MAC_3; ``credential`` is CRED_x
    and ``ead`` the EAD_x field, both byte for byte.
    """

    prefix: bytes
    id_cred: IdCred
    th: bytes
    credential: bytes
    ead: bytes

    def context(self) -> bytes:
        """context_2 = << C_R, ID_CRED_R, TH_2, CRED_R, ? EAD_2 >>; context_3 lacks C_R."""
        return (
            self.prefix + self.id_cred.encoded + encode_bstr(self.th) + self.credential + self.ead
        )

    def to_be_signed(self, mac: bytes) -> bytes:
        """The COSE Sig_structure ["Signature1", << ID_CRED_x >>, << TH_x, CRED_x, ? EAD_x
        >>, MAC_x] (RFC 9052 section 4.4)."""
        external_aad = encode_bstr(self.th) + self.credential + self.ead
        protected = encode_bstr(self.id_cred.encoded)
        return _SIGNATURE1_HEAD + protected + encode_bstr(external_aad) + encode_bstr(mac)


def signature_or_mac(identity: LocalIdentity, covered: Covered, mac: bytes) -> bytes:
    """Signature_or_MAC_x to send: MAC_x itself, or the signature over it."""
    if identity.signing_key is None:
        return mac
    return identity.signing_key.sign(covered.to_be_signed(mac))


def verify_signature_or_mac(
    suite: CipherSuite,
    peer: Credential,
    covered: Covered,
    *,
    signs: bool,
    mac: bytes,
    received: bytes,
) -> None:
    """Raise a VerificationError unless ``received`` is the peer's Signature_or_MAC_x:
    MAC_x itself for a static DH peer, a signature over it by ``peer``'s key otherwise."""
    if not signs:
        if not hmac.compare_digest(mac, received):
            raise VerificationError("Signature_or_MAC: MAC did not verify")
        return
    message = covered.to_be_signed(mac)
    suite.signature.verify(peer.key.signature_public_key(), message, received)
