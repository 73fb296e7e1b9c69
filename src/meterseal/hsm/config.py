"""Crypto machine configuration: two small dataclasses, and the URL form that names them.

URL forms (one line in a config file or an environment variable)::

    software:///var/lib/meterseal/keystore.msks?kek=env:METERSEAL_KEK
    software:///var/lib/meterseal/keystore.msks?kek=file:/etc/meterseal/kek&create=1
    software:///var/lib/meterseal/keystore.msks?kek=passphrase-env:METERSEAL_PASSPHRASE
    pkcs11:///usr/lib/softhsm/libsofthsm2.so?token=meterseal&pin-env=METERSEAL_HSM_PIN
        &softhsm-conf=/var/lib/meterseal/softhsm/softhsm2.conf

Secrets never appear in a URL: the KEK, passphrase and PIN are named by where to read
them (an environment variable or a file), and read only when the machine opens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from meterseal.hsm.errors import HsmError, HsmUnavailableError
from meterseal.hsm.kek import (
    DEFAULT_SCRYPT,
    KekSource,
    ScryptParams,
    kek_from_env,
    kek_from_file,
    kek_from_passphrase,
)

SOFTHSM2_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
"""Where Debian's softhsm2 package installs the PKCS#11 module."""

_KEK_PREFIXES = ("env:", "file:", "passphrase-env:")


@dataclass(frozen=True, slots=True)
class SoftwareConfig:
    """The software keystore at ``path``, its KEK named by ``kek`` (``env:NAME``,
    ``file:/path`` or ``passphrase-env:NAME``); ``create`` makes a new keystore."""

    path: Path
    kek: str
    create: bool = False
    scrypt: ScryptParams = DEFAULT_SCRYPT

    def __post_init__(self) -> None:
        if not self.kek.startswith(_KEK_PREFIXES):
            raise HsmError(f"kek must start with one of {', '.join(_KEK_PREFIXES)}")

    def kek_source(self) -> KekSource:
        """Read the KEK (or passphrase) now, from where ``kek`` names."""
        kind, _, where = self.kek.partition(":")
        if kind == "env":
            return kek_from_env(where)
        if kind == "file":
            return kek_from_file(where)
        passphrase = os.environ.get(where)
        if not passphrase:
            raise HsmUnavailableError(f"the passphrase variable {where} is not set")
        return kek_from_passphrase(passphrase, self.scrypt)


@dataclass(frozen=True, slots=True)
class Pkcs11Config:
    """A PKCS#11 token. The user PIN is given directly (``user_pin``, never printed) or
    read from the environment variable ``pin_env`` when the machine opens.
    ``softhsm_conf``, if set, becomes ``SOFTHSM2_CONF`` before the module loads."""

    token_label: str
    module_path: str = SOFTHSM2_MODULE
    user_pin: str | None = field(default=None, repr=False)
    pin_env: str | None = None
    softhsm_conf: Path | None = None

    def pin(self) -> str:
        """The user PIN, from the config or from ``pin_env``."""
        if self.user_pin is not None:
            return self.user_pin
        value = os.environ.get(self.pin_env) if self.pin_env else None
        if not value:
            raise HsmUnavailableError(f"no user PIN: set {self.pin_env or 'pin_env'}")
        return value


CryptoMachineConfig = SoftwareConfig | Pkcs11Config


def parse_url(url: str) -> CryptoMachineConfig:
    """The configuration a ``software://`` or ``pkcs11://`` URL names (see module doc)."""
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    path = unquote(parts.path)
    if parts.netloc:
        raise HsmError("crypto machine URLs take an absolute path: scheme:///path")
    if parts.scheme == "software":
        return _software(path, query)
    if parts.scheme == "pkcs11":
        return _pkcs11(path, query)
    raise HsmError(f"unknown crypto machine scheme {parts.scheme!r} (software, pkcs11)")


def _software(path: str, query: dict[str, str]) -> SoftwareConfig:
    if "kek" not in query:
        raise HsmError("a software keystore URL needs kek=env:NAME, file:/path or ...")
    create = query.get("create", "0").lower() in ("1", "true", "yes")
    return SoftwareConfig(Path(path), query["kek"], create)


def _pkcs11(path: str, query: dict[str, str]) -> Pkcs11Config:
    if "token" not in query or "pin-env" not in query:
        raise HsmError("a pkcs11 URL needs token=LABEL and pin-env=NAME")
    conf = query.get("softhsm-conf")
    return Pkcs11Config(
        token_label=query["token"],
        module_path=path or SOFTHSM2_MODULE,
        pin_env=query["pin-env"],
        softhsm_conf=Path(conf) if conf else None,
    )
