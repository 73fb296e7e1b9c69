"""Provisioning: meter credentials from the secure element, registration, head-end keys."""

from __future__ import annotations

from dataclasses import replace

import pytest
from meter_client_support import IDENTITIES, DetRng, all_suites, new_meter, signed_day

from meterseal.crypto.suites import SUITE_0, SUITE_2, CipherSuite
from meterseal.edhoc import IdCred, Method
from meterseal.messages import MeterType, open_batch
from meterseal.meter.provisioning import headend_kid, make_headend_identities, register
from meterseal.meter.testing import DictRegistry
from meterseal.meter.trust import HeadendTrust


@pytest.mark.parametrize("suite", all_suites(), ids=lambda s: f"suite{s.value}")
def test_static_dh_meter_credential_holds_the_secure_element_point(suite: CipherSuite) -> None:
    meter = new_meter(IDENTITIES, suite, Method.STATIC_STATIC, meter_id="WATR-7")
    credential = meter.credential
    assert (credential.kid, credential.subject) == (b"WATR-7", "WATR-7")
    assert credential.key.x == meter.element.identity_dh_key(suite).public_key
    assert meter.identity.id_cred == IdCred.by_kid(b"WATR-7")


@pytest.mark.parametrize("suite", all_suites(), ids=lambda s: f"suite{s.value}")
def test_signature_meter_credential_holds_the_secure_element_key(suite: CipherSuite) -> None:
    meter = new_meter(IDENTITIES, suite, Method.SIGN_SIGN)
    signing_key = meter.element.identity_signing_key(suite)
    assert meter.credential.key.signature_public_key() == signing_key.public_key


def test_ed25519_meter_credential_names_curve_6() -> None:
    meter = new_meter(IDENTITIES, SUITE_0, Method.SIGN_SIGN)
    assert meter.credential.key.crv == 6


def test_register_writes_the_meter_record() -> None:
    meter = new_meter(IDENTITIES, SUITE_2, meter_id="ELEC-000003")
    registry = DictRegistry()
    record = register(registry, meter, registered_at=1_700_000_000)
    assert registry.get_meter("ELEC-000003") == record
    assert (record.meter_type, record.suite, record.state) == ("electricity", 2, "registered")
    assert record.identity_credential == meter.credential.value
    assert record.public_key == meter.element.data_key.public_key
    assert record.registered_at == 1_700_000_000


def test_batches_open_with_the_registered_data_key() -> None:
    meter = new_meter(IDENTITIES)
    record = meter.record(0)
    batch = open_batch(signed_day(meter)[1], SUITE_2.signature, record.public_key)
    assert (batch.meter_id, batch.meter_type) == (meter.meter_id, MeterType.ELECTRICITY)


def test_headend_kids_name_suite_and_key_kind() -> None:
    assert headend_kid(SUITE_2, "dh") == b"HE-2-dh"
    assert {cred.kid for cred in IDENTITIES.credentials(SUITE_0)} == {b"HE-0-dh", b"HE-0-sig"}


@pytest.mark.parametrize(
    ("method", "signs"),
    [(Method.STATIC_STATIC, False), (Method.SIGN_SIGN, True), (Method.STATIC_SIGN, True)],
)
def test_headend_answers_with_the_key_kind_the_method_needs(method: Method, signs: bool) -> None:
    assert IDENTITIES.for_handshake(SUITE_2, method).signs is signs


def test_meter_trust_holds_the_suite_credentials_and_command_key() -> None:
    trust = IDENTITIES.trust_for(SUITE_2)
    assert set(trust.credentials) == {b"HE-2-dh", b"HE-2-sig"}
    assert trust.command_key == IDENTITIES.command_key(SUITE_2).public_key
    assert trust.lookup(IdCred.by_kid(b"HE-0-dh")) is None


def test_command_key_is_not_an_edhoc_key() -> None:
    signer = IDENTITIES.identities[(2, True)].signing_key
    assert signer is not None
    assert IDENTITIES.command_key(SUITE_2).public_key != signer.public_key


def test_trust_lookup_by_value_accepts_only_a_trusted_credential() -> None:
    trust = IDENTITIES.trust_for(SUITE_2)
    trusted = trust.credentials[b"HE-2-dh"]
    other = make_headend_identities(DetRng(b"other head-end"), [SUITE_2])
    assert trust.lookup(IdCred.by_value(trusted)) == trusted
    assert trust.lookup(IdCred.by_value(other.credentials(SUITE_2)[0])) is None


def test_trusted_credentials_need_a_kid() -> None:
    meter = new_meter(IDENTITIES)
    kidless = replace(meter.credential, key=replace(meter.credential.key, kid=None))
    with pytest.raises(ValueError, match="kid"):
        HeadendTrust.of([kidless], b"")


def test_identities_by_method_cover_every_suite_and_method() -> None:
    table = IDENTITIES.by_method()
    assert set(table) == {(s.value, m) for s in all_suites() for m in Method}
    assert all(identity.signs is method.responder_signs for (_, method), identity in table.items())
