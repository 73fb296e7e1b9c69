"""Proofs served from the stored tiles equal MemoryTiles' and verify against the signed
checkpoints, across tile boundaries, on SQLite and PostgreSQL; and a GM log (SM3, SM2)."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from ledger_service_support import ORIGIN, Backend, ed25519_signer, leaves, sm2_signer

from meterseal.ledger.checkpoint import open_checkpoint
from meterseal.ledger.config import LedgerConfig
from meterseal.ledger.errors import TreeRangeError
from meterseal.ledger.keys import Sm2NoteVerifier, parse_verifier_key
from meterseal.ledger.local import LedgerReader, LocalLedger, open_local_ledger
from meterseal.ledger.merkle import (
    SHA256_HASHER,
    SM3_HASHER,
    TreeHasher,
    verify_consistency,
    verify_inclusion,
)
from meterseal.ledger.note import NoteVerifier
from meterseal.ledger.sequencer import LogSigner, Sequencer
from meterseal.ledger.tiles import MemoryTiles

pytest_plugins = ["ledger_service_fixtures"]
pytestmark = pytest.mark.timeout(120)

CHECKPOINTED = (1, 2, 3, 255, 256, 257, 511, 512, 513, 1000, 65535, 65536, 65537, 66000)


def build(
    ledger: LocalLedger, sizes: tuple[int, ...], hasher: TreeHasher = SHA256_HASHER
) -> tuple[MemoryTiles, dict[int, bytes]]:
    """Submit batches so that the log passes through exactly ``sizes``; their notes."""
    memory, notes = MemoryTiles(hasher), {}
    for size in sizes:
        batch = leaves(memory.size, size - memory.size)
        notes[size] = ledger.submit(batch).checkpoint
        memory.append_leaves(batch)
    return memory, notes


def indexes(size: int, picker: random.Random) -> set[int]:
    edges = {0, size - 1, size // 2, 255, 256, 65535, 65536}
    return {i for i in edges if i < size} | {picker.randrange(size) for _ in range(3)}


def check_proofs(
    ledger: LedgerReader,
    memory: MemoryTiles,
    notes: dict[int, bytes],
    verifiers: list[NoteVerifier],
    hasher: TreeHasher,
) -> None:
    picker = random.Random(7)  # noqa: S311 - which leaves to prove, not a secret
    roots = {}
    for size, note in notes.items():
        checkpoint = open_checkpoint(note, verifiers, hash_size=hasher.digest_size).checkpoint
        assert checkpoint.size == size
        assert checkpoint.root_hash == memory.root(size)
        roots[size] = checkpoint.root_hash
        for index in indexes(size, picker):
            proof = ledger.inclusion_proof(index, size)
            assert proof == memory.inclusion_proof(index, size)
            leaf_hash = hasher.hash_leaf(leaves(index, 1)[0])
            verify_inclusion(leaf_hash, index, size, proof, roots[size], hasher=hasher)
    sizes = sorted(notes)
    for old, new in itertools.pairwise(sizes):
        proof = ledger.consistency_proof(old, new)
        assert proof == memory.consistency_proof(old, new)
        verify_consistency(old, new, proof, roots[old], roots[new], hasher=hasher)
    proof = ledger.consistency_proof(1, sizes[-1])
    verify_consistency(1, sizes[-1], proof, roots[1], roots[sizes[-1]], hasher=hasher)


def test_proofs_from_storage_equal_memory_tiles_and_verify(backend: Backend) -> None:
    ledger = LocalLedger(Sequencer(backend.open(), [ed25519_signer()], origin=ORIGIN))
    memory, notes = build(ledger, CHECKPOINTED)
    check_proofs(ledger, memory, notes, [ed25519_signer().verifier], SHA256_HASHER)
    # Sizes never checkpointed are served from prefixes of wider stored tiles.
    reader = LedgerReader(backend.open())
    for size in (4, 300, 65534, 65999):
        for index in (0, size - 1, size // 3):
            assert reader.inclusion_proof(index, size) == memory.inclusion_proof(index, size)
        assert reader.consistency_proof(size // 2, size) == memory.consistency_proof(
            size // 2, size
        )
    assert list(reader.entries(65530, 65540)) == leaves(65530, 10)
    ledger.close()


def test_requests_outside_the_tree_are_range_errors(backend: Backend) -> None:
    ledger = LocalLedger(Sequencer(backend.open(), [ed25519_signer()], origin=ORIGIN))
    ledger.submit(leaves(0, 10))
    for call in (
        lambda: ledger.inclusion_proof(10, 10),
        lambda: ledger.inclusion_proof(0, 11),
        lambda: ledger.consistency_proof(0, 5),
        lambda: ledger.consistency_proof(6, 5),
        lambda: ledger.consistency_proof(5, 11),
        lambda: ledger.entries(5, 11),
        lambda: ledger.entries(6, 5),
    ):
        with pytest.raises(TreeRangeError):
            call()
    assert ledger.consistency_proof(5, 5) == []
    assert list(ledger.entries(3, 3)) == []
    ledger.close()


def test_a_gm_log_hashes_with_sm3_and_signs_with_sm2_too(backend: Backend) -> None:
    signers: list[LogSigner] = [ed25519_signer(), sm2_signer()]
    sequencer = Sequencer(backend.open(), signers, origin=ORIGIN, hasher=SM3_HASHER)
    ledger = LocalLedger(sequencer)
    memory, notes = build(ledger, (1, 255, 256, 257, 600), SM3_HASHER)
    sm2_only: list[NoteVerifier] = [sm2_signer().verifier]
    assert isinstance(sm2_only[0], Sm2NoteVerifier)
    check_proofs(ledger, memory, notes, sm2_only, SM3_HASHER)
    check_proofs(ledger, memory, notes, [ed25519_signer().verifier], SM3_HASHER)
    sha_memory = MemoryTiles()
    sha_memory.append_leaves(leaves(0, 600))
    assert memory.root() != sha_memory.root()
    ledger.close()


def test_the_embedded_gm_ledger_keeps_its_own_keystore_and_store(tmp_path: Path) -> None:
    config = LedgerConfig(tmp_path)
    ledger = open_local_ledger(config, create=True, gm=True)
    vkeys = ledger.verifier_keys()
    result = ledger.submit(leaves(0, 300))
    ledger.close()
    names = {p.name for p in (tmp_path / "ledger").iterdir()}
    assert {"ledger-keys.kek", "ledger-keys.mskeys", "ledger.db"} <= names
    assert not any(p.is_file() for p in tmp_path.iterdir())  # nothing outside DATA_DIR/ledger
    reopened = open_local_ledger(config)
    assert reopened.verifier_keys() == vkeys
    assert reopened.hasher is SM3_HASHER
    assert reopened.origin == "meterseal.local/ledger-sm3"
    assert reopened.size() == 300
    verifiers = [parse_verifier_key(v) for v in vkeys]
    assert len(open_checkpoint(result.checkpoint, verifiers, hash_size=32).note.verified) == 2
    reopened.close()
