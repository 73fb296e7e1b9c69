"""Key update: the one-way epoch ratchet before the AEAD usage limit, and its edges."""

from __future__ import annotations

from typing import Any

import pytest
from records_support import make_pair, suite_params

from meterseal.crypto.aead import A128GCM
from meterseal.crypto.suites import SUITE_2, CipherSuite
from meterseal.errors import KeyLimitError, RecordError
from meterseal.records import RecordConfig, RecordType
from meterseal.records.wire import encode_header


def test_default_threshold_is_half_the_aead_limit() -> None:
    assert RecordConfig().records_per_epoch(SUITE_2) == A128GCM.max_messages // 2


def test_fraction_sets_the_threshold() -> None:
    config = RecordConfig(update_fraction=4 / A128GCM.max_messages)
    assert config.records_per_epoch(SUITE_2) == 4


@pytest.mark.parametrize(
    "settings",
    [
        {"update_after": 0},
        {"update_fraction": 0.0},
        {"update_fraction": 2.0},
        {"update_fraction": float("nan")},
        {"max_epoch": -1},
        {"max_epoch": 2**32},
    ],
)
def test_out_of_range_configuration_is_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(RecordError, match="must be"):
        RecordConfig(**settings)


def test_threshold_above_the_aead_limit_is_refused() -> None:
    with pytest.raises(RecordError, match="at most"):
        make_pair(SUITE_2, RecordConfig(update_after=A128GCM.max_messages + 1))


@pytest.mark.parametrize("suite", suite_params())
def test_sender_moves_to_the_next_epoch_at_the_threshold(suite: CipherSuite) -> None:
    initiator, responder = make_pair(suite, RecordConfig(update_after=3))
    seen = [responder.open(initiator.seal(b"x"))[1:3] for _ in range(7)]
    assert seen == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0)]
    assert responder.status.recv_epoch == 2


def test_receiver_drops_the_old_epoch_after_switching() -> None:
    initiator, responder = make_pair(SUITE_2, RecordConfig(update_after=2))
    late = [initiator.seal(b"0"), initiator.seal(b"1")]
    responder.open(initiator.seal(b"epoch 1"))
    before = responder.status
    with pytest.raises(RecordError, match="authenticate"):
        responder.open(late[0])
    assert responder.status == before


def test_old_epoch_records_are_accepted_until_the_switch() -> None:
    initiator, responder = make_pair(SUITE_2, RecordConfig(update_after=2))
    late = [initiator.seal(b"0"), initiator.seal(b"1")]
    assert responder.open(late[1]).epoch == 0
    assert responder.open(late[0]).epoch == 0


def test_failed_next_epoch_record_does_not_switch() -> None:
    initiator, responder = make_pair(SUITE_2, RecordConfig(update_after=1))
    initiator.seal(b"0")
    forged = bytearray(initiator.seal(b"epoch 1"))
    forged[-1] ^= 1
    before = responder.status
    with pytest.raises(RecordError):
        responder.open(bytes(forged))
    assert responder.status == before


def test_key_update_request_makes_the_peer_ratchet() -> None:
    initiator, responder = make_pair(SUITE_2)
    record = responder.open(initiator.request_key_update())
    assert (record.type, record.payload) == (RecordType.KEY_UPDATE, b"")
    assert responder.status.update_pending
    reply = initiator.open(responder.seal(b"new keys"))
    assert (reply.epoch, reply.seq, reply.payload) == (1, 0, b"new keys")
    assert not responder.status.update_pending


def test_update_keys_calls_coalesce_into_one_epoch_step() -> None:
    initiator, responder = make_pair(SUITE_2)
    initiator.update_keys()
    initiator.update_keys()
    assert responder.open(initiator.seal(b"a")).epoch == 1
    assert responder.open(initiator.seal(b"b")).epoch == 1


def test_last_epoch_raises_key_limit_error_without_consuming_anything() -> None:
    initiator, responder = make_pair(SUITE_2, RecordConfig(update_after=2, max_epoch=1))
    for _ in range(4):
        responder.open(initiator.seal(b"ok"))
    before = initiator.status
    with pytest.raises(KeyLimitError):
        initiator.seal(b"one too many")
    assert initiator.status == before


def test_receiver_refuses_an_epoch_beyond_the_last() -> None:
    initiator, _ = make_pair(SUITE_2, RecordConfig(update_after=1))
    _, responder = make_pair(SUITE_2, RecordConfig(max_epoch=0))
    initiator.seal(b"epoch 0")
    with pytest.raises(RecordError, match="beyond"):
        responder.open(initiator.seal(b"epoch 1"))


def test_sequence_number_beyond_the_aead_limit_is_refused() -> None:
    _, responder = make_pair(SUITE_2)
    header = encode_header(RecordType.APPLICATION_DATA, 0, A128GCM.max_messages)
    with pytest.raises(RecordError, match="usage limit"):
        responder.open(header + bytes(16))
