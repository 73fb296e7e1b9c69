"""C2SP tlog-checkpoint bodies and tlog-cosignature v1 cosignatures."""

from __future__ import annotations

import base64

import pytest

from meterseal.crypto.international import ED25519
from meterseal.errors import SignatureError
from meterseal.ledger.checkpoint import (
    Checkpoint,
    CosignatureVerifier,
    Cosigner,
    cosignature_message,
    decode_timestamped_signature,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from meterseal.ledger.errors import InvalidNoteSignatureError, MalformedCheckpointError
from meterseal.ledger.keys import Ed25519NoteSigner
from meterseal.ledger.note import NoteSignature, open_note, parse_note, sign_note

ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()
ORIGIN = "meterseal.example/log"


def log_signer() -> Ed25519NoteSigner:
    return Ed25519NoteSigner(ORIGIN, ED25519.from_private_bytes(bytes([7]) * 32))


def cosigner() -> Cosigner:
    return Cosigner("witness.example/w1", ED25519.from_private_bytes(bytes([9]) * 32))


# --- the body -------------------------------------------------------------------------


def test_checkpoint_text_round_trips() -> None:
    checkpoint = Checkpoint(ORIGIN, 20852163, ROOT, ("ext one", "ext two"))
    text = checkpoint.text()
    assert text == f"{ORIGIN}\n20852163\n{ROOT_B64}\next one\next two\n"
    assert parse_checkpoint(text) == checkpoint


def test_the_empty_tree_has_size_zero() -> None:
    assert parse_checkpoint(f"{ORIGIN}\n0\n{ROOT_B64}\n").size == 0


@pytest.mark.parametrize(
    "text",
    [
        f"{ORIGIN}\n00\n{ROOT_B64}\n",  # leading zero
        f"{ORIGIN}\n012\n{ROOT_B64}\n",
        f"{ORIGIN}\n+12\n{ROOT_B64}\n",
        f"{ORIGIN}\n-1\n{ROOT_B64}\n",
        f"{ORIGIN}\n1_000\n{ROOT_B64}\n",
        f"{ORIGIN}\n\u0661\u0662\n{ROOT_B64}\n",  # non-ASCII digits
        f"{ORIGIN}\n{1 << 63}\n{ROOT_B64}\n",  # beyond 2^63 - 1
        f"{ORIGIN}\n12\n{base64.b64encode(bytes(31)).decode()}\n",  # short root
        f"{ORIGIN}\n12\n{ROOT_B64.rstrip('=')}\n",  # unpadded base64
        f"{ORIGIN}\n12\n{ROOT_B64}",  # no final newline
        f"{ORIGIN}\n12\n",  # two lines
        f"\n12\n{ROOT_B64}\n",  # empty origin
        f"{ORIGIN}\n12\n{ROOT_B64}\n\n",  # empty extension line
    ],
)
def test_malformed_checkpoint_bodies_are_refused(text: str) -> None:
    with pytest.raises(MalformedCheckpointError):
        parse_checkpoint(text)


def test_sm3_or_sha256_roots_have_32_bytes_and_other_sizes_can_be_asked_for() -> None:
    text = f"{ORIGIN}\n3\n{base64.b64encode(bytes(48)).decode()}\n"
    assert len(parse_checkpoint(text, hash_size=48).root_hash) == 48
    with pytest.raises(MalformedCheckpointError):
        parse_checkpoint(text)


def test_checkpoint_values_are_checked_at_construction() -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(MalformedCheckpointError):
        Checkpoint("two\nlines", 1, ROOT)
    with pytest.raises(MalformedCheckpointError):
        Checkpoint(ORIGIN, 1, ROOT, ("",))
    with pytest.raises(MalformedCheckpointError):
        Checkpoint("tab\there", 1, ROOT)


# --- signed checkpoints ---------------------------------------------------------------


def test_signed_checkpoints_open_with_the_log_key() -> None:
    checkpoint = Checkpoint(ORIGIN, 5, ROOT)
    signed = open_checkpoint(sign_checkpoint(checkpoint, [log_signer()]), [log_signer().verifier])
    assert signed.checkpoint == checkpoint
    assert signed.note.verified[0].name == ORIGIN


def test_open_checkpoint_can_insist_on_the_origin() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, ROOT), [log_signer()])
    with pytest.raises(MalformedCheckpointError):
        open_checkpoint(note, [log_signer().verifier], origin="another.example/log")


def test_a_signed_note_that_is_not_a_checkpoint_is_refused() -> None:
    note = sign_note("hello\n", [log_signer()])
    with pytest.raises(MalformedCheckpointError):
        open_checkpoint(note, [log_signer().verifier])


# --- cosignatures ---------------------------------------------------------------------


def test_cosigned_message_format() -> None:
    message = cosignature_message(b"o\n1\nAA==\n", 1679315147)
    assert message == b"cosignature/v1\ntime 1679315147\no\n1\nAA==\n"


def test_cosignatures_verify_as_note_signatures() -> None:
    checkpoint = Checkpoint(ORIGIN, 5, ROOT)
    note = sign_checkpoint(checkpoint, [log_signer()])
    witness = cosigner()
    cosignature = witness.cosign(checkpoint.text().encode(), 1_700_000_000)
    with_cosignature = sign_note(checkpoint.text(), [], (*parse_note(note).signatures, cosignature))
    opened = open_note(with_cosignature, [log_signer().verifier, witness.verifier])
    assert len(opened.verified) == 2
    assert decode_timestamped_signature(cosignature.signature)[0] == 1_700_000_000


def test_cosignature_key_id_uses_type_0x04() -> None:
    witness = cosigner()
    public = ED25519.from_private_bytes(bytes([9]) * 32).public_key
    assert witness.key_id != CosignatureVerifier(witness.name, public[::-1]).key_id
    assert witness.verifier.verifier_key.startswith("witness.example/w1+")
    assert base64.b64decode(witness.verifier.verifier_key.split("+")[2])[0] == 0x04


def test_a_cosignature_with_another_timestamp_does_not_verify() -> None:
    witness = cosigner()
    text = Checkpoint(ORIGIN, 5, ROOT).text()
    cosignature = witness.cosign(text.encode(), 100)
    moved = NoteSignature(
        cosignature.name, cosignature.key_id, (101).to_bytes(8, "big") + cosignature.signature[8:]
    )
    with pytest.raises(InvalidNoteSignatureError):
        open_note(sign_note(text, [], [moved]), [witness.verifier])


@pytest.mark.parametrize("blob", [bytes(71), bytes(73), b"\x80" + bytes(71)])
def test_malformed_timestamped_signatures_are_refused(blob: bytes) -> None:
    with pytest.raises(SignatureError):
        decode_timestamped_signature(blob)


def test_timestamps_beyond_2_to_the_63_cannot_be_signed() -> None:
    with pytest.raises(SignatureError):
        cosigner().cosign(b"x\n", 1 << 63)
