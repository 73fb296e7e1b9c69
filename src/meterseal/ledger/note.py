"""C2SP signed notes: text signed by one or more keys (c2sp.org/signed-note). Pure, no I/O.

A signed note is a text ending in a newline, a blank line, and one or more signature lines::

    — <key name> base64(uint32 key ID || signature)

The text is everything up to the *last* blank line; the note is valid UTF-8 without ASCII
control characters other than newline. Opening a note (:func:`open_note`) follows the spec
and golang.org/x/mod/sumdb/note:

* a malformed note or line is rejected whole (:class:`MalformedNoteError`);
* a signature whose (name, key ID) is not a known key is ignored, but kept as unverified;
  identical unverified lines are kept once;
* every signature from a known key is verified; one that fails rejects the whole note
  (:class:`InvalidNoteSignatureError`); repeated signatures by one key are kept once;
* a note with no verified signature is rejected (:class:`UnverifiedNoteError`).

Key IDs are ``SHA-256(name || 0x0A || signature type || public key)[:4]`` unless the
signature type says otherwise (ECDSA, type 0x02, hashes the DER SPKI alone); verifier keys
travel as ``<name>+<8 hex digits of key ID>+base64(signature type || public key)``. The
signature types MeterSeal implements are in :mod:`meterseal.ledger.keys` and
:mod:`meterseal.ledger.checkpoint`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from meterseal.errors import CryptoError
from meterseal.ledger.errors import (
    InvalidNoteSignatureError,
    MalformedNoteError,
    NoteKeyError,
    UnverifiedNoteError,
)

SIGNATURE_PREFIX = "\u2014 "
"""Em dash and space: the start of every signature line."""

MAX_SIGNATURES = 100
"""Signature lines accepted in one note (the spec asks for at least 16)."""

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")


# --- names, key IDs, verifier keys ----------------------------------------------------


def is_valid_key_name(name: str) -> bool:
    """Non-empty, no Unicode space, no ``+`` (c2sp.org/signed-note, "Format")."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def compute_key_id(name: str, type_and_key: bytes) -> int:
    """SHA-256(name || 0x0A || signature type || public key)[:4] as a big-endian uint32."""
    digest = hashlib.sha256(name.encode() + b"\n" + type_and_key).digest()
    return int.from_bytes(digest[:4], "big")


def format_verifier_key(name: str, key_id: int, type_and_key: bytes) -> str:
    """``<name>+<key ID, 8 hex digits>+base64(signature type || public key)``."""
    if not is_valid_key_name(name):
        raise NoteKeyError(f"invalid key name {name!r}")
    return f"{name}+{key_id:08x}+{base64.b64encode(type_and_key).decode()}"


def split_verifier_key(vkey: str) -> tuple[str, int, bytes]:
    """(name, key ID, signature type || public key) of a verifier key string."""
    name, _, rest = vkey.partition("+")
    hex_id, _, key_b64 = rest.partition("+")
    if not is_valid_key_name(name) or not _HEX8.fullmatch(hex_id):
        raise NoteKeyError(f"malformed verifier key {vkey!r}")
    type_and_key = strict_b64decode(key_b64)
    if type_and_key is None or not type_and_key:
        raise NoteKeyError(f"verifier key {name!r} has malformed key material")
    return name, int(hex_id, 16), type_and_key


def strict_b64decode(text: str) -> bytes | None:
    """Standard padded base64 (RFC 4648 section 4) in its one canonical spelling, or None."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return data if base64.b64encode(data).decode("ascii") == text else None


# --- keys -----------------------------------------------------------------------------


class NoteVerifier(Protocol):
    """A public key that checks signatures of one type under one name."""

    @property
    def name(self) -> str: ...
    @property
    def key_id(self) -> int: ...

    def verify(self, message: bytes, signature: bytes) -> None:
        """Raise :class:`~meterseal.errors.SignatureError` unless ``signature`` is valid."""
        ...


class NoteSigner(Protocol):
    """A private key (a handle) that signs note texts under one name."""

    @property
    def name(self) -> str: ...
    @property
    def key_id(self) -> int: ...

    def sign(self, message: bytes) -> bytes: ...


class VerifierSet:
    """The keys a client trusts, by (name, key ID); two keys with one (name, ID) are refused."""

    __slots__ = ("_by_id",)

    def __init__(self, verifiers: Iterable[NoteVerifier]) -> None:
        self._by_id: dict[tuple[str, int], NoteVerifier] = {}
        for verifier in verifiers:
            slot = (verifier.name, verifier.key_id)
            if slot in self._by_id:
                raise NoteKeyError(f"ambiguous key {verifier.name}+{verifier.key_id:08x}")
            self._by_id[slot] = verifier

    def __len__(self) -> int:
        return len(self._by_id)

    def find(self, name: str, key_id: int) -> NoteVerifier | None:
        """The known key with this name and ID, or None."""
        return self._by_id.get((name, key_id))


# --- the note format ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key ``name``, ``key_id`` and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes

    @property
    def line(self) -> str:
        """``— <name> base64(key ID || signature)`` with its newline."""
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed, not yet verified, note: its text and its signature lines in order."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def encode(self) -> bytes:
        """The note's bytes: text, blank line, signature lines."""
        return (self.text + "\n" + "".join(s.line for s in self.signatures)).encode()


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note whose ``verified`` signatures all checked out; the rest were unknown keys."""

    text: str
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]


def check_note_text(text: str) -> None:
    """A note text must end in a newline and hold no control character but newline."""
    if not text.endswith("\n") or _CONTROL.search(text):
        raise MalformedNoteError("note text must end in a newline and hold no control characters")


def _decode(data: bytes) -> str:
    try:
        message = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedNoteError("note is not valid UTF-8") from exc
    if _CONTROL.search(message):
        raise MalformedNoteError("note holds an ASCII control character other than newline")
    return message


def parse_signature_line(line: str) -> NoteSignature:
    """One signature line without its newline: ``— <name> <base64>``."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNoteError("signature line does not start with an em dash and a space")
    name, _, b64 = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
    blob = strict_b64decode(b64)
    if not is_valid_key_name(name) or blob is None or len(blob) < 5:
        raise MalformedNoteError(f"malformed signature line for {name!r}")
    return NoteSignature(name, int.from_bytes(blob[:4], "big"), blob[4:])


def parse_note(data: bytes) -> Note:
    """Split a signed note into its text and signature lines, checking only the format."""
    message = _decode(data)
    split = message.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    text, block = message[: split + 1], message[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNoteError("note has no signature lines, or lacks a final newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(parse_signature_line(line) for line in lines))


def _verify_one(verifier: NoteVerifier, text: bytes, signature: NoteSignature) -> None:
    try:
        verifier.verify(text, signature.signature)
    except CryptoError as exc:
        raise InvalidNoteSignatureError(
            f"invalid signature for key {signature.name}+{signature.key_id:08x}"
        ) from exc


def open_note(data: bytes, verifiers: VerifierSet | Iterable[NoteVerifier]) -> OpenedNote:
    """Parse a note and verify every signature from a known key (see the module docstring)."""
    known = verifiers if isinstance(verifiers, VerifierSet) else VerifierSet(verifiers)
    note = parse_note(data)
    text = note.text.encode()
    verified: dict[tuple[str, int], NoteSignature] = {}
    unverified: dict[NoteSignature, None] = {}
    for signature in note.signatures:
        verifier = known.find(signature.name, signature.key_id)
        if verifier is None:
            unverified[signature] = None
            continue
        _verify_one(verifier, text, signature)
        verified.setdefault((signature.name, signature.key_id), signature)
    if not verified:
        raise UnverifiedNoteError("no signature on the note is from a known key")
    return OpenedNote(note.text, tuple(verified.values()), tuple(unverified))


def sign_note(
    text: str, signers: Sequence[NoteSigner], existing: Sequence[NoteSignature] = ()
) -> bytes:
    """Sign ``text`` with each signer; ``existing`` signatures come first.

    An existing signature by the key of one of ``signers`` is dropped, as in
    golang.org/x/mod/sumdb/note ``Sign``.
    """
    check_note_text(text)
    message = text.encode()
    fresh = []
    for signer in signers:
        if not is_valid_key_name(signer.name):
            raise NoteKeyError(f"invalid key name {signer.name!r}")
        fresh.append(NoteSignature(signer.name, signer.key_id, signer.sign(message)))
    replaced = {(s.name, s.key_id) for s in fresh}
    kept = [s for s in existing if (s.name, s.key_id) not in replaced]
    if not kept and not fresh:
        raise MalformedNoteError("a note needs at least one signature")
    return Note(text, (*kept, *fresh)).encode()
