"""Records/s through the record layer, beside ``openssl speed -evp`` on the same sizes.

The layers come from a real handshake (method 3, in memory): the Initiator seals, the
Responder opens. One *round* is one seal and one open; sealing and opening are also
measured alone. The baseline is ``openssl speed -evp CIPHER -bytes N`` converted to
buffers/s (bytes/s ÷ N), halved for a round. ``openssl speed`` streams updates through
one context, with no per-record nonce, AAD, tag or header, so no goal is set: the ratio
shows what the per-record work in Python costs at each size.

The system OpenSSL 3.0 has no SM4-GCM, so the GM/T suite's baseline is ``-evp sm4-ctr``
(SM4-GCM without GHASH), the nearest C figure. MeterSeal's AEADs run in the OpenSSL that
``cryptography`` bundles, which may differ from the system's (see the machine line).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from meterseal.bench.baselines import Baselines
from meterseal.bench.handshake import HandshakeBench
from meterseal.bench.report import BenchResult
from meterseal.bench.timing import rate
from meterseal.crypto.suites import SUITE_2, SUITE_GMT, CipherSuite
from meterseal.edhoc.context import need
from meterseal.edhoc.messages import Method
from meterseal.records import RecordLayer

SIZES = (64, 4096)
SUITES = (SUITE_2, SUITE_GMT)

OPENSSL_CIPHERS = {"A128GCM": "aes-128-gcm", "SM4-GCM-128": "sm4-ctr"}
"""The ``openssl speed -evp`` cipher that stands for each record AEAD."""

_SM4_NOTE = " (the system OpenSSL 3.0 has no SM4-GCM; SM4-CTR is the nearest C baseline)"
_KEPT_BYTES = 16 * 1024 * 1024
"""At most this many payload bytes of sealed records are kept to time opening alone."""

LayerFactory = Callable[[], RecordLayer]


def layer_factories(suite: CipherSuite) -> tuple[LayerFactory, LayerFactory]:
    """Fresh sending (Initiator) and receiving (Responder) layers of one real session.

    Every call gives a layer at sequence number 0 with the same keys, so records sealed
    by any sender open in any fresh receiver.
    """
    run = HandshakeBench(suite, Method.STATIC_STATIC).once()
    done = need(run.initiator.result, "handshake result")

    def sender() -> RecordLayer:
        return RecordLayer.for_initiator(suite, run.initiator.exporter, done.c_i, done.c_r)

    def receiver() -> RecordLayer:
        return RecordLayer.for_responder(suite, run.responder.exporter, done.c_i, done.c_r)

    return sender, receiver


def round_rate(sender: RecordLayer, receiver: RecordLayer, payload: bytes, seconds: float) -> float:
    """Records sealed by ``sender`` and opened by ``receiver`` per second."""
    return rate(lambda: receiver.open(sender.seal(payload)), seconds)


def open_rate(records: list[bytes], new_receiver: LayerFactory, seconds: float) -> float:
    """Records opened per second, going through ``records`` with fresh receivers.

    Only the opening is timed, not making the receivers.
    """
    opened, elapsed = 0, 0.0
    while elapsed < seconds:
        receiver = new_receiver()
        start = time.perf_counter()
        for record in records:
            receiver.open(record)
        elapsed += time.perf_counter() - start
        opened += len(records)
    return opened / elapsed


def sealed_records(new_sender: LayerFactory, payload: bytes) -> list[bytes]:
    """Consecutive records of one fresh sender, up to about 16 MiB of payload."""
    sender = new_sender()
    count = max(1, min(65536, _KEPT_BYTES // len(payload)))
    return [sender.seal(payload) for _ in range(count)]


def _baseline_note(cipher: str, size: int) -> str:
    note = f"baseline: openssl speed -evp {cipher} -bytes {size}, bytes/s ÷ {size}"
    return note + (_SM4_NOTE if cipher == "sm4-ctr" else "")


def _size_results(
    suite: CipherSuite, size: int, baselines: Baselines, seconds: float
) -> list[BenchResult]:
    new_sender, new_receiver = layer_factories(suite)
    payload = bytes(size)
    cipher = OPENSSL_CIPHERS[suite.record_aead.name]
    per_s = baselines.cipher_records_per_s(cipher, size)
    note = _baseline_note(cipher, size)
    measured = (
        (
            "sealed+opened",
            round_rate(new_sender(), new_receiver(), payload, seconds),
            2,
            f"{note}, ÷ 2 (one seal and one open)",
        ),
        ("sealed", rate(partial(new_sender().seal, payload), seconds), 1, note),
        (
            "opened",
            open_rate(sealed_records(new_sender, payload), new_receiver, seconds),
            1,
            "baseline: the encryption figure (decryption costs the same)",
        ),
    )
    name = f"records {suite.record_aead.name} {size} B"
    return [
        BenchResult(f"{name} {what}, 1 core", value, "records/s", per_s / ops, None, text)
        for what, value, ops, text in measured
    ]


def results(baselines: Baselines, seconds: float) -> list[BenchResult]:
    """Sealed+opened, sealed and opened records/s for each record AEAD and size."""
    return [
        result
        for suite in SUITES
        for size in SIZES
        for result in _size_results(suite, size, baselines, seconds)
    ]
