"""Every case of vectors.json (RFC 6962 / RFC 9162 Merkle trees, C2SP notes), exactly.

See PROVENANCE.md and the file's ``schema``, ``conventions`` and
``edge_semantics_from_transparency_dev_merkle_HEAD`` keys. Each category below is checked
both ways where the data allows: the listed proofs verify (or are rejected, for probes
with ``wantErr``), and the proofs and roots that MeterSeal *generates*, from tiles, equal
the listed ones byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from meterseal.errors import MeterSealError
from meterseal.ledger.checkpoint import (
    Checkpoint,
    cosignature_message,
    decode_timestamped_signature,
    open_checkpoint,
    parse_checkpoint,
)
from meterseal.ledger.keys import parse_signer_key, parse_verifier_key
from meterseal.ledger.merkle import (
    SHA256_HASHER,
    consistency_proof,
    inclusion_proof,
    is_valid_subtree,
    subtree_consistency_proof,
    subtree_hash,
    subtree_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from meterseal.ledger.note import open_note, parse_note, sign_note
from meterseal.ledger.tiles import MemoryTiles, TileNodeReader
from meterseal.ledger.witness import AddCheckpointRequest, parse_add_checkpoint_request

VECTORS: dict[str, Any] = json.loads(Path(__file__).with_name("vectors.json").read_text())
DERIVED = VECTORS["derived"]
H = bytes.fromhex

EXPECTED_COUNTS = {
    "hash_kat": 6,
    "tree roots_by_size": 9,
    "tree node_hashes": 15,
    "inclusion_kat": 5,
    "consistency_kat": 5,
    "inclusion_probes": 98,
    "consistency_probes": 98,
    "published_rolling_digests": 3,
    "derived inclusion_all_sizes_1_to_8": 36,
    "derived consistency_all_1_le_m_le_n_le_8": 36,
    "derived byte_i_leaves roots": 21,
    "derived byte_i_leaves inclusion": 7,
    "derived byte_i_leaves consistency": 8,
    "derived plain_rfc_rolling_digests_start0_only": 3,
    "signed_notes": 4,
    "checkpoint_format_examples": 4,
}


def _hexes(items: list[str]) -> list[bytes]:
    return [H(item) for item in items]


@cache
def canonical_tree() -> MemoryTiles:
    """The 8-leaf RFC 6962 test tree, built through tiles."""
    tiles = MemoryTiles()
    tiles.append_leaves(_hexes(VECTORS["tree"]["leaf_inputs_hex"]))
    return tiles


@cache
def byte_tree() -> MemoryTiles:
    """The 130-leaf tree d[i] = bytes([i]), appended in uneven batches."""
    tiles = MemoryTiles()
    for start, end in [(0, 1), (1, 64), (64, 100), (100, 130)]:
        tiles.append_leaves([bytes([i]) for i in range(start, end)])
    return tiles


def test_the_vector_file_holds_the_expected_number_of_cases() -> None:
    derived_bytes = DERIVED["byte_i_leaves"]
    counts = {
        "hash_kat": len(VECTORS["hash_kat"]),
        "tree roots_by_size": len(VECTORS["tree"]["roots_by_size"]),
        "tree node_hashes": sum(map(len, VECTORS["tree"]["node_hashes_by_level"])),
        "inclusion_kat": len(VECTORS["inclusion_kat"]),
        "consistency_kat": len(VECTORS["consistency_kat"]),
        "inclusion_probes": len(VECTORS["inclusion_probes"]["probes"]),
        "consistency_probes": len(VECTORS["consistency_probes"]["probes"]),
        "published_rolling_digests": sum(
            1 for v in VECTORS["published_rolling_digests"].values() if isinstance(v, dict)
        ),
        "derived inclusion_all_sizes_1_to_8": len(DERIVED["inclusion_all_sizes_1_to_8"]),
        "derived consistency_all_1_le_m_le_n_le_8": len(
            DERIVED["consistency_all_1_le_m_le_n_le_8"]
        ),
        "derived byte_i_leaves roots": len(derived_bytes["roots_by_size"]),
        "derived byte_i_leaves inclusion": len(derived_bytes["inclusion"]),
        "derived byte_i_leaves consistency": len(derived_bytes["consistency"]),
        "derived plain_rfc_rolling_digests_start0_only": len(
            DERIVED["plain_rfc_rolling_digests_start0_only"]
        ),
        "signed_notes": len(VECTORS["signed_notes"]),
        "checkpoint_format_examples": len(VECTORS["checkpoint_format_examples"]),
    }
    assert counts == EXPECTED_COUNTS
    assert VECTORS["inclusion_probes"]["count"] == 98
    assert VECTORS["consistency_probes"]["count"] == 98


# --- hashing and the canonical tree ---------------------------------------------------


@pytest.mark.parametrize("case", VECTORS["hash_kat"], ids=lambda c: c["desc"])
def test_hash_known_answers(case: dict[str, Any]) -> None:
    if case["fn"] == "empty":
        got = SHA256_HASHER.empty_root()
    elif case["fn"] == "leaf":
        got = SHA256_HASHER.hash_leaf(H(case["input_hex"]))
    else:
        got = SHA256_HASHER.hash_children(H(case["left_hex"]), H(case["right_hex"]))
    assert got.hex() == case["want"]


@pytest.mark.parametrize("size", range(9))
def test_canonical_tree_root_at_every_size(size: int) -> None:
    assert canonical_tree().root(size).hex() == VECTORS["tree"]["roots_by_size"][size]


def test_canonical_tree_node_hashes_from_tiles() -> None:
    levels = VECTORS["tree"]["node_hashes_by_level"]
    reader = canonical_tree().reader()
    for level, row in enumerate(levels):
        for index, want in enumerate(row):
            assert subtree_hash(index << level, (index + 1) << level, reader).hex() == want


# --- inclusion and consistency known answers ------------------------------------------


def _inclusion_cases() -> Iterator[dict[str, Any]]:
    yield from VECTORS["inclusion_kat"]
    yield from DERIVED["inclusion_all_sizes_1_to_8"]


@pytest.mark.parametrize("case", list(_inclusion_cases()))
def test_inclusion_known_answers_verify_and_regenerate(case: dict[str, Any]) -> None:
    proof = _hexes(case["proof"])
    index, size = case["leaf_index"], case["tree_size"]
    verify_inclusion(H(case["leaf_hash"]), index, size, proof, H(case["root"]))
    assert inclusion_proof(index, size, canonical_tree().reader(size)) == proof


def _consistency_cases() -> Iterator[dict[str, Any]]:
    yield from VECTORS["consistency_kat"]
    yield from DERIVED["consistency_all_1_le_m_le_n_le_8"]


@pytest.mark.parametrize("case", list(_consistency_cases()))
def test_consistency_known_answers_verify_and_regenerate(case: dict[str, Any]) -> None:
    proof = _hexes(case["proof"])
    size1, size2 = case["size1"], case["size2"]
    verify_consistency(size1, size2, proof, H(case["root1"]), H(case["root2"]))
    assert consistency_proof(size1, size2, canonical_tree().reader(size2)) == proof


# --- transparency-dev/merkle probes (edge rules included) -----------------------------


def _outcome(check: Callable[[], None]) -> bool:
    """True if ``check`` raised a MeterSeal error (any other exception propagates)."""
    try:
        check()
    except MeterSealError:
        return True
    return False


@pytest.mark.parametrize(
    "probe", VECTORS["inclusion_probes"]["probes"], ids=lambda p: p["file"].split("inclusion/")[1]
)
def test_inclusion_probe(probe: dict[str, Any]) -> None:
    def check() -> None:
        verify_inclusion(
            H(probe["leafHash"]),
            probe["leafIdx"],
            probe["treeSize"],
            _hexes(probe["proof"]),
            H(probe["root"]),
        )

    assert _outcome(check) is probe["wantErr"]


@pytest.mark.parametrize(
    "probe",
    VECTORS["consistency_probes"]["probes"],
    ids=lambda p: p["file"].split("consistency/")[1],
)
def test_consistency_probe(probe: dict[str, Any]) -> None:
    def check() -> None:
        verify_consistency(
            probe["size1"],
            probe["size2"],
            _hexes(probe["proof"]),
            H(probe["root1"]),
            H(probe["root2"]),
        )

    assert _outcome(check) is probe["wantErr"]


# --- rolling digests over every subtree of the 130-leaf tree --------------------------


def _proof_text(proof: list[bytes]) -> str:
    return "".join(f" {node.hex()}" for node in proof)


def _subtrees(end_max: int) -> Iterator[tuple[int, int]]:
    """Valid [start, end) in the vector file's loop order, empty subtrees included."""
    for end in range(end_max + 1):
        for start in range(end + 1):
            if is_valid_subtree(start, end):
                yield start, end


def _reader() -> TileNodeReader:
    return byte_tree().reader()


def _subtree_hash_lines() -> Iterator[str]:
    for start, end in _subtrees(130):
        yield f"[{start}, {end}) {subtree_hash(start, end, _reader()).hex()}\n"


def _subtree_inclusion_lines() -> Iterator[str]:
    for start, end in _subtrees(130):
        for index in range(start, end):
            proof = subtree_inclusion_proof(index, start, end, _reader())
            yield f"{index} [{start}, {end}){_proof_text(proof)}\n"


def _subtree_consistency_lines() -> Iterator[str]:
    for size in range(131):
        for start, end in _subtrees(size):
            proof = subtree_consistency_proof(start, end, size, _reader())
            yield f"[{start}, {end}) {size}{_proof_text(proof)}\n"


def _rolling(lines: Iterator[str]) -> str:
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
    return digest.hexdigest()


_ROLLING_LINES = {
    "subtree_hash": _subtree_hash_lines,
    "subtree_inclusion": _subtree_inclusion_lines,
    "subtree_consistency": _subtree_consistency_lines,
}


@cache
def rolling_lines(name: str) -> tuple[str, ...]:
    """The lines of one rolling digest, computed once for both digests that use them."""
    return tuple(_ROLLING_LINES[name]())


@pytest.mark.parametrize("name", _ROLLING_LINES)
def test_published_rolling_digest(name: str) -> None:
    want = VECTORS["published_rolling_digests"][name]["want"]
    assert _rolling(iter(rolling_lines(name))) == want


UPSTREAM_ROLLING = {
    # transparency-dev/merkle testonly/vectors_test.go (commit 1c243046): the same lines
    # without the empty subtrees start == end, which that file's loops skip.
    "subtree_hash": "94a95384a8c69acea9b50d035a58285b3a777cb7a724005faa5e1f1e1190007f",
    "subtree_consistency": "c586ebbb73a5621baf2140095d87dde934e3b6503a562a1a5215b8209edd083d",
}


@pytest.mark.parametrize("name", UPSTREAM_ROLLING)
def test_upstream_rolling_digest_without_empty_subtrees(name: str) -> None:
    lines = (line for line in rolling_lines(name) if not _is_empty_subtree_line(line))
    assert _rolling(lines) == UPSTREAM_ROLLING[name]


def _is_empty_subtree_line(line: str) -> bool:
    start, end = line[1:].split(")", maxsplit=1)[0].split(", ")
    return start == end


def _plain_rfc_lines() -> dict[str, Iterator[str]]:
    reader = _reader()
    return {
        "root": (f"[0, {n}) {subtree_hash(0, n, reader).hex()}\n" for n in range(131)),
        "inclusion": (
            f"{i} [0, {n}){_proof_text(inclusion_proof(i, n, reader))}\n"
            for n in range(131)
            for i in range(n)
        ),
        "consistency": (
            f"[0, {m}) {n}{_proof_text(consistency_proof(m, n, reader) if m else [])}\n"
            for n in range(131)
            for m in range(n + 1)
        ),
    }


@pytest.mark.parametrize("name", ["root", "inclusion", "consistency"])
def test_derived_plain_rfc_rolling_digest(name: str) -> None:
    want = DERIVED["plain_rfc_rolling_digests_start0_only"][name]["want"]
    assert _rolling(_plain_rfc_lines()[name]) == want


# --- derived: the 130-leaf byte tree --------------------------------------------------


@pytest.mark.parametrize("size", [int(s) for s in DERIVED["byte_i_leaves"]["roots_by_size"]])
def test_derived_byte_tree_roots(size: int) -> None:
    assert byte_tree().root(size).hex() == DERIVED["byte_i_leaves"]["roots_by_size"][str(size)]


@pytest.mark.parametrize("case", DERIVED["byte_i_leaves"]["inclusion"])
def test_derived_byte_tree_inclusion(case: dict[str, Any]) -> None:
    proof = _hexes(case["proof"])
    index, size = case["leaf_index"], case["tree_size"]
    verify_inclusion(H(case["leaf_hash"]), index, size, proof, H(case["root"]))
    assert byte_tree().inclusion_proof(index, size) == proof


@pytest.mark.parametrize("case", DERIVED["byte_i_leaves"]["consistency"])
def test_derived_byte_tree_consistency(case: dict[str, Any]) -> None:
    proof = _hexes(case["proof"])
    size1, size2 = case["size1"], case["size2"]
    verify_consistency(size1, size2, proof, H(case["root1"]), H(case["root2"]))
    assert byte_tree().consistency_proof(size1, size2) == proof


# --- signed notes and checkpoints -----------------------------------------------------


def _opens(case: dict[str, Any]) -> bool:
    """True if the note opens under its verifier key."""
    verifier = parse_verifier_key(case["vkey"])

    def check() -> None:
        open_note(case["note"].encode(), [verifier])

    return not _outcome(check)


@pytest.mark.parametrize("case", VECTORS["signed_notes"], ids=lambda c: c["desc"][:40])
def test_signed_note(case: dict[str, Any]) -> None:
    assert _opens(case) is case["want_valid"]
    if "skey" in case:  # Ed25519 is deterministic: signing must give exactly the note
        signer = parse_signer_key(case["skey"])
        assert sign_note(case["text"], [signer]).decode() == case["note"]
        assert signer.verifier.verifier_key == case["vkey"]


def test_signed_note_rekor_checkpoint_parses() -> None:
    case = VECTORS["signed_notes"][2]
    signed = open_checkpoint(case["note"].encode(), [parse_verifier_key(case["vkey"])])
    assert (signed.checkpoint.origin, signed.checkpoint.size) == ("Rekor", 798034)


EXAMPLES = VECTORS["checkpoint_format_examples"]


def test_checkpoint_example_parses_and_reencodes() -> None:
    case = EXAMPLES[0]
    note = parse_note(case["note"].encode())
    checkpoint = parse_checkpoint(note.text)
    parsed = case["parsed"]
    assert (checkpoint.origin, checkpoint.size) == (parsed["origin"], parsed["size"])
    assert checkpoint.text().split("\n")[2] == parsed["root_b64"]
    assert note.encode().decode() == case["note"]


def test_cosignature_example_message_and_timestamp() -> None:
    case = EXAMPLES[1]
    note = parse_note(case["note"].encode())
    log_signature, cosignature = note.signatures
    assert log_signature.name == "example.com/behind-the-sofa"
    timestamp, raw = decode_timestamped_signature(cosignature.signature)
    assert (cosignature.name, timestamp, len(raw)) == ("witness.example.com/w1", 1679315147, 64)
    message = cosignature_message(note.text.encode(), timestamp)
    assert message.decode() == case["cosigned_message_example"]


def test_go_sumdb_tree_note_body() -> None:
    case = EXAMPLES[2]
    root = SHA256_HASHER.hash_leaf(case["root_is_leaf_hash_of"].encode())
    checkpoint = Checkpoint("go.sum database tree", 123456789012, root)
    assert checkpoint.text() == case["text"]
    assert parse_checkpoint(case["text"]) == checkpoint


def test_witness_request_body_example() -> None:
    body = EXAMPLES[3]["body"].encode()
    request = parse_add_checkpoint_request(body)
    assert (request.old_size, len(request.proof), request.checkpoint) == (
        20852014,
        4,
        b"<checkpoint>",
    )
    assert request.encode() == body
    real = AddCheckpointRequest(request.old_size, request.proof, EXAMPLES[0]["note"].encode())
    assert parse_add_checkpoint_request(real.encode()) == real
