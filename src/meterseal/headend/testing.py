"""A minimal meter for testing and benchmarking the head-end: keys, batches, a TCP client.

Not the meter (that is :mod:`meterseal.meter`, with its secure element and its
store-and-forward buffer): just enough of one to drive the head-end over real sockets.
:func:`make_meter` makes software keys (tests and benchmarks only); :class:`MeterLink`
connects, runs EDHOC as the Initiator (docs/protocol.md section 5), keys the record layer
and exchanges application messages. :func:`sample_keys` gives the head-end deterministic
identities and command keys, so that worker processes and clients agree on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, ParamSpec

from meterseal.crypto.interfaces import Rng, SigningKey
from meterseal.crypto.suites import SUITE_2, CipherSuite, get_suite
from meterseal.edhoc import (
    CredentialNeeded,
    Initiator,
    InitiatorConfig,
    LocalIdentity,
    Method,
    connection_id,
)
from meterseal.edhoc.testing import make_identity
from meterseal.errors import MeterSealError
from meterseal.framing import Frame, FrameDecoder, FrameKind, encode_frame
from meterseal.headend.config import HeadendKeys
from meterseal.messages import (
    AppMessage,
    BatchAck,
    ElectricityReadings,
    MeterType,
    ReadingBatch,
    SignedBatch,
    VolumeReadings,
    decode_app_message,
    encode_app_message,
    seal_batch,
)
from meterseal.records import RecordLayer, RecordType
from meterseal.store import MeterRecord

P = ParamSpec("P")

T0 = 1_736_121_600
"""2025-01-06T00:00:00Z: the first interval of the sample batches."""
HEADEND_KID = b"HE"


def async_test(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run a coroutine test function in a fresh event loop (no asyncio plugin needed)."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def seeded(label: str) -> Rng:
    """Deterministic bytes for test keys (NEVER for real keys)."""
    return random.Random(label).randbytes  # noqa: S311 - test keys only


def headend_identities(suite: CipherSuite = SUITE_2) -> dict[tuple[int, Method], LocalIdentity]:
    """Deterministic head-end identities for every method of ``suite``."""
    static = make_identity(suite, signs=False, rng=seeded(f"he-dh-{suite.value}"), kid=HEADEND_KID)
    signing = make_identity(suite, signs=True, rng=seeded(f"he-sig-{suite.value}"), kid=HEADEND_KID)
    return {(suite.value, m): signing if m.responder_signs else static for m in Method}


def command_key(suite: CipherSuite = SUITE_2) -> SigningKey:
    """The deterministic command-signing key for ``suite``."""
    return suite.signature.from_private_bytes(seeded(f"he-cmd-{suite.value}")(32))


def sample_keys(suites: tuple[int, ...] = (2,)) -> HeadendKeys:
    """Deterministic head-end keys for ``suites`` (a picklable key source for workers)."""
    identities: dict[tuple[int, Method], LocalIdentity] = {}
    for value in suites:
        identities |= headend_identities(get_suite(value))
    commands = {value: command_key(get_suite(value)) for value in suites}
    return HeadendKeys(identities, commands, HEADEND_KID)


def electricity_batch(meter_id: str, seq: int, count: int = 96) -> ReadingBatch:
    """``count`` quarter-hours of plausible electricity readings (batch ``seq``)."""
    rng = random.Random(f"{meter_id}/{seq}")  # noqa: S311 - sample data
    energy = [1_000_000 + seq * 100_000]
    for _ in range(count - 1):
        energy.append(energy[-1] + rng.randrange(400))
    readings = ElectricityReadings(
        index=tuple(range(count)),
        energy_import_wh=tuple(energy),
        energy_export_wh=tuple(range(count)),
        voltage_dv=tuple(rng.randrange(2250, 2350) for _ in range(count)),
        current_ma=tuple(rng.randrange(100, 20_000) for _ in range(count)),
        power_w=tuple(rng.randrange(-3000, 5000) for _ in range(count)),
    )
    start = T0 + seq * count * 900
    return ReadingBatch(meter_id, seq, MeterType.ELECTRICITY, start, 900, "1.0", readings)


def volume_batch(meter_id: str, seq: int, meter_type: MeterType = MeterType.WATER) -> ReadingBatch:
    """Three water (or gas) readings in decilitres, with one interval not frozen."""
    readings = VolumeReadings(index=(0, 1, 3), volume_dl=(123_451, 123_457, 123_470))
    return ReadingBatch(meter_id, seq, meter_type, T0 + seq * 3600, 900, "1.0", readings)


@dataclass
class SimMeter:
    """A meter's keys and registration."""

    meter_id: str
    suite: CipherSuite
    method: Method
    identity: LocalIdentity
    data_key: SigningKey
    meter_type: str = "electricity"

    def record(self, state: str = "registered") -> MeterRecord:
        """The registry row of this meter."""
        return MeterRecord(
            self.meter_id,
            self.meter_type,
            self.suite.value,
            "owner",
            self.data_key.public_key,
            self.identity.credential.value,
            state,
            T0,
        )

    def signed(self, batch: ReadingBatch) -> bytes:
        """``batch`` signed with this meter's data key."""
        return seal_batch(batch, self.data_key, self.suite.signature)

    def signed_batch(self, seq: int, count: int = 96) -> bytes:
        """A signed electricity batch of this meter."""
        return self.signed(electricity_batch(self.meter_id, seq, count))


def make_meter(
    meter_id: str,
    *,
    suite: CipherSuite = SUITE_2,
    method: Method = Method.STATIC_STATIC,
    meter_type: str = "electricity",
    rng: Rng = os.urandom,
) -> SimMeter:
    """A meter with fresh software keys; its EDHOC kid is its id in ASCII."""
    identity = make_identity(suite, signs=method.initiator_signs, rng=rng, kid=meter_id.encode())
    return SimMeter(meter_id, suite, method, identity, suite.signature.generate(rng), meter_type)


class LinkClosedError(MeterSealError):
    """The head-end closed the connection (or sent CLOSE) while a message was awaited."""


@dataclass
class Wire:
    """A TCP stream cut into frames."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    decoder: FrameDecoder = field(default_factory=FrameDecoder)
    pending: list[Frame] = field(default_factory=list)

    async def frame(self, timeout: float) -> Frame:
        """The next frame; LinkClosedError at EOF."""
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise LinkClosedError("the head-end closed TCP")
            self.pending.extend(self.decoder.feed(data))
        return self.pending.pop(0)

    def write(self, kind: FrameKind, body: bytes) -> None:
        """Queue one frame."""
        self.writer.write(encode_frame(kind, body))


@dataclass
class MeterLink:
    """One meter's TCP connection to the head-end, after the handshake."""

    meter: SimMeter
    wire: Wire
    layer: RecordLayer
    closed_by_headend: bytes | None = None

    @classmethod
    async def connect(
        cls,
        port: int,
        meter: SimMeter,
        headend: Callable[[int, Method], LocalIdentity | None] | None = None,
        *,
        host: str = "127.0.0.1",
        c_i: bytes = connection_id(-24),
    ) -> MeterLink:
        """Connect and run EDHOC; PeerReportedError if the head-end refuses the meter."""
        wire = Wire(*await asyncio.open_connection(host, port))
        try:
            layer = await _handshake(wire, meter, headend or _default_headend, c_i)
        except BaseException:
            wire.writer.close()
            raise
        return cls(meter, wire, layer)

    async def send(self, message: AppMessage) -> None:
        """Send one application message in a record."""
        self.send_nowait(message)
        await self.wire.writer.drain()

    def send_nowait(self, message: AppMessage) -> None:
        """Queue one application message (pipelining); drain later."""
        self.wire.write(FrameKind.RECORD, self.layer.seal(encode_app_message(message)))

    async def receive(self, timeout: float = 5.0) -> AppMessage:
        """The next application message; LinkClosedError on CLOSE or EOF."""
        while True:
            record = self.layer.open((await self.wire.frame(timeout)).body)
            if record.type is RecordType.CLOSE:
                self.closed_by_headend = record.payload
                raise LinkClosedError(f"head-end closed: {record.payload!r}")
            if record.type is RecordType.APPLICATION_DATA:
                return decode_app_message(record.payload)

    async def upload(self, signed: bytes, timeout: float = 5.0) -> BatchAck:
        """Send a signed batch and return its ack (other messages are skipped)."""
        await self.send(SignedBatch(signed))
        return await self.next_ack(timeout)

    async def next_ack(self, timeout: float = 5.0) -> BatchAck:
        """The next batch ack, skipping anything else."""
        while True:
            message = await self.receive(timeout)
            if isinstance(message, BatchAck):
                return message

    async def close(self) -> None:
        """Send CLOSE and close TCP."""
        writer = self.wire.writer
        if not writer.is_closing():
            self.wire.write(FrameKind.RECORD, self.layer.close())
            writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


def _default_headend(suite: int, method: Method) -> LocalIdentity | None:
    return headend_identities(get_suite(suite)).get((suite, method))


async def _handshake(
    wire: Wire,
    meter: SimMeter,
    headend: Callable[[int, Method], LocalIdentity | None],
    c_i: bytes,
) -> RecordLayer:
    """message_1 .. message_4 as the meter; raises what the Initiator raises."""
    config = InitiatorConfig(meter.identity, meter.method, (meter.suite,), expect_message_4=True)
    initiator = Initiator(config, os.urandom)
    wire.write(FrameKind.EDHOC, initiator.start(c_i))
    [needed] = initiator.receive((await wire.frame(10)).body)
    assert isinstance(needed, CredentialNeeded)  # noqa: S101 - Initiator contract
    trusted = headend(meter.suite.value, meter.method)
    if trusted is None:
        raise LinkClosedError("no head-end credential for this suite and method")
    initiator.provide_credential(trusted.credential)
    wire.write(FrameKind.EDHOC, initiator.send_message_3())
    initiator.receive((await wire.frame(10)).body)
    result = initiator.result
    assert result is not None  # noqa: S101 - message_4 completed the handshake
    return RecordLayer.for_initiator(result.suite, initiator.exporter, result.c_i, result.c_r)
