"""PKCS#11 object templates and how MeterSeal recognizes its keys on a token.

Every template names each usage attribute explicitly, so one key serves one purpose
(PKCS#11 v2.40 section 4.4-4.9; NIST SP 800-57 section 5.2): a DH key can only
``CKA_DERIVE``, a signing key can only ``CKA_SIGN``, a master key can only ``CKA_SIGN``
with an HMAC mechanism, a wrapping key can only ``CKA_WRAP``/``CKA_UNWRAP``. Every
persistent private or secret key is ``CKA_TOKEN``, ``CKA_PRIVATE``, ``CKA_SENSITIVE``
and not ``CKA_EXTRACTABLE``, so the token never reveals its value, not even wrapped.

A key's kind is read back from those same attributes, so :meth:`labels` needs no side
table: see :func:`classify`.
"""

from __future__ import annotations

from typing import Any

from pkcs11 import Attribute, KeyType, ObjectClass

from meterseal.hsm.interface import KeyKind

P256_EC_PARAMS = bytes.fromhex("06082a8648ce3d030107")
"""DER of the named curve OID prime256v1, 1.2.840.10045.3.1.7 (RFC 5480 section 2.1.1.1)."""

ED25519_EC_PARAMS = bytes.fromhex("06032b6570")
"""DER of the OID id-Ed25519, 1.3.101.112 (RFC 8410 section 3), as PKCS#11 v3.0 allows."""

ED25519_EC_PARAMS_FORMS = frozenset({ED25519_EC_PARAMS, bytes.fromhex("130c") + b"edwards25519"})
"""Both encodings PKCS#11 v3.0 section 2.3.5 allows: the OID, or the PrintableString
curve name (SoftHSM2 2.6 reports the latter on private keys)."""

P256_POINT_LENGTH = 65
ED25519_KEY_LENGTH = 32

MASTER_ALGORITHM = "HMAC-SHA256"
WRAPPING_ALGORITHM = "AES-256-KW"

_NO_USE = {
    Attribute.ENCRYPT: False,
    Attribute.DECRYPT: False,
    Attribute.SIGN: False,
    Attribute.VERIFY: False,
    Attribute.WRAP: False,
    Attribute.UNWRAP: False,
    Attribute.DERIVE: False,
}
_KEPT_SECRET = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
}

Template = dict[Attribute, Any]


def private_template(use: Attribute) -> Template:
    """A persistent, sensitive, non-extractable private key allowed one ``use``."""
    return {
        Attribute.SIGN: False,
        Attribute.DERIVE: False,
        Attribute.DECRYPT: False,
        Attribute.UNWRAP: False,
        **_KEPT_SECRET,
        use: True,
    }


def public_template(ec_params: bytes, *, verify: bool) -> Template:
    """The public half: readable, on the token, for verification only if ``verify``."""
    return {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: False,
        Attribute.EC_PARAMS: ec_params,
        Attribute.VERIFY: verify,
        Attribute.ENCRYPT: False,
        Attribute.WRAP: False,
        Attribute.DERIVE: False,
    }


def secret_template(label: str, key_type: KeyType, *uses: Attribute) -> Template:
    """A persistent, sensitive, non-extractable secret key allowed only ``uses``."""
    template: Template = {
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: key_type,
        Attribute.LABEL: label,
        **_NO_USE,
        **_KEPT_SECRET,
    }
    template.update(dict.fromkeys(uses, True))
    return template


def session_secret(value: bytes | None = None) -> Template:
    """A session-only generic secret whose value may be read: the ECDH output, or key
    material on its way into or out of a wrap. It is destroyed right after use."""
    template: Template = {
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: KeyType.GENERIC_SECRET,
        Attribute.TOKEN: False,
        Attribute.SENSITIVE: False,
        Attribute.EXTRACTABLE: True,
        **_NO_USE,
    }
    if value is not None:
        template[Attribute.VALUE] = value
    return template


def point_from_ec_point(der: bytes, length: int) -> bytes:
    """The public key in ``CKA_EC_POINT``: a DER OCTET STRING (PKCS#11 v2.40 section
    2.3.3; v3.0 section 2.3.5 for Edwards keys), or, from some modules, the bare bytes."""
    if len(der) == length + 2 and der[0] == 0x04 and der[1] == length:
        return der[2:]
    if len(der) == length:
        return der
    raise ValueError(f"CKA_EC_POINT is not a {length}-byte public key")


def classify(attributes: dict[Attribute, Any]) -> tuple[KeyKind, str] | None:
    """The kind and algorithm of a private or secret key, from its class, type, curve and
    usage attributes; None for an object MeterSeal did not make."""
    object_class = attributes.get(Attribute.CLASS)
    key_type = attributes.get(Attribute.KEY_TYPE)
    if object_class == ObjectClass.PRIVATE_KEY:
        return _classify_private(key_type, attributes)
    if object_class == ObjectClass.SECRET_KEY:
        if key_type == KeyType.GENERIC_SECRET and attributes.get(Attribute.SIGN):
            return KeyKind.MASTER, MASTER_ALGORITHM
        if key_type == KeyType.AES and attributes.get(Attribute.WRAP):
            return KeyKind.WRAPPING, WRAPPING_ALGORITHM
    return None


def _classify_private(
    key_type: Any, attributes: dict[Attribute, Any]
) -> tuple[KeyKind, str] | None:
    params = attributes.get(Attribute.EC_PARAMS)
    if key_type == KeyType.EC and params == P256_EC_PARAMS:
        if attributes.get(Attribute.DERIVE):
            return KeyKind.DH, "P-256"
        if attributes.get(Attribute.SIGN):
            return KeyKind.SIGNING, "ES256"
    if key_type == KeyType.EC_EDWARDS and params in ED25519_EC_PARAMS_FORMS:
        return KeyKind.SIGNING, "EdDSA"
    return None


CLASSIFYING_ATTRIBUTES = {
    ObjectClass.PRIVATE_KEY: [
        Attribute.KEY_TYPE,
        Attribute.EC_PARAMS,
        Attribute.SIGN,
        Attribute.DERIVE,
    ],
    ObjectClass.SECRET_KEY: [Attribute.KEY_TYPE, Attribute.SIGN, Attribute.WRAP],
}
"""What :func:`classify` reads, by object class (each attribute exists for its class)."""
