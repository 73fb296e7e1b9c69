"""Attacker modes for tests and the demo: what a hostile meter or network can try.

Each mode connects to a head-end at ``host:port``, tries something the protocol must
refuse (docs/protocol.md section 10), and returns :class:`AttackReport` entries saying what
it tried, what happened, and whether the head-end defended itself as the contract
(docs/protocol.md section 5) requires:

===================  ===============================================================
mode                 tries                                        defended if
===================  ===============================================================
replay               a captured record again in its session; in   no second ack; DUPLICATE
                     a new session; an acked signed batch again;  (never a second ACCEPTED);
                     an old message_1 + message_3 on a new TCP    the handshake fails
forged-signature     a batch with a flipped signature bit; one    REJECTED
                     signed by a key the head-end never saw
wrong-key            a registered meter id with other keys        the handshake fails
unregistered         a meter id the registry does not know        the handshake fails
garbage-frames       unknown kind, oversized and empty frames, a  the head-end closes the
                     RECORD before the handshake, a bad message_1 connection
slow-sender          message_1 one byte at a time, then silence;  closed within the
                     a connection that never sends anything       handshake limit (+ grace)
===================  ===============================================================

The replay and forged-signature modes drive a genuine, registered meter (``victim``):
they stand for an on-path attacker injecting into its stream, and for a meter whose
communication module is compromised but whose secure element is not.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from meterseal.crypto.interfaces import Rng
from meterseal.crypto.suites import SUITE_2, CipherSuite
from meterseal.edhoc.encoding import split_sequence
from meterseal.edhoc.messages import ErrorMessage, Method, is_error_message
from meterseal.errors import MeterSealError, PeerReportedError
from meterseal.framing import FrameDecoder, FrameKind, encode_frame
from meterseal.messages.acks import AckStatus, BatchAck
from meterseal.messages.readings import MeterType
from meterseal.messages.sealing import open_batch, peek_batch_header, seal_batch
from meterseal.meter.metering import INTERVALS_PER_DAY, build_batch
from meterseal.meter.provisioning import MeterRegistry, ProvisionedMeter, make_meter, register
from meterseal.meter.session import (
    BatchAcknowledged,
    MeterSession,
    SessionError,
    SessionEvent,
)
from meterseal.meter.trust import HeadendTrust

DAY: Final = 86_400


class AttackMode(StrEnum):
    """The attacker modes."""

    REPLAY = "replay"
    FORGED_SIGNATURE = "forged-signature"
    WRONG_KEY = "wrong-key"
    UNREGISTERED = "unregistered"
    GARBAGE_FRAMES = "garbage-frames"
    SLOW_SENDER = "slow-sender"


@dataclass(frozen=True, slots=True)
class AttackReport:
    """One attempt: what the attacker tried, what happened, and whether it was refused."""

    mode: AttackMode
    tried: str
    outcome: str
    defended: bool


@dataclass(frozen=True, slots=True)
class Target:
    """The head-end under attack, and how long the attacker waits for reactions."""

    host: str
    port: int
    timeout: float = 5.0
    handshake_limit: float = 10.0
    grace: float = 2.0
    dribble_interval: float = 0.05


@dataclass(eq=False)
class AttackKit:
    """The attackers' meters: a genuine one, an impostor with other keys, a stranger."""

    victim: ProvisionedMeter
    impostor: ProvisionedMeter
    stranger: ProvisionedMeter
    start: int
    rng: Rng = os.urandom
    batches: int = 0

    def next_signed(self) -> tuple[int, bytes]:
        """The victim's next day of readings, signed in its secure element."""
        start = self.start + self.batches * DAY
        self.batches += 1
        batch = build_batch(self.victim.model, start, INTERVALS_PER_DAY)
        return batch.batch_seq, self.victim.seal(batch)


def prepare_attack_kit(
    trust: HeadendTrust,
    registry: MeterRegistry,
    *,
    rng: Rng = os.urandom,
    suite: CipherSuite = SUITE_2,
    registered_at: int = 0,
    start: int = 1_735_689_600,
    prefix: str = "ATK",
) -> AttackKit:
    """Provision the attackers' meters; register the victim (and so the impostor's id)."""

    def meter(meter_id: str, seed: int) -> ProvisionedMeter:
        """An electricity meter of ``suite``, method 3."""
        kind, method = MeterType.ELECTRICITY, Method.STATIC_STATIC
        return make_meter(meter_id, kind, suite, method, trust, rng=rng, model_seed=seed)

    victim = meter(f"{prefix}-VICTIM", 1)
    register(registry, victim, registered_at=registered_at)
    impostor = meter(f"{prefix}-VICTIM", 2)
    return AttackKit(victim, impostor, meter(f"{prefix}-STRANGER", 3), start, rng)


# --- a raw connection -------------------------------------------------------------------


class _Probe:
    """A TCP connection the attacker controls byte by byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, target: Target) -> _Probe:
        """Connect to the target."""
        opening = asyncio.open_connection(target.host, target.port)
        reader, writer = await asyncio.wait_for(opening, target.timeout)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        """Write and drain."""
        self.writer.write(data)
        await self.writer.drain()

    async def read(self, timeout: float) -> bytes | None:
        """Bytes that arrived, or None at end of stream; TimeoutError if none came."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except ConnectionError:
            return None
        return data or None

    async def closed_within(self, timeout: float) -> tuple[bool, bytes]:
        """(True if the peer closed within ``timeout``, everything it sent before)."""
        received = bytearray()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with suppress(TimeoutError):
            while (data := await self.read(max(deadline - loop.time(), 0.0))) is not None:
                received += data
            return True, bytes(received)
        return False, bytes(received)

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()


def _edhoc_error_code(received: bytes) -> int | None:
    """The ERR_CODE of the first EDHOC error frame in ``received``, if any."""
    with suppress(MeterSealError):
        for frame in FrameDecoder().feed(received):
            items = split_sequence(frame.body) if frame.kind is FrameKind.EDHOC else []
            if is_error_message(items):
                return ErrorMessage.from_items(items).code
    return None


def _closed_outcome(closed: bool, received: bytes) -> str:
    code = _edhoc_error_code(received)
    said = f"EDHOC error ERR_CODE {code}" if code is not None else f"{len(received)} bytes"
    return f"{'closed' if closed else 'still open'} after {said}"


# --- sessions of a genuine meter ----------------------------------------------------------


class _Session:
    """A meter session over a probe, recording the frames it sent."""

    def __init__(self, meter: ProvisionedMeter, probe: _Probe, kit: AttackKit) -> None:
        self.meter = meter
        self.probe = probe
        self.session = MeterSession(meter.session_config(), kit.rng)
        self.sent: list[bytes] = []

    async def send(self, frame: bytes) -> None:
        """Send a frame the session produced, and remember it."""
        if frame:
            self.sent.append(frame)
            await self.probe.send(frame)

    async def handshake(self, timeout: float) -> None:
        """Run EDHOC to completion (raises if the head-end refuses)."""
        await self.send(self.session.start())
        while not self.session.established:
            await self.step(timeout)

    async def step(self, timeout: float) -> list[SessionEvent]:
        """Read once, feed the session, send its replies."""
        data = await self.probe.read(timeout)
        if data is None:
            raise ConnectionError("the head-end closed the connection")
        try:
            return self.session.receive(data, int(time.time()))
        finally:
            await self.send(self.session.data_to_send())

    async def until_ack(self, batch_seq: int, timeout: float) -> list[BatchAck]:
        """Every ack up to and including the one for ``batch_seq`` (acks may lag pongs:
        the head-end acknowledges only once a batch is durable)."""
        acks: list[BatchAck] = []
        while not any(ack.batch_seq == batch_seq for ack in acks):
            acks += _acks(await self.step(timeout))
        return acks

    def close(self) -> None:
        """Release the record keys and close the connection."""
        self.session.release()
        self.probe.close()


async def _open_session(kit: AttackKit, target: Target, meter: ProvisionedMeter) -> _Session:
    session = _Session(meter, await _Probe.open(target), kit)
    try:
        await session.handshake(target.timeout)
    except BaseException:
        session.close()
        raise
    return session


def _acks(events: Sequence[SessionEvent]) -> list[BatchAck]:
    return [e.ack for e in events if isinstance(e, BatchAcknowledged)]


async def _upload(session: _Session, signed: bytes, timeout: float) -> tuple[bytes, BatchAck]:
    """Send one batch; return its frame and its ack."""
    _, batch_seq = peek_batch_header(signed)
    frame = session.session.send_batch(signed)
    await session.probe.send(frame)
    acks = await session.until_ack(batch_seq, timeout)
    return frame, acks[-1]


async def _acks_after_injection(
    kit: AttackKit, session: _Session, frame: bytes, timeout: float
) -> list[BatchAck] | None:
    """Inject ``frame``, then upload a fresh marker batch; the acks that came for anything
    but the marker, or None if an ack arrived for a batch not in flight (the head-end
    processed the injected record)."""
    await session.probe.send(frame)
    marker, signed = kit.next_signed()
    try:
        await session.probe.send(session.session.send_batch(signed))
        acks = await session.until_ack(marker, timeout)
    except SessionError:
        return None
    return [ack for ack in acks if ack.batch_seq != marker]


def _injection_report(tried: str, acks: list[BatchAck] | None, why: str) -> AttackReport:
    if acks is None:
        return AttackReport(AttackMode.REPLAY, tried, "acked as if it were new", False)
    outcome = f"{len(acks)} ack(s) for it; {why}"
    return AttackReport(AttackMode.REPLAY, tried, outcome, not acks)


# --- the modes ------------------------------------------------------------------------


async def _guarded(mode: AttackMode, tried: str, attempt: Awaitable[AttackReport]) -> AttackReport:
    """Await one attempt; a connection the head-end closed on us counts as refused."""
    try:
        return await attempt
    except (OSError, TimeoutError, MeterSealError) as exc:
        return AttackReport(mode, tried, f"connection ended: {type(exc).__name__}: {exc}", True)


async def replay(kit: AttackKit, target: Target) -> list[AttackReport]:
    """Replay records (same and new session), an acked batch, and an old handshake."""
    mode = AttackMode.REPLAY
    first = await _open_session(kit, target, kit.victim)
    try:
        seq, signed = kit.next_signed()
        frame, ack = await _upload(first, signed, target.timeout)
        tried = "resend a record in its session"
        same = await _guarded(mode, tried, _same(kit, first, frame, target.timeout))
    finally:
        first.close()
    tried_new = "inject a captured record into a new session"
    tried_batch = f"upload acked batch {seq} again"
    return [
        same,
        await _guarded(mode, tried_new, _new_session_record(kit, target, frame)),
        await _guarded(mode, tried_batch, _old_batch(kit, target, signed, ack)),
        await _guarded(mode, "replay message_1 and message_3", _handshake(kit, target)),
    ]


async def _same(kit: AttackKit, session: _Session, frame: bytes, timeout: float) -> AttackReport:
    acks = await _acks_after_injection(kit, session, frame, timeout)
    why = "the replay window dropped it"
    return _injection_report("resend a record in its session", acks, why)


async def _new_session_record(kit: AttackKit, target: Target, frame: bytes) -> AttackReport:
    session = await _open_session(kit, target, kit.victim)
    try:
        acks = await _acks_after_injection(kit, session, frame, target.timeout)
    finally:
        session.close()
    why = "it did not authenticate under the new keys"
    return _injection_report("inject a captured record into a new session", acks, why)


async def _old_batch(
    kit: AttackKit, target: Target, signed: bytes, first: BatchAck
) -> AttackReport:
    session = await _open_session(kit, target, kit.victim)
    try:
        _, ack = await _upload(session, signed, target.timeout)
    finally:
        session.close()
    outcome = f"first {first.status.name}, replay {ack.status.name}"
    tried = f"upload acked batch {first.batch_seq} again"
    return AttackReport(AttackMode.REPLAY, tried, outcome, ack.status is not AckStatus.ACCEPTED)


async def _handshake(kit: AttackKit, target: Target) -> AttackReport:
    """Capture message_1 and message_3 of a genuine session, replay them on a new one."""
    genuine = await _open_session(kit, target, kit.victim)
    message_1, message_3 = genuine.sent[0], genuine.sent[1]
    genuine.close()
    probe = await _Probe.open(target)
    try:
        await probe.send(message_1)
        await probe.read(target.timeout)
        await probe.send(message_3)
        closed, received = await probe.closed_within(target.timeout)
    finally:
        probe.close()
    code = _edhoc_error_code(received)
    tried = "replay message_1 and message_3"
    outcome = _closed_outcome(closed, received)
    return AttackReport(AttackMode.REPLAY, tried, outcome, closed or code is not None)


async def forged_signature(kit: AttackKit, target: Target) -> list[AttackReport]:
    """A flipped signature bit, and a batch signed by a key the head-end never registered."""
    mode = AttackMode.FORGED_SIGNATURE
    _, signed = kit.next_signed()
    flipped = signed[:-1] + bytes([signed[-1] ^ 0x01])
    _, other = kit.next_signed()
    batch_seq, foreign = _resign(kit, other)
    tries = [
        ("flip one bit of a batch signature", flipped),
        (f"sign batch {batch_seq} with an unregistered key", foreign),
    ]
    reports = []
    for tried, data in tries:
        attempt = _forged(kit, target, tried, data)
        reports.append(await _guarded(mode, tried, attempt))
    return reports


def _resign(kit: AttackKit, signed: bytes) -> tuple[int, bytes]:
    """The same batch, signed by the stranger's data key."""
    victim = kit.victim
    batch = open_batch(signed, victim.suite.signature, victim.element.data_key.public_key)
    return batch.batch_seq, seal_batch(batch, kit.stranger.element.data_key, victim.suite.signature)


async def _forged(kit: AttackKit, target: Target, tried: str, signed: bytes) -> AttackReport:
    session = await _open_session(kit, target, kit.victim)
    try:
        _, ack = await _upload(session, signed, target.timeout)
    finally:
        session.close()
    outcome = f"{ack.status.name} {ack.reason.name}"
    return AttackReport(
        AttackMode.FORGED_SIGNATURE, tried, outcome, ack.status is AckStatus.REJECTED
    )


async def _refused_handshake(
    kit: AttackKit, target: Target, meter: ProvisionedMeter, mode: AttackMode, tried: str
) -> list[AttackReport]:
    try:
        session = await _open_session(kit, target, meter)
    except PeerReportedError as exc:
        return [AttackReport(mode, tried, f"EDHOC error ERR_CODE {exc.wire_code}", True)]
    except (OSError, TimeoutError, MeterSealError) as exc:
        return [AttackReport(mode, tried, f"refused: {type(exc).__name__}", True)]
    session.close()
    return [AttackReport(mode, tried, "handshake completed", False)]


async def wrong_key(kit: AttackKit, target: Target) -> list[AttackReport]:
    """A registered meter id, but keys other than the registered ones."""
    tried = f"authenticate as {kit.impostor.meter_id} with other keys"
    return await _refused_handshake(kit, target, kit.impostor, AttackMode.WRONG_KEY, tried)


async def unregistered(kit: AttackKit, target: Target) -> list[AttackReport]:
    """A meter id the head-end's registry does not hold."""
    tried = f"authenticate as unregistered {kit.stranger.meter_id}"
    return await _refused_handshake(kit, target, kit.stranger, AttackMode.UNREGISTERED, tried)


GARBAGE: Final[tuple[tuple[str, bytes], ...]] = (
    ("a frame of unknown kind 0x07", b"\x00\x05\x07junk"),
    ("a frame header announcing 65534 bytes", b"\xff\xff\x01" + bytes(64)),
    ("a frame of length 0", b"\x00\x00\x01"),
    ("a RECORD frame before the handshake", encode_frame(FrameKind.RECORD, bytes(40))),
    ("an EDHOC frame that is no message_1", encode_frame(FrameKind.EDHOC, b"\xff\x00garbage")),
)


async def garbage_frames(kit: AttackKit, target: Target) -> list[AttackReport]:
    """Frames that break docs/protocol.md section 2; each must close the connection."""
    del kit
    return [await _garbage(target, tried, data) for tried, data in GARBAGE]


async def _garbage(target: Target, tried: str, data: bytes) -> AttackReport:
    probe = await _Probe.open(target)
    try:
        await probe.send(data)
        closed, received = await probe.closed_within(target.timeout)
    except OSError:
        closed, received = True, b""
    finally:
        probe.close()
    return AttackReport(AttackMode.GARBAGE_FRAMES, tried, _closed_outcome(closed, received), closed)


async def slow_sender(kit: AttackKit, target: Target) -> list[AttackReport]:
    """Dribble message_1 and stall; and a connection that never says anything."""
    return list(await asyncio.gather(_dribble(kit, target), _silent(target)))


async def _dribble(kit: AttackKit, target: Target) -> AttackReport:
    message_1 = MeterSession(kit.victim.session_config(), kit.rng).start()
    tried = f"send message_1 one byte every {target.dribble_interval} s, then stall"
    return await _stall(target, tried, message_1)


async def _silent(target: Target) -> AttackReport:
    return await _stall(target, "open a connection and send nothing", b"")


async def _stall(target: Target, tried: str, dribble: bytes) -> AttackReport:
    probe = await _Probe.open(target)
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        for byte in dribble:
            await probe.send(bytes([byte]))
            await asyncio.sleep(target.dribble_interval)
        left = target.handshake_limit + target.grace - (loop.time() - began)
        closed, _ = await probe.closed_within(max(left, 0.0))
    except OSError:
        closed = True
    finally:
        probe.close()
    outcome = f"{'closed' if closed else 'still open'} after {loop.time() - began:.1f} s"
    return AttackReport(AttackMode.SLOW_SENDER, tried, outcome, closed)


MODES: Final[dict[AttackMode, Callable[[AttackKit, Target], Awaitable[list[AttackReport]]]]] = {
    AttackMode.REPLAY: replay,
    AttackMode.FORGED_SIGNATURE: forged_signature,
    AttackMode.WRONG_KEY: wrong_key,
    AttackMode.UNREGISTERED: unregistered,
    AttackMode.GARBAGE_FRAMES: garbage_frames,
    AttackMode.SLOW_SENDER: slow_sender,
}


async def run_attacks(
    kit: AttackKit, target: Target, modes: Sequence[AttackMode | str] = tuple(AttackMode)
) -> list[AttackReport]:
    """Run the modes one after the other; every attempt reports, none raises."""
    reports: list[AttackReport] = []
    for mode in modes:
        attack = MODES[AttackMode(mode)]
        try:
            reports += await attack(kit, target)
        except (OSError, TimeoutError, MeterSealError) as exc:
            outcome = f"attack aborted: {type(exc).__name__}: {exc}"
            reports.append(AttackReport(AttackMode(mode), "(setup)", outcome, False))
    return reports
