"""The meter's secure element (ESAM-style): keys that never leave, counters, tamper response.

The element generates and holds:

* an identity key per enabled cipher suite for EDHOC (RFC 9528 section 3.2): a static DH
  key for method 3 and/or a signing key for method 0 (:class:`KeyKind`);
* a data key that signs reading batches and tamper events.

It hands out handles (:mod:`meterseal.meter.se_handles`) that implement the DhKey and
SigningKey protocols, never key bytes. How it persists keys without exporting them: each
key is made by the algorithm's own ``generate`` from an rng that records what it returns;
only those recorded bytes (the *seed*) are kept, inside the encrypted state blob
(:mod:`meterseal.meter.se_state`), and ``load`` replays them through ``generate`` again and
checks the public key. No method returns a seed.

Monotonic counters are persisted on every increment through ``on_change`` (write-through,
before the value is returned), and ``load(min_generation=...)`` refuses an older blob.
A tamper event is recorded and signed with the data key *before* the keys are zeroized.
Randomness and time are parameters (``rng``, ``now``).

Key rotation (:mod:`meterseal.pki.rotation`): :meth:`SecureElement.begin_rotation` makes
a new signature identity key inside, beside the current one (a *pending* slot, persisted
like any key); both sign the rotation request. :meth:`SecureElement.commit_rotation`
makes the pending key the identity key and destroys the old one (its seed is
overwritten), once the meter holds the new credential.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType

from meterseal.crypto.interfaces import DhKey, Rng, SigningKey
from meterseal.crypto.suites import CipherSuite, get_suite
from meterseal.errors import SecureElementError, TamperedError, UnsupportedAlgorithmError
from meterseal.meter.se_handles import DhKeyHandle, SessionHandle, SigningKeyHandle, Vault
from meterseal.meter.se_state import (
    SALT_LENGTH,
    Kek,
    KeySlot,
    ScryptParams,
    SeState,
    derive_kek,
    open_state,
    seal_state,
)
from meterseal.meter.tamper import TamperEvent, tamper_to_be_signed
from meterseal.records.keys import Exporter
from meterseal.records.layer import RecordConfig, RecordLayer

OnChange = Callable[[bytes], None]
"""Receives the new state blob after every change, before the operation returns."""

MAX_COUNTERS = 32
MAX_NAME_LENGTH = 64
MAX_COUNTER = (1 << 64) - 1
DATA_SLOT = "data"


class KeyKind(StrEnum):
    """The kind of an EDHOC identity key (RFC 9528 section 3.2, authentication methods)."""

    STATIC_DH = "dh"
    """A static Diffie-Hellman key: the meter's side of method 3 (or 1/2)."""
    SIGNATURE = "sig"
    """A signature key: the meter's side of method 0 (or 1/2)."""


def _identity_slot(suite: int, kind: KeyKind) -> str:
    return f"identity/{suite}/{kind.value}"


def _pending_slot(suite: int) -> str:
    return f"{_identity_slot(suite, KeyKind.SIGNATURE)}/next"


class _RecordingRng:
    """Passes ``rng`` through and keeps every byte it returned (the key's seed)."""

    def __init__(self, rng: Rng) -> None:
        self._rng = rng
        self.drawn = bytearray()

    def __call__(self, n: int) -> bytes:
        out = self._rng(n)
        self.drawn += out
        return out


class _ReplayRng:
    """Returns a stored seed again, in the same pieces ``generate`` asks for."""

    def __init__(self, seed: bytearray) -> None:
        self._seed = seed
        self.offset = 0

    def __call__(self, n: int) -> bytes:
        if self.offset + n > len(self._seed):
            raise SecureElementError("stored key seed is shorter than its algorithm needs")
        out = bytes(self._seed[self.offset : self.offset + n])
        self.offset += n
        return out


def _suite(value: int) -> CipherSuite:
    try:
        return get_suite(value)
    except UnsupportedAlgorithmError as exc:
        raise SecureElementError(f"this build does not offer suite {value}") from exc


def _make_key(suite: int, kind: str, rng: Rng) -> DhKey | SigningKey:
    """``generate`` of the suite's DH curve or signature algorithm."""
    if kind == KeyKind.STATIC_DH:
        return _suite(suite).dh.generate(rng)
    if kind == KeyKind.SIGNATURE:
        return _suite(suite).signature.generate(rng)
    raise SecureElementError(f"unknown key kind {kind!r}")


def _new_slot(suite: int, kind: KeyKind, rng: Rng) -> KeySlot:
    recorder = _RecordingRng(rng)
    key = _make_key(suite, kind, recorder)
    return KeySlot(suite, kind.value, recorder.drawn, key.public_key)


def _check_rebuilt(slot: KeySlot, replay: _ReplayRng, public_key: bytes) -> None:
    if replay.offset != len(slot.seed) or public_key != slot.public_key:
        raise SecureElementError("a stored key does not rebuild to its public key")


def _rebuild_dh(slot: KeySlot) -> DhKey:
    """Replay a slot's seed through the curve's ``generate`` and check the public key."""
    replay = _ReplayRng(slot.seed)
    key = _suite(slot.suite).dh.generate(replay)
    _check_rebuilt(slot, replay, key.public_key)
    return key


def _rebuild_signer(slot: KeySlot) -> SigningKey:
    """Replay a slot's seed through the signature's ``generate`` and check the public key."""
    replay = _ReplayRng(slot.seed)
    key = _suite(slot.suite).signature.generate(replay)
    _check_rebuilt(slot, replay, key.public_key)
    return key


def _check_name(what: str, name: str) -> None:
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise SecureElementError(f"{what} must be 1 to {MAX_NAME_LENGTH} characters")


class SecureElement:
    """The meter's secure element. Build it with :meth:`create` or :meth:`load`."""

    __slots__ = ("_kek", "_on_change", "_rng", "_state", "_vault")

    def __init__(self, state: SeState, kek: Kek, rng: Rng, on_change: OnChange | None) -> None:
        """Internal: use :meth:`create` or :meth:`load`."""
        self._state = state
        self._kek = kek
        self._rng = rng
        self._on_change = on_change
        self._vault = Vault()
        self._install_keys()

    def _install_keys(self) -> None:
        if self._state.zeroized:
            self._vault.zeroize()
            return
        for name, slot in self._state.slots.items():
            if slot.kind == KeyKind.STATIC_DH:
                self._vault.put_dh(name, _rebuild_dh(slot))
            elif slot.kind == KeyKind.SIGNATURE:
                self._vault.put_signer(name, _rebuild_signer(slot))
            else:
                raise SecureElementError(f"unknown key kind {slot.kind!r}")

    # --- life cycle ---------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        suites: Sequence[CipherSuite],
        device_secret: bytes,
        rng: Rng,
        device_id: bytes = b"",
        data_suite: CipherSuite | None = None,
        kinds: Iterable[KeyKind] = (KeyKind.STATIC_DH, KeyKind.SIGNATURE),
        scrypt: ScryptParams | None = None,
        on_change: OnChange | None = None,
    ) -> SecureElement:
        """Generate every key inside a new element (factory personalisation).

        ``data_suite`` (default: the first suite) chooses the data key's signature
        algorithm. ``device_secret`` (a hardware-unique key) protects the state at rest.
        """
        if not suites:
            raise SecureElementError("a secure element needs at least one cipher suite")
        data = data_suite or suites[0]
        state = SeState(device_id, data.value, tuple(s.value for s in suites))
        identity_kinds = tuple(kinds)
        for suite in suites:
            for kind in identity_kinds:
                state.slots[_identity_slot(suite.value, kind)] = _new_slot(suite.value, kind, rng)
        state.slots[DATA_SLOT] = _new_slot(data.value, KeyKind.SIGNATURE, rng)
        kek = derive_kek(device_secret, rng(SALT_LENGTH), scrypt or ScryptParams())
        # Built from the seeds exactly as load() does: a key that would not rebuild fails
        # here, at personalisation, not in the field.
        element = cls(state, kek, rng, on_change)
        element._changed()
        return element

    @classmethod
    def load(
        cls,
        blob: bytes,
        device_secret: bytes,
        *,
        rng: Rng,
        min_generation: int = 0,
        on_change: OnChange | None = None,
    ) -> SecureElement:
        """Decrypt and rebuild an element from :meth:`save`'s blob, or raise and load nothing.

        ``min_generation`` is the last generation the caller saw: an older (rolled back)
        blob is refused, so counters never go backwards.
        """
        state, kek = open_state(blob, device_secret)
        if state.generation < min_generation:
            raise SecureElementError(
                f"state generation {state.generation} is older than {min_generation}"
            )
        return cls(state, kek, rng, on_change)

    def save(self) -> bytes:
        """The whole state, AEAD-sealed under the key-encryption key (se_state)."""
        return seal_state(self._state, self._kek, self._rng)

    def _changed(self) -> None:
        self._state.generation += 1
        if self._on_change is not None:
            self._on_change(self.save())

    # --- what the element tells -----------------------------------------------------------

    @property
    def device_id(self) -> bytes:
        return self._state.device_id

    @property
    def suites(self) -> tuple[int, ...]:
        """Values of the cipher suites the element holds identity keys for."""
        return self._state.suites

    @property
    def data_suite(self) -> int:
        """The suite whose signature algorithm the data key uses."""
        return self._state.data_suite

    @property
    def generation(self) -> int:
        """Increases with every persisted change (for ``load(min_generation=...)``)."""
        return self._state.generation

    @property
    def zeroized(self) -> bool:
        return self._state.zeroized

    @property
    def counters(self) -> Mapping[str, int]:
        """A read-only view of the monotonic counters."""
        return MappingProxyType(dict(self._state.counters))

    @property
    def tamper_log(self) -> tuple[TamperEvent, ...]:
        return tuple(self._state.tamper_log)

    # --- keys -----------------------------------------------------------------------------

    def _slot(self, name: str, what: str) -> str:
        """``name`` if the element holds that slot (a zeroized element: handles that raise)."""
        if not self._state.zeroized and name not in self._state.slots:
            raise SecureElementError(f"the element holds no {what}")
        return name

    def identity_dh_key(self, suite: CipherSuite) -> DhKey:
        """The static DH identity key for ``suite`` (EDHOC method 3)."""
        name = _identity_slot(suite.value, KeyKind.STATIC_DH)
        return DhKeyHandle(self._vault, self._slot(name, f"static DH key for suite {suite.value}"))

    def identity_signing_key(self, suite: CipherSuite) -> SigningKey:
        """The signature identity key for ``suite`` (EDHOC method 0)."""
        name = _identity_slot(suite.value, KeyKind.SIGNATURE)
        what = f"signature key for suite {suite.value}"
        return SigningKeyHandle(self._vault, self._slot(name, what))

    # --- rotation of the signature identity key -------------------------------------------

    def begin_rotation(self, suite: CipherSuite) -> SigningKey:
        """Generate a new signature identity key for ``suite`` inside the element (pending
        until :meth:`commit_rotation`), persist it, and return its handle. A rotation
        already pending is replaced by the new key."""
        if self._state.zeroized:
            raise TamperedError("the secure element was zeroized after a tamper event")
        current = _identity_slot(suite.value, KeyKind.SIGNATURE)
        self._slot(current, f"signature key for suite {suite.value}")
        name = _pending_slot(suite.value)
        self._forget(name)
        slot = _new_slot(suite.value, KeyKind.SIGNATURE, self._rng)
        self._state.slots[name] = slot
        self._vault.put_signer(name, _rebuild_signer(slot))
        self._changed()
        return SigningKeyHandle(self._vault, name)

    def pending_signing_key(self, suite: CipherSuite) -> SigningKey:
        """The pending identity key of a rotation begun for ``suite``."""
        name = _pending_slot(suite.value)
        return SigningKeyHandle(self._vault, self._slot(name, "pending rotation"))

    def commit_rotation(self, suite: CipherSuite) -> SigningKey:
        """Make the pending key the identity key; the old key is destroyed. Returns the
        identity key's handle (:meth:`identity_signing_key`)."""
        if self._state.zeroized:
            raise TamperedError("the secure element was zeroized after a tamper event")
        pending = _pending_slot(suite.value)
        self._slot(pending, "pending rotation")
        current = _identity_slot(suite.value, KeyKind.SIGNATURE)
        self._forget(current)
        self._state.slots[current] = self._state.slots.pop(pending)
        self._vault.put_signer(current, self._vault.signer(pending))
        self._vault.drop_signer(pending)
        self._changed()
        return self.identity_signing_key(suite)

    def _forget(self, name: str) -> None:
        """Destroy a slot's key: overwrite its seed, drop its live key."""
        slot = self._state.slots.pop(name, None)
        if slot is not None:
            slot.seed[:] = bytes(len(slot.seed))
            self._vault.drop_signer(name)

    @property
    def data_key(self) -> SigningKey:
        """The data signing key (reading batches, tamper events)."""
        return SigningKeyHandle(self._vault, DATA_SLOT)

    def sign_data(self, message: bytes) -> bytes:
        """Sign ``message`` with the data key."""
        return self._vault.signer(DATA_SLOT).sign(message)

    # --- counters, tamper, sessions -------------------------------------------------------

    def next_counter(self, name: str) -> int:
        """Increment counter ``name`` (1 on first use), persist, then return the value."""
        _check_name("counter name", name)
        counters = self._state.counters
        if name not in counters and len(counters) >= MAX_COUNTERS:
            raise SecureElementError(f"the element holds at most {MAX_COUNTERS} counters")
        value = counters.get(name, 0) + 1
        if value > MAX_COUNTER:
            raise SecureElementError(f"counter {name!r} is exhausted")
        counters[name] = value
        self._changed()
        return value

    def record_tamper(self, kind: str, now: int) -> TamperEvent:
        """Record a tamper signal, sign it with the data key, then zeroize every key.

        The signed event enters the tamper log before zeroization; the persisted state
        afterwards holds the log and the counters, but no key.
        """
        _check_name("tamper kind", kind)
        state = self._state
        seq = len(state.tamper_log) + 1
        signature = b""
        if not state.zeroized:
            tbs = tamper_to_be_signed(state.device_id, seq, kind, now)
            signature = self._vault.signer(DATA_SLOT).sign(tbs)
        event = TamperEvent(state.device_id, seq, kind, now, signature)
        state.tamper_log.append(event)
        self._zeroize()
        self._changed()
        return event

    def _zeroize(self) -> None:
        self._vault.zeroize()
        for slot in self._state.slots.values():
            slot.seed[:] = bytes(len(slot.seed))
        self._state.slots.clear()
        self._state.zeroized = True

    def install_session(
        self,
        suite: CipherSuite,
        exporter: Exporter,
        c_i: bytes,
        c_r: bytes,
        *,
        initiator: bool,
        config: RecordConfig | None = None,
    ) -> SessionHandle:
        """Derive a record session inside the element (docs/protocol.md)."""
        make = RecordLayer.for_initiator if initiator else RecordLayer.for_responder
        number = self._vault.add_session(make(suite, exporter, c_i, c_r, config))
        return SessionHandle(self._vault, number)
