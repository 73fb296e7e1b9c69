"""Properties of the sans-IO witness (C2SP tlog-witness), checked with Hypothesis.

A log grows in random steps; at each step the witness is offered either the honest next
checkpoint, which it must cosign, or one of several rewrites of history, which it must
refuse with the status tlog-witness assigns. The witness is a pure function of its state:
the state passed in is never modified, and a refusal leaves the caller's state as it was.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from meterseal.crypto.international import ED25519
from meterseal.ledger.checkpoint import Checkpoint, Cosigner, sign_checkpoint
from meterseal.ledger.errors import WitnessError
from meterseal.ledger.keys import Ed25519NoteSigner
from meterseal.ledger.note import open_note, sign_note
from meterseal.ledger.tiles import MemoryTiles
from meterseal.ledger.witness import LogConfig, Witness, WitnessState

ORIGIN = "meterseal.example/log"
LOG_KEY = Ed25519NoteSigner(ORIGIN, ED25519.from_private_bytes(bytes([7]) * 32))
WITNESS_KEY = Cosigner("witness.example/w1", ED25519.from_private_bytes(bytes([9]) * 32))
WITNESS = Witness([WITNESS_KEY], [LogConfig(ORIGIN, (LOG_KEY.verifier,))])


def note_for(tiles: MemoryTiles, size: int) -> bytes:
    return sign_checkpoint(Checkpoint(ORIGIN, size, tiles.root(size)), [LOG_KEY])


def forked(keep: int, size: int) -> MemoryTiles:
    """A history equal to the honest one for ``keep`` leaves, then different, ``size`` long."""
    fork = MemoryTiles()
    fork.append_leaves([b"leaf %d" % i for i in range(keep)])
    fork.append_leaves([b"forged %d" % i for i in range(keep, size)])
    return fork


def refusal(state: WitnessState, note: bytes, proof: list[bytes], old: int) -> int:
    """The status of a refused checkpoint; the test fails if it is cosigned."""
    snapshot = dict(state.logs)
    try:
        WITNESS.add_checkpoint(state, note, proof, old, now=1)
    except WitnessError as exc:
        assert dict(state.logs) == snapshot
        return exc.wire_code
    raise AssertionError("the witness cosigned a rewritten history")


steps = st.lists(st.tuples(st.integers(0, 300), st.integers(0, 3)), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(steps, st.data())
def test_the_witness_cosigns_extensions_and_refuses_rewrites(
    plan: list[tuple[int, int]], data: st.DataObject
) -> None:
    tiles, state, witnessed = MemoryTiles(), WitnessState(), 0
    for growth, attack in plan:
        tiles.append_leaves([b"leaf %d" % i for i in range(tiles.size, tiles.size + growth)])
        size = tiles.size
        if witnessed and attack == 1:  # same size as the witness, another root
            fork = forked(data.draw(st.integers(0, witnessed - 1)), witnessed)
            assert refusal(state, note_for(fork, witnessed), [], witnessed) == 409
        if witnessed and size > witnessed and attack == 2:  # a fork with its own proof
            fork = forked(data.draw(st.integers(0, witnessed - 1)), size)
            proof = fork.consistency_proof(witnessed)
            assert refusal(state, note_for(fork, size), proof, witnessed) == 422
        if witnessed > 1 and attack == 3:  # roll back to an older size
            older = data.draw(st.integers(1, witnessed - 1))
            assert refusal(state, note_for(tiles, older), [], witnessed) == 400
            assert refusal(state, note_for(tiles, older), [], older) == 409
        proof = tiles.consistency_proof(witnessed) if 0 < witnessed <= size else []
        result = WITNESS.add_checkpoint(state, note_for(tiles, size), proof, witnessed, now=2)
        cosigned = sign_note(result.checkpoint.text(), [], result.cosignatures)
        open_note(cosigned, [WITNESS_KEY.verifier])
        state, witnessed = result.state, size
