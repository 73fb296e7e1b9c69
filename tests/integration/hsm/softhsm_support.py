"""SoftHSM2 test fixtures and helpers: one configuration per session, one token per test.

Test modules load the fixtures with ``pytest_plugins = ["softhsm_support"]`` (not a
``conftest.py``: two of those in directories without ``__init__.py`` collide as modules).

SoftHSM2 reads ``SOFTHSM2_CONF`` and its token list at ``C_Initialize``, and
python-pkcs11 keeps one loaded module per path for the whole process. So the session
writes one configuration under a temporary data directory, every test initializes its
own token there (a unique label), and every machine a test opens is closed by the end of
the test, so that the next test's machine may re-initialize the module and see its new
token. Everything skips, and says why, without python-pkcs11 or SoftHSM2.
"""

from __future__ import annotations

import importlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from meterseal.hsm.config import SOFTHSM2_MODULE, Pkcs11Config
from meterseal.hsm.softhsm import init_softhsm_token, write_softhsm_conf

if TYPE_CHECKING:
    from meterseal.hsm.pkcs11 import Pkcs11Machine

SO_PIN = "so-pin-0000"
USER_PIN = "user-pin-1234"


def softhsm_missing() -> str | None:
    """Why the SoftHSM2 tests cannot run here, or None."""
    try:
        importlib.import_module("pkcs11")
    except ImportError:
        return "python-pkcs11 is not installed (pip install python-pkcs11)"
    if not Path(SOFTHSM2_MODULE).exists():
        return f"SoftHSM2 is not installed: no {SOFTHSM2_MODULE} (apt-get install softhsm2)"
    if shutil.which("softhsm2-util") is None:
        return "softhsm2-util is not on PATH (apt-get install softhsm2)"
    return None


def open_machine(config: Pkcs11Config) -> Pkcs11Machine:
    """A Pkcs11Machine on ``config``'s token (python-pkcs11 imported only now)."""
    from meterseal.hsm.pkcs11 import Pkcs11Machine  # noqa: PLC0415 - only when installed

    return Pkcs11Machine(config.module_path, config.token_label, config.pin())


def new_token(data_dir: Path) -> Pkcs11Config:
    """A freshly initialized token with a unique label."""
    return init_softhsm_token(data_dir, f"test-{uuid.uuid4().hex[:12]}", SO_PIN, USER_PIN)


# --- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def softhsm_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data directory with DATA_DIR/softhsm/softhsm2.conf, exported as SOFTHSM2_CONF."""
    reason = softhsm_missing()
    if reason is not None:
        pytest.skip(reason)
    previous = os.environ.get("SOFTHSM2_CONF")
    data_dir = tmp_path_factory.mktemp("data")
    write_softhsm_conf(data_dir)
    yield data_dir
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture
def softhsm_token(softhsm_data_dir: Path) -> Pkcs11Config:
    """This test's own token."""
    return new_token(softhsm_data_dir)


@pytest.fixture
def pkcs11_machine(softhsm_token: Pkcs11Config) -> Iterator[Pkcs11Machine]:
    """A Pkcs11Machine logged in to this test's token, closed afterwards."""
    opened = open_machine(softhsm_token)
    yield opened
    opened.close()
