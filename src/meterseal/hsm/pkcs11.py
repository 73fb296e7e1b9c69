"""The PKCS#11 crypto machine (python-pkcs11; SoftHSM2 in tests, any HSM in production).

Keys are generated on the token and stay there: every private and secret key is
``CKA_SENSITIVE`` and not ``CKA_EXTRACTABLE`` (see :mod:`meterseal.hsm.pkcs11_objects`).
Mechanisms (PKCS#11 v2.40 unless marked):

* P-256 key pairs: ``CKM_EC_KEY_PAIR_GEN`` (section 2.3.6); the public key is read from
  ``CKA_EC_POINT``, a DER OCTET STRING of ``04 || x || y``.
* ES256: ``CKM_ECDSA`` (raw, section 2.3.7) over a SHA-256 digest computed on the host,
  since SoftHSM2 offers no ``CKM_ECDSA_SHA256``; the token returns ``r || s``, which is
  already the COSE form (RFC 9053 section 2.1).
* ECDH: ``CKM_ECDH1_DERIVE`` with ``CKD_NULL`` (section 2.3.11) into a *session* generic
  secret marked readable, because EDHOC needs the shared x-coordinate itself (it feeds
  HKDF-Extract on the host, RFC 9528 section 4.1.1). That secret is the DH output, never
  the private key, and the object is destroyed as soon as it has been read.
* EdDSA (Ed25519, PKCS#11 v3.0 sections 2.3.5 and 2.3.14): ``CKM_EC_EDWARDS_KEY_PAIR_GEN``
  and ``CKM_EDDSA`` without parameters (pure Ed25519, RFC 8032), which SoftHSM2 2.6 has.
* Master keys: ``CKK_GENERIC_SECRET`` from ``CKM_GENERIC_SECRET_KEY_GEN``, used only
  with ``CKM_SHA256_HMAC`` (section 2.19.3) for HKDF-Expand, RFC 5869 (see
  :mod:`meterseal.hsm.symmetric`).
* Wrapping keys: AES-256 from ``CKM_AES_KEY_GEN``, used with ``CKM_AES_KEY_WRAP``
  (RFC 3394, section 2.14.3). Key material to wrap enters as a session generic secret
  and leaves as the wrapped blob; unwrapping is the reverse.

Not available on SoftHSM2 2.6, so refused with :class:`UnsupportedByBackendError`: X25519
(PKCS#11 v3.0 ``CKK_EC_MONTGOMERY`` is absent), and everything SM2 (no PKCS#11 mechanism
is standardized for it). Those keys belong in the software keystore.

One session serves the machine, guarded by a lock (PKCS#11 sessions must not be used by
two threads at once, v2.40 base section 5.6). PKCS#11 modules read their configuration
and token list at ``C_Initialize``, so a token initialized after the module was loaded
is invisible until the module is re-initialized; opening a machine does that whenever no
other machine of the same module is open (see :func:`_open_token`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pkcs11
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pkcs11 import KDF, Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11e

from meterseal.crypto.interfaces import DhCurve, DhKey, SignatureAlg, SigningKey
from meterseal.crypto.international import p256_public_from_point, p256_public_from_x
from meterseal.errors import DecryptionError
from meterseal.hsm.errors import (
    DuplicateLabelError,
    HsmError,
    HsmUnavailableError,
    KeyNotFoundError,
    UnsupportedByBackendError,
    WrongKeyKindError,
    WrongPassphraseError,
)
from meterseal.hsm.handles import LabelledHandle, MachineSession
from meterseal.hsm.interface import DEFAULT_METER_KEY_LENGTH, KeyInfo, KeyKind, check_label
from meterseal.hsm.pkcs11_objects import (
    CLASSIFYING_ATTRIBUTES,
    ED25519_EC_PARAMS,
    ED25519_EC_PARAMS_FORMS,
    ED25519_KEY_LENGTH,
    P256_EC_PARAMS,
    P256_POINT_LENGTH,
    classify,
    point_from_ec_point,
    private_template,
    public_template,
    secret_template,
    session_secret,
)
from meterseal.hsm.symmetric import (
    SECRET_KEY_LENGTH,
    check_secret,
    check_wrappable,
    check_wrapped,
    hkdf_expand,
    meter_key_info,
)

_T = TypeVar("_T")
_NO_CAPABILITIES = MechanismFlag(0)

_UNWRAP_FAILURES = (p11e.EncryptedDataInvalid, p11e.WrappedKeyInvalid, p11e.GeneralError)
"""How tokens report a failed RFC 3394 integrity check: SoftHSM2 2.6 says
CKR_GENERAL_ERROR; the standard's CKR_WRAPPED_KEY_INVALID is accepted too."""

_open_tokens: dict[str, set[str]] = {}
"""Module path -> labels of the tokens a machine in this process has open."""
_open_mutex = threading.Lock()

_UNSUPPORTED = {
    "X25519": "SoftHSM2 2.6 has no CKK_EC_MONTGOMERY (PKCS#11 v3.0); keep X25519 keys "
    "in the software keystore",
    "SM2": "PKCS#11 standardizes no SM2 mechanism; keep GM/T suite keys in the software keystore",
    "SM2-SM3": "PKCS#11 standardizes no SM2 mechanism; keep GM/T suite keys in the "
    "software keystore",
}


def _unsupported(name: str) -> UnsupportedByBackendError:
    reason = _UNSUPPORTED.get(name, "not offered by this backend")
    return UnsupportedByBackendError(f"PKCS#11 backend: {name}: {reason}")


def _translate(exc: p11e.PKCS11Error, what: str) -> HsmError:
    """One HsmError for a python-pkcs11 exception (translated once, here)."""
    name = type(exc).__name__
    if isinstance(exc, p11e.PinIncorrect | p11e.PinInvalid | p11e.PinLenRange):
        return WrongPassphraseError(f"{what}: the user PIN was refused")
    if isinstance(exc, p11e.ObjectHandleInvalid | p11e.KeyHandleInvalid):
        return KeyNotFoundError(f"{what}: the key no longer exists on the token")
    if isinstance(exc, p11e.SessionClosed | p11e.SessionHandleInvalid | p11e.DeviceRemoved):
        return HsmUnavailableError(f"{what}: the token session is gone ({name})")
    return HsmError(f"{what}: PKCS#11 error {name}")


def _open_token(module_path: str, token_label: str) -> Any:
    """The token labelled ``token_label``. While no machine of this module is open, the
    module is re-initialized first, so that it reads the current configuration and token
    list (PKCS#11 modules read both at C_Initialize). Call with ``_open_mutex`` held."""
    in_use = bool(_open_tokens.get(module_path))
    if token_label in _open_tokens.get(module_path, ()):
        raise HsmUnavailableError(
            f"token {token_label!r} is already open in this process; share that machine "
            "(PKCS#11 logins are per application, and closing one session logs all out)"
        )
    try:
        library = pkcs11.lib(module_path)
        if not in_use:
            library.reinitialize()
        return library.get_token(token_label=token_label)
    except p11e.NoSuchToken:
        hint = "; a token made since appears once every machine on it is closed" if in_use else ""
        raise HsmUnavailableError(f"no token {token_label!r} in {module_path}{hint}") from None
    except p11e.PKCS11Error as exc:
        raise HsmUnavailableError(f"cannot use the PKCS#11 module {module_path}") from exc


class _Pkcs11DhKey(LabelledHandle):
    """A P-256 DH key on the token; exchange runs CKM_ECDH1_DERIVE there."""

    __slots__ = ("_machine", "_point", "_private")
    _kind = "PKCS#11 DH key"

    def __init__(self, machine: Pkcs11Machine, label: str, private: Any, point: bytes) -> None:
        super().__init__(label)
        self._machine = machine
        self._private = private
        self._point = point

    @property
    def public_key(self) -> bytes:
        return self._point[1:33]

    @property
    def public_point(self) -> bytes:
        return self._point

    def exchange(self, peer_public_key: bytes) -> bytes:
        """The shared x-coordinate with the P-256 point whose x is ``peer_public_key``."""
        peer = p256_public_from_x(peer_public_key)
        point = peer.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return self._machine.ecdh(self._private, point)


class _Pkcs11SigningKey(LabelledHandle):
    """An ES256 or EdDSA signing key on the token."""

    __slots__ = ("_algorithm", "_machine", "_private", "_public")

    def __init__(
        self, machine: Pkcs11Machine, label: str, private: Any, public: bytes, algorithm: str
    ) -> None:
        super().__init__(label)
        self._machine = machine
        self._private = private
        self._public = public
        self._algorithm = algorithm

    def __repr__(self) -> str:
        return f"<PKCS#11 {self._algorithm} key {self._label!r}>"

    @property
    def public_key(self) -> bytes:
        return self._public

    def sign(self, message: bytes) -> bytes:
        """ES256: CKM_ECDSA over SHA-256(message), r || s. EdDSA: CKM_EDDSA over message."""
        if self._algorithm == "EdDSA":
            return self._machine.sign(self._private, message, Mechanism.EDDSA)
        digest = hashlib.sha256(message).digest()
        return self._machine.sign(self._private, digest, Mechanism.ECDSA)


class Pkcs11Machine(MachineSession):
    """A :class:`~meterseal.hsm.interface.CryptoMachine` on a PKCS#11 token.

    Opens one read/write session on the token labelled ``token_label`` and logs in as
    the user with ``user_pin``.
    """

    __slots__ = ("_closed", "_module_path", "_mutex", "_session", "_token_label")

    def __init__(self, module_path: str, token_label: str, user_pin: str) -> None:
        self._module_path = module_path
        self._token_label = token_label
        self._mutex = threading.RLock()
        with _open_mutex:
            token = _open_token(module_path, token_label)
            try:
                self._session = token.open(rw=True, user_pin=user_pin)
            except p11e.PKCS11Error as exc:
                raise _translate(exc, f"opening token {token_label!r}") from exc
            _open_tokens.setdefault(module_path, set()).add(token_label)
        self._closed = False

    def __repr__(self) -> str:
        return f"<Pkcs11Machine token {self._token_label!r} via {self._module_path}>"

    @property
    def token_label(self) -> str:
        return self._token_label

    @contextmanager
    def _session_for(self, what: str) -> Iterator[Any]:
        """The session, under the lock, with PKCS#11 errors translated."""
        with self._mutex:
            if self._closed:
                raise HsmUnavailableError(f"{what}: the PKCS#11 machine is closed")
            try:
                yield self._session
            except p11e.PKCS11Error as exc:
                raise _translate(exc, what) from exc

    def _run(self, what: str, operation: Callable[[Any], _T]) -> _T:
        with self._session_for(what) as session:
            return operation(session)

    # --- operations the handles call -------------------------------------------------

    def sign(self, private: Any, data: bytes, mechanism: Mechanism) -> bytes:
        """C_Sign with ``mechanism`` on the token."""
        return self._run("sign", lambda _: bytes(private.sign(data, mechanism=mechanism)))

    def ecdh(self, private: Any, peer_point: bytes) -> bytes:
        """CKM_ECDH1_DERIVE, CKD_NULL: the shared x-coordinate, via a session object."""

        def derive(_: Any) -> bytes:
            secret = private.derive_key(
                KeyType.GENERIC_SECRET,
                256,
                mechanism=Mechanism.ECDH1_DERIVE,
                mechanism_param=(KDF.NULL, None, peer_point),
                capabilities=_NO_CAPABILITIES,
                template=session_secret(),
            )
            return _read_and_destroy(secret)

        return self._run("ECDH", derive)

    # --- asymmetric keys --------------------------------------------------------------

    def generate_dh_key(self, label: str, curve: DhCurve) -> DhKey:
        """A P-256 key pair generated on the token, usable only for ECDH."""
        if curve.name != "P-256":
            raise _unsupported(curve.name)
        private, point = self._generate_pair(label, P256_EC_PARAMS, Attribute.DERIVE)
        return _Pkcs11DhKey(self, label, private, point)

    def generate_signing_key(self, label: str, alg: SignatureAlg) -> SigningKey:
        """An ES256 (P-256) or EdDSA (Ed25519) key pair generated on the token."""
        params = {"ES256": P256_EC_PARAMS, "EdDSA": ED25519_EC_PARAMS}.get(alg.name)
        if params is None:
            raise _unsupported(alg.name)
        private, public = self._generate_pair(label, params, Attribute.SIGN)
        return _Pkcs11SigningKey(self, label, private, public, alg.name)

    def _generate_pair(self, label: str, params: bytes, use: Attribute) -> tuple[Any, bytes]:
        edwards = params == ED25519_EC_PARAMS
        with self._session_for(f"generating {label!r}") as session:
            self._check_free(session, label)
            public, private = session.generate_keypair(
                KeyType.EC_EDWARDS if edwards else KeyType.EC,
                mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN if edwards else None,
                label=label,
                store=True,
                capabilities=_NO_CAPABILITIES,
                public_template=public_template(params, verify=use == Attribute.SIGN),
                private_template=private_template(use),
            )
            return private, _public_bytes(public, params)

    def dh_key(self, label: str) -> DhKey:
        with self._session_for(f"loading {label!r}") as session:
            private, _ = self._find(session, label, KeyKind.DH)
            return _Pkcs11DhKey(self, label, private, self._public(session, label))

    def signing_key(self, label: str) -> SigningKey:
        with self._session_for(f"loading {label!r}") as session:
            private, algorithm = self._find(session, label, KeyKind.SIGNING)
            public = self._public(session, label)
            return _Pkcs11SigningKey(self, label, private, public, algorithm)

    def _public(self, session: Any, label: str) -> bytes:
        public = session.get_key(ObjectClass.PUBLIC_KEY, label=label)
        return _public_bytes(public, public[Attribute.EC_PARAMS])

    # --- inventory --------------------------------------------------------------------

    def labels(self) -> list[KeyInfo]:
        with self._session_for("listing keys") as session:
            infos = []
            for obj in list(session.get_objects()):
                described = _describe(obj)
                if described is not None:
                    label, kind, algorithm = described
                    public = None
                    if kind in (KeyKind.DH, KeyKind.SIGNING):
                        public = self._public(session, label)
                    infos.append(KeyInfo(label, kind, algorithm, public))
            return sorted(infos, key=lambda info: info.label)

    def destroy_key(self, label: str) -> None:
        with self._session_for(f"destroying {label!r}") as session:
            objects = list(session.get_objects({Attribute.LABEL: label}))
            if not objects:
                raise KeyNotFoundError(f"no key labelled {label!r}")
            for obj in objects:
                obj.destroy()

    def _check_free(self, session: Any, label: str) -> None:
        check_label(label)
        if list(session.get_objects({Attribute.LABEL: label})):
            raise DuplicateLabelError(f"a key labelled {label!r} already exists on the token")

    def _find(self, session: Any, label: str, kind: KeyKind) -> tuple[Any, str]:
        """The private or secret key named ``label``, and its algorithm, if of ``kind``."""
        for obj in list(session.get_objects({Attribute.LABEL: label})):
            described = _describe(obj)
            if described is None:
                continue
            _, found, algorithm = described
            if found is not kind:
                raise WrongKeyKindError(f"{label!r} is a {found.value} key, not a {kind.value} key")
            return obj, algorithm
        raise KeyNotFoundError(f"no key labelled {label!r}")

    # --- symmetric keys ---------------------------------------------------------------

    def generate_master_key(self, label: str) -> KeyInfo:
        """A 256-bit CKK_GENERIC_SECRET from CKM_GENERIC_SECRET_KEY_GEN, HMAC use only."""
        template = secret_template(label, KeyType.GENERIC_SECRET, Attribute.SIGN)
        template[Attribute.VALUE_LEN] = SECRET_KEY_LENGTH
        self._create(label, template, Mechanism.GENERIC_SECRET_KEY_GEN)
        return KeyInfo(label, KeyKind.MASTER, "HMAC-SHA256")

    def import_master_key(self, label: str, secret: bytes) -> KeyInfo:
        check_secret(secret)
        template = secret_template(label, KeyType.GENERIC_SECRET, Attribute.SIGN)
        template[Attribute.VALUE] = secret
        self._create(label, template, None)
        return KeyInfo(label, KeyKind.MASTER, "HMAC-SHA256")

    def generate_wrapping_key(self, label: str) -> KeyInfo:
        """An AES-256 key from CKM_AES_KEY_GEN, allowed only to wrap and unwrap."""
        template = secret_template(label, KeyType.AES, Attribute.WRAP, Attribute.UNWRAP)
        template[Attribute.VALUE_LEN] = SECRET_KEY_LENGTH
        self._create(label, template, Mechanism.AES_KEY_GEN)
        return KeyInfo(label, KeyKind.WRAPPING, "AES-256-KW")

    def import_wrapping_key(self, label: str, secret: bytes) -> KeyInfo:
        check_secret(secret)
        template = secret_template(label, KeyType.AES, Attribute.WRAP, Attribute.UNWRAP)
        template[Attribute.VALUE] = secret
        self._create(label, template, None)
        return KeyInfo(label, KeyKind.WRAPPING, "AES-256-KW")

    def _create(self, label: str, template: dict[Attribute, Any], mechanism: Any) -> None:
        """C_GenerateKey with ``mechanism``, or C_CreateObject if None (an import)."""
        with self._session_for(f"creating {label!r}") as session:
            self._check_free(session, label)
            if mechanism is None:
                session.create_object(template)
            else:
                _generate_secret(session, template, mechanism)

    def derive_meter_key(
        self,
        master_label: str,
        meter_id: str,
        purpose: str,
        length: int = DEFAULT_METER_KEY_LENGTH,
    ) -> bytes:
        """HKDF-Expand with each HMAC-SHA256 block computed on the token."""
        info = meter_key_info(meter_id, purpose, length)
        with self._session_for(f"deriving from {master_label!r}") as session:
            master, _ = self._find(session, master_label, KeyKind.MASTER)

            def prf(data: bytes) -> bytes:
                return bytes(master.sign(data, mechanism=Mechanism.SHA256_HMAC))

            return hkdf_expand(prf, info, length)

    def wrap_key(self, wrapping_label: str, key_material: bytes) -> bytes:
        """CKM_AES_KEY_WRAP (RFC 3394) of ``key_material`` via a session generic secret."""
        check_wrappable(key_material)
        with self._session_for(f"wrapping under {wrapping_label!r}") as session:
            wrapping, _ = self._find(session, wrapping_label, KeyKind.WRAPPING)
            material = session.create_object(session_secret(key_material))
            try:
                return bytes(wrapping.wrap_key(material, mechanism=Mechanism.AES_KEY_WRAP))
            finally:
                material.destroy()

    def unwrap_key(self, wrapping_label: str, wrapped: bytes) -> bytes:
        """CKM_AES_KEY_WRAP unwrapping into a session secret that is read and destroyed."""
        check_wrapped(wrapped)
        with self._session_for(f"unwrapping under {wrapping_label!r}") as session:
            wrapping, _ = self._find(session, wrapping_label, KeyKind.WRAPPING)
            try:
                material = wrapping.unwrap_key(
                    ObjectClass.SECRET_KEY,
                    KeyType.GENERIC_SECRET,
                    wrapped,
                    mechanism=Mechanism.AES_KEY_WRAP,
                    capabilities=_NO_CAPABILITIES,
                    template=session_secret(),
                )
            except _UNWRAP_FAILURES as exc:
                raise DecryptionError("the wrapped key did not unwrap (RFC 3394)") from exc
            return _read_and_destroy(material)

    # --- lifecycle --------------------------------------------------------------------

    def close(self) -> None:
        """Log out and close the session; every handle stops working."""
        with self._mutex, _open_mutex:
            if self._closed:
                return
            self._closed = True
            _open_tokens[self._module_path].discard(self._token_label)
            try:
                self._session.close()
            except p11e.PKCS11Error as exc:
                raise _translate(exc, "closing the session") from exc


def _generate_secret(session: Any, template: dict[Attribute, Any], mechanism: Any) -> None:
    """C_GenerateKey with the whole template given explicitly."""
    session.generate_key(
        template[Attribute.KEY_TYPE],
        8 * template.pop(Attribute.VALUE_LEN),
        label=template[Attribute.LABEL],
        store=True,
        capabilities=_NO_CAPABILITIES,
        mechanism=mechanism,
        template=template,
    )


def _read_and_destroy(secret: Any) -> bytes:
    try:
        return bytes(secret[Attribute.VALUE])
    finally:
        secret.destroy()


def _public_bytes(public: Any, params: bytes) -> bytes:
    """The public key in MeterSeal's encoding, from CKA_EC_POINT, checked."""
    der = bytes(public[Attribute.EC_POINT])
    if params in ED25519_EC_PARAMS_FORMS:
        return point_from_ec_point(der, ED25519_KEY_LENGTH)
    point = point_from_ec_point(der, P256_POINT_LENGTH)
    p256_public_from_point(point)
    return point


def _describe(obj: Any) -> tuple[str, KeyKind, str] | None:
    """(label, kind, algorithm) of a private or secret key MeterSeal made, else None."""
    object_class = obj[Attribute.CLASS]
    wanted = CLASSIFYING_ATTRIBUTES.get(object_class)
    if wanted is None:
        return None
    attributes = dict(obj.get_attributes([Attribute.LABEL, *wanted]))
    attributes[Attribute.CLASS] = object_class
    classified = classify(attributes)
    if classified is None:
        return None
    return str(attributes[Attribute.LABEL]), *classified
