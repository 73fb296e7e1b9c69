"""The first half of ``ledger verify``: check the log itself and index its batch leaves.

1. The latest checkpoint must verify against the configured verifier keys (C2SP
   signed-note); the witnesses' cosignatures among its signatures give the checkpoint a
   time (the latest verified cosignature timestamp).
2. Every entry ``0 <= i < size`` is fetched through :meth:`Ledger.entries`, and the RFC 9162
   root of all of them must equal the checkpoint's root: a log that serves entries other
   than those it signed is a finding of its own (LOG_MISMATCH).
3. Every entry must parse as a MeterSeal leaf (:func:`~meterseal.ledger.leaves.parse_leaf`);
   ``BatchAccepted`` leaves are indexed by (meter id, batch sequence) -> batch hash, and a
   (meter, sequence) logged twice is a finding (DUPLICATE_IN_LOG).

``BatchAccepted`` leaves, nearly all of a MeterSeal log, take a fast path
(:func:`fast_batch_leaf`) that reads the one canonical encoding directly and gives way to
``parse_leaf`` for anything else, so both accept exactly the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from meterseal.errors import VerificationError
from meterseal.ledger.checkpoint import CosignatureVerifier, decode_timestamped_signature
from meterseal.ledger.checkpoint import open_checkpoint as _open_checkpoint
from meterseal.ledger.errors import MalformedLeafError, NoteError
from meterseal.ledger.leaves import BatchAccepted, parse_leaf
from meterseal.ledger.merkle import SHA256_HASHER, TreeHasher
from meterseal.ledger.note import NoteVerifier, VerifierSet
from meterseal.ledger.tiles import MemoryTiles
from meterseal.ledger.verify_findings import Finding, FindingKind, Tally
from meterseal.messages.fields import MAX_U63, METER_ID_PATTERN

CHUNK = 4096
"""Entries hashed into the tree per append."""

_HASH_HEAD = b"\x03\x58\x20"  # key 3, a 32-byte byte string


class LogSource(Protocol):
    """What verification reads of a log: the read half of
    :class:`~meterseal.ledger.interface.Ledger` (a ``LedgerReader`` over the ledger's store
    serves it as well as the service's client)."""

    def checkpoint(self) -> bytes: ...

    def entries(self, start: int, end: int) -> Iterator[bytes]: ...


@dataclass(slots=True)
class LogIndex:
    """What the verified log says about batches: (meter, sequence) -> batch hash."""

    origin: str
    tree_size: int
    root_hash: bytes
    checkpoint_time: int | None
    batches: dict[str, dict[int, bytes]] = field(default_factory=dict)
    trusted: bool = True

    @property
    def batch_count(self) -> int:
        return sum(len(seqs) for seqs in self.batches.values())


def checkpoint_time(note: bytes, verifiers: Sequence[NoteVerifier]) -> int | None:
    """The latest timestamp among the note's *verified* cosignatures, or None."""
    cosigners = [v for v in verifiers if isinstance(v, CosignatureVerifier)]
    if not cosigners:
        return None
    opened = _open_checkpoint(note, cosigners).note
    return max(decode_timestamped_signature(s.signature)[0] for s in opened.verified)


def read_log(
    ledger: LogSource,
    verifiers: Sequence[NoteVerifier],
    tally: Tally,
    *,
    hasher: TreeHasher = SHA256_HASHER,
) -> LogIndex:
    """Verify the latest checkpoint and every entry; index the batch leaves.

    A checkpoint that does not verify is a LOG_SIGNATURE finding and an untrusted, empty
    index (``trusted`` False): nothing the log says can be relied on.
    """
    note = ledger.checkpoint()
    try:
        signed = _open_checkpoint(note, VerifierSet(verifiers), hash_size=hasher.digest_size)
    except (NoteError, VerificationError) as exc:
        tally.add(Finding(FindingKind.LOG_SIGNATURE, None, None, str(exc)))
        return LogIndex("?", 0, b"", None, trusted=False)
    point = signed.checkpoint
    index = LogIndex(point.origin, point.size, point.root_hash, _time_or_none(note, verifiers))
    tiles = MemoryTiles(hasher)
    chunk: list[bytes] = []
    for position, entry in enumerate(ledger.entries(0, point.size)):
        _index_entry(index, tally, position, entry)
        chunk.append(entry)
        if len(chunk) == CHUNK:
            tiles.append_leaves(chunk)
            chunk = []
    tiles.append_leaves(chunk)
    _check_root(index, tiles, tally)
    return index


def _time_or_none(note: bytes, verifiers: Sequence[NoteVerifier]) -> int | None:
    try:
        return checkpoint_time(note, verifiers)
    except (NoteError, VerificationError):
        return None


def _check_root(index: LogIndex, tiles: MemoryTiles, tally: Tally) -> None:
    if tiles.size != index.tree_size:
        detail = f"the log served {tiles.size} entries for a checkpoint of {index.tree_size}"
        tally.add(Finding(FindingKind.LOG_MISMATCH, None, None, detail))
        index.trusted = False
        return
    if tiles.root() != index.root_hash:
        detail = f"the root of the {tiles.size} entries served is not the checkpoint's root"
        tally.add(Finding(FindingKind.LOG_MISMATCH, None, None, detail))
        index.trusted = False


def _index_entry(index: LogIndex, tally: Tally, position: int, entry: bytes) -> None:
    fast = fast_batch_leaf(entry)
    if fast is None:
        try:
            leaf = parse_leaf(entry)
        except MalformedLeafError as exc:
            tally.add(Finding(FindingKind.MALFORMED_LEAF, None, None, f"entry {position}: {exc}"))
            return
        if not isinstance(leaf, BatchAccepted):
            return
        fast = (leaf.meter_id, leaf.batch_seq, leaf.batch_hash)
    meter_id, seq, digest = fast
    seqs = index.batches.setdefault(meter_id, {})
    if seq in seqs:
        detail = f"entry {position} logs the batch again" + (
            "" if seqs[seq] == digest else " with another hash"
        )
        tally.add(Finding(FindingKind.DUPLICATE_IN_LOG, meter_id, seq, detail))
        return
    seqs[seq] = digest


def fast_batch_leaf(data: bytes) -> tuple[str, int, bytes] | None:
    """(meter id, sequence, hash) of a canonical ``BatchAccepted`` leaf, else None.

    Reads ``[1, {1: tstr, 2: uint, 3: bstr .size 32}]`` in RFC 8949 preferred (shortest)
    serialization only; any other form (another kind, or a non-canonical encoding) returns
    None, and the caller hands it to ``parse_leaf``, which accepts or refuses it.
    """
    if not data.startswith(b"\x82\x01\xa3\x01"):
        return None
    text = _text(data, 4)
    if text is None:
        return None
    meter_id, pos = text
    if data[pos : pos + 1] != b"\x02":
        return None
    number = _uint(data, pos + 1)
    if number is None:
        return None
    seq, pos = number
    if data[pos : pos + 3] != _HASH_HEAD or len(data) != pos + 35:
        return None
    return meter_id, seq, data[pos + 3 :]


def _text(data: bytes, pos: int) -> tuple[str, int] | None:
    """A short ASCII meter id (1..64 bytes) in its shortest header, and the next position."""
    head = data[pos] if pos < len(data) else 0
    if 0x61 <= head <= 0x77:
        length, pos = head - 0x60, pos + 1
    elif head == 0x78 and pos + 1 < len(data) and 24 <= data[pos + 1] <= 64:
        length, pos = data[pos + 1], pos + 2
    else:
        return None
    raw = data[pos : pos + length]
    if len(raw) != length or not raw.isascii():
        return None
    text = raw.decode("ascii")
    return (text, pos + length) if METER_ID_PATTERN.fullmatch(text) else None


_UINT_WIDTHS = {0x18: (1, 24), 0x19: (2, 1 << 8), 0x1A: (4, 1 << 16), 0x1B: (8, 1 << 32)}


def _uint(data: bytes, pos: int) -> tuple[int, int] | None:
    """A canonical CBOR unsigned integer up to 2^63 - 1, and the next position."""
    head = data[pos] if pos < len(data) else 0xFF
    if head < 0x18:
        return head, pos + 1
    width_low = _UINT_WIDTHS.get(head)
    if width_low is None:
        return None
    width, low = width_low
    raw = data[pos + 1 : pos + 1 + width]
    value = int.from_bytes(raw, "big")
    if len(raw) != width or value < low or value > MAX_U63:
        return None
    return value, pos + 1 + width


def index_entries(entries: Iterable[bytes], tally: Tally) -> dict[str, dict[int, bytes]]:
    """The batch index of ``entries`` alone (no checkpoint): for tests and tools."""
    index = LogIndex("", 0, b"", None)
    for position, entry in enumerate(entries):
        _index_entry(index, tally, position, entry)
    return index.batches
