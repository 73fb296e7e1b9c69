"""The Initiator and Responder objects, scenario by scenario (RFC 9528 sections 5 and 6)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from meterseal import cbor
from meterseal.crypto.suites import SUITE_0, SUITE_2, CipherSuite
from meterseal.edhoc import (
    Credential,
    CredentialNeeded,
    EadItem,
    HandshakeCompleted,
    Initiator,
    InitiatorConfig,
    InitiatorState,
    LocalIdentity,
    Message1Received,
    Method,
    Responder,
    ResponderConfig,
    ResponderState,
    Retransmission,
    SuiteRejected,
    make_ccs,
)
from meterseal.edhoc.encoding import split_sequence
from meterseal.edhoc.messages import ErrorMessage, Message1
from meterseal.edhoc.testing import lookup_from, make_identity, run_handshake
from meterseal.errors import (
    DecryptionError,
    EdhocError,
    EncodingError,
    InvalidKeyError,
    PeerReportedError,
    VerificationError,
)

C_I, C_R = b"\x0e", b"\x18"


def error_of(data: bytes | None) -> tuple[int, object]:
    assert data is not None
    error = ErrorMessage.from_items(split_sequence(data))
    return error.code, error.info


@dataclass
class Pair:
    """An Initiator and a Responder with fresh identities, stepped by hand."""

    initiator: Initiator
    responder: Responder
    identity_i: LocalIdentity
    identity_r: LocalIdentity

    def message_2(self, ead_1: tuple[EadItem, ...] = (), ead_2: tuple[EadItem, ...] = ()) -> bytes:
        self.responder.receive(self.initiator.start(C_I, ead_1))
        return self.responder.send_message_2(self.identity_r, C_R, ead_2)

    def message_3(self, ead_3: tuple[EadItem, ...] = ()) -> bytes:
        self.initiator.receive(self.message_2())
        self.initiator.provide_credential(self.identity_r.credential)
        return self.initiator.send_message_3(ead_3)


def make_pair(
    method: Method = Method.STATIC_STATIC,
    suite: CipherSuite = SUITE_2,
    *,
    message_4: bool = False,
    methods: frozenset[Method] = frozenset(Method),
    understood: frozenset[int] = frozenset(),
) -> Pair:
    identity_i = make_identity(suite, signs=method.initiator_signs, rng=os.urandom, kid=b"\x01")
    identity_r = make_identity(suite, signs=method.responder_signs, rng=os.urandom, kid=b"\x02")
    initiator_config = InitiatorConfig(
        identity_i, method, (suite,), expect_message_4=message_4, understood_ead=understood
    )
    responder_config = ResponderConfig(
        (suite,), methods=methods, send_message_4=message_4, understood_ead=understood
    )
    return Pair(
        Initiator(initiator_config, os.urandom),
        Responder(responder_config, os.urandom),
        identity_i,
        identity_r,
    )


def test_events_ask_for_each_peer_credential_and_complete() -> None:
    pair = make_pair(message_4=True)
    message_1 = pair.initiator.start(C_I)
    (first,) = pair.responder.receive(message_1)
    assert isinstance(first, Message1Received)
    assert (first.method, first.suite, first.c_i) == (Method.STATIC_STATIC, SUITE_2, C_I)
    (needed,) = pair.initiator.receive(pair.responder.send_message_2(pair.identity_r, C_R))
    assert isinstance(needed, CredentialNeeded)
    assert needed.id_cred.matches(pair.identity_r.credential)
    assert pair.initiator.provide_credential(pair.identity_r.credential) == []
    (needed,) = pair.responder.receive(pair.initiator.send_message_3())
    assert isinstance(needed, CredentialNeeded)
    (done,) = pair.responder.provide_credential(pair.identity_i.credential)
    assert isinstance(done, HandshakeCompleted)
    assert done.peer_credential == pair.identity_i.credential
    (done,) = pair.initiator.receive(pair.responder.send_message_4())
    assert isinstance(done, HandshakeCompleted)
    assert (done.c_i, done.c_r) == (C_I, C_R)
    assert pair.initiator.result == done


def test_initiator_without_message_4_completes_with_message_3() -> None:
    pair = make_pair()
    pair.message_3()
    assert pair.initiator.state is InitiatorState.COMPLETED
    assert pair.initiator.result is not None
    assert len(pair.initiator.exporter(7, b"ctx", 16)) == 16


def test_responder_with_message_4_exports_before_sending_it() -> None:
    pair = make_pair(message_4=True)
    pair.responder.receive(pair.message_3())
    pair.responder.provide_credential(pair.identity_i.credential)
    assert pair.responder.state is ResponderState.VERIFIED_MESSAGE_3
    before = pair.responder.exporter(0, b"", 16)
    pair.initiator.receive(pair.responder.send_message_4())
    assert pair.initiator.exporter(0, b"", 16) == before


def test_exporter_before_completion_raises() -> None:
    pair = make_pair()
    pair.message_2()
    with pytest.raises(EdhocError, match="no keys"):
        pair.responder.exporter(0, b"", 16)


def test_ead_items_reach_the_peer_per_message() -> None:
    pair = make_pair(message_4=True)
    ead_1, ead_2 = (EadItem(5, b"one"),), (EadItem(6),)
    ead_3, ead_4 = (EadItem(7, b"three"),), (EadItem(-8, b"four"),)
    pair.initiator = Initiator(
        InitiatorConfig(pair.identity_i, Method.STATIC_STATIC, (SUITE_2,), True, frozenset({8})),
        os.urandom,
    )
    pair.initiator.receive(pair.message_2(ead_1, ead_2))
    pair.initiator.provide_credential(pair.identity_r.credential)
    pair.responder.receive(pair.initiator.send_message_3(ead_3))
    (done_r,) = pair.responder.provide_credential(pair.identity_i.credential)
    (done_i,) = pair.initiator.receive(pair.responder.send_message_4(ead_4))
    assert isinstance(done_r, HandshakeCompleted)
    assert isinstance(done_i, HandshakeCompleted)
    assert dict(done_r.ead) == {1: ead_1, 3: ead_3}
    assert dict(done_i.ead) == {2: ead_2, 4: ead_4}


def test_unknown_critical_ead_ends_the_session() -> None:
    pair = make_pair()
    message_1 = pair.initiator.start(C_I, (EadItem(-5, b"x"),))
    with pytest.raises(EdhocError, match="critical"):
        pair.responder.receive(message_1)
    assert pair.responder.state is ResponderState.FAILED
    assert error_of(pair.responder.error_message) == (1, "protocol error")


def test_understood_critical_ead_is_handed_over() -> None:
    pair = make_pair(understood=frozenset({5}))
    (event,) = pair.responder.receive(pair.initiator.start(C_I, (EadItem(-5, b"x"),)))
    assert isinstance(event, Message1Received)
    assert event.ead == (EadItem(-5, b"x"),)


def test_duplicate_message_1_is_answered_with_the_same_message_2() -> None:
    pair = make_pair()
    message_1 = pair.initiator.start(C_I)
    pair.responder.receive(message_1)
    assert pair.responder.receive(message_1) == []
    message_2 = pair.responder.send_message_2(pair.identity_r, C_R)
    assert pair.responder.receive(message_1) == [Retransmission(message_2)]
    assert pair.responder.state is ResponderState.WAIT_MESSAGE_3


def test_duplicate_message_2_is_answered_with_the_same_message_3() -> None:
    pair = make_pair(message_4=True)
    message_2 = pair.message_2()
    pair.initiator.receive(message_2)
    pair.initiator.provide_credential(pair.identity_r.credential)
    message_3 = pair.initiator.send_message_3()
    assert pair.initiator.receive(message_2) == [Retransmission(message_3)]
    assert pair.initiator.state is InitiatorState.WAIT_MESSAGE_4


def test_unknown_credential_sends_err_code_3() -> None:
    pair = make_pair()
    pair.initiator.receive(pair.message_2())
    error = pair.initiator.unknown_credential()
    assert error_of(error) == (3, True)
    assert pair.initiator.state is InitiatorState.FAILED
    with pytest.raises(PeerReportedError) as reported:
        pair.responder.receive(error)
    assert reported.value.wire_code == 3
    assert pair.responder.error_message is None


def test_wrong_credential_fails_mac_2_with_an_opaque_error() -> None:
    pair = make_pair()
    pair.initiator.receive(pair.message_2())
    stranger = make_identity(SUITE_2, signs=False, rng=os.urandom, kid=b"\x02")
    with pytest.raises(VerificationError):
        pair.initiator.provide_credential(stranger.credential)
    assert error_of(pair.initiator.error_message) == (1, "")
    assert pair.initiator.state is InitiatorState.FAILED


def test_wrong_signature_credential_fails_with_an_opaque_error() -> None:
    pair = make_pair(Method.SIGN_SIGN, SUITE_0)
    pair.initiator.receive(pair.message_2())
    stranger = make_identity(SUITE_0, signs=True, rng=os.urandom, kid=b"\x02")
    with pytest.raises(VerificationError):
        pair.initiator.provide_credential(stranger.credential)
    assert error_of(pair.initiator.error_message) == (1, "")


def test_tampered_message_3_fails_decryption_with_an_opaque_error() -> None:
    pair = make_pair()
    message_3 = bytearray(pair.message_3())
    message_3[-1] ^= 1
    with pytest.raises(DecryptionError):
        pair.responder.receive(bytes(message_3))
    assert error_of(pair.responder.error_message) == (1, "")


def test_g_x_off_the_curve_is_refused() -> None:
    off_curve = next(x for x in range(1, 100) if _off_p256(x.to_bytes(32, "big")))
    message_1 = Message1(Method.STATIC_STATIC, (2,), off_curve.to_bytes(32, "big"), C_I).encode()
    responder = make_pair().responder
    with pytest.raises(InvalidKeyError):
        responder.receive(message_1)
    assert error_of(responder.error_message) == (1, "")


def _off_p256(x: bytes) -> bool:
    try:
        SUITE_2.dh.validate_public_key(x)
    except InvalidKeyError:
        return True
    return False


def test_responder_refuses_a_method_it_does_not_accept() -> None:
    pair = make_pair(Method.SIGN_SIGN, methods=frozenset({Method.STATIC_STATIC}))
    with pytest.raises(EdhocError, match="not accepted"):
        pair.responder.receive(pair.initiator.start(C_I))


def test_identity_that_does_not_fit_the_method_is_refused() -> None:
    pair = make_pair(Method.STATIC_STATIC)
    pair.responder.receive(pair.initiator.start(C_I))
    signer = make_identity(SUITE_2, signs=True, rng=os.urandom, kid=b"\x02")
    with pytest.raises(EdhocError, match="does not fit"):
        pair.responder.send_message_2(signer, C_R)


def test_c_r_equal_to_c_i_is_refused() -> None:
    pair = make_pair()
    pair.responder.receive(pair.initiator.start(C_I))
    with pytest.raises(EdhocError, match="differ"):
        pair.responder.send_message_2(pair.identity_r, C_I)


def test_responder_refuses_selection_when_an_earlier_suite_is_supported() -> None:
    responder = Responder(ResponderConfig((SUITE_2, SUITE_0)), os.urandom)
    g_x = SUITE_2.dh.generate(os.urandom).public_key
    with pytest.raises(EdhocError) as refusal:
        responder.receive(Message1(Method.STATIC_STATIC, (0, 2), g_x, C_I).encode())
    assert refusal.value.wire_code == 2
    assert error_of(responder.error_message) == (2, [2, 0])


def test_initiator_retries_with_the_suite_the_responder_supports() -> None:
    identity_i = make_identity(SUITE_2, signs=False, rng=os.urandom, kid=b"\x01")
    identity_r = make_identity(SUITE_2, signs=False, rng=os.urandom, kid=b"\x02")
    config = InitiatorConfig(identity_i, Method.STATIC_STATIC, (SUITE_0, SUITE_2))
    run = run_handshake(
        Initiator(config, os.urandom),
        lambda: Responder(ResponderConfig((SUITE_2,)), os.urandom),
        responder_identity=lambda _: identity_r,
        lookup=lookup_from([identity_i.credential, identity_r.credential]),
    )
    assert Message1.decode(run.messages[0]).suites == (0,)
    assert Message1.decode(run.messages[1]).suites == (0, 2)
    assert run.initiator.exporter(0, b"", 16) == run.responder.exporter(0, b"", 16)


def test_suites_r_without_a_common_suite_ends_the_session() -> None:
    pair = make_pair()
    pair.initiator.start(C_I)
    refusal = ErrorMessage(2, [24, 25]).encode()
    with pytest.raises(PeerReportedError) as reported:
        pair.initiator.receive(refusal)
    assert reported.value.wire_code == 2
    assert pair.initiator.state is InitiatorState.FAILED
    assert pair.initiator.error_message is None


def test_suite_rejected_event_names_the_retry_suite() -> None:
    identity_i = make_identity(SUITE_2, signs=False, rng=os.urandom, kid=b"\x01")
    config = InitiatorConfig(identity_i, Method.STATIC_STATIC, (SUITE_0, SUITE_2))
    initiator = Initiator(config, os.urandom)
    initiator.start(C_I)
    (event,) = initiator.receive(ErrorMessage(2, 2).encode())
    assert event == SuiteRejected((2,), SUITE_2)
    assert initiator.state is InitiatorState.SUITE_REJECTED


def test_peer_error_is_raised_and_not_answered() -> None:
    pair = make_pair()
    pair.initiator.start(C_I)
    with pytest.raises(PeerReportedError) as reported:
        pair.initiator.receive(ErrorMessage(1, "busy").encode())
    assert (reported.value.wire_code, reported.value.err_info) == (1, "busy")
    assert pair.initiator.error_message is None


def test_unexpected_call_fails_closed_with_an_error_message() -> None:
    pair = make_pair()
    with pytest.raises(EdhocError, match="unexpected SEND_LAST_MESSAGE_3 in state START"):
        pair.initiator.send_message_3()
    assert pair.initiator.state is InitiatorState.FAILED
    assert error_of(pair.initiator.error_message) == (1, "protocol error")
    with pytest.raises(EdhocError, match="unexpected START in state FAILED"):
        pair.initiator.start(C_I)


def test_malformed_message_gets_a_malformed_message_error() -> None:
    pair = make_pair()
    pair.initiator.start(C_I)
    with pytest.raises(EncodingError):
        pair.initiator.receive(cbor.encode(b"short"))
    assert error_of(pair.initiator.error_message) == (1, "malformed message")


def test_abort_sends_err_code_1_with_the_reason() -> None:
    pair = make_pair()
    pair.responder.receive(pair.initiator.start(C_I))
    assert error_of(pair.responder.abort("EAD_1 refused")) == (1, "EAD_1 refused")
    assert pair.responder.state is ResponderState.FAILED


def test_completed_session_keeps_no_handshake_secrets() -> None:
    pair = make_pair()
    pair.responder.receive(pair.message_3())
    pair.responder.provide_credential(pair.identity_i.credential)
    for party in (pair.initiator, pair.responder):
        context = party._context
        assert context.ephemeral is None
        assert context.prk_2e == context.prk_3e2m == context.prk_4e3m == b""
        assert context.plaintext_2 is None
        assert context.plaintext_3 is None
        assert context.prk_exporter != b""


def test_key_update_changes_exports_on_both_sides_alike() -> None:
    pair = make_pair()
    pair.responder.receive(pair.message_3())
    pair.responder.provide_credential(pair.identity_i.credential)
    before = pair.initiator.exporter(0, b"", 16)
    for party in (pair.initiator, pair.responder):
        party.key_update(b"epoch-1")
    assert pair.initiator.exporter(0, b"", 16) == pair.responder.exporter(0, b"", 16) != before


def test_initiator_config_refuses_a_method_that_does_not_fit_its_key() -> None:
    identity = make_identity(SUITE_2, signs=False, rng=os.urandom, kid=b"\x01")
    with pytest.raises(ValueError, match="does not fit"):
        InitiatorConfig(identity, Method.SIGN_STATIC, (SUITE_2,))


def test_credential_with_an_off_curve_static_key_is_refused() -> None:
    pair = make_pair()
    pair.initiator.receive(pair.message_2())
    off_curve = next(
        x.to_bytes(32, "big") for x in range(1, 100) if _off_p256(x.to_bytes(32, "big"))
    )
    ccs = make_ccs(b"\x04" + off_curve + bytes(32), crv=1, subject="bad", kid=b"\x02")
    with pytest.raises(InvalidKeyError):
        pair.initiator.provide_credential(Credential.from_ccs(ccs))
    assert error_of(pair.initiator.error_message) == (1, "")


def test_refusals_cannot_make_the_initiator_offer_a_suite_twice() -> None:
    identity_i = make_identity(SUITE_2, signs=False, rng=os.urandom, kid=b"\x01")
    config = InitiatorConfig(identity_i, Method.STATIC_STATIC, (SUITE_0, SUITE_2))
    initiator = Initiator(config, os.urandom)
    initiator.start(C_I)
    initiator.receive(ErrorMessage(2, [0, 2]).encode())
    initiator.retry()
    with pytest.raises(PeerReportedError):
        initiator.receive(ErrorMessage(2, [0, 2]).encode())
    assert initiator.state is InitiatorState.FAILED
