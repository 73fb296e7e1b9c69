"""SoftHSM2 tokens under the data directory: configuration file and token initialization.

SoftHSM2 finds its tokens through the configuration file named by ``SOFTHSM2_CONF``,
which it reads at ``C_Initialize``. :func:`init_softhsm_token` keeps everything under
``DATA_DIR/softhsm/``::

    DATA_DIR/softhsm/softhsm2.conf     directories.tokendir = DATA_DIR/softhsm/tokens
    DATA_DIR/softhsm/tokens/<uuid>/    one directory per token (SoftHSM2's file store)

and initializes a token with ``softhsm2-util --init-token --free``. The PINs go on
that command's line (SoftHSM2 offers no other non-interactive way), so run it where no
other user can list processes, and change the PINs afterwards if that matters.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from meterseal.hsm.config import SOFTHSM2_MODULE, Pkcs11Config
from meterseal.hsm.errors import DuplicateLabelError, HsmError, HsmUnavailableError

SOFTHSM_DIR = "softhsm"
CONF_NAME = "softhsm2.conf"
TOKENS_DIR = "tokens"
MIN_PIN = 4
MAX_PIN = 255


def softhsm_paths(data_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(DATA_DIR/softhsm/softhsm2.conf, DATA_DIR/softhsm/tokens)``, absolute."""
    base = Path(data_dir).resolve() / SOFTHSM_DIR
    return base / CONF_NAME, base / TOKENS_DIR


def write_softhsm_conf(data_dir: str | os.PathLike[str]) -> Path:
    """Write the configuration (if it differs), make the token directory, export
    ``SOFTHSM2_CONF`` for this process, and return the configuration's path."""
    conf, tokens = softhsm_paths(data_dir)
    tokens.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = (
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    if not conf.exists() or conf.read_text(encoding="utf-8") != text:
        conf.write_text(text, encoding="utf-8")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    return conf


def _softhsm2_util() -> str:
    util = shutil.which("softhsm2-util")
    if util is None:
        raise HsmUnavailableError("softhsm2-util is not installed (apt-get install softhsm2)")
    return util


def _run_util(args: list[str], conf: Path) -> str:
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    completed = subprocess.run(  # noqa: S603 - fixed argument list, no shell
        [_softhsm2_util(), *args], capture_output=True, text=True, env=env, check=False, timeout=60
    )
    if completed.returncode != 0:
        raise HsmError(f"softhsm2-util {args[0]} failed: {completed.stderr.strip()}")
    return completed.stdout


def token_labels(conf: Path) -> list[str]:
    """The labels of the initialized tokens that ``conf`` points at."""
    output = _run_util(["--show-slots"], conf)
    return [
        line.split(":", 1)[1].strip()
        for line in output.splitlines()
        if line.strip().startswith("Label:")
    ]


def _check_pin(pin: str, who: str) -> None:
    if not MIN_PIN <= len(pin) <= MAX_PIN:
        raise HsmError(f"the {who} PIN must be {MIN_PIN} to {MAX_PIN} characters")


def init_softhsm_token(
    data_dir: str | os.PathLike[str],
    label: str,
    so_pin: str,
    user_pin: str,
    *,
    module_path: str = SOFTHSM2_MODULE,
) -> Pkcs11Config:
    """Initialize a new SoftHSM2 token ``label`` under ``DATA_DIR/softhsm/`` and return
    the configuration that opens it (``SOFTHSM2_CONF`` is set for this process)."""
    _check_pin(so_pin, "SO")
    _check_pin(user_pin, "user")
    conf = write_softhsm_conf(data_dir)
    if label in token_labels(conf):
        raise DuplicateLabelError(f"a SoftHSM2 token labelled {label!r} already exists")
    _run_util(
        ["--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", user_pin],
        conf,
    )
    return Pkcs11Config(label, module_path, user_pin=user_pin, softhsm_conf=conf)
