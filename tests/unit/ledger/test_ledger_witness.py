"""The sans-IO tlog-witness: what it cosigns, what it refuses, and the status of each refusal."""

from __future__ import annotations

import pytest

from meterseal.crypto.international import ED25519
from meterseal.ledger.checkpoint import Checkpoint, Cosigner, sign_checkpoint
from meterseal.ledger.errors import (
    LedgerError,
    UnknownLogError,
    WitnessBadProofError,
    WitnessBadRequestError,
    WitnessConflictError,
    WitnessError,
    WitnessForbiddenError,
)
from meterseal.ledger.keys import Ed25519NoteSigner
from meterseal.ledger.merkle import SM3_HASHER, TreeHasher
from meterseal.ledger.note import open_note, sign_note
from meterseal.ledger.tiles import MemoryTiles
from meterseal.ledger.witness import (
    AddCheckpointRequest,
    LogConfig,
    Witness,
    WitnessResult,
    WitnessState,
)

ORIGIN = "meterseal.example/log"
NOW = 1_700_000_000


def log_signer(seed: int = 7) -> Ed25519NoteSigner:
    return Ed25519NoteSigner(ORIGIN, ED25519.from_private_bytes(bytes([seed]) * 32))


def witness_key(seed: int = 9) -> Cosigner:
    return Cosigner(f"witness.example/w{seed}", ED25519.from_private_bytes(bytes([seed]) * 32))


def make_witness(hasher: TreeHasher | None = None) -> Witness:
    log = LogConfig(ORIGIN, (log_signer().verifier,))
    if hasher is not None:
        log = LogConfig(ORIGIN, (log_signer().verifier,), hasher)
    return Witness([witness_key()], [log])


def grow(tiles: MemoryTiles, count: int, tag: bytes = b"") -> None:
    start = tiles.size
    tiles.append_leaves([tag + (start + i).to_bytes(4, "big") for i in range(count)])


def checkpoint_note(tiles: MemoryTiles, size: int | None = None) -> bytes:
    size = tiles.size if size is None else size
    return sign_checkpoint(Checkpoint(ORIGIN, size, tiles.root(size)), [log_signer()])


def first_contact(witness: Witness, tiles: MemoryTiles) -> WitnessResult:
    return witness.add_checkpoint(WitnessState(), checkpoint_note(tiles), [], 0, now=NOW)


@pytest.fixture
def tiles() -> MemoryTiles:
    tree = MemoryTiles()
    grow(tree, 5)
    return tree


# --- accepting ------------------------------------------------------------------------


def test_first_contact_with_old_size_zero_is_cosigned(tiles: MemoryTiles) -> None:
    witness = make_witness()
    result = first_contact(witness, tiles)
    latest = result.state.latest(ORIGIN)
    assert latest is not None
    assert (latest.size, latest.root_hash) == (5, tiles.root())
    cosigned = sign_note(result.checkpoint.text(), [], result.cosignatures)
    open_note(cosigned, [witness_key().verifier])
    assert result.response_body.startswith("\u2014 witness.example/w9 ".encode())


def test_an_extension_with_a_valid_proof_is_cosigned(tiles: MemoryTiles) -> None:
    witness = make_witness()
    state = first_contact(witness, tiles).state
    grow(tiles, 300)
    proof = tiles.consistency_proof(5)
    result = witness.add_checkpoint(state, checkpoint_note(tiles), proof, 5, now=NOW + 1)
    latest = result.state.latest(ORIGIN)
    assert latest is not None
    assert latest.size == 305


def test_the_same_checkpoint_again_is_cosigned_again(tiles: MemoryTiles) -> None:
    witness = make_witness()
    state = first_contact(witness, tiles).state
    again = witness.add_checkpoint(state, checkpoint_note(tiles), [], 5, now=NOW + 60)
    assert again.state == state


def test_every_witness_key_cosigns(tiles: MemoryTiles) -> None:
    log = LogConfig(ORIGIN, (log_signer().verifier,))
    witness = Witness([witness_key(9), witness_key(10)], [log])
    result = first_contact(witness, tiles)
    assert [c.name for c in result.cosignatures] == ["witness.example/w9", "witness.example/w10"]
    assert result.response_body.count(b"\n") == 2


def test_the_empty_tree_is_cosigned_with_its_root() -> None:
    empty = MemoryTiles()
    witness = make_witness()
    result = witness.add_checkpoint(WitnessState(), checkpoint_note(empty), [], 0, now=NOW)
    assert result.checkpoint.size == 0
    wrong = sign_checkpoint(Checkpoint(ORIGIN, 0, bytes(32)), [log_signer()])
    with pytest.raises(WitnessBadProofError):
        witness.add_checkpoint(WitnessState(), wrong, [], 0, now=NOW)


# --- refusing -------------------------------------------------------------------------


def test_a_stale_old_size_is_a_conflict_that_names_the_witness_size(tiles: MemoryTiles) -> None:
    witness = make_witness()
    state = first_contact(witness, tiles).state
    grow(tiles, 10)
    for old in (0, 3, 6):
        proof = tiles.consistency_proof(old) if old else []
        with pytest.raises(WitnessConflictError) as caught:
            witness.add_checkpoint(state, checkpoint_note(tiles), proof, old, now=NOW)
        assert (caught.value.wire_code, caught.value.witness_size) == (409, 5)
        assert caught.value.body == b"5\n"


def test_a_smaller_checkpoint_is_refused(tiles: MemoryTiles) -> None:
    witness = make_witness()
    state = first_contact(witness, tiles).state
    with pytest.raises(WitnessBadRequestError) as caught:
        witness.add_checkpoint(state, checkpoint_note(tiles, 3), [], 5, now=NOW)
    assert caught.value.wire_code == 400


def test_another_root_at_the_same_size_is_a_rewrite(tiles: MemoryTiles) -> None:
    witness = make_witness()
    state = first_contact(witness, tiles).state
    fork = MemoryTiles()
    grow(fork, 5, tag=b"fork")
    with pytest.raises(WitnessConflictError) as caught:
        witness.add_checkpoint(state, checkpoint_note(fork), [], 5, now=NOW)
    assert caught.value.witness_size == 5


def test_a_forked_history_fails_the_consistency_proof(tiles: MemoryTiles) -> None:
    witness = make_witness()
    state = first_contact(witness, tiles).state
    fork = MemoryTiles()
    grow(fork, 5, tag=b"fork")
    grow(fork, 20)
    with pytest.raises(WitnessBadProofError) as caught:
        witness.add_checkpoint(state, checkpoint_note(fork), fork.consistency_proof(5), 5, now=NOW)
    assert caught.value.wire_code == 422


def test_an_altered_proof_is_refused(tiles: MemoryTiles) -> None:
    witness = make_witness()
    state = first_contact(witness, tiles).state
    grow(tiles, 20)
    proof = tiles.consistency_proof(5)
    bad = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
    for altered in (bad, proof[:-1], []):
        with pytest.raises(WitnessBadProofError):
            witness.add_checkpoint(state, checkpoint_note(tiles), altered, 5, now=NOW)


def test_a_proof_from_size_zero_must_be_empty(tiles: MemoryTiles) -> None:
    with pytest.raises(WitnessBadProofError):
        make_witness().add_checkpoint(
            WitnessState(), checkpoint_note(tiles), [bytes(32)], 0, now=NOW
        )


def test_an_unknown_origin_is_not_found(tiles: MemoryTiles) -> None:
    other = Ed25519NoteSigner("other.example/log", ED25519.from_private_bytes(bytes(32)))
    note = sign_checkpoint(Checkpoint("other.example/log", 5, tiles.root()), [other])
    with pytest.raises(UnknownLogError) as caught:
        make_witness().add_checkpoint(WitnessState(), note, [], 0, now=NOW)
    assert caught.value.wire_code == 404


def test_a_checkpoint_without_the_log_signature_is_forbidden(tiles: MemoryTiles) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, tiles.root()), [log_signer(seed=8)])
    with pytest.raises(WitnessForbiddenError) as caught:
        make_witness().add_checkpoint(WitnessState(), note, [], 0, now=NOW)
    assert caught.value.wire_code == 403


def test_a_forged_log_signature_is_forbidden(tiles: MemoryTiles) -> None:
    note = checkpoint_note(tiles).replace(b"\n5\n", b"\n6\n")
    with pytest.raises(WitnessForbiddenError):
        make_witness().add_checkpoint(WitnessState(), note, [], 0, now=NOW)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 5\n",  # no blank line
        b"old 05\n\nx",  # leading zero
        b"new 5\n\nx",
        b"old 0\nnot base64!\n\nx",
        b"old 0\n" + b"AAAA\n" * 64 + b"\nx",  # more than 63 proof lines
        b"old 0\n\nnot a note",
        b"old 0\n\n" + ORIGIN.encode() + b"\nxx\nAAAA\n\n\xe2\x80\x94 k AAAAAAA=\n",  # bad body
    ],
)
def test_malformed_requests_are_bad_requests(body: bytes) -> None:
    with pytest.raises(WitnessBadRequestError):
        make_witness().handle_request(WitnessState(), body, now=NOW)


def test_a_witness_needs_a_key() -> None:
    with pytest.raises(LedgerError):
        Witness([], [])


def test_refusals_are_witness_errors_with_http_statuses() -> None:
    codes = {
        cls.wire_code
        for cls in (
            WitnessBadRequestError,
            WitnessForbiddenError,
            UnknownLogError,
            WitnessConflictError,
            WitnessBadProofError,
        )
    }
    assert codes == {400, 403, 404, 409, 422}
    assert issubclass(WitnessConflictError, WitnessError)


# --- the request endpoint and the state -----------------------------------------------


def test_handle_request_takes_the_http_body(tiles: MemoryTiles) -> None:
    witness = make_witness()
    state = witness.handle_request(
        WitnessState(), AddCheckpointRequest(0, (), checkpoint_note(tiles)).encode(), now=NOW
    ).state
    grow(tiles, 3)
    body = AddCheckpointRequest(5, tuple(tiles.consistency_proof(5)), checkpoint_note(tiles))
    result = witness.handle_request(state, body.encode(), now=NOW)
    assert result.checkpoint.size == 8


def test_the_witness_keeps_no_state_of_its_own(tiles: MemoryTiles) -> None:
    witness = make_witness()
    before = WitnessState()
    after = first_contact(witness, tiles).state
    assert before.latest(ORIGIN) is None
    assert first_contact(witness, tiles).state == after  # same input, same output
    with pytest.raises(TypeError):
        after.logs[ORIGIN] = after.logs[ORIGIN]  # type: ignore[index]


def test_sm3_logs_are_checked_with_sm3() -> None:
    tiles = MemoryTiles(SM3_HASHER)
    grow(tiles, 4)
    witness = make_witness(SM3_HASHER)
    state = first_contact(witness, tiles).state
    grow(tiles, 4)
    proof = tiles.consistency_proof(4)
    result = witness.add_checkpoint(state, checkpoint_note(tiles), proof, 4, now=NOW)
    assert result.checkpoint.size == 8
    sha256_witness = make_witness()
    state = sha256_witness.add_checkpoint(
        WitnessState(), checkpoint_note(tiles, 4), [], 0, now=NOW
    ).state
    with pytest.raises(WitnessBadProofError):
        sha256_witness.add_checkpoint(state, checkpoint_note(tiles), proof, 4, now=NOW)
