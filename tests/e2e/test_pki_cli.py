"""``meterseal ca init`` and ``meterseal meter register|list|show``, run as the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from meterseal.crypto.suites import get_suite, supported_suites
from meterseal.hsm.kek import TEST_SCRYPT, kek_from_passphrase
from meterseal.hsm.software import SoftwareKeystore
from meterseal.pki.ca import root_label

pytestmark = pytest.mark.timeout(120)

MAIN = [sys.executable, "-m", "meterseal.cli.main"]
ADDRESS_HASH = "11" * 32


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MAIN, *args], capture_output=True, text=True, timeout=60, check=False)


def meter_keys(tmp_path: Path, meter_id: str) -> tuple[str, str]:
    """The identity and data public keys (hex) of a meter on suite 2."""
    alg = get_suite(2).signature
    kek = kek_from_passphrase("pki cli", TEST_SCRYPT)
    with SoftwareKeystore(tmp_path / "meter.keys", kek, create=True) as keystore:
        identity = keystore.generate_signing_key(f"{meter_id}-id", alg).public_key
        data = keystore.generate_signing_key(f"{meter_id}-data", alg).public_key
    return identity.hex(), data.hex()


def register_args(
    data_dir: Path, files: Path, meter_id: str, identity: str, data: str
) -> list[str]:
    return [
        "meter",
        "register",
        "--data-dir",
        str(data_dir),
        "--manifest",
        str(files / "manifest.json"),
        "--customers",
        str(files / "customers.json"),
        "--meter",
        meter_id,
        "--identity-key",
        identity,
        "--data-key",
        data,
        "--customer",
        "cust-1",
        "--address-hash",
        ADDRESS_HASH,
    ]


def test_ca_init_register_list_show(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = cli("ca", "init", "--data-dir", str(data_dir))
    assert first.returncode == 0, first.stderr
    second = cli("ca", "init", "--data-dir", str(data_dir))
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout
    lines = first.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [root_label(s) for s in supported_suites()]
    assert all(len(line.split()[1]) == 16 for line in lines)

    identity, data = meter_keys(tmp_path, "m-1")
    entry = {
        "meter_id": "m-1",
        "model": "MS-100",
        "meter_type": "electricity",
        "suite": 2,
        "identity_public_key": identity,
        "data_public_key": data,
    }
    (tmp_path / "manifest.json").write_text(json.dumps({"version": 1, "meters": [entry]}))
    customers = {"customers": [{"customer_id": "cust-1", "address_hash": ADDRESS_HASH}]}
    (tmp_path / "customers.json").write_text(json.dumps(customers))

    wrong = cli(*register_args(data_dir, tmp_path, "m-1", data, data))
    assert wrong.returncode == 3
    assert "registration refused: key mismatch" in wrong.stderr

    registered = cli(*register_args(data_dir, tmp_path, "m-1", identity, data))
    assert registered.returncode == 0, registered.stderr
    assert bytes.fromhex(registered.stdout.strip())

    again = cli(*register_args(data_dir, tmp_path, "m-1", identity, data))
    assert again.returncode == 3
    assert "already registered" in again.stderr

    listing = cli("meter", "list", "--data-dir", str(data_dir))
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.split() == ["m-1", "electricity", "2", "registered", "cust-1"]

    shown = cli("meter", "show", "m-1", "--data-dir", str(data_dir), "--json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["public_key"] == data
    assert record["owner"] == "cust-1"
    assert record["credential_size"] > 0
    assert "T" in record["registered_at"]

    unknown = cli("meter", "show", "m-9", "--data-dir", str(data_dir))
    assert unknown.returncode == 3
    assert "no meter 'm-9'" in unknown.stderr


def test_register_refuses_bad_customers_file_and_uninitialised_ca(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps({"version": 1, "meters": []}))
    (tmp_path / "customers.json").write_text(json.dumps({"customers": [{"customer_id": 1}]}))
    bad = cli(*register_args(data_dir, tmp_path, "m-1", "aa", "bb"))
    assert bad.returncode == 2
    assert "customer_id" in bad.stderr

    customers = {"customers": [{"customer_id": "cust-1", "address_hash": ADDRESS_HASH}]}
    (tmp_path / "customers.json").write_text(json.dumps(customers))
    uninitialised = cli(*register_args(data_dir, tmp_path, "m-1", "aa", "bb"))
    assert uninitialised.returncode == 2
    assert "ca init" in uninitialised.stderr
    assert not (data_dir / "headend-keys.kek").exists()
