"""The software keystore on disk: one encrypted, authenticated file, replaced atomically.

Format (all integers one byte)::

    header = "MSKS" || version || kek kind || log2(N) || r || p || salt (16)
             || kek check (16) || nonce (12)
    file   = header || AES-256-GCM(KEK, nonce, plaintext = CBOR(keys), aad = header)
    check  = HMAC-SHA256(KEK, "MeterSeal keystore KEK check")[:16]

The KEK comes from :mod:`meterseal.hsm.kek`: scrypt (RFC 7914) of a passphrase with the
header's salt and costs, or a raw 256-bit key (then N, r and p are zero). AES-GCM is NIST
SP 800-38D; the whole header is its associated data, so no header byte can change
unnoticed. The check value tells a wrong passphrase (:class:`WrongPassphraseError`) apart
from a modified file (:class:`KeystoreTamperedError`); it gives an attacker nothing the GCM
tag would not. Either error loads nothing.

The plaintext is the CBOR map ``{"v": 1, "keys": {label: [kind, algorithm, secret,
public or null, distinguishing ID or null]}}``, parsed at the edge into
:class:`StoredKey` objects. Writes go to a temporary file in the same directory, are
fsynced, renamed over the keystore and the directory is fsynced, so a crash leaves the
old file or the new one, never a mixture. A sibling ``.lock`` file, held with
``flock(LOCK_EX)`` while the keystore is open, keeps a second process from writing it.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from meterseal import cbor
from meterseal.crypto.interfaces import Rng
from meterseal.errors import DecryptionError, EncodingError
from meterseal.hsm.errors import (
    HsmError,
    HsmUnavailableError,
    KeystoreTamperedError,
    WrongPassphraseError,
)
from meterseal.hsm.interface import KeyKind
from meterseal.hsm.kek import KEK_LENGTH, KekKind, KekSource, ScryptParams

MAGIC = b"MSKS"
FILE_VERSION = 1
SALT_LENGTH = 16
CHECK_LENGTH = 16
NONCE_LENGTH = 12
_TAG_LENGTH = 16
_SALT_AT = len(MAGIC) + 5
_CHECK_AT = _SALT_AT + SALT_LENGTH
_NONCE_AT = _CHECK_AT + CHECK_LENGTH
HEADER_LENGTH = _NONCE_AT + NONCE_LENGTH
_CHECK_LABEL = b"MeterSeal keystore KEK check"
_STATE_VERSION = 1
_T = TypeVar("_T")


@dataclass(slots=True)
class StoredKey:
    """One key as the file holds it. ``secret`` is a bytearray so it can be zeroed."""

    kind: KeyKind
    algorithm: str
    secret: bytearray
    public_key: bytes | None = None
    distid: bytes | None = None

    def __repr__(self) -> str:
        return f"StoredKey({self.kind.value}, {self.algorithm})"

    def wipe(self) -> None:
        """Overwrite the secret in place (best effort: Python may hold other copies)."""
        self.secret[:] = bytes(len(self.secret))


class FileKek:
    """The KEK of one keystore file with the header fields it was derived from."""

    __slots__ = ("_key", "kind", "params", "salt")

    def __init__(self, key: bytes, kind: KekKind, salt: bytes, params: ScryptParams) -> None:
        self._key = key
        self.kind = kind
        self.salt = salt
        self.params = params

    def __repr__(self) -> str:
        return f"<keystore KEK ({self.kind.name})>"

    def check_value(self) -> bytes:
        """HMAC-SHA256(KEK, label), truncated: identifies the KEK, reveals nothing of it."""
        return hmac.new(self._key, _CHECK_LABEL, hashlib.sha256).digest()[:CHECK_LENGTH]

    def header(self, nonce: bytes) -> bytes:
        """The file header for one write with ``nonce``."""
        p = self.params if self.kind is KekKind.SCRYPT else ScryptParams(0, 0, 0)
        fields = bytes((FILE_VERSION, self.kind, p.log2_n, p.r, p.p))
        return MAGIC + fields + self.salt + self.check_value() + nonce

    def seal(self, header: bytes, plaintext: bytes) -> bytes:
        """AES-256-GCM of ``plaintext`` with the header's nonce and the header as AAD."""
        return AESGCM(self._key).encrypt(header[_NONCE_AT:], plaintext, header)

    def open(self, header: bytes, ciphertext: bytes) -> bytes:
        """The plaintext, or DecryptionError."""
        try:
            return AESGCM(self._key).decrypt(header[_NONCE_AT:], ciphertext, header)
        except InvalidTag as exc:
            raise DecryptionError("keystore AEAD tag did not verify") from exc


def new_kek(source: KekSource, rng: Rng) -> FileKek:
    """A KEK for a new keystore: a fresh salt, and the source's scrypt costs."""
    salt = rng(SALT_LENGTH)
    return FileKek(source.derive(salt, source.params), source.kind, salt, source.params)


def seal_keys(keys: dict[str, StoredKey], kek: FileKek, rng: Rng) -> bytes:
    """The whole file for ``keys`` under ``kek``, with a fresh nonce from ``rng``."""
    header = kek.header(rng(NONCE_LENGTH))
    return header + kek.seal(header, encode_keys(keys))


def open_keys(blob: bytes, source: KekSource) -> tuple[dict[str, StoredKey], FileKek]:
    """Parse the header, derive and check the KEK, authenticate, decode the keys."""
    kek = _header_kek(blob, source)
    header = blob[:HEADER_LENGTH]
    if not hmac.compare_digest(kek.check_value(), header[_CHECK_AT:_NONCE_AT]):
        raise WrongPassphraseError(f"the KEK from {source.description} does not open this keystore")
    try:
        plaintext = kek.open(header, blob[HEADER_LENGTH:])
    except DecryptionError as exc:
        raise KeystoreTamperedError("the keystore file does not authenticate") from exc
    return decode_keys(plaintext), kek


def _header_kek(blob: bytes, source: KekSource) -> FileKek:
    if len(blob) < HEADER_LENGTH + _TAG_LENGTH or blob[: len(MAGIC)] != MAGIC:
        raise KeystoreTamperedError("not a MeterSeal keystore file")
    version, kind, log2_n, r, p = blob[len(MAGIC) : _SALT_AT]
    if version != FILE_VERSION:
        raise KeystoreTamperedError(f"keystore file version {version} is not {FILE_VERSION}")
    if kind != source.kind:
        raise WrongPassphraseError(
            f"this keystore is sealed with a {_kind_name(kind)}, not a {_kind_name(source.kind)}"
        )
    salt = blob[_SALT_AT:_CHECK_AT]
    params = ScryptParams(log2_n, r, p)
    try:
        key = source.derive(salt, params)
    except HsmError as exc:
        raise KeystoreTamperedError(f"keystore header: {exc}") from exc
    return FileKek(key, source.kind, salt, params)


def _kind_name(kind: int) -> str:
    if kind == KekKind.SCRYPT:
        return "passphrase (scrypt)"
    if kind == KekKind.RAW:
        return f"{8 * KEK_LENGTH}-bit key"
    return f"KEK of unknown kind {kind}"


# --- the plaintext as CBOR ------------------------------------------------------------


def encode_keys(keys: dict[str, StoredKey]) -> bytes:
    """The plaintext: a versioned CBOR map of every key."""
    return cbor.encode(
        {
            "v": _STATE_VERSION,
            "keys": {
                label: [k.kind.value, k.algorithm, bytes(k.secret), k.public_key, k.distid]
                for label, k in keys.items()
            },
        }
    )


def decode_keys(plaintext: bytes) -> dict[str, StoredKey]:
    """Parse the plaintext into :class:`StoredKey` objects, or KeystoreTamperedError."""
    try:
        keys = _typed(_versioned(cbor.decode(plaintext))["keys"], dict)
        return {_typed(label, str): _parse_key(value) for label, value in keys.items()}
    except (EncodingError, KeyError, TypeError, ValueError) as exc:
        raise KeystoreTamperedError(f"malformed keystore contents: {exc}") from exc


def _versioned(raw: Any) -> dict[Any, Any]:
    if not isinstance(raw, dict) or raw.get("v") != _STATE_VERSION:
        raise ValueError("unknown keystore state version")
    return raw


def _parse_key(raw: Any) -> StoredKey:
    kind, algorithm, secret, public_key, distid = _typed(raw, list)
    return StoredKey(
        KeyKind(_typed(kind, str)),
        _typed(algorithm, str),
        bytearray(_typed(secret, bytes)),
        None if public_key is None else _typed(public_key, bytes),
        None if distid is None else _typed(distid, bytes),
    )


def _typed(value: Any, kind: type[_T]) -> _T:
    if not isinstance(value, kind):
        raise TypeError(f"expected {kind.__name__}, found {type(value).__name__}")
    return value


# --- the file -------------------------------------------------------------------------


def read_file(path: Path) -> bytes:
    """The keystore's bytes, or HsmUnavailableError."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise HsmUnavailableError(f"cannot read the keystore {path}: {exc.strerror}") from exc


def write_atomically(path: Path, blob: bytes) -> None:
    """Replace ``path`` with ``blob``: temporary file (mode 600), fsync, rename, fsync dir."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(blob)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, path)
        _fsync_directory(path.parent)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise HsmError(f"cannot write the keystore {path}: {exc.strerror}") from exc


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileLock:
    """An exclusive ``flock`` on ``<keystore>.lock``, held while the keystore is open."""

    __slots__ = ("_fd", "path")

    def __init__(self, keystore: Path) -> None:
        self.path = keystore.with_name(keystore.name + ".lock")
        try:
            self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise HsmUnavailableError(f"cannot create {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._fd)
            raise HsmUnavailableError(f"the keystore {keystore} is open elsewhere") from exc

    def release(self) -> None:
        """Unlock (closing the descriptor drops the flock); idempotent."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
