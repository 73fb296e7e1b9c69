"""Meter key rotation: the request, its checks, the new credential, the grace period."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from meterseal import cbor
from meterseal.crypto.suites import SUITE_2
from meterseal.edhoc import Method
from meterseal.edhoc.credentials import Credential
from meterseal.hsm.kek import TEST_SCRYPT, kek_from_passphrase
from meterseal.hsm.software import SoftwareKeystore
from meterseal.ledger.leaves import LeafKind, RevocationReason, parse_leaf
from meterseal.messages import MeterType
from meterseal.meter.provisioning import (
    ProvisionedMeter,
    adopt_credential,
    make_headend_identities,
    make_meter,
    request_rotation,
)
from meterseal.pki.ca import CertificateAuthority
from meterseal.pki.manifest import parse_manifest
from meterseal.pki.registration import CustomerRecord, RegistrationRequest, Validity, register
from meterseal.pki.revocation import read_revocation_list
from meterseal.pki.rotation import (
    Rotated,
    RotationRefusedError,
    RotationRequest,
    expire_superseded,
    make_rotation_request,
    rotate_meter_credential,
)
from meterseal.pki.serials import ccs_serial
from meterseal.store import SqliteStore

NOW = 1_760_000_000
YEAR = 365 * 86_400
GRACE = 3600


@pytest.fixture
def ca(tmp_path: Path) -> Iterator[CertificateAuthority]:
    kek = kek_from_passphrase("rotation", TEST_SCRYPT)
    with SoftwareKeystore(tmp_path / "ca.keys", kek, create=True) as machine:
        yield CertificateAuthority.init(machine, [SUITE_2])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "store.db")
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def meter(ca: CertificateAuthority, store: SqliteStore) -> ProvisionedMeter:
    trust = make_headend_identities(os.urandom, [SUITE_2]).trust_for(SUITE_2)
    made = make_meter(
        "ROT-1", MeterType.ELECTRICITY, SUITE_2, Method.SIGN_SIGN, trust,
        rng=os.urandom, model_seed=1,
    )  # fmt: skip
    identity = made.element.identity_signing_key(SUITE_2).public_key
    data = made.element.data_key.public_key
    entry = {
        "meter_id": "ROT-1", "model": "MS-1", "meter_type": "electricity", "suite": 2,
        "identity_public_key": identity.hex(), "data_public_key": data.hex(),
    }  # fmt: skip
    manifest = parse_manifest(json.dumps({"version": 1, "meters": [entry]}))
    customers = {"c": CustomerRecord("c", b"\x01" * 32)}
    request = RegistrationRequest("ROT-1", identity, data, "c", b"\x01" * 32)
    validity = Validity(serial=1001, now=NOW, not_after=NOW + YEAR)
    result = register(manifest, customers, request, ca=ca, store=store, validity=validity)
    adopt_credential(made, result.credential.ccs)
    return made


def rotate(ca: CertificateAuthority, store: SqliteStore, data: bytes) -> Rotated:
    return rotate_meter_credential(
        data, ca=ca, store=store, now=NOW + 10, rng=os.urandom, valid_for=YEAR, grace=GRACE
    )


def test_rotation_issues_a_credential_for_the_new_key(
    meter: ProvisionedMeter, ca: CertificateAuthority, store: SqliteStore
) -> None:
    old_key = meter.element.identity_signing_key(SUITE_2).public_key
    rotated = rotate(ca, store, request_rotation(meter, 1001, now=NOW + 10))
    adopt_credential(meter, rotated.credential.ccs)
    new_key = meter.element.identity_signing_key(SUITE_2).public_key
    assert new_key != old_key
    assert Credential.from_ccs(rotated.credential.ccs).key.signature_public_key() == new_key
    assert meter.credential.value == rotated.credential.ccs
    record = store.get_meter("ROT-1")
    assert record is not None
    assert record.identity_credential == rotated.credential.ccs
    assert ccs_serial(record.identity_credential) == rotated.new.serial != 1001
    old = store.get_credential(1001)
    assert old is not None
    assert (old.state, old.grace_until) == ("superseded", NOW + 10 + GRACE)
    trail = [(e.kind, e.serial) for e in store.key_events()]
    assert trail == [
        ("issuance", 1001),
        ("generation", None),
        ("issuance", rotated.new.serial),
        ("rotation", 1001),
    ]
    kinds = [parse_leaf(leaf).KIND for _, leaf in store.pending_leaves(10)]
    assert kinds == [
        LeafKind.REGISTRATION,
        LeafKind.CREDENTIAL_ISSUED,
        LeafKind.CREDENTIAL_ISSUED,
        LeafKind.CREDENTIAL_ROTATED,
    ]


def test_the_old_credential_is_revoked_when_the_grace_period_ends(
    meter: ProvisionedMeter, ca: CertificateAuthority, store: SqliteStore
) -> None:
    rotated = rotate(ca, store, request_rotation(meter, 1001, now=NOW + 10))
    assert store.revocation_number() == 1  # the rotation's list: nothing revoked yet
    first = store.revocation_list(2)
    assert first is not None
    assert read_revocation_list(first.signed_list).entries == ()
    assert expire_superseded(ca=ca, store=store, now=rotated.grace_until - 1) == []
    assert store.revocation_number() == 1
    [row] = expire_superseded(ca=ca, store=store, now=rotated.grace_until)
    listed = read_revocation_list(row.signed_list)
    assert listed.number == 2
    assert [(e.serial, e.reason) for e in listed.entries] == [(1001, RevocationReason.SUPERSEDED)]
    old = store.get_credential(1001)
    assert old is not None
    assert old.state == "revoked"
    assert store.key_events()[-1].kind == "revocation"


def _signed(meter: ProvisionedMeter, *, forge_old: bool) -> bytes:
    """A request for a new key signed by a stranger (forged), or by the old key twice
    (no proof of possession of the new key)."""
    new_key = meter.element.begin_rotation(SUITE_2)
    request = RotationRequest("ROT-1", 2, 1001, new_key.public_key, NOW + 10)
    current = meter.element.identity_signing_key(SUITE_2)
    if forge_old:
        return make_rotation_request(request, SUITE_2.signature.generate(os.urandom), new_key)
    return make_rotation_request(request, current, current)


@pytest.mark.parametrize("case", ["forged", "no-possession", "stale", "wrong-serial", "garbage"])
def test_bad_rotation_requests_are_refused_and_change_nothing(
    meter: ProvisionedMeter, ca: CertificateAuthority, store: SqliteStore, case: str
) -> None:
    if case in ("forged", "no-possession"):
        data = _signed(meter, forge_old=case == "forged")
    elif case == "stale":
        data = request_rotation(meter, 1001, now=NOW - 1000)
    elif case == "wrong-serial":
        data = request_rotation(meter, 1002, now=NOW + 10)
    else:
        data = cbor.encode([b"x", b"y"])
    with pytest.raises(RotationRefusedError):
        rotate(ca, store, data)
    assert [c.serial for c in store.credentials("ROT-1")] == [1001]
    assert [e.kind for e in store.key_events()] == ["issuance"]


def test_a_replayed_request_is_refused(
    meter: ProvisionedMeter, ca: CertificateAuthority, store: SqliteStore
) -> None:
    data = request_rotation(meter, 1001, now=NOW + 10)
    rotate(ca, store, data)
    with pytest.raises(RotationRefusedError):
        rotate(ca, store, data)
