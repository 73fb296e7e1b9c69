"""The offline verifier: a checkpoint, the verifier keys and a proof, nothing else.

``meterseal ledger verify-proof`` needs no store and no ledger: anyone holding a signed
checkpoint note and the log's verifier key (C2SP vkey string) checks

* **inclusion** (RFC 9162 section 2.1.3.2): the leaf data (hashed ``HASH(0x00 || d)``) is
  leaf ``index`` of the tree the checkpoint commits to;
* **consistency** (RFC 9162 section 2.1.4.2): the checkpoint's tree extends an older
  checkpoint's tree of the same log (an old tree of size 0 is extended by every tree).

The checkpoint must carry a valid signature by a log key and, for every witness key given,
a valid cosignature by that witness (C2SP tlog-cosignature). Proofs are files of base64
hashes, one a line, as the ledger service serves them. Every check raises a
:class:`~meterseal.errors.VerificationError` (or a malformed-input error); success returns
a one-line description.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from meterseal.errors import EncodingError, VerificationError
from meterseal.ledger.checkpoint import Checkpoint, open_checkpoint
from meterseal.ledger.errors import UnverifiedNoteError
from meterseal.ledger.keys import parse_verifier_key
from meterseal.ledger.merkle import SHA256_HASHER, TreeHasher, verify_consistency, verify_inclusion
from meterseal.ledger.note import NoteVerifier, strict_b64decode


class ProofFileError(EncodingError):
    """A proof file is not base64 hashes, one a line."""


@dataclass(frozen=True, slots=True)
class TrustedKeys:
    """The log's verifier keys and the witnesses that must have cosigned."""

    log: tuple[NoteVerifier, ...]
    witnesses: tuple[NoteVerifier, ...] = ()

    @classmethod
    def parse(cls, log_vkeys: Sequence[str], witness_vkeys: Sequence[str] = ()) -> TrustedKeys:
        return cls(
            tuple(parse_verifier_key(k) for k in log_vkeys),
            tuple(parse_verifier_key(k) for k in witness_vkeys),
        )


def read_proof(text: str, hasher: TreeHasher = SHA256_HASHER) -> list[bytes]:
    """Hashes from base64 lines (blank lines ignored); each must be a whole hash."""
    hashes = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        node = strict_b64decode(line.strip())
        if node is None or len(node) != hasher.digest_size:
            raise ProofFileError(f"proof line {number} is not a base64 {hasher.name} hash")
        hashes.append(node)
    return hashes


def trusted_checkpoint(
    note: bytes, keys: TrustedKeys, *, hasher: TreeHasher = SHA256_HASHER
) -> Checkpoint:
    """The checkpoint of ``note``, signed by a log key and cosigned by every witness given."""
    signed = open_checkpoint(note, [*keys.log, *keys.witnesses], hash_size=hasher.digest_size)
    verified = {(s.name, s.key_id) for s in signed.note.verified}
    if not any((k.name, k.key_id) in verified for k in keys.log):
        raise UnverifiedNoteError("the checkpoint carries no signature by a log key")
    for witness in keys.witnesses:
        if (witness.name, witness.key_id) not in verified:
            raise UnverifiedNoteError(f"the checkpoint is not cosigned by witness {witness.name}")
    return signed.checkpoint


def check_inclusion(
    note: bytes,
    keys: TrustedKeys,
    leaf_data: bytes,
    index: int,
    proof: Sequence[bytes],
    *,
    hasher: TreeHasher = SHA256_HASHER,
) -> str:
    """Leaf ``index`` with ``leaf_data`` is in the checkpoint's tree; raises otherwise."""
    point = trusted_checkpoint(note, keys, hasher=hasher)
    verify_inclusion(
        hasher.hash_leaf(leaf_data), index, point.size, proof, point.root_hash, hasher=hasher
    )
    return f"leaf {index} is in {point.origin} at tree size {point.size}"


def check_consistency(
    note: bytes,
    old_note: bytes,
    keys: TrustedKeys,
    proof: Sequence[bytes],
    *,
    hasher: TreeHasher = SHA256_HASHER,
) -> str:
    """The checkpoint's tree extends the old checkpoint's (same log); raises otherwise.

    The old checkpoint needs a log signature only: witnesses vouch for the new one.
    """
    new = trusted_checkpoint(note, keys, hasher=hasher)
    old = trusted_checkpoint(old_note, TrustedKeys(keys.log), hasher=hasher)
    if old.origin != new.origin:
        raise VerificationError(f"the checkpoints are of two logs: {old.origin}, {new.origin}")
    if old.size == 0:
        if proof or old.root_hash != hasher.empty_root():
            raise VerificationError("an empty old tree needs an empty proof and root HASH()")
    else:
        verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash, hasher=hasher)
    return f"{new.origin} at {new.size} extends its tree at {old.size}"
