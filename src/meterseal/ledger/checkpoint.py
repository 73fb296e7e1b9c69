"""C2SP tlog-checkpoint bodies and tlog-cosignature v1 witness cosignatures. Pure, no I/O.

A checkpoint is a signed note (:mod:`meterseal.ledger.note`) whose text is
(c2sp.org/tlog-checkpoint, "Note text")::

    <origin>                 non-empty, the log's identity
    <tree size>              ASCII decimal, no leading zeroes ("0" for the empty tree)
    <base64 root hash>       MTH of the tree at that size (RFC 9162 section 2.1.1)
    [<extension line>...]    optional, each non-empty

A cosignature (c2sp.org/tlog-cosignature, Ed25519, signature type ``0x04``) is a note
signature whose bytes are ``timestamp (u64, big-endian) || Ed25519 signature`` over::

    cosignature/v1
    time <timestamp>
    <the whole checkpoint text>

Its key ID is SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]. Time is a
parameter: the caller passes the POSIX timestamp to sign with.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from meterseal.crypto.interfaces import SigningKey
from meterseal.crypto.international import ED25519
from meterseal.errors import SignatureError
from meterseal.ledger.errors import MalformedCheckpointError, MalformedNoteError, NoteKeyError
from meterseal.ledger.merkle import MAX_TREE_SIZE
from meterseal.ledger.note import (
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    OpenedNote,
    VerifierSet,
    check_note_text,
    compute_key_id,
    format_verifier_key,
    is_valid_key_name,
    open_note,
    sign_note,
    strict_b64decode,
)

SIG_COSIGNATURE_V1 = b"\x04"
"""Signature type of timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature)."""

COSIGNATURE_HEADER = b"cosignature/v1\n"
"""First line of the cosigned message: domain separation."""

MAX_TIMESTAMP = (1 << 63) - 1
"""A cosignature timestamp MUST NOT exceed 2^63 - 1."""

_SIZE_LINE = re.compile(r"0|[1-9][0-9]*")


# --- the checkpoint body --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: ``origin``, tree ``size``, ``root_hash``, optional extensions."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for line in (self.origin, *self.extensions):
            if not line or "\n" in line:
                raise MalformedCheckpointError("checkpoint lines must be non-empty single lines")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpointError(f"tree size {self.size} outside 0..2^63-1")
        try:
            check_note_text(self.text())
        except MalformedNoteError as exc:
            raise MalformedCheckpointError("checkpoint lines hold a control character") from exc

    def text(self) -> str:
        """The note text: origin, size, base64 root and extension lines, each with a newline."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )


def parse_checkpoint(text: str, hash_size: int = 32) -> Checkpoint:
    """Parse a checkpoint note text strictly (c2sp.org/tlog-checkpoint, "Note text")."""
    if not text.endswith("\n"):
        raise MalformedCheckpointError("checkpoint text must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedCheckpointError("a checkpoint has at least three lines")
    origin, size_line, root_line, *extensions = lines
    if not _SIZE_LINE.fullmatch(size_line):
        raise MalformedCheckpointError(f"malformed tree size line {size_line!r}")
    root = strict_b64decode(root_line)
    if root is None or len(root) != hash_size:
        raise MalformedCheckpointError(f"root hash line is not base64 of {hash_size} bytes")
    return Checkpoint(origin, int(size_line), root, tuple(extensions))


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint together with the opened note it came in (verified signatures)."""

    checkpoint: Checkpoint
    note: OpenedNote


def open_checkpoint(
    data: bytes,
    verifiers: VerifierSet | Iterable[NoteVerifier],
    *,
    origin: str | None = None,
    hash_size: int = 32,
) -> SignedCheckpoint:
    """Verify a signed checkpoint note and parse its body.

    Only the given keys are trusted; with ``origin`` the checkpoint must name that log.
    """
    note = open_note(data, verifiers)
    checkpoint = parse_checkpoint(note.text, hash_size)
    if origin is not None and checkpoint.origin != origin:
        raise MalformedCheckpointError(f"checkpoint is for {checkpoint.origin!r}, not {origin!r}")
    return SignedCheckpoint(checkpoint, note)


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[NoteSigner]) -> bytes:
    """The signed note of ``checkpoint`` (the log's key name SHOULD equal the origin)."""
    return sign_note(checkpoint.text(), signers)


# --- cosignatures (tlog-cosignature, Ed25519) -----------------------------------------


def cosignature_message(checkpoint_text: bytes, timestamp: int) -> bytes:
    """``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint text."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise SignatureError(f"cosignature timestamp {timestamp} outside 0..2^63-1")
    return COSIGNATURE_HEADER + b"time %d\n" % timestamp + checkpoint_text


def encode_timestamped_signature(timestamp: int, signature: bytes) -> bytes:
    """``timestamped_signature``: u64 timestamp, big-endian, then the 64-byte signature."""
    return timestamp.to_bytes(8, "big") + signature


def decode_timestamped_signature(blob: bytes) -> tuple[int, bytes]:
    """(timestamp, Ed25519 signature) of a cosignature's bytes after the key ID."""
    if len(blob) != 72:
        raise SignatureError(f"Ed25519 cosignatures are 72 bytes, got {len(blob)}")
    timestamp = int.from_bytes(blob[:8], "big")
    if timestamp > MAX_TIMESTAMP:
        raise SignatureError("cosignature timestamp exceeds 2^63 - 1")
    return timestamp, blob[8:]


class CosignatureVerifier:
    """Checks a witness's cosignature/v1 signatures (type 0x04) under one name."""

    __slots__ = ("_public_key", "key_id", "name")

    def __init__(self, name: str, public_key: bytes) -> None:
        if not is_valid_key_name(name):
            raise NoteKeyError(f"invalid key name {name!r}")
        if len(public_key) != 32:
            raise NoteKeyError("Ed25519 cosigner public keys are 32 bytes")
        self.name = name
        self._public_key = public_key
        self.key_id = compute_key_id(name, SIG_COSIGNATURE_V1 + public_key)

    @property
    def verifier_key(self) -> str:
        return format_verifier_key(self.name, self.key_id, SIG_COSIGNATURE_V1 + self._public_key)

    def verify(self, message: bytes, signature: bytes) -> None:
        """``message`` is the checkpoint text; ``signature`` the timestamped signature."""
        timestamp, raw = decode_timestamped_signature(signature)
        ED25519.verify(self._public_key, cosignature_message(message, timestamp), raw)


class Cosigner:
    """A witness key (an Ed25519 handle) that cosigns checkpoint texts at a given time."""

    __slots__ = ("_key", "key_id", "name")

    def __init__(self, name: str, key: SigningKey) -> None:
        self._key = key
        self.name = name
        self.key_id = CosignatureVerifier(name, key.public_key).key_id

    @property
    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self._key.public_key)

    def cosign(self, checkpoint_text: bytes, timestamp: int) -> NoteSignature:
        """The cosignature line's content for ``checkpoint_text`` at POSIX time ``timestamp``."""
        signature = self._key.sign(cosignature_message(checkpoint_text, timestamp))
        blob = encode_timestamped_signature(timestamp, signature)
        return NoteSignature(self.name, self.key_id, blob)
