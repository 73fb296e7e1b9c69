"""Key and session handles that the secure element hands out, and the vault behind them.

A handle holds no key: it names a slot in the :class:`Vault` and looks the key up on
every call. Zeroization empties the vault, so every handle issued before it raises
:class:`TamperedError` from then on, whatever the caller kept. The handles implement the
:class:`~meterseal.crypto.interfaces.DhKey` and
:class:`~meterseal.crypto.interfaces.SigningKey` protocols, so EDHOC and the batch signer
use them exactly like software keys.
"""

from __future__ import annotations

from meterseal.crypto.interfaces import DhKey, SigningKey
from meterseal.errors import SecureElementError, TamperedError
from meterseal.records.layer import LayerStatus, RecordLayer
from meterseal.records.wire import Record, RecordType

MAX_SESSIONS = 8
"""Record sessions the element holds at once (its RAM is small)."""


class Vault:
    """The live key objects and record sessions. Only the secure element touches it."""

    __slots__ = ("_dh", "_next_session", "_sessions", "_signers", "zeroized")

    def __init__(self) -> None:
        self._dh: dict[str, DhKey] = {}
        self._signers: dict[str, SigningKey] = {}
        self._sessions: dict[int, RecordLayer] = {}
        self._next_session = 0
        self.zeroized = False

    def _alive(self) -> None:
        if self.zeroized:
            raise TamperedError("the secure element was zeroized after a tamper event")

    def put_dh(self, slot: str, key: DhKey) -> None:
        self._dh[slot] = key

    def put_signer(self, slot: str, key: SigningKey) -> None:
        self._signers[slot] = key

    def dh(self, slot: str) -> DhKey:
        self._alive()
        return self._dh[slot]

    def signer(self, slot: str) -> SigningKey:
        self._alive()
        try:
            return self._signers[slot]
        except KeyError:
            raise SecureElementError(f"the element holds no key {slot!r}") from None

    def drop_signer(self, slot: str) -> None:
        """Forget a signing key (a rotation replaced it); its handles raise from now on."""
        self._signers.pop(slot, None)

    def add_session(self, layer: RecordLayer) -> int:
        self._alive()
        if len(self._sessions) >= MAX_SESSIONS:
            raise SecureElementError(f"the element holds at most {MAX_SESSIONS} sessions")
        self._next_session += 1
        self._sessions[self._next_session] = layer
        return self._next_session

    def session(self, number: int) -> RecordLayer:
        self._alive()
        try:
            return self._sessions[number]
        except KeyError:
            raise SecureElementError(f"session {number} was released") from None

    def release_session(self, number: int) -> None:
        self._alive()
        self._sessions.pop(number, None)

    def zeroize(self) -> None:
        """Drop every key object and session; every handle raises from now on."""
        self.zeroized = True
        self._dh.clear()
        self._signers.clear()
        self._sessions.clear()


class DhKeyHandle:
    """A static Diffie-Hellman key inside the element (the DhKey protocol)."""

    __slots__ = ("_slot", "_vault")

    def __init__(self, vault: Vault, slot: str) -> None:
        self._vault = vault
        self._slot = slot

    @property
    def public_key(self) -> bytes:
        return self._vault.dh(self._slot).public_key

    @property
    def public_point(self) -> bytes:
        return self._vault.dh(self._slot).public_point

    def exchange(self, peer_public_key: bytes) -> bytes:
        """ECDH inside the element (RFC 9528 section 5.2 G_IY / G_RX for method 3)."""
        return self._vault.dh(self._slot).exchange(peer_public_key)


class SigningKeyHandle:
    """A signing key inside the element (the SigningKey protocol)."""

    __slots__ = ("_slot", "_vault")

    def __init__(self, vault: Vault, slot: str) -> None:
        self._vault = vault
        self._slot = slot

    @property
    def public_key(self) -> bytes:
        return self._vault.signer(self._slot).public_key

    def sign(self, message: bytes) -> bytes:
        return self._vault.signer(self._slot).sign(message)


class SessionHandle:
    """A record-layer session whose keys live in the element (docs/protocol.md)."""

    __slots__ = ("_number", "_vault")

    def __init__(self, vault: Vault, number: int) -> None:
        self._vault = vault
        self._number = number

    def seal(self, payload: bytes, record_type: RecordType = RecordType.APPLICATION_DATA) -> bytes:
        """:meth:`RecordLayer.seal` inside the element."""
        return self._vault.session(self._number).seal(payload, record_type)

    def open(self, record: bytes) -> Record:
        """:meth:`RecordLayer.open` inside the element."""
        return self._vault.session(self._number).open(record)

    @property
    def status(self) -> LayerStatus:
        return self._vault.session(self._number).status

    def release(self) -> None:
        """Erase the session's keys; the handle is dead afterwards."""
        self._vault.release_session(self._number)
