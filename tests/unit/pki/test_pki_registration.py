"""Manifest parsing and meter registration: success and each refusal reason."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from meterseal.crypto.suites import SUITE_0, SUITE_2, SUITE_GMT, CipherSuite, get_suite
from meterseal.edhoc import (
    Initiator,
    InitiatorConfig,
    LocalIdentity,
    Method,
    Responder,
    ResponderConfig,
)
from meterseal.edhoc.credentials import Credential
from meterseal.edhoc.id_cred import IdCred
from meterseal.edhoc.testing import lookup_from, make_identity, run_handshake
from meterseal.hsm.kek import TEST_SCRYPT, kek_from_passphrase
from meterseal.hsm.software import SoftwareKeystore
from meterseal.pki.ca import CertificateAuthority
from meterseal.pki.manifest import Manifest, ManifestError, parse_manifest
from meterseal.pki.registration import (
    CustomerRecord,
    RefusalReason,
    RegistrationRefusedError,
    RegistrationRequest,
    Validity,
    register,
)
from meterseal.store import SqliteStore
from meterseal.store.base import SqlStore

NOW = 1_750_000_000
VALIDITY = Validity(serial=7, now=NOW, not_after=NOW + 10 * 365 * 86400)
CUSTOMERS = {"cust-1": CustomerRecord("cust-1", b"\x11" * 32)}


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[SoftwareKeystore]:
    kek = kek_from_passphrase("pki registration", TEST_SCRYPT)
    with SoftwareKeystore(tmp_path / "ca.keys", kek, create=True) as keystore:
        yield keystore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = SqliteStore(tmp_path / "store.db")
    opened.migrate()
    yield opened
    opened.close()


def meter_entry(machine: SoftwareKeystore, meter_id: str, suite: int) -> dict[str, Any]:
    alg = get_suite(suite).signature
    identity = machine.generate_signing_key(f"{meter_id}-id", alg).public_key
    data = machine.generate_signing_key(f"{meter_id}-data", alg).public_key
    return {
        "meter_id": meter_id,
        "model": "MS-100",
        "meter_type": "electricity",
        "suite": suite,
        "identity_public_key": identity.hex(),
        "data_public_key": data.hex(),
    }


def manifest_of(*entries: dict[str, Any]) -> Manifest:
    return parse_manifest(json.dumps({"version": 1, "meters": list(entries)}))


def request_for(manifest: Manifest, meter_id: str) -> RegistrationRequest:
    entry = manifest.meters[meter_id]
    return RegistrationRequest(
        meter_id, entry.identity_public_key, entry.data_public_key, "cust-1", b"\x11" * 32
    )


def test_manifest_parses_into_typed_entries(machine: SoftwareKeystore) -> None:
    raw = meter_entry(machine, "m-1", 2)
    entry = manifest_of(raw).meters["m-1"]
    assert (entry.model, entry.meter_type, entry.suite) == ("MS-100", "electricity", 2)
    assert entry.identity_public_key.hex() == raw["identity_public_key"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extra": 1}, "exactly the fields"),
        ({"suite": 3}, "not supported"),
        ({"suite": "2"}, "integer"),
        ({"meter_type": "steam"}, "meter type"),
        ({"data_public_key": "0g"}, "hexadecimal"),
        ({"data_public_key": "ab cd"}, "hexadecimal"),
        ({"meter_id": ""}, "non-empty"),
    ],
)
def test_manifest_refuses_malformed_entries(
    machine: SoftwareKeystore, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ManifestError, match=message):
        manifest_of(meter_entry(machine, "m-1", 2) | change)


def test_manifest_refuses_repeated_ids_and_bad_documents(machine: SoftwareKeystore) -> None:
    entry = meter_entry(machine, "m-1", 2)
    with pytest.raises(ManifestError, match="twice"):
        manifest_of(entry, entry)
    with pytest.raises(ManifestError, match="version"):
        parse_manifest(json.dumps({"version": 2, "meters": []}))
    with pytest.raises(ManifestError, match="JSON"):
        parse_manifest("{")


@pytest.mark.parametrize("suite", [SUITE_2, SUITE_0, SUITE_GMT], ids=lambda s: str(s.value))
def test_registration_issues_credential_and_files_meter(
    machine: SoftwareKeystore, store: SqlStore, suite: CipherSuite
) -> None:
    ca = CertificateAuthority.init(machine, [SUITE_2, SUITE_0, SUITE_GMT])
    manifest = manifest_of(meter_entry(machine, "m-1", suite.value))
    request = request_for(manifest, "m-1")
    result = register(manifest, CUSTOMERS, request, ca=ca, store=store, validity=VALIDITY)
    assert store.get_meter("m-1") == result.record
    assert result.record.state == "registered"
    assert result.record.owner == "cust-1"
    assert result.record.suite == suite.value
    assert result.record.public_key == request.data_public_key
    assert ca.verify(result.cwt, suite, now=NOW).ccs == result.record.identity_credential
    credential = Credential.from_ccs(result.record.identity_credential)
    assert credential.key.signature_public_key() == request.identity_public_key
    assert credential.subject == "m-1"


def _refused(
    machine: SoftwareKeystore, store: SqlStore, request_change: dict[str, Any]
) -> RegistrationRefusedError:
    ca = CertificateAuthority.init(machine, [SUITE_2])
    manifest = manifest_of(meter_entry(machine, "m-1", 2))
    request = replace(request_for(manifest, "m-1"), **request_change)
    with pytest.raises(RegistrationRefusedError) as caught:
        register(manifest, CUSTOMERS, request, ca=ca, store=store, validity=VALIDITY)
    assert store.get_meter(request.meter_id) is None
    return caught.value


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"meter_id": "m-2"}, RefusalReason.UNKNOWN_METER),
        ({"identity_public_key": b"\x04" + b"\x00" * 64}, RefusalReason.KEY_MISMATCH),
        ({"data_public_key": b"\x04" + b"\x00" * 64}, RefusalReason.KEY_MISMATCH),
        ({"customer_id": "cust-2"}, RefusalReason.OWNER_MISMATCH),
        ({"address_hash": b"\x22" * 32}, RefusalReason.OWNER_MISMATCH),
    ],
)
def test_registration_refusals(
    machine: SoftwareKeystore, store: SqlStore, change: dict[str, Any], reason: RefusalReason
) -> None:
    assert _refused(machine, store, change).reason is reason


def test_second_registration_is_refused(machine: SoftwareKeystore, store: SqlStore) -> None:
    ca = CertificateAuthority.init(machine, [SUITE_2])
    manifest = manifest_of(meter_entry(machine, "m-1", 2))
    request = request_for(manifest, "m-1")
    first = register(manifest, CUSTOMERS, request, ca=ca, store=store, validity=VALIDITY)
    with pytest.raises(RegistrationRefusedError) as caught:
        register(manifest, CUSTOMERS, request, ca=ca, store=store, validity=VALIDITY)
    assert caught.value.reason is RefusalReason.ALREADY_REGISTERED
    assert store.get_meter("m-1") == first.record


@pytest.mark.parametrize("suite", [SUITE_2, SUITE_0, SUITE_GMT], ids=lambda s: str(s.value))
def test_registered_credential_authenticates_in_edhoc(
    machine: SoftwareKeystore, store: SqlStore, suite: CipherSuite
) -> None:
    ca = CertificateAuthority.init(machine, [suite])
    manifest = manifest_of(meter_entry(machine, "m-1", suite.value))
    register(
        manifest, CUSTOMERS, request_for(manifest, "m-1"), ca=ca, store=store, validity=VALIDITY
    )
    record = store.get_meter("m-1")
    assert record is not None
    meter_credential = Credential.from_ccs(record.identity_credential)
    meter = LocalIdentity.signature(
        meter_credential, IdCred.by_kid(b"m-1"), machine.signing_key("m-1-id")
    )
    headend = make_identity(suite, signs=True, rng=os.urandom, kid=b"\x02")
    run = run_handshake(
        Initiator(InitiatorConfig(meter, Method.SIGN_SIGN, (suite,)), os.urandom),
        lambda: Responder(ResponderConfig((suite,)), os.urandom),
        responder_identity=lambda _: headend,
        lookup=lookup_from([meter_credential, headend.credential]),
    )
    assert run.initiator.exporter(0, b"", 16) == run.responder.exporter(0, b"", 16)
