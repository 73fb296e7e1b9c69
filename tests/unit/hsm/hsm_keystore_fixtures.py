"""Fixtures for the software keystore: a fresh keystore file per test, cheap scrypt.

Test modules load them with ``pytest_plugins = ["hsm_keystore_fixtures"]`` (not a
``conftest.py``: two of those in directories without ``__init__.py`` collide as modules).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from meterseal.hsm.kek import TEST_SCRYPT, KekSource, kek_from_passphrase
from meterseal.hsm.software import SoftwareKeystore

PASSPHRASE = "correct horse battery staple"  # noqa: S105 - the tests' own passphrase


@pytest.fixture
def keystore_kek() -> KekSource:
    """The test passphrase through scrypt at test cost."""
    return kek_from_passphrase(PASSPHRASE, TEST_SCRYPT)


@pytest.fixture
def keystore_path(tmp_path: Path) -> Path:
    """Where the test's keystore lives."""
    return tmp_path / "keystore.msks"


@pytest.fixture
def keystore(keystore_path: Path, keystore_kek: KekSource) -> Iterator[SoftwareKeystore]:
    """A new, empty keystore, closed after the test."""
    store = SoftwareKeystore(keystore_path, keystore_kek, create=True)
    yield store
    store.close()
