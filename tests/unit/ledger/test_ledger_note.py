"""C2SP signed notes: signing, opening, the format's rejections, and key strings."""

from __future__ import annotations

import base64
import hashlib

import pytest

from meterseal.crypto.international import ED25519
from meterseal.crypto.sm2 import SM2_SIGNATURE
from meterseal.ledger.checkpoint import CosignatureVerifier
from meterseal.ledger.errors import (
    InvalidNoteSignatureError,
    MalformedNoteError,
    NoteKeyError,
    UnverifiedNoteError,
)
from meterseal.ledger.keys import (
    SIG_SM2_SM3,
    EcdsaNoteVerifier,
    Ed25519NoteSigner,
    Ed25519NoteVerifier,
    Sm2NoteSigner,
    Sm2NoteVerifier,
    parse_signer_key,
    parse_verifier_key,
)
from meterseal.ledger.note import (
    NoteSignature,
    VerifierSet,
    compute_key_id,
    format_verifier_key,
    open_note,
    parse_note,
    sign_note,
)

TEXT = "meterseal.example/log\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"


def ed_signer(name: str = "meterseal.example/log", seed: int = 1) -> Ed25519NoteSigner:
    return Ed25519NoteSigner(name, ED25519.from_private_bytes(bytes([seed]) * 32))


def sm2_signer(name: str = "meterseal.example/log-sm2") -> Sm2NoteSigner:
    return Sm2NoteSigner(name, SM2_SIGNATURE.from_private_bytes(bytes(31) + b"\x07"))


# --- signing and opening --------------------------------------------------------------


def test_a_note_signed_with_ed25519_and_sm2_opens_with_both_keys() -> None:
    ed, sm2 = ed_signer(), sm2_signer()
    note = sign_note(TEXT, [ed, sm2])
    opened = open_note(note, [ed.verifier, sm2.verifier])
    assert opened.text == TEXT
    assert [s.name for s in opened.verified] == [ed.name, sm2.name]
    assert opened.unverified == ()


def test_signature_lines_follow_the_format() -> None:
    ed = ed_signer()
    note = sign_note(TEXT, [ed]).decode()
    text, line = note.split("\n\n")
    assert text + "\n" == TEXT
    prefix, name, blob = line.rstrip("\n").split(" ")
    raw = base64.b64decode(blob)
    assert (prefix, name, len(raw)) == ("\u2014", ed.name, 4 + 64)
    assert int.from_bytes(raw[:4], "big") == ed.key_id


def test_unknown_keys_are_ignored_but_kept() -> None:
    ed, other = ed_signer(), ed_signer("someone.else/key", seed=2)
    opened = open_note(sign_note(TEXT, [ed, other]), [ed.verifier])
    assert [s.name for s in opened.verified] == [ed.name]
    assert [s.name for s in opened.unverified] == [other.name]


def test_a_key_with_the_same_name_but_another_id_is_unknown() -> None:
    impostor = ed_signer(seed=9)  # same name, different key: different key ID
    with pytest.raises(UnverifiedNoteError):
        open_note(sign_note(TEXT, [impostor]), [ed_signer().verifier])


def test_a_note_without_a_known_signature_is_refused() -> None:
    with pytest.raises(UnverifiedNoteError):
        open_note(sign_note(TEXT, [ed_signer("a/b", seed=3)]), [ed_signer().verifier])


def test_one_bad_signature_from_a_known_key_rejects_the_whole_note() -> None:
    ed, sm2 = ed_signer(), sm2_signer()
    forged = NoteSignature(sm2.name, sm2.key_id, bytes(64))
    note = sign_note(TEXT, [ed], existing=[forged])
    with pytest.raises(InvalidNoteSignatureError):
        open_note(note, [ed.verifier, sm2.verifier])


def test_a_changed_text_fails_verification() -> None:
    ed = ed_signer()
    note = sign_note(TEXT, [ed]).replace(b"\n42\n", b"\n43\n")
    with pytest.raises(InvalidNoteSignatureError):
        open_note(note, [ed.verifier])


def test_duplicate_lines_are_kept_once() -> None:
    ed, other = ed_signer(), ed_signer("x/y", seed=5)
    note = parse_note(sign_note(TEXT, [ed, other]))
    doubled = type(note)(note.text, note.signatures * 2).encode()
    opened = open_note(doubled, [ed.verifier])
    assert (len(opened.verified), len(opened.unverified)) == (1, 1)


def test_every_signature_of_a_known_key_is_checked_even_repeated() -> None:
    ed = ed_signer()
    good = parse_note(sign_note(TEXT, [ed])).signatures[0]
    bad = NoteSignature(ed.name, ed.key_id, bytes(64))
    note = sign_note(TEXT, [], existing=[good, bad])
    with pytest.raises(InvalidNoteSignatureError):
        open_note(note, [ed.verifier])


def test_signing_replaces_an_existing_signature_by_the_same_key() -> None:
    ed, sm2 = ed_signer(), sm2_signer()
    stale = NoteSignature(ed.name, ed.key_id, bytes(64))
    kept = parse_note(sign_note(TEXT, [sm2])).signatures[0]
    note = parse_note(sign_note(TEXT, [ed], existing=[stale, kept]))
    assert [s.name for s in note.signatures] == [sm2.name, ed.name]
    open_note(note.encode(), [ed.verifier, sm2.verifier])


@pytest.mark.parametrize("text", ["no final newline", "tab\tin text\n", ""])
def test_signing_refuses_texts_the_format_cannot_carry(text: str) -> None:
    with pytest.raises(MalformedNoteError):
        sign_note(text, [ed_signer()])


def test_signing_refuses_invalid_key_names() -> None:
    with pytest.raises(NoteKeyError):
        sign_note(TEXT, [ed_signer("has space")])


# --- the format -----------------------------------------------------------------------


def _valid_line() -> str:
    return sign_note(TEXT, [ed_signer()]).decode().split("\n\n")[1]


@pytest.mark.parametrize(
    "note",
    [
        TEXT,  # no blank line, no signatures
        TEXT + "\n",  # blank line but no signature
        TEXT + "\n" + _valid_line().rstrip("\n"),  # no final newline
        TEXT + "\n" + _valid_line().replace("\u2014", "-"),  # not an em dash
        TEXT + "\n" + _valid_line().replace("\u2014 ", "\u2014"),  # no space after it
        TEXT + "\n" + _valid_line().replace("log ", "log  "),  # empty signature
        TEXT + "\n" + _valid_line().replace("log ", "lo g "),  # name with a space
        TEXT + "\n" + _valid_line().replace("log ", "lo+g "),  # name with a plus
        TEXT + "\n" + _valid_line().replace("=\n", "\n"),  # base64 without padding
        TEXT + "\n" + _valid_line()[:-6] + "!!==\n",  # not base64
        TEXT + "\n\u2014 a/b AAAAAA==\n",  # signature shorter than 5 bytes
        TEXT.replace("42", "4\x012") + "\n" + _valid_line(),  # control character
        TEXT + "\n" + _valid_line() + "\n",  # blank line after the signatures
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(MalformedNoteError):
        open_note(note.encode(), [ed_signer().verifier])


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(MalformedNoteError):
        parse_note(b"caf\xe9\n\n" + _valid_line().encode())


def test_the_last_blank_line_separates_text_and_signatures() -> None:
    text = "first paragraph\n\nsecond paragraph\n"
    ed = ed_signer()
    assert open_note(sign_note(text, [ed]), [ed.verifier]).text == text


def test_more_than_100_signatures_are_refused() -> None:
    blob = base64.b64encode(bytes(5)).decode()
    lines = [f"\u2014 k{i} {blob}\n" for i in range(101)]
    with pytest.raises(MalformedNoteError):
        parse_note((TEXT + "\n" + "".join(lines)).encode())
    assert len(parse_note((TEXT + "\n" + "".join(lines[:100])).encode()).signatures) == 100


# --- keys -----------------------------------------------------------------------------


def test_ed25519_key_id_is_the_spec_hash() -> None:
    ed = ed_signer()
    public = ED25519.from_private_bytes(bytes([1]) * 32).public_key
    digest = hashlib.sha256(ed.name.encode() + b"\n\x01" + public).digest()
    assert ed.key_id == int.from_bytes(digest[:4], "big")


def test_sm2_signature_type_is_0xff_and_the_sm2_with_sm3_oid() -> None:
    assert SIG_SM2_SM3.hex() == "ff06082a811ccf55018375"
    sm2 = sm2_signer()
    public = SM2_SIGNATURE.from_private_bytes(bytes(31) + b"\x07").public_key
    assert sm2.key_id == compute_key_id(sm2.name, SIG_SM2_SM3 + public)


@pytest.mark.parametrize("kind", ["ed25519", "sm2", "cosignature"])
def test_verifier_keys_round_trip(kind: str) -> None:
    verifier: Ed25519NoteVerifier | Sm2NoteVerifier | CosignatureVerifier
    if kind == "ed25519":
        verifier = ed_signer().verifier
    elif kind == "sm2":
        verifier = sm2_signer().verifier
    else:
        verifier = CosignatureVerifier("witness.example/w1", bytes(32))
    parsed = parse_verifier_key(verifier.verifier_key)
    assert type(parsed) is type(verifier)
    assert (parsed.name, parsed.key_id) == (verifier.name, verifier.key_id)


def test_ecdsa_verifier_keys_round_trip() -> None:
    vkey = (
        "rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQXBogSMdGvXw"
        "BcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc="
    )
    verifier = parse_verifier_key(vkey)
    assert isinstance(verifier, EcdsaNoteVerifier)
    assert verifier.verifier_key == vkey


def _vkey(name: str, key_id: int, type_and_key: bytes) -> str:
    return f"{name}+{key_id:08x}+{base64.b64encode(type_and_key).decode()}"


@pytest.mark.parametrize(
    "vkey",
    [
        "nameonly",
        "a/b+1234567+AQ==",  # key ID not 8 hex digits
        "a/b+zzzzzzzz+AQ==",
        "a b+12345678+AQ==",
        "a/b+12345678+",
        "a/b+12345678+!!!!",
        _vkey("a/b", compute_key_id("a/b", b"\x03" + bytes(32)), b"\x03" + bytes(32)),  # reserved
        _vkey("a/b", compute_key_id("a/b", b"\x01" + bytes(31)), b"\x01" + bytes(31)),  # short
        _vkey("a/b", 0x12345678, b"\x01" + bytes(32)),  # wrong key ID
        _vkey("a/b", 0, b"\x02" + bytes(91)),  # ECDSA that is not a P-256 SPKI
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteKeyError):
        parse_verifier_key(vkey)


def test_signer_keys_must_match_their_key_id() -> None:
    seed = bytes([1]) * 32
    key_id = ed_signer("a/b").key_id
    key_b64 = base64.b64encode(b"\x01" + seed).decode()
    good = f"PRIVATE+KEY+a/b+{key_id:08x}+{key_b64}"
    assert parse_signer_key(good).key_id == key_id
    with pytest.raises(NoteKeyError):
        parse_signer_key(good.replace(f"{key_id:08x}", f"{key_id ^ 1:08x}"))
    with pytest.raises(NoteKeyError):
        parse_signer_key(good.replace("PRIVATE+KEY", "PUBLIC+KEY"))


def test_two_trusted_keys_with_one_name_and_id_are_ambiguous() -> None:
    ed = ed_signer()
    with pytest.raises(NoteKeyError):
        VerifierSet([ed.verifier, ed.verifier])
    assert len(VerifierSet([ed.verifier, sm2_signer().verifier])) == 2


def test_format_verifier_key_refuses_bad_names() -> None:
    with pytest.raises(NoteKeyError):
        format_verifier_key("a+b", 1, b"\x01")
