"""Signed commands: round trips, and the meter's refusal of each bad case with its reason."""

from __future__ import annotations

import os

import pytest
from messages_support import METER_ID, START, time_sync

from meterseal import cbor
from meterseal.crypto.cose import sign1
from meterseal.crypto.interfaces import SigningKey
from meterseal.crypto.suites import SUITE_0, SUITE_2, SUITE_GMT, CipherSuite
from meterseal.errors import EncodingError, MeterSealError
from meterseal.messages import (
    Command,
    CommandKind,
    CommandRejectedError,
    CommandRejectReason,
    TimeSync,
    decode_command,
    encode_command,
    sign_command,
    verify_command,
)
from meterseal.messages.commands import COMMAND_AAD

ALG = SUITE_2.signature
HEADEND_KEY: SigningKey = ALG.generate(os.urandom)


def _verify(signed: bytes, *, now: int = START + 60, last: int = 41) -> Command:
    return verify_command(
        signed, ALG, HEADEND_KEY.public_key, meter_id=METER_ID, now=now, last_command_id=last
    )


def _reason(signed: bytes, **kwargs: int) -> CommandRejectReason:
    with pytest.raises(CommandRejectedError) as caught:
        _verify(signed, **kwargs)
    return caught.value.reason


def test_command_round_trips_and_has_the_kind_of_its_params() -> None:
    command = time_sync()
    assert decode_command(encode_command(command)) == command
    assert command.kind is CommandKind.TIME_SYNC


@pytest.mark.parametrize(
    "suite", [pytest.param(s, id=str(s.value)) for s in (SUITE_2, SUITE_0, SUITE_GMT)]
)
def test_valid_command_is_accepted_under_every_suite(suite: CipherSuite) -> None:
    key = suite.signature.generate(os.urandom)
    signed = sign_command(time_sync(), key, suite.signature, kid=b"headend-1")
    command = verify_command(
        signed, suite.signature, key.public_key, meter_id=METER_ID, now=START, last_command_id=0
    )
    assert command == time_sync()


def test_signature_by_another_key_is_bad_signature() -> None:
    signed = sign_command(time_sync(), ALG.generate(os.urandom), ALG)
    assert _reason(signed) is CommandRejectReason.BAD_SIGNATURE


def test_batch_signature_context_is_not_a_command_signature() -> None:
    signed = sign1(HEADEND_KEY, ALG, encode_command(time_sync()), external_aad=b"other")
    assert _reason(signed) is CommandRejectReason.BAD_SIGNATURE


def test_garbage_is_malformed() -> None:
    assert _reason(b"\x00\x01") is CommandRejectReason.MALFORMED


def test_signed_non_command_is_malformed() -> None:
    signed = sign1(HEADEND_KEY, ALG, cbor.encode({1: 2}), external_aad=COMMAND_AAD)
    assert _reason(signed) is CommandRejectReason.MALFORMED


def test_command_for_another_meter_is_wrong_target() -> None:
    signed = sign_command(time_sync(target="ELEC-000002"), HEADEND_KEY, ALG)
    assert _reason(signed) is CommandRejectReason.WRONG_TARGET


def test_expired_command_is_refused_after_the_skew_allowance() -> None:
    signed = sign_command(time_sync(), HEADEND_KEY, ALG)
    expires = START + 3600
    assert _verify(signed, now=expires + 299).command_id == 42
    assert _reason(signed, now=expires + 300) is CommandRejectReason.EXPIRED


def test_command_from_the_future_is_refused_beyond_the_skew_allowance() -> None:
    signed = sign_command(time_sync(), HEADEND_KEY, ALG)
    assert _verify(signed, now=START - 300).command_id == 42
    assert _reason(signed, now=START - 301) is CommandRejectReason.NOT_YET_VALID


@pytest.mark.parametrize("last", [42, 43, 10**9])
def test_command_id_not_above_the_last_accepted_is_replayed(last: int) -> None:
    signed = sign_command(time_sync(), HEADEND_KEY, ALG)
    assert _reason(signed, last=last) is CommandRejectReason.REPLAYED


def test_rejection_is_a_meterseal_error_with_its_reason_in_the_message() -> None:
    signed = sign_command(time_sync(target="OTHER"), HEADEND_KEY, ALG)
    with pytest.raises(MeterSealError, match="WRONG_TARGET"):
        _verify(signed)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"command_id": 0}, "command_id must lie in"),
        ({"target": "no spaces"}, "target"),
        ({"expires_at": START}, "expires_at must be later"),
        ({"params": 5}, "params of unknown kind"),
    ],
)
def test_construction_refuses_bad_commands(changes: dict[str, object], message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        time_sync(**changes)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({5: 9}, "9 is not a known CommandKind"),
        ({6: {}}, "TimeSync params: missing key 1"),
        ({6: {1: -5}}, "new_time must lie in"),
        ({7: 0}, "unknown key 7"),
        ({1: "42"}, "command_id must be an integer"),
    ],
)
def test_malformed_command_payload_is_refused(edit: dict[int, object], message: str) -> None:
    raw = cbor.decode(encode_command(time_sync()))
    raw.update(edit)
    with pytest.raises(EncodingError, match=message):
        decode_command(cbor.encode(raw))


def test_time_sync_params_carry_the_new_time() -> None:
    assert TimeSync.from_cbor(TimeSync(START).to_cbor()) == TimeSync(START)
