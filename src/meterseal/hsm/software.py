"""The software crypto machine: an encrypted keystore file, for every suite (SM2 included).

:class:`SoftwareKeystore` keeps its keys in one AES-256-GCM file under a KEK from a
passphrase (scrypt, RFC 7914), a key file or an environment variable (see
:mod:`meterseal.hsm.keystore_file` and :mod:`meterseal.hsm.kek`). Opening it decrypts
the keys into a private vault; the handles it returns implement
:class:`~meterseal.crypto.interfaces.DhKey` and
:class:`~meterseal.crypto.interfaces.SigningKey` by asking the vault for the live key
object at each call, so a destroyed key or a closed keystore stops every handle.

Curves and algorithms: ECDH on P-256 (SEC 1), X25519 (RFC 7748) and the SM2 curve
(GB/T 32918.5); ES256 (FIPS 186-4 ECDSA with SHA-256), EdDSA (Ed25519, RFC 8032) and
SM2-SM3 (GB/T 32918.2) with its distinguishing ID. Private keys are drawn from the
``rng`` parameter (``os.urandom`` in production), exactly as the suites'
``generate(rng)`` draw them.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from meterseal.crypto.interfaces import DhCurve, DhKey, Rng, SignatureAlg, SigningKey
from meterseal.crypto.international import ED25519, ES256, P256, P256_ORDER, X25519, scalar_from_rng
from meterseal.crypto.sm2 import SM2_CURVE, SM2_DEFAULT_DISTID, SM2_N, Sm2Signature
from meterseal.errors import CryptoError, DecryptionError
from meterseal.hsm.errors import (
    DuplicateLabelError,
    HsmError,
    HsmUnavailableError,
    KeyNotFoundError,
    KeystoreTamperedError,
    UnsupportedByBackendError,
    WrongKeyKindError,
)
from meterseal.hsm.handles import LabelledHandle, MachineSession
from meterseal.hsm.interface import DEFAULT_METER_KEY_LENGTH, KeyInfo, KeyKind, check_label
from meterseal.hsm.kek import KekSource
from meterseal.hsm.keystore_file import (
    FileKek,
    FileLock,
    StoredKey,
    new_kek,
    open_keys,
    read_file,
    seal_keys,
    write_atomically,
)
from meterseal.hsm.symmetric import (
    SECRET_KEY_LENGTH,
    check_secret,
    check_wrappable,
    check_wrapped,
    hkdf_expand,
    meter_key_info,
    software_prf,
)

MASTER_ALGORITHM = "HMAC-SHA256"
WRAPPING_ALGORITHM = "AES-256-KW"


@dataclass(frozen=True, slots=True)
class _Spec:
    """How to draw a private key: ``rng(32)``, or a scalar in [1, bound - 1]."""

    bound: int | None

    def draw(self, rng: Rng) -> bytes:
        if self.bound is None:
            return rng(32)
        return scalar_from_rng(rng, self.bound).to_bytes(32, "big")


_DH_CURVES: dict[str, tuple[DhCurve, _Spec]] = {
    P256.name: (P256, _Spec(P256_ORDER)),
    X25519.name: (X25519, _Spec(None)),
    SM2_CURVE.name: (SM2_CURVE, _Spec(SM2_N)),
}
_SIGNATURE_BOUNDS: dict[str, _Spec] = {
    ES256.name: _Spec(P256_ORDER),
    ED25519.name: _Spec(None),
    "SM2-SM3": _Spec(SM2_N - 1),  # d in [1, n-2], GB/T 32918.1 section 6.1
}


def _dh_curve(name: str) -> tuple[DhCurve, _Spec]:
    try:
        return _DH_CURVES[name]
    except KeyError:
        raise UnsupportedByBackendError(f"the software keystore has no DH curve {name}") from None


def _signature_alg(name: str, distid: bytes | None) -> SignatureAlg:
    if name == ES256.name:
        return ES256
    if name == ED25519.name:
        return ED25519
    if name in _SIGNATURE_BOUNDS:
        return Sm2Signature(distid if distid is not None else SM2_DEFAULT_DISTID)
    raise UnsupportedByBackendError(f"the software keystore has no signature algorithm {name}")


def _check_public(entry: StoredKey, public: bytes) -> None:
    if public != entry.public_key:
        raise KeystoreTamperedError("a stored public key does not match its private key")


class _Vault:
    """The decrypted keys and their live key objects; private to one keystore."""

    __slots__ = ("_dh", "_keys", "_signers", "closed")

    def __init__(self, keys: dict[str, StoredKey]) -> None:
        self._dh: dict[str, DhKey] = {}
        self._signers: dict[str, SigningKey] = {}
        self._keys: dict[str, StoredKey] = {}
        self.closed = False
        for label, entry in keys.items():
            try:
                self.add(label, entry)
            except UnsupportedByBackendError:
                raise
            except CryptoError as exc:
                raise KeystoreTamperedError(f"the stored key {label!r} does not load") from exc

    def __reduce__(self) -> NoReturn:
        raise TypeError("a key vault cannot be pickled")

    def entry(self, label: str, kind: KeyKind) -> StoredKey:
        entry = self.keys().get(label)
        if entry is None:
            raise KeyNotFoundError(f"no key labelled {label!r}")
        if entry.kind is not kind:
            raise WrongKeyKindError(f"{label!r} is a {entry.kind.value} key, not {kind.value}")
        return entry

    def dh(self, label: str) -> DhKey:
        self.entry(label, KeyKind.DH)
        return self._dh[label]

    def signer(self, label: str) -> SigningKey:
        self.entry(label, KeyKind.SIGNING)
        return self._signers[label]

    def secret(self, label: str, kind: KeyKind) -> bytes:
        return bytes(self.entry(label, kind).secret)

    def keys(self) -> dict[str, StoredKey]:
        """A copy of the label-to-key map; HsmUnavailableError once closed."""
        if self.closed:
            raise HsmUnavailableError("the software keystore is closed")
        return dict(self._keys)

    def add(self, label: str, entry: StoredKey) -> None:
        """Load ``entry``'s key object (checking its public key) and keep both."""
        secret = bytes(entry.secret)
        if entry.kind is KeyKind.DH:
            dh = _dh_curve(entry.algorithm)[0].from_private_bytes(secret)
            _check_public(entry, dh.public_point)
            self._dh[label] = dh
        elif entry.kind is KeyKind.SIGNING:
            signer = _signature_alg(entry.algorithm, entry.distid).from_private_bytes(secret)
            _check_public(entry, signer.public_key)
            self._signers[label] = signer
        self._keys[label] = entry

    def remove(self, label: str) -> None:
        self._keys.pop(label).wipe()
        self._dh.pop(label, None)
        self._signers.pop(label, None)

    def wipe(self) -> None:
        for entry in self._keys.values():
            entry.wipe()
        self._keys.clear()
        self._dh.clear()
        self._signers.clear()
        self.closed = True


class _KeystoreDhKey(LabelledHandle):
    """A DH key handle: public data, and the label the vault knows the key by."""

    __slots__ = ("_public_point", "_vault")
    _kind = "software DH key"

    def __init__(self, vault: _Vault, label: str, public_point: bytes) -> None:
        super().__init__(label)
        self._vault = vault
        self._public_point = public_point

    @property
    def public_key(self) -> bytes:
        """The x-coordinate for EC2 curves (RFC 9528 section 3.7), u for X25519."""
        point = self._public_point
        return point[1 : 1 + (len(point) - 1) // 2] if len(point) % 2 else point

    @property
    def public_point(self) -> bytes:
        return self._public_point

    def exchange(self, peer_public_key: bytes) -> bytes:
        return self._vault.dh(self._label).exchange(peer_public_key)


class _KeystoreSigningKey(LabelledHandle):
    """A signing key handle: the public key, and the label the vault knows the key by."""

    __slots__ = ("_public_key", "_vault")
    _kind = "software signing key"

    def __init__(self, vault: _Vault, label: str, public_key: bytes) -> None:
        super().__init__(label)
        self._vault = vault
        self._public_key = public_key

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        return self._vault.signer(self._label).sign(message)


class SoftwareKeystore(MachineSession):
    """A :class:`~meterseal.hsm.interface.CryptoMachine` in one encrypted file.

    ``create=True`` makes a new, empty keystore (refusing to overwrite a file);
    otherwise the file must exist and open under ``kek_source``. The keystore is locked
    against other processes until :meth:`close`.
    """

    __slots__ = ("_kek", "_lock", "_mutex", "_path", "_rng", "_vault")

    def __init__(
        self,
        path: str | os.PathLike[str],
        kek_source: KekSource,
        *,
        create: bool = False,
        rng: Rng = os.urandom,
    ) -> None:
        self._path = Path(path)
        self._rng = rng
        self._mutex = threading.RLock()
        if not create and not self._path.is_file():
            raise HsmUnavailableError(f"no keystore at {self._path} (create it first)")
        self._lock = FileLock(self._path)
        try:
            keys, self._kek = self._load(kek_source, create)
            self._vault = _Vault(keys)
        except BaseException:
            self._lock.release()
            raise

    def _load(self, source: KekSource, create: bool) -> tuple[dict[str, StoredKey], FileKek]:
        if not create:
            return open_keys(read_file(self._path), source)
        if self._path.exists():
            raise HsmError(f"the keystore {self._path} already exists; open it without create")
        kek = new_kek(source, self._rng)
        write_atomically(self._path, seal_keys({}, kek, self._rng))
        return {}, kek

    def __repr__(self) -> str:
        return f"<SoftwareKeystore {str(self._path)!r}>"

    @property
    def path(self) -> Path:
        return self._path

    # --- asymmetric keys --------------------------------------------------------------

    def generate_dh_key(self, label: str, curve: DhCurve) -> DhKey:
        """A fresh DH key pair on ``curve`` (P-256, X25519 or SM2), stored under ``label``."""
        known, spec = _dh_curve(curve.name)
        private = spec.draw(self._rng)
        public_point = known.from_private_bytes(private).public_point
        self._store(label, StoredKey(KeyKind.DH, known.name, bytearray(private), public_point))
        return _KeystoreDhKey(self._vault, label, public_point)

    def generate_signing_key(self, label: str, alg: SignatureAlg) -> SigningKey:
        """A fresh signing key (ES256, EdDSA or SM2-SM3, with its distinguishing ID)."""
        distid = alg.distid if isinstance(alg, Sm2Signature) else None
        known = _signature_alg(alg.name, distid)
        private = _SIGNATURE_BOUNDS[known.name].draw(self._rng)
        public_key = known.from_private_bytes(private).public_key
        entry = StoredKey(KeyKind.SIGNING, known.name, bytearray(private), public_key, distid)
        self._store(label, entry)
        return _KeystoreSigningKey(self._vault, label, public_key)

    def dh_key(self, label: str) -> DhKey:
        entry = self._vault.entry(label, KeyKind.DH)
        return _KeystoreDhKey(self._vault, label, entry.public_key or b"")

    def signing_key(self, label: str) -> SigningKey:
        entry = self._vault.entry(label, KeyKind.SIGNING)
        return _KeystoreSigningKey(self._vault, label, entry.public_key or b"")

    # --- inventory --------------------------------------------------------------------

    def labels(self) -> list[KeyInfo]:
        return [
            KeyInfo(label, entry.kind, entry.algorithm, entry.public_key)
            for label, entry in sorted(self._vault.keys().items())
        ]

    def destroy_key(self, label: str) -> None:
        with self._mutex:
            keys = self._vault.keys()
            if label not in keys:
                raise KeyNotFoundError(f"no key labelled {label!r}")
            del keys[label]
            self._write(keys)
            self._vault.remove(label)

    # --- symmetric keys ---------------------------------------------------------------

    def generate_master_key(self, label: str) -> KeyInfo:
        return self.import_master_key(label, self._rng(SECRET_KEY_LENGTH))

    def import_master_key(self, label: str, secret: bytes) -> KeyInfo:
        check_secret(secret)
        self._store(label, StoredKey(KeyKind.MASTER, MASTER_ALGORITHM, bytearray(secret)))
        return KeyInfo(label, KeyKind.MASTER, MASTER_ALGORITHM)

    def derive_meter_key(
        self,
        master_label: str,
        meter_id: str,
        purpose: str,
        length: int = DEFAULT_METER_KEY_LENGTH,
    ) -> bytes:
        """HKDF-Expand-SHA256 under the master (see :mod:`meterseal.hsm.symmetric`)."""
        info = meter_key_info(meter_id, purpose, length)
        master = self._vault.secret(master_label, KeyKind.MASTER)
        return hkdf_expand(software_prf(master), info, length)

    def generate_wrapping_key(self, label: str) -> KeyInfo:
        return self.import_wrapping_key(label, self._rng(SECRET_KEY_LENGTH))

    def import_wrapping_key(self, label: str, secret: bytes) -> KeyInfo:
        check_secret(secret)
        entry = StoredKey(KeyKind.WRAPPING, WRAPPING_ALGORITHM, bytearray(secret))
        self._store(label, entry)
        return KeyInfo(label, KeyKind.WRAPPING, WRAPPING_ALGORITHM)

    def wrap_key(self, wrapping_label: str, key_material: bytes) -> bytes:
        """AES Key Wrap (RFC 3394 section 2.2.1) under the wrapping key."""
        check_wrappable(key_material)
        return aes_key_wrap(self._vault.secret(wrapping_label, KeyKind.WRAPPING), key_material)

    def unwrap_key(self, wrapping_label: str, wrapped: bytes) -> bytes:
        """AES Key Unwrap (RFC 3394 section 2.2.2); DecryptionError if the IV check fails."""
        check_wrapped(wrapped)
        key = self._vault.secret(wrapping_label, KeyKind.WRAPPING)
        try:
            return aes_key_unwrap(key, wrapped)
        except InvalidUnwrap as exc:
            raise DecryptionError("the wrapped key did not unwrap (RFC 3394 IV check)") from exc

    # --- lifecycle --------------------------------------------------------------------

    def close(self) -> None:
        """Zero the keys in memory, release the lock; every handle stops working."""
        with self._mutex:
            if not self._vault.closed:
                self._vault.wipe()
                self._lock.release()

    def _store(self, label: str, entry: StoredKey) -> None:
        check_label(label)
        with self._mutex:
            keys = self._vault.keys()
            if label in keys:
                raise DuplicateLabelError(f"a key labelled {label!r} already exists")
            keys[label] = entry
            self._write(keys)
            self._vault.add(label, entry)

    def _write(self, keys: dict[str, StoredKey]) -> None:
        write_atomically(self._path, seal_keys(keys, self._kek, self._rng))
