"""The record layer: sans-IO protection of application data after an EDHOC handshake.

``RecordLayer`` is a pure state machine in the h11 style: :meth:`RecordLayer.seal` turns a
payload into record bytes and :meth:`RecordLayer.open` turns record bytes into a
:class:`~meterseal.records.wire.Record`. It does no I/O, reads no clock and draws no
randomness; the transport, the meter simulator and the tests all wrap it.

Sending (docs/protocol.md section 6.5): sequence numbers start at 0 in every epoch
and increase by one; after ``limit`` records (a fraction of the AEAD's ``max_messages``,
draft-irtf-cfrg-aead-limits) the sender ratchets to the next epoch before sealing.

Receiving (section 5.6): the key phase bit selects the current epoch or the next one; the
replay window (RFC 4303 section 3.4.3) is checked before decryption and moved only after
the record authenticated, so every rejected record leaves the state exactly as it was.
A record of the next epoch that authenticates makes it current; the older keys are erased.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from meterseal.crypto.suites import CipherSuite
from meterseal.errors import DecryptionError, KeyLimitError, RecordError
from meterseal.records import keys as ks
from meterseal.records import window
from meterseal.records.keys import EpochKeys, Exporter
from meterseal.records.wire import MAX_SEQ, Record, RecordType, encode_header, parse_header

_new_record = tuple.__new__
"""Builds a :class:`Record` without NamedTuple's Python-level ``__new__`` (hot path)."""


@dataclass(frozen=True, slots=True)
class RecordConfig:
    """When the sending direction moves to the next epoch, and when it must stop.

    ``update_after`` (records per epoch) overrides ``update_fraction`` (of the record
    AEAD's ``max_messages``). ``max_epoch`` is the last epoch a session may reach; past it
    :meth:`RecordLayer.seal` raises :class:`KeyLimitError` and the application runs a new
    EDHOC handshake.
    """

    update_fraction: float = 0.5
    update_after: int | None = None
    max_epoch: int = ks.MAX_EPOCH

    def __post_init__(self) -> None:
        """Raise :class:`RecordError` for a setting no session could use."""
        if not 0.0 < self.update_fraction <= 1.0:
            raise RecordError(f"update_fraction must be in (0, 1], got {self.update_fraction}")
        if self.update_after is not None and self.update_after < 1:
            raise RecordError(f"update_after must be at least 1, got {self.update_after}")
        if not 0 <= self.max_epoch <= ks.MAX_EPOCH:
            raise RecordError(f"max_epoch must be in [0, {ks.MAX_EPOCH}], got {self.max_epoch}")

    def records_per_epoch(self, suite: CipherSuite) -> int:
        """The sender's per-epoch limit for ``suite``, at most the AEAD's usage limit."""
        ceiling = min(suite.record_aead.max_messages, MAX_SEQ + 1)
        if self.update_after is not None:
            limit = self.update_after
        else:
            limit = max(1, int(suite.record_aead.max_messages * self.update_fraction))
        if limit > ceiling:
            raise RecordError(f"records per epoch must be at most {ceiling}, got {limit}")
        return limit


class LayerStatus(NamedTuple):
    """A read-only view of every field of a layer's mutable state (no key material)."""

    send_epoch: int
    send_seq: int
    send_closed: bool
    update_pending: bool
    recv_epoch: int
    recv_top: int
    recv_bitmap: int
    recv_closed: bool


class _Sender:
    """One sending direction: the epoch secret S_e, its keys and the next sequence number."""

    __slots__ = (
        "closed",
        "keys",
        "limit",
        "max_epoch",
        "secret",
        "sender_id",
        "seq",
        "suite",
        "update_pending",
    )

    def __init__(
        self, suite: CipherSuite, secret: bytes, sender_id: bytes, cfg: RecordConfig
    ) -> None:
        self.suite = suite
        self.sender_id = sender_id
        self.secret = secret
        self.keys = ks.epoch_keys(suite, secret, sender_id, 0)
        self.seq = 0
        self.limit = cfg.records_per_epoch(suite)
        self.max_epoch = cfg.max_epoch
        self.update_pending = False
        self.closed = False

    def ratchet(self) -> None:
        """Move to the next epoch (S_e is replaced by S_{e+1} and forgotten)."""
        epoch = self.keys.epoch
        if epoch >= self.max_epoch:
            raise KeyLimitError(f"epoch {epoch} is the last; run a new EDHOC handshake")
        secret = ks.next_epoch_secret(self.suite, self.secret, self.sender_id, epoch)
        self.keys = ks.epoch_keys(self.suite, secret, self.sender_id, epoch + 1)
        self.secret = secret
        self.seq = 0
        self.update_pending = False


class _Receiver:
    """One receiving direction: current and next epoch keys, and the replay window."""

    __slots__ = (
        "bitmap",
        "closed",
        "current",
        "max_epoch",
        "max_seq",
        "next",
        "secret",
        "sender_id",
        "suite",
        "top",
    )

    def __init__(
        self, suite: CipherSuite, secret: bytes, sender_id: bytes, cfg: RecordConfig
    ) -> None:
        self.suite = suite
        self.sender_id = sender_id
        self.max_epoch = cfg.max_epoch
        self.max_seq = min(suite.record_aead.max_messages - 1, MAX_SEQ)
        self.current = ks.epoch_keys(suite, secret, sender_id, 0)
        self.secret = secret
        self.next: EpochKeys | None = None
        self._derive_next()
        self.top = -1
        self.bitmap = 0
        self.closed = False

    def _derive_next(self) -> None:
        """Derive S_{e+1} and its keys from S_e, then forget S_e."""
        epoch = self.current.epoch
        if epoch >= self.max_epoch:
            self.next = None
            return
        self.secret = ks.next_epoch_secret(self.suite, self.secret, self.sender_id, epoch)
        self.next = ks.epoch_keys(self.suite, self.secret, self.sender_id, epoch + 1)

    def switch(self) -> None:
        """Make the next epoch current, drop the old keys and open a fresh window."""
        assert self.next is not None  # noqa: S101 - callers switch only to a derived epoch
        self.current = self.next
        self._derive_next()
        self.top = -1
        self.bitmap = 0


class RecordLayer:
    """Protects records in both directions of one EDHOC session (sans-IO).

    Build it with :meth:`for_initiator` or :meth:`for_responder` from the suite that
    EDHOC selected, the session's exporter and the connection identifiers.
    """

    __slots__ = ("_recv", "_send", "_tag_length", "suite")

    def __init__(
        self,
        suite: CipherSuite,
        exporter: Exporter,
        own_sender_id: bytes,
        peer_sender_id: bytes,
        config: RecordConfig | None = None,
    ) -> None:
        cfg = config or RecordConfig()
        ks.check_sender_ids(suite, own_sender_id, peer_sender_id)
        prk = ks.master_prk(suite, exporter)
        self.suite = suite
        self._tag_length = suite.record_aead.tag_length
        self._send = _Sender(
            suite, ks.first_epoch_secret(suite, prk, own_sender_id), own_sender_id, cfg
        )
        peer_secret = ks.first_epoch_secret(suite, prk, peer_sender_id)
        self._recv = _Receiver(suite, peer_secret, peer_sender_id, cfg)

    @classmethod
    def for_initiator(
        cls,
        suite: CipherSuite,
        exporter: Exporter,
        c_i: bytes,
        c_r: bytes,
        config: RecordConfig | None = None,
    ) -> RecordLayer:
        """The initiator's layer: it sends with sender id C_R (RFC 9528 appendix A.1)."""
        return cls(suite, exporter, c_r, c_i, config)

    @classmethod
    def for_responder(
        cls,
        suite: CipherSuite,
        exporter: Exporter,
        c_i: bytes,
        c_r: bytes,
        config: RecordConfig | None = None,
    ) -> RecordLayer:
        """The responder's layer: it sends with sender id C_I (RFC 9528 appendix A.1)."""
        return cls(suite, exporter, c_i, c_r, config)

    @property
    def overhead(self) -> int:
        """Bytes a record adds to its payload at most (flags, longest seq, AEAD tag)."""
        return len(encode_header(0, 0, self._send.limit - 1)) + self._tag_length

    @property
    def status(self) -> LayerStatus:
        """Epochs, sequence numbers, replay window and close flags of both directions."""
        s, r = self._send, self._recv
        return LayerStatus(
            s.keys.epoch,
            s.seq,
            s.closed,
            s.update_pending,
            r.current.epoch,
            r.top,
            r.bitmap,
            r.closed,
        )

    def request_key_update(self) -> bytes:
        """A KEY_UPDATE record: the peer moves its sending direction to its next epoch."""
        return self.seal(b"", RecordType.KEY_UPDATE)

    def update_keys(self) -> None:
        """Send the next record under the next epoch (repeated calls before it coalesce)."""
        self._send.update_pending = True

    def close(self, reason: bytes = b"") -> bytes:
        """The CLOSE record; nothing more can be sealed afterwards."""
        return self.seal(reason, RecordType.CLOSE)

    def seal(self, payload: bytes, record_type: RecordType = RecordType.APPLICATION_DATA) -> bytes:
        """Protect ``payload`` as the next record (docs/protocol.md section 6.5).

        Raises :class:`RecordError` after CLOSE, :class:`KeyLimitError` when the last epoch
        is used up. A failed call consumes no sequence number.
        """
        s = self._send
        if s.closed:
            raise RecordError("sending direction is closed")
        if s.seq >= s.limit or s.update_pending:
            s.ratchet()
        keys = s.keys
        seq = s.seq
        header = encode_header(record_type, keys.epoch & 1, seq)
        nonce = (keys.nonce_base ^ seq).to_bytes(keys.nonce_length, "big")
        s.seq = seq + 1
        if record_type is RecordType.CLOSE:
            s.closed = True
        return header + keys.aead.seal(nonce, payload, header + keys.aad_suffix)

    def open(self, record: bytes) -> Record:
        """Authenticate and decrypt one record (docs/protocol.md section 6.6).

        Raises :class:`ReplayError` for a repeated or too old sequence number, and
        :class:`RecordError` for anything else wrong (malformed, unknown type or version,
        wrong key, modified bytes); the state is then unchanged. This is the hot path:
        the steps are inlined on purpose.
        """
        r = self._recv
        if r.closed:
            raise RecordError("receiving direction is closed")
        record_type, phase, seq, header_length = parse_header(record, self._tag_length)
        if seq > r.max_seq:
            raise RecordError(f"sequence number {seq} exceeds the AEAD usage limit")
        is_next = phase != r.current.epoch & 1
        if is_next:
            keys = self._next_keys()
        else:
            keys = r.current
            window.check(r.top, r.bitmap, seq)
        nonce = (keys.nonce_base ^ seq).to_bytes(keys.nonce_length, "big")
        try:
            payload = keys.aead.open(
                nonce, record[header_length:], record[:header_length] + keys.aad_suffix
            )
        except DecryptionError as exc:
            raise RecordError("record did not authenticate") from exc
        self._commit(record_type, is_next, seq)
        return _new_record(Record, (record_type, keys.epoch, seq, payload))

    def _next_keys(self) -> EpochKeys:
        """The next epoch's keys, or raise if the session may not reach it."""
        keys = self._recv.next
        if keys is None:
            raise RecordError("record of an epoch beyond the session's last")
        return keys

    def _commit(self, record_type: RecordType, is_next: bool, seq: int) -> None:
        """Apply an authenticated record: switch epochs, move the window, act on its type."""
        r = self._recv
        if is_next:
            r.switch()
        r.top, r.bitmap = window.accept(r.top, r.bitmap, seq)
        if record_type is RecordType.CLOSE:
            r.closed = True
        elif record_type is RecordType.KEY_UPDATE:
            self._send.update_pending = True
