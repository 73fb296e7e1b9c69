"""The meter session's handshake (docs/protocol.md section 5 steps 1-5), sans-IO."""

from __future__ import annotations

import pytest
from meter_client_support import (
    IDENTITIES,
    START,
    DetRng,
    HeadendSide,
    handshake,
    new_meter,
    suite_method_params,
)

from meterseal.crypto.suites import SUITE_2, CipherSuite
from meterseal.edhoc import Credential, Method
from meterseal.edhoc.encoding import split_sequence
from meterseal.edhoc.messages import ErrorMessage, Message1
from meterseal.errors import EdhocError, InvalidKeyError, PeerReportedError, SecureElementError
from meterseal.framing import FrameDecoder, FrameKind, encode_frame
from meterseal.meter.provisioning import ProvisionedMeter
from meterseal.meter.se_handles import MAX_SESSIONS
from meterseal.meter.session import (
    HandshakeComplete,
    MeterSession,
    SessionError,
    SessionState,
)
from meterseal.meter.trust import HeadendTrust


def _headend_for(*meters: ProvisionedMeter, send_message_4: bool = True) -> HeadendSide:
    known = {meter.meter_id.encode("ascii"): meter.credential for meter in meters}
    return HeadendSide(IDENTITIES, known, send_message_4=send_message_4)


def _only_frame(data: bytes) -> tuple[FrameKind, bytes]:
    frames = FrameDecoder().feed(data)
    assert len(frames) == 1
    return frames[0].kind, frames[0].body


def _error_code(data: bytes) -> int:
    kind, body = _only_frame(data)
    assert kind is FrameKind.EDHOC
    return ErrorMessage.from_items(split_sequence(body)).code


@pytest.mark.parametrize(
    "method", [Method.STATIC_STATIC, Method.SIGN_SIGN], ids=["method3", "method0"]
)
def test_message_1_offers_the_meter_method_its_one_suite_and_c_i_0x37(method: Method) -> None:
    meter = new_meter(IDENTITIES, SUITE_2, method)
    kind, body = _only_frame(MeterSession(meter.session_config(), DetRng()).start())
    message_1 = Message1.decode(body)
    assert kind is FrameKind.EDHOC
    assert (message_1.method, message_1.suites, message_1.c_i) == (method, (2,), b"\x37")


@pytest.mark.parametrize(("suite", "method"), suite_method_params())
def test_handshake_completes_for_every_suite_and_method(suite: CipherSuite, method: Method) -> None:
    meter = new_meter(IDENTITIES, suite, method)
    session = MeterSession(meter.session_config(), DetRng())
    events = handshake(session, _headend_for(meter))
    expected_kid = f"HE-{abs(suite.value)}-{'sig' if method.responder_signs else 'dh'}"
    assert events == [HandshakeComplete(suite.value, method, expected_kid.encode())]
    assert session.state is SessionState.ESTABLISHED


def test_message_3_names_the_meter_by_its_id_in_ascii() -> None:
    meter = new_meter(IDENTITIES, meter_id="GAS-42")
    headend = _headend_for(meter)
    handshake(MeterSession(meter.session_config(), DetRng()), headend)
    assert headend.id_creds == [b"GAS-42"]


def test_session_waits_for_message_4_before_records() -> None:
    meter = new_meter(IDENTITIES)
    session = MeterSession(meter.session_config(), DetRng())
    headend = _headend_for(meter)
    session.receive(headend.feed(session.start()), START)
    message_3 = session.data_to_send()
    assert session.state is SessionState.HANDSHAKE
    events = session.receive(headend.feed(message_3), START)
    assert isinstance(events[0], HandshakeComplete)


def test_without_message_4_the_session_is_established_after_message_3() -> None:
    meter = new_meter(IDENTITIES)
    config = meter.session_config(expect_message_4=False)
    session = MeterSession(config, DetRng())
    headend = _headend_for(meter, send_message_4=False)
    events = session.receive(headend.feed(session.start()), START)
    assert isinstance(events[0], HandshakeComplete)
    assert headend.feed(session.data_to_send()) == b""
    assert headend.records is not None


def test_untrusted_headend_credential_ends_with_err_code_3() -> None:
    meter = new_meter(IDENTITIES)
    config = meter.session_config()
    empty = HeadendTrust.of([], meter.trust.command_key)
    session = MeterSession(
        type(config)(config.meter_id, config.suite, config.method, config.identity, empty),
        DetRng(),
    )
    reply = _headend_for(meter).feed(session.start())
    with pytest.raises(EdhocError) as raised:
        session.receive(reply, START)
    assert raised.value.wire_code == 3
    assert _error_code(session.data_to_send()) == 3
    assert session.state is SessionState.FAILED


def test_trusted_credential_of_another_suite_under_the_kid_is_refused() -> None:
    meter = new_meter(IDENTITIES)
    config = meter.session_config()
    gm_credential = IDENTITIES.identities[(0, False)].credential
    lying = Credential.from_ccs(gm_credential.value)
    trust = HeadendTrust({b"HE-2-dh": lying}, meter.trust.command_key)
    session = MeterSession(
        type(config)(config.meter_id, config.suite, config.method, config.identity, trust),
        DetRng(),
    )
    reply = _headend_for(meter).feed(session.start())
    with pytest.raises(InvalidKeyError):
        session.receive(reply, START)
    assert _error_code(session.data_to_send()) == 1


def test_unregistered_meter_is_told_err_code_3() -> None:
    meter = new_meter(IDENTITIES)
    with pytest.raises(PeerReportedError) as raised:
        handshake(MeterSession(meter.session_config(), DetRng()), _headend_for())
    assert raised.value.wire_code == 3


def test_meter_with_keys_other_than_registered_is_refused() -> None:
    registered = new_meter(IDENTITIES, seed=b"registered")
    impostor = new_meter(IDENTITIES, seed=b"impostor")
    with pytest.raises(PeerReportedError) as raised:
        handshake(MeterSession(impostor.session_config(), DetRng()), _headend_for(registered))
    assert raised.value.wire_code == 1


def test_record_frame_before_the_handshake_fails_with_an_edhoc_error() -> None:
    meter = new_meter(IDENTITIES)
    session = MeterSession(meter.session_config(), DetRng())
    session.start()
    with pytest.raises(SessionError):
        session.receive(encode_frame(FrameKind.RECORD, bytes(20)), START)
    assert session.state is SessionState.FAILED
    assert _error_code(session.data_to_send()) == 1


def test_edhoc_frame_after_the_handshake_fails_the_session() -> None:
    meter = new_meter(IDENTITIES)
    session = MeterSession(meter.session_config(), DetRng())
    handshake(session, _headend_for(meter))
    with pytest.raises(SessionError):
        session.receive(encode_frame(FrameKind.EDHOC, b"\x01"), START)
    assert session.state is SessionState.FAILED


def test_start_twice_is_refused() -> None:
    session = MeterSession(new_meter(IDENTITIES).session_config(), DetRng())
    session.start()
    with pytest.raises(SessionError):
        session.start()


def test_record_keys_live_in_the_secure_element_and_are_released() -> None:
    meter = new_meter(IDENTITIES)
    sessions = [MeterSession(meter.session_config(), DetRng()) for _ in range(MAX_SESSIONS + 1)]
    for session in sessions[:MAX_SESSIONS]:
        handshake(session, _headend_for(meter))
    with pytest.raises(SecureElementError):
        handshake(sessions[-1], _headend_for(meter))
    sessions[0].release()
    retry = MeterSession(meter.session_config(), DetRng())
    assert isinstance(handshake(retry, _headend_for(meter))[0], HandshakeComplete)
    assert sessions[0].state is SessionState.CLOSED
