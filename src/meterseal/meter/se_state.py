"""The secure element's state and its encrypted-at-rest blob.

The blob (docs/protocol.md section 7) is::

    header = "MSSE" || version (1) || log2(N) (1) || r (1) || p (1) || salt (16) || nonce (12)
    blob   = header || AES-GCM-128(KEK, nonce, plaintext = CBOR(state), aad = header)
    KEK    = scrypt(device_secret, salt, N, r, p, dkLen = 16)          RFC 7914

The scrypt parameters travel in the header, bounded on load so a forged header cannot ask
for unbounded memory before the tag is checked. Any failure (wrong device secret, a
modified byte, a malformed state) raises :class:`SecureElementError` and loads nothing.

The state is parsed at the edge into :class:`SeState` (typed slots, counters, tamper log);
nothing deeper sees the CBOR.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, TypeVar

from meterseal import cbor
from meterseal.crypto.aead import A128GCM
from meterseal.crypto.interfaces import Rng
from meterseal.errors import DecryptionError, EncodingError, SecureElementError
from meterseal.meter.tamper import TamperEvent

MAGIC = b"MSSE"
BLOB_VERSION = 1
SALT_LENGTH = 16
_HEADER_LENGTH = len(MAGIC) + 4 + SALT_LENGTH + A128GCM.nonce_length
_STATE_VERSION = 1
_MAX_SCRYPT_MEMORY = 256 * 1024 * 1024
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost parameters (RFC 7914 section 2). The default costs about 32 MiB."""

    log2_n: int = 15
    r: int = 8
    p: int = 1

    def check(self) -> None:
        """Raise :class:`SecureElementError` for costs out of the accepted bounds."""
        in_range = 1 <= self.log2_n <= 20 and 1 <= self.r <= 32 and 1 <= self.p <= 16
        if not in_range or self.memory() > _MAX_SCRYPT_MEMORY:
            raise SecureElementError(f"scrypt parameters out of bounds: {self}")

    def memory(self) -> int:
        """Bytes of memory scrypt needs (128 * r * (N + p + 2), as hashlib counts it)."""
        return 128 * self.r * ((1 << self.log2_n) + self.p + 2)


@dataclass(slots=True)
class KeySlot:
    """One private key: the bytes its ``generate`` drew from the rng, and its public key.

    ``seed`` is a bytearray so that zeroization can overwrite it in place.
    """

    suite: int
    kind: str
    seed: bytearray
    public_key: bytes


@dataclass(slots=True)
class SeState:
    """Everything the secure element persists."""

    device_id: bytes
    data_suite: int
    suites: tuple[int, ...]
    generation: int = 0
    zeroized: bool = False
    slots: dict[str, KeySlot] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    tamper_log: list[TamperEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Kek:
    """A key-encryption key with the scrypt salt and parameters it came from."""

    key: bytes
    salt: bytes
    params: ScryptParams


def derive_kek(device_secret: bytes, salt: bytes, params: ScryptParams) -> Kek:
    """KEK = scrypt(device_secret, salt, N, r, p, 16) (RFC 7914)."""
    params.check()
    key = hashlib.scrypt(
        device_secret,
        salt=salt,
        n=1 << params.log2_n,
        r=params.r,
        p=params.p,
        dklen=A128GCM.key_length,
        maxmem=params.memory() + 1024 * 1024,
    )
    return Kek(key, salt, params)


def seal_state(state: SeState, kek: Kek, rng: Rng) -> bytes:
    """The encrypted blob of ``state`` under ``kek`` with a fresh nonce from ``rng``."""
    p = kek.params
    header = MAGIC + bytes((BLOB_VERSION, p.log2_n, p.r, p.p)) + kek.salt
    header += rng(A128GCM.nonce_length)
    nonce = header[-A128GCM.nonce_length :]
    return header + A128GCM.key(kek.key).seal(nonce, encode_state(state), header)


def open_state(blob: bytes, device_secret: bytes) -> tuple[SeState, Kek]:
    """Parse the header, derive the KEK, authenticate and decode the state."""
    if len(blob) < _HEADER_LENGTH + A128GCM.tag_length or blob[:4] != MAGIC:
        raise SecureElementError("not a secure element state blob")
    if blob[4] != BLOB_VERSION:
        raise SecureElementError(f"state blob version {blob[4]} is not {BLOB_VERSION}")
    params = ScryptParams(blob[5], blob[6], blob[7])
    salt = blob[8 : 8 + SALT_LENGTH]
    kek = derive_kek(device_secret, salt, params)
    header, nonce = blob[:_HEADER_LENGTH], blob[8 + SALT_LENGTH : _HEADER_LENGTH]
    try:
        plaintext = A128GCM.key(kek.key).open(nonce, blob[_HEADER_LENGTH:], header)
    except DecryptionError as exc:
        raise SecureElementError("state blob did not authenticate (device secret?)") from exc
    return decode_state(plaintext), kek


# --- the state as CBOR ----------------------------------------------------------------


def encode_state(state: SeState) -> bytes:
    """The state as one CBOR map (the blob's plaintext)."""
    return cbor.encode(
        {
            "v": _STATE_VERSION,
            "device_id": state.device_id,
            "data_suite": state.data_suite,
            "suites": list(state.suites),
            "generation": state.generation,
            "zeroized": state.zeroized,
            "slots": {
                name: [s.suite, s.kind, bytes(s.seed), s.public_key]
                for name, s in state.slots.items()
            },
            "counters": state.counters,
            "tamper": [[t.seq, t.kind, t.time, t.signature] for t in state.tamper_log],
        }
    )


def decode_state(plaintext: bytes) -> SeState:
    """Parse the blob's plaintext into :class:`SeState`, or raise SecureElementError."""
    try:
        raw = cbor.decode(plaintext)
        return _parse_state(raw)
    except (EncodingError, KeyError, TypeError, ValueError) as exc:
        raise SecureElementError(f"malformed secure element state: {exc}") from exc


def _parse_state(raw: Any) -> SeState:
    if not isinstance(raw, dict) or raw["v"] != _STATE_VERSION:
        raise ValueError("unknown state version")
    device_id = _typed(raw["device_id"], bytes)
    return SeState(
        device_id=device_id,
        data_suite=_typed(raw["data_suite"], int),
        suites=tuple(_typed(v, int) for v in _typed(raw["suites"], list)),
        generation=_typed(raw["generation"], int),
        zeroized=_typed(raw["zeroized"], bool),
        slots={_typed(k, str): _parse_slot(v) for k, v in _typed(raw["slots"], dict).items()},
        counters={_typed(k, str): _typed(v, int) for k, v in _typed(raw["counters"], dict).items()},
        tamper_log=[_parse_tamper(device_id, item) for item in _typed(raw["tamper"], list)],
    )


def _parse_slot(raw: Any) -> KeySlot:
    suite, kind, seed, public_key = _typed(raw, list)
    return KeySlot(
        _typed(suite, int),
        _typed(kind, str),
        bytearray(_typed(seed, bytes)),
        _typed(public_key, bytes),
    )


def _parse_tamper(device_id: bytes, raw: Any) -> TamperEvent:
    seq, kind, time, signature = _typed(raw, list)
    return TamperEvent(
        device_id, _typed(seq, int), _typed(kind, str), _typed(time, int), _typed(signature, bytes)
    )


def _typed(value: Any, kind: type[_T]) -> _T:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"expected {kind.__name__}, found {type(value).__name__}")
    return value
