"""Interoperability with lakers (lake-rs/lakers, lakers-python 0.6.2), an independent EDHOC.

lakers speaks method 3 on suite 2 with CCS credentials, referenced by kid or carried by
value (kccs). Both directions run: lakers as Responder to a MeterSeal Initiator, and
lakers as Initiator to a MeterSeal Responder, with and without message_4, and both sides
must export the same keys, before and after EDHOC_KeyUpdate. The credentials are CCSs
built by MeterSeal's ``make_ccs`` and parsed by lakers.

Not covered, because lakers 0.6.2 does not implement them: methods 0-2 (signatures),
suites other than 2, X.509 credentials, and exporter labels above 255 (its label is a
byte), so MeterSeal's private-use record labels (32768, 32769) are not compared here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from meterseal.crypto.suites import SUITE_2
from meterseal.edhoc import (
    CredentialNeeded,
    HandshakeCompleted,
    IdCred,
    Initiator,
    InitiatorConfig,
    LocalIdentity,
    Method,
    Responder,
    ResponderConfig,
)
from meterseal.edhoc.testing import make_identity

lakers = pytest.importorskip("lakers")

TRANSFERS = [
    pytest.param("ByReference", id="by-kid"),
    pytest.param("ByValue", id="by-value"),
]


@dataclass
class Party:
    """A static DH identity on suite 2, with the private key lakers needs as bytes."""

    private: bytes
    identity: LocalIdentity

    @classmethod
    def new(cls, kid: bytes, transfer: str) -> Party:
        private = os.urandom(32)
        identity = make_identity(SUITE_2, signs=False, rng=lambda _: private, kid=kid)
        if transfer == "ByValue":
            credential = identity.credential
            assert identity.dh_key is not None
            identity = LocalIdentity.static_dh(
                credential, IdCred.by_value(credential), identity.dh_key
            )
        return cls(private, identity)

    @property
    def ccs(self) -> bytes:
        return self.identity.credential.value


def check_same_keys(ours: Initiator | Responder, theirs: object) -> None:
    for label, length in ((0, 16), (1, 8), (2, 32)):
        exported = bytes(theirs.edhoc_exporter(label, list(b"ctx"), length))  # type: ignore[attr-defined]
        assert ours.exporter(label, b"ctx", length) == exported
    ours.key_update(b"epoch-1")
    theirs.edhoc_key_update(list(b"epoch-1"))  # type: ignore[attr-defined]
    assert ours.exporter(0, b"", 16) == bytes(theirs.edhoc_exporter(0, [], 16))  # type: ignore[attr-defined]


@pytest.mark.parametrize("transfer", TRANSFERS)
@pytest.mark.parametrize("message_4", [True, False], ids=["message-4", "no-message-4"])
def test_meterseal_initiator_with_lakers_responder(transfer: str, message_4: bool) -> None:
    meter, head_end = Party.new(b"\x2b", transfer), Party.new(b"\x0a", transfer)
    config = InitiatorConfig(
        meter.identity, Method.STATIC_STATIC, (SUITE_2,), expect_message_4=message_4
    )
    initiator = Initiator(config, os.urandom)
    responder = lakers.EdhocResponder(head_end.private, head_end.ccs)
    c_i, ead_1 = responder.process_message_1(initiator.start(b"\x37"))
    assert (bytes(c_i), list(ead_1)) == (b"\x37", [])
    message_2 = responder.prepare_message_2(getattr(lakers.CredentialTransfer, transfer), None, [])
    (needed,) = initiator.receive(message_2)
    assert isinstance(needed, CredentialNeeded)
    assert needed.id_cred.matches(head_end.identity.credential)
    initiator.provide_credential(head_end.identity.credential)
    id_cred_i, _ = responder.parse_message_3(initiator.send_message_3())
    responder.verify_message_3(lakers.credential_check_or_fetch(id_cred_i, meter.ccs))
    if message_4:
        (done,) = initiator.receive(responder.prepare_message_4())
        assert isinstance(done, HandshakeCompleted)
    else:
        responder.completed_without_message_4()
    check_same_keys(initiator, responder)


@pytest.mark.parametrize("transfer", TRANSFERS)
@pytest.mark.parametrize("message_4", [True, False], ids=["message-4", "no-message-4"])
def test_lakers_initiator_with_meterseal_responder(transfer: str, message_4: bool) -> None:
    meter, head_end = Party.new(b"\x2b", transfer), Party.new(b"\x0a", transfer)
    initiator = lakers.EdhocInitiator()
    responder = Responder(ResponderConfig((SUITE_2,), send_message_4=message_4), os.urandom)
    responder.receive(initiator.prepare_message_1(None))
    c_r, id_cred_r, _ = initiator.parse_message_2(
        responder.send_message_2(head_end.identity, b"\x18")
    )
    assert bytes(c_r) == b"\x18"
    valid_cred_r = lakers.credential_check_or_fetch(id_cred_r, head_end.ccs)
    initiator.verify_message_2(meter.private, meter.ccs, valid_cred_r)
    message_3, _ = initiator.prepare_message_3(getattr(lakers.CredentialTransfer, transfer), [])
    (needed,) = responder.receive(message_3)
    assert isinstance(needed, CredentialNeeded)
    credential = needed.id_cred.embedded or meter.identity.credential
    assert needed.id_cred.matches(credential)
    (done,) = responder.provide_credential(credential)
    assert isinstance(done, HandshakeCompleted)
    if message_4:
        initiator.process_message_4(responder.send_message_4())
    else:
        initiator.completed_without_message_4()
    check_same_keys(responder, initiator)
