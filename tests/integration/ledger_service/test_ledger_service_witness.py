"""Witness cosignatures: asked after each integration, stored as new checkpoint rows, the
witness's size remembered across restarts, a 409 retried once, and a witness that is down
never blocking a submission."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest
from ledger_service_support import ORIGIN, Backend, ed25519_signer, leaves

from meterseal.crypto.international import ED25519
from meterseal.ledger.checkpoint import Cosigner, open_checkpoint
from meterseal.ledger.errors import LedgerUnavailableError
from meterseal.ledger.interface import WitnessPort
from meterseal.ledger.note import NoteVerifier, open_note
from meterseal.ledger.sequencer import Sequencer
from meterseal.ledger.witness import LogConfig, Witness, WitnessState

pytest_plugins = ["ledger_service_fixtures"]
pytestmark = pytest.mark.timeout(60)

NOW = 1_750_000_000


class InTestWitness:
    """A :class:`WitnessPort` over the pure witness, its state in memory; can be 'down'."""

    def __init__(self, name: str, seed: int) -> None:
        self.cosigner = Cosigner(name, ED25519.from_private_bytes(bytes([seed]) * 32))
        log = LogConfig(ORIGIN, (ed25519_signer().verifier,))
        self.witness = Witness([self.cosigner], [log])
        self.state = WitnessState()
        self.down = False
        self.asked: list[int] = []

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], checkpoint: bytes) -> bytes:
        self.asked.append(old_size)
        if self.down:
            raise LedgerUnavailableError("witness unreachable")
        result = self.witness.add_checkpoint(self.state, checkpoint, proof, old_size, now=NOW)
        self.state = result.state
        return result.response_body

    @property
    def size(self) -> int:
        latest = self.state.latest(ORIGIN)
        return 0 if latest is None else latest.size


def sequencer(backend: Backend, **witnesses: WitnessPort) -> Sequencer:
    return Sequencer(backend.open(), [ed25519_signer()], origin=ORIGIN, witnesses=witnesses)


def cosigned_by(note: bytes, *witnesses: InTestWitness) -> bool:
    verifiers: list[NoteVerifier] = [w.cosigner.verifier for w in witnesses]
    opened = open_note(note, verifiers)
    return len(opened.verified) == len(witnesses)


def test_checkpoints_carry_every_witness_cosignature(backend: Backend) -> None:
    one, two = InTestWitness("witness-one", 11), InTestWitness("witness-two", 12)
    seq = sequencer(backend, one=one, two=two)
    result = seq.submit(leaves(0, 300))
    assert cosigned_by(result.checkpoint, one, two)
    assert seq.checkpoint() == result.checkpoint
    stored = seq.storage.latest_checkpoint()
    assert stored is not None
    assert stored.note == result.checkpoint
    assert open_checkpoint(result.checkpoint, [ed25519_signer().verifier]).checkpoint.size == 300
    assert (one.size, two.size) == (300, 300)


def test_the_witness_size_is_remembered_across_restarts(backend: Backend) -> None:
    witness = InTestWitness("w", 11)
    seq = sequencer(backend, w=witness)
    for count in (10, 300, 5):
        seq.submit(leaves(seq.size, count))
    assert witness.asked == [0, 10, 310]
    seq.storage.close()
    restarted = sequencer(backend, w=witness)
    assert restarted.checkpoint() == seq.checkpoint()  # the cosigned note is the latest row
    restarted.submit(leaves(315, 1))
    assert witness.asked == [0, 10, 310, 315]
    assert cosigned_by(restarted.checkpoint(), witness)


def test_a_conflict_is_retried_once_from_the_witness_size(backend: Backend) -> None:
    plain = sequencer(backend)
    plain.submit(leaves(0, 40))
    witness = InTestWitness("w", 11)
    witness.add_checkpoint(0, [], plain.checkpoint())  # the witness knows size 40 already
    plain.storage.close()
    seq = sequencer(backend, w=witness)
    result = seq.submit(leaves(40, 260))
    assert witness.asked == [0, 0, 40]
    assert cosigned_by(result.checkpoint, witness)
    assert seq.storage.witness_sizes() == {"w": 300}


def test_a_witness_that_is_down_does_not_block_submissions(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    up, down = InTestWitness("up", 11), InTestWitness("down", 12)
    seq = sequencer(backend, up=up, down=down)
    seq.submit(leaves(0, 5))
    down.down = True
    with caplog.at_level(logging.WARNING, logger="meterseal.ledger.sequencer"):
        first = seq.submit(leaves(5, 300))
        second = seq.submit(leaves(305, 10))
    assert "witness down did not cosign size 305" in caplog.text
    assert (first.tree_size, second.tree_size) == (305, 315)
    assert cosigned_by(second.checkpoint, up)
    assert not cosigned_by(second.checkpoint, up, down)
    down.down = False
    third = seq.submit(leaves(315, 1))
    assert down.asked[-1] == 5  # it is asked again from the size it last cosigned
    assert cosigned_by(third.checkpoint, up, down)


def test_a_witness_reply_that_is_not_a_signature_line_is_ignored(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    class Garbage:
        def add_checkpoint(self, old_size: int, proof: Sequence[bytes], checkpoint: bytes) -> bytes:
            del old_size, proof, checkpoint  # the port's signature; the reply ignores them
            return b"not a signature line\n"

    seq = sequencer(backend, garbage=Garbage())
    with caplog.at_level(logging.WARNING, logger="meterseal.ledger.sequencer"):
        result = seq.submit(leaves(0, 3))
    assert "garbage did not cosign" in caplog.text
    assert result.checkpoint == seq.checkpoint()
    open_checkpoint(result.checkpoint, [ed25519_signer().verifier])
    assert seq.storage.witness_sizes() == {}
