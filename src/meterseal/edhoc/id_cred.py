"""ID_CRED_x: how a party names (or carries) its credential (RFC 9528 section 3.5.3).

Four COSE header maps are supported:

* by reference, ``{4 (kid): bstr}``; in PLAINTEXT_2/3 it is sent in the compact form of
  RFC 9528 section 3.5.3.2: just the kid, as the integer it encodes if it is one byte
  that is a CBOR integer in -24..23, else as a byte string;
* by reference, ``{34 (x5t): [alg, hash]}`` (RFC 9360), the hash of a DER certificate;
* by value, ``{14 (kccs): CCS}`` (RFC 9528 section 10.6);
* by value, ``{33 (x5chain): bstr}`` with a single DER certificate (RFC 9360).

The full map enters context_x and the Sig_structure (``encoded``); PLAINTEXT carries
:meth:`IdCred.plaintext_item`.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

from meterseal import cbor
from meterseal.edhoc.credentials import Credential, CredentialFormat
from meterseal.edhoc.encoding import Item, decode_identifier, encode_identifier, expect_map
from meterseal.errors import EncodingError, UnsupportedAlgorithmError

X5T_HASHES: dict[int, tuple[str, int | None]] = {
    -16: ("sha256", None),
    -15: ("sha256", 8),
    -43: ("sha384", None),
    -44: ("sha512", None),
}
"""COSE hash algorithms for x5t: SHA-256, SHA-256/64, SHA-384, SHA-512 (RFC 9054)."""

SHA_256_64 = -15


class IdCredKind(enum.IntEnum):
    """The COSE header parameter an ID_CRED_x map holds (its label)."""

    KID = 4
    KCCS = 14
    X5CHAIN = 33
    X5T = 34


_KID_PREFIX = b"\xa1\x04"
"""The encoding of a map of one entry, then the label 4 (kid), before the kid itself."""

_BY_VALUE_PREFIX = {
    IdCredKind.KCCS: b"\xa1\x0e",
    IdCredKind.X5CHAIN: b"\xa1\x18\x21",
}


@dataclass(frozen=True, slots=True)
class IdCred:
    """One ID_CRED_x: its kind, its map encoding, and what it references or carries."""

    kind: IdCredKind
    encoded: bytes
    kid: bytes | None = None
    x5t: tuple[int, bytes] | None = None
    embedded: Credential | None = None

    @classmethod
    def by_kid(cls, kid: bytes) -> IdCred:
        """Reference a credential by its key identifier."""
        return cls(IdCredKind.KID, _KID_PREFIX + cbor.encode_bstr(kid), kid=kid)

    @classmethod
    def by_x5t(cls, credential: Credential, alg: int = SHA_256_64) -> IdCred:
        """Reference an X.509 credential by the hash of its certificate."""
        if credential.der is None:
            raise EncodingError("x5t references X.509 credentials only")
        x5t = (alg, _x5t_hash(alg, credential.der))
        return cls(IdCredKind.X5T, cbor.encode({IdCredKind.X5T.value: list(x5t)}), x5t=x5t)

    @classmethod
    def by_value(cls, credential: Credential) -> IdCred:
        """Carry the credential itself: kccs for a CCS, x5chain for a certificate."""
        if credential.format is CredentialFormat.CCS:
            kind, body = IdCredKind.KCCS, credential.value
        else:
            kind, body = IdCredKind.X5CHAIN, credential.value
        return cls(kind, _BY_VALUE_PREFIX[kind] + body, embedded=credential)

    def plaintext_item(self) -> bytes:
        """ID_CRED_x as PLAINTEXT_2/3 carry it (compact kid, RFC 9528 section 3.5.3.2)."""
        if self.kind is IdCredKind.KID and self.kid is not None:
            return encode_identifier(self.kid)
        return self.encoded

    def matches(self, credential: Credential) -> bool:
        """True if this ID_CRED_x names ``credential`` (kid, certificate hash, or value)."""
        if self.kind is IdCredKind.KID:
            return credential.kid == self.kid
        if self.x5t is not None:
            der = credential.der
            return der is not None and _x5t_hash(self.x5t[0], der) == self.x5t[1]
        return self.embedded is not None and self.embedded.value == credential.value

    @classmethod
    def decode(cls, item: Item) -> IdCred:
        """Parse ID_CRED_x from PLAINTEXT: a compact kid, or one of the maps above."""
        if type(item.value) is not dict:
            return cls.by_kid(decode_identifier(item, "compact ID_CRED kid"))
        value = item.value
        if len(value) != 1:
            raise EncodingError("ID_CRED must be a map with exactly one parameter")
        label = next(iter(value))
        if type(label) is not int:
            raise EncodingError("ID_CRED parameter labels are integers")
        if label in (IdCredKind.KCCS, IdCredKind.X5CHAIN):
            return _decode_by_value(IdCredKind(label), item.raw)
        expect_map(item, "ID_CRED")
        if label == IdCredKind.KID and type(value[label]) is bytes:
            return cls.by_kid(value[label])
        if label == IdCredKind.X5T:
            return _decode_x5t(item.raw, value[label])
        raise EncodingError(f"unsupported ID_CRED parameter {label!r}")


def _x5t_hash(alg: int, der: bytes) -> bytes:
    if alg not in X5T_HASHES:
        raise UnsupportedAlgorithmError(f"x5t hash algorithm {alg} is not supported")
    name, truncate = X5T_HASHES[alg]
    return hashlib.new(name, der).digest()[:truncate]


def _decode_x5t(raw: bytes, value: object) -> IdCred:
    if not (isinstance(value, list) and len(value) == 2):
        raise EncodingError("x5t must be [alg, hash]")
    alg, digest = value
    if type(alg) is not int or type(digest) is not bytes or alg not in X5T_HASHES:
        raise EncodingError("x5t must be [alg: int, hash: bstr] with a known hash")
    return IdCred(IdCredKind.X5T, raw, x5t=(alg, digest))


def _decode_by_value(kind: IdCredKind, raw: bytes) -> IdCred:
    prefix = _BY_VALUE_PREFIX[kind]
    if not raw.startswith(prefix):
        raise EncodingError("ID_CRED by value is not in deterministic encoding")
    body = raw[len(prefix) :]
    if kind is IdCredKind.KCCS:
        return IdCred(kind, raw, embedded=Credential.from_ccs(body))
    der = cbor.decode(body)
    if type(der) is not bytes or cbor.encode(der) != body:
        raise EncodingError("x5chain must hold one DER certificate as a byte string")
    return IdCred(kind, raw, embedded=Credential.from_x509(der))
