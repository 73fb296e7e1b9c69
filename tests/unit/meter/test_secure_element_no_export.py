"""No API of the secure element returns a private key.

The test controls the rng, so it knows every private key byte the element drew (the
32-byte draws; salts and nonces are shorter). It walks every public attribute and the
result of every public method of the element and of everything those return (handles,
sessions, events, blobs), and asserts that no 16-byte piece of a private key appears, in
either byte order, as bytes, integer or hex text. A public method without a recipe below
fails the test, so a new method cannot slip past it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from se_support import (
    DEVICE_SECRET,
    FAST_SCRYPT,
    LoggingRng,
    available_suites,
    make_element,
    session_exporter,
)

from meterseal.crypto.interfaces import DhKey
from meterseal.crypto.suites import SUITE_2
from meterseal.errors import InvalidKeyError
from meterseal.meter import SecureElement

SEED = b"no export"
SUITES = available_suites()
PEERS = [suite.dh.generate(LoggingRng(b"peer")).public_key for suite in SUITES]
NOW = 1_767_225_600
DESTRUCTIVE = {"record_tamper"}


def _element() -> SecureElement:
    return make_element(SUITES, LoggingRng(SEED))


def _calls(element_blob: bytes) -> dict[tuple[str, str], Callable[[Any], object]]:
    """How to call each public method: (class name, method name) -> call."""
    session_args = (SUITE_2, session_exporter, b"\x37", b"\x27")
    return {
        ("SecureElement", "create"): lambda se: se.create(
            suites=SUITES, device_secret=DEVICE_SECRET, rng=LoggingRng(SEED), scrypt=FAST_SCRYPT
        ),
        ("SecureElement", "load"): lambda se: se.load(
            element_blob, DEVICE_SECRET, rng=LoggingRng()
        ),
        ("SecureElement", "save"): lambda se: se.save(),
        ("SecureElement", "identity_dh_key"): lambda se: [se.identity_dh_key(s) for s in SUITES],
        ("SecureElement", "identity_signing_key"): lambda se: [
            se.identity_signing_key(s) for s in SUITES
        ],
        ("SecureElement", "sign_data"): lambda se: se.sign_data(b"batch"),
        ("SecureElement", "begin_rotation"): lambda se: se.begin_rotation(SUITE_2),
        ("SecureElement", "pending_signing_key"): lambda se: (
            se.begin_rotation(SUITE_2) and se.pending_signing_key(SUITE_2)
        ),
        ("SecureElement", "commit_rotation"): lambda se: (
            se.begin_rotation(SUITE_2) and se.commit_rotation(SUITE_2)
        ),
        ("SecureElement", "next_counter"): lambda se: se.next_counter("frame"),
        ("SecureElement", "install_session"): lambda se: se.install_session(
            *session_args, initiator=True
        ),
        ("SecureElement", "record_tamper"): lambda se: se.record_tamper("cover-open", NOW),
        ("DhKeyHandle", "exchange"): _exchange_with_a_valid_peer,
        ("SigningKeyHandle", "sign"): lambda key: key.sign(b"message"),
        ("SessionHandle", "seal"): lambda session: session.seal(b"payload"),
        ("SessionHandle", "open"): _open_own_record,
        ("SessionHandle", "release"): lambda _session: None,  # returns None; would end the walk
        ("TamperEvent", "to_be_signed"): lambda event: event.to_be_signed(),
        ("TamperEvent", "verify"): lambda _event: None,  # returns None (or raises)
    }


def _exchange_with_a_valid_peer(key: DhKey) -> list[bytes]:
    """ECDH with every peer key that lies on the handle's curve (at least one does)."""
    shared = []
    for peer in PEERS:
        with contextlib.suppress(InvalidKeyError):
            shared.append(key.exchange(peer))
    assert shared
    return shared


def _open_own_record(session: Any) -> object:
    """Open a record from the session's peer (a responder layer on the same exporter)."""
    from meterseal.records import RecordLayer  # noqa: PLC0415 - only this recipe needs it

    peer = RecordLayer.for_responder(SUITE_2, session_exporter, b"\x37", b"\x27")
    return session.open(peer.seal(b"from the head-end"))


class _Walker:
    def __init__(self, secrets: list[bytes], calls: Mapping[tuple[str, str], Any]) -> None:
        pieces = {s[i : i + 16] for s in secrets for i in range(len(s) - 15)}
        self.pieces = pieces | {p[::-1] for p in pieces}
        self.calls = calls
        self.seen: dict[int, object] = {}  # keeps each object alive so ids stay unique
        self.visited: list[str] = []

    def check_bytes(self, where: str, data: bytes) -> None:
        for piece in self.pieces:
            assert piece not in data, f"private key bytes in {where}"

    def walk(self, where: str, value: object, depth: int = 0) -> None:
        if isinstance(value, (bytes, bytearray, memoryview)):
            self.check_bytes(where, bytes(value))
        elif isinstance(value, str):
            self.check_bytes(where, value.encode())
            for piece in self.pieces:
                assert piece.hex() not in value.lower(), f"private key hex in {where}"
        elif isinstance(value, bool | float | Enum) or value is None:
            return
        elif isinstance(value, int):
            size = max(1, (value.bit_length() + 7) // 8)
            self.check_bytes(where, abs(value).to_bytes(size, "big"))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                self.walk(f"{where}[{key!r}]", item, depth)
        elif isinstance(value, tuple | list | set | frozenset):
            for index, item in enumerate(value):
                self.walk(f"{where}[{index}]", item, depth)
        else:
            self.walk_object(where, value, depth)

    def walk_object(self, where: str, obj: object, depth: int) -> None:
        if id(obj) in self.seen or depth > 2:
            return
        self.seen[id(obj)] = obj
        names = sorted((n for n in dir(obj) if not n.startswith("_")), key=_destructive_last)
        for name in names:
            self.walk_member(f"{where}.{name}", obj, name, depth)

    def walk_member(self, where: str, obj: object, name: str, depth: int) -> None:
        value = getattr(obj, name)
        self.visited.append(f"{type(obj).__name__}.{name}")
        if callable(value):
            recipe = self.calls.get((type(obj).__name__, name))
            assert recipe is not None, f"no call recipe for {type(obj).__name__}.{name}"
            value = recipe(obj)
        self.walk(where, value, depth + 1)


def _destructive_last(name: str) -> tuple[bool, str]:
    return name in DESTRUCTIVE, name


def test_no_public_attribute_or_method_result_holds_a_private_key() -> None:
    rng = LoggingRng(SEED)
    element = make_element(SUITES, rng)
    secrets = [chunk for chunk in rng.chunks if len(chunk) >= 32]
    assert len(secrets) >= 2 * len(SUITES) + 1  # a DH and a signature key per suite, data key
    walker = _Walker(secrets, _calls(element.save()))
    walker.walk("element", element)
    for must in ("SecureElement.save", "DhKeyHandle.exchange", "SessionHandle.open"):
        assert must in walker.visited
    assert "TamperEvent.to_be_signed" in walker.visited


def test_the_walker_finds_a_planted_private_key() -> None:
    rng = LoggingRng(SEED)
    make_element(SUITES, rng)
    secret = next(chunk for chunk in rng.chunks if len(chunk) >= 32)
    walker = _Walker([secret], {})
    for planted in (secret, secret[::-1], int.from_bytes(secret, "big"), "k=" + secret.hex()):
        try:
            walker.walk("planted", {"deep": [planted]})
        except AssertionError:
            continue
        raise AssertionError(f"walker missed {planted!r}")
