"""Fixtures of the security-server tests: the store (SQLite, PostgreSQL) and the crypto
machine holding the CA roots (software keystore, SoftHSM2).

Test modules load them with ``pytest_plugins = ["security_fixtures"]``. PostgreSQL gets
a scratch schema per test; SoftHSM2 a fresh token per test (python-pkcs11 keeps one
loaded module per process, so every machine is closed by the end of its test). Either
skips, and says why, when it is not installed or not reachable.
"""

from __future__ import annotations

import importlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from security_support import SecurityBackend, postgres_backend, sqlite_backend

from meterseal.hsm.config import SOFTHSM2_MODULE
from meterseal.hsm.interface import CryptoMachine
from meterseal.hsm.kek import TEST_SCRYPT, kek_from_passphrase
from meterseal.hsm.softhsm import init_softhsm_token, write_softhsm_conf
from meterseal.hsm.software import SoftwareKeystore
from meterseal.store.scratch import DEFAULT_TEST_DSN, postgres_reachable, scratch_schema

PG_DSN = os.environ.get("METERSEAL_TEST_PG_DSN", DEFAULT_TEST_DSN)


def _softhsm_missing() -> str | None:
    try:
        importlib.import_module("pkcs11")
    except ImportError:
        return "python-pkcs11 is not installed"
    if not Path(SOFTHSM2_MODULE).exists() or shutil.which("softhsm2-util") is None:
        return f"SoftHSM2 is not installed ({SOFTHSM2_MODULE}, softhsm2-util)"
    return None


@pytest.fixture(params=["sqlite", "postgres"])
def security_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SecurityBackend]:
    """A SQLite file, or a scratch PostgreSQL schema (skipped if unreachable)."""
    if request.param == "sqlite":
        yield sqlite_backend(tmp_path)
        return
    reason = postgres_reachable(PG_DSN)
    if reason is not None:
        pytest.skip(reason)
    with scratch_schema(PG_DSN, "test_security") as schema:
        yield postgres_backend(PG_DSN, schema)


@pytest.fixture(scope="session")
def softhsm_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data directory whose SoftHSM2 configuration is exported as SOFTHSM2_CONF."""
    reason = _softhsm_missing()
    if reason is not None:
        pytest.skip(reason)
    previous = os.environ.get("SOFTHSM2_CONF")
    data_dir = tmp_path_factory.mktemp("security-softhsm")
    write_softhsm_conf(data_dir)
    yield data_dir
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture(params=["software", "softhsm"])
def ca_machine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CryptoMachine]:
    """The crypto machine of the CA roots: a software keystore, or a SoftHSM2 token."""
    if request.param == "software":
        kek = kek_from_passphrase("security tests", TEST_SCRYPT)
        with SoftwareKeystore(tmp_path / "ca.keys", kek, create=True) as keystore:
            yield keystore
        return
    data_dir: Path = request.getfixturevalue("softhsm_dir")
    from meterseal.hsm.pkcs11 import Pkcs11Machine  # noqa: PLC0415 - only when installed

    label = f"sec-{uuid.uuid4().hex[:12]}"
    config = init_softhsm_token(data_dir, label, "so-pin-0000", "user-pin-1234")
    machine = Pkcs11Machine(config.module_path, config.token_label, config.pin())
    yield machine
    machine.close()
