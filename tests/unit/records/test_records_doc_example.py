"""The worked example in docs/protocol.md ("Example") is what the code produces.

The exporter outputs are fixed bytes, so an independent implementation can start from the
same values; if the key schedule or format changes, this test and the document change
together.
"""

from __future__ import annotations

from meterseal.crypto.suites import SUITE_2
from meterseal.records import RecordConfig, RecordLayer, RecordType

MASTER_SECRET = bytes(range(32))
MASTER_SALT = bytes.fromhex("a0a1a2a3a4a5a6a7")
PAYLOAD = b"meter 42: 1234.5 kWh"
INITIATOR_SEQ_0 = bytes.fromhex(
    "40002265ae234600e9857488b2b005a54ed52c251846b6074b1e67e487a0192d6e5ccc4861e6"
)
RESPONDER_SEQ_0 = bytes.fromhex(
    "40005c054ba8281d68a5b5771cac81d2d637a4cdfdebefd9a1ba56ad94150e23e755017ac188"
)
INITIATOR_SEQ_1_EMPTY = bytes.fromhex("40011155ae8e90b89ed3bd3b4f1c6fdb676c")
INITIATOR_EPOCH_1_CLOSE = bytes.fromhex(
    "6800253b46ed4b43d374689a2d51849fb6cde9f888bc32155be9ace69c99775a878f91ae885b"
)


def _exporter(label: int, context: bytes, length: int) -> bytes:
    assert context == b""
    return {32768: MASTER_SECRET, 32769: MASTER_SALT}[label][:length]


def test_documented_records_are_produced_and_accepted() -> None:
    config = RecordConfig(update_after=2)
    initiator = RecordLayer.for_initiator(SUITE_2, _exporter, b"\x37", b"\x27", config)
    responder = RecordLayer.for_responder(SUITE_2, _exporter, b"\x37", b"\x27", config)
    assert initiator.seal(PAYLOAD) == INITIATOR_SEQ_0
    assert responder.seal(PAYLOAD) == RESPONDER_SEQ_0
    assert initiator.seal(b"") == INITIATOR_SEQ_1_EMPTY
    assert initiator.seal(PAYLOAD, RecordType.CLOSE) == INITIATOR_EPOCH_1_CLOSE
    opened = [responder.open(r) for r in (INITIATOR_SEQ_0, INITIATOR_SEQ_1_EMPTY)]
    assert [r.payload for r in opened] == [PAYLOAD, b""]
    assert responder.open(INITIATOR_EPOCH_1_CLOSE)[:3] == (RecordType.CLOSE, 1, 0)
