"""``meterseal ca revoke|crl|events`` run as the real CLI on a data directory."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meterseal.crypto.suites import SUITE_2, get_suite, supported_suites
from meterseal.demo import open_keystore
from meterseal.hsm.kek import TEST_SCRYPT, kek_from_passphrase
from meterseal.hsm.software import SoftwareKeystore
from meterseal.pki.ca import CertificateAuthority, root_label
from meterseal.pki.revocation import RevocationListRejectedError, verify_revocation_list

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

MAIN = [sys.executable, "-m", "meterseal.cli.main"]
ADDRESS_HASH = "22" * 32


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MAIN, *args], capture_output=True, text=True, timeout=60, check=False)


def write_inputs(tmp_path: Path) -> list[str]:
    """Manifest and customers files for meter r-1; the registration arguments."""
    alg = get_suite(2).signature
    kek = kek_from_passphrase("revocation cli", TEST_SCRYPT)
    with SoftwareKeystore(tmp_path / "meter.keys", kek, create=True) as keystore:
        identity = keystore.generate_signing_key("id", alg).public_key.hex()
        data = keystore.generate_signing_key("data", alg).public_key.hex()
    entry = {
        "meter_id": "r-1", "model": "MS-1", "meter_type": "water", "suite": 2,
        "identity_public_key": identity, "data_public_key": data,
    }  # fmt: skip
    (tmp_path / "manifest.json").write_text(json.dumps({"version": 1, "meters": [entry]}))
    customers = {"customers": [{"customer_id": "c-1", "address_hash": ADDRESS_HASH}]}
    (tmp_path / "customers.json").write_text(json.dumps(customers))
    return [
        "--manifest", str(tmp_path / "manifest.json"),
        "--customers", str(tmp_path / "customers.json"),
        "--meter", "r-1", "--identity-key", identity, "--data-key", data,
        "--customer", "c-1", "--address-hash", ADDRESS_HASH,
    ]  # fmt: skip


def test_revoke_publishes_a_signed_list_and_the_trail_records_every_event(
    tmp_path: Path,
) -> None:
    data_dir = str(tmp_path / "data")
    assert cli("ca", "init", "--data-dir", data_dir).returncode == 0
    registration = write_inputs(tmp_path)
    registered = cli("meter", "register", "--data-dir", data_dir, *registration)
    assert registered.returncode == 0, registered.stderr
    again = cli("meter", "register", "--data-dir", data_dir, *registration)
    assert again.returncode == 3

    revoked = cli(
        "ca", "revoke", "--meter", "r-1", "--reason", "key-compromise", "--data-dir", data_dir
    )
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.startswith("revocation list 1: 1 revoked")
    unknown = cli("ca", "revoke", "--serial", "5", "--reason", "superseded", "--data-dir", data_dir)
    assert unknown.returncode != 0
    assert "unknown or already revoked" in unknown.stderr

    expire = cli("ca", "expire", "--data-dir", data_dir)
    assert (expire.returncode, expire.stdout.strip()) == (0, "no superseded credential is due")

    out = tmp_path / "crl.cbor"
    crl = cli("ca", "crl", "--out", str(out), "--data-dir", data_dir)
    assert crl.returncode == 0, crl.stderr
    trail = cli("ca", "events", "--json", "--data-dir", data_dir)
    assert trail.returncode == 0, trail.stderr
    meter = cli("meter", "show", "r-1", "--json", "--data-dir", data_dir)

    events = json.loads(trail.stdout)["events"]
    kinds = [(event["kind"], event["subject"]) for event in events]
    roots = [kind for kind in kinds if kind[0] == "generation"]
    assert sorted(subject for _, subject in roots) == sorted(
        root_label(suite) for suite in supported_suites()
    )
    assert kinds[len(roots) :] == [
        ("issuance", "r-1"),
        ("refused_registration", "r-1"),
        ("revocation", "r-1"),
    ]
    assert events[-1]["detail"]["reason"] == "key_compromise"
    serial = events[-1]["serial"]
    assert events[len(roots)]["serial"] == serial
    shown = json.loads(meter.stdout)
    assert (shown["state"], shown["credential_serial"]) == ("revoked", serial)

    with open_keystore(Path(data_dir)) as machine:
        root = CertificateAuthority(machine, [SUITE_2]).root_public_key(SUITE_2)
    signed = out.read_bytes()
    listed = verify_revocation_list(signed, SUITE_2, root, now=int(time.time()))
    assert (listed.number, listed.serials) == (1, frozenset({serial}))
    tampered = signed[:-1] + bytes([signed[-1] ^ 1])
    with pytest.raises(RevocationListRejectedError):
        verify_revocation_list(tampered, SUITE_2, root, now=int(time.time()))


def test_rollover_makes_second_generation_roots_that_sign_the_next_list(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "data")
    assert cli("ca", "init", "--data-dir", data_dir).returncode == 0
    rolled = cli("ca", "rollover", "--data-dir", data_dir)
    assert rolled.returncode == 0, rolled.stderr
    labels = [line.split()[0] for line in rolled.stdout.splitlines()]
    assert labels == [root_label(suite, 2) for suite in supported_suites()]
    out = tmp_path / "crl.cbor"
    crl = cli("ca", "crl", "--out", str(out), "--data-dir", data_dir)
    assert crl.returncode == 0, crl.stderr
    trail = cli("ca", "events", "--json", "--data-dir", data_dir)
    generated = [e["subject"] for e in json.loads(trail.stdout)["events"]]
    assert generated[-len(labels) :] == labels
    with open_keystore(Path(data_dir)) as machine:
        ca = CertificateAuthority.current(machine, [SUITE_2])
        root = ca.root_public_key(SUITE_2)
    assert ca.generation == 2
    listed = verify_revocation_list(
        out.read_bytes(), SUITE_2, root, now=int(time.time()), generation=2
    )
    assert (listed.number, listed.entries) == (1, ())
