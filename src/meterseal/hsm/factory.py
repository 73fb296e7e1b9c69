"""Open the crypto machine that the configuration names (STYLE.md: backends by config).

``open_crypto_machine(parse_url("software:///...?kek=env:NAME"))`` or with a
:class:`~meterseal.hsm.config.SoftwareConfig` / :class:`~meterseal.hsm.config.Pkcs11Config`
directly; a URL string is parsed first.
"""

from __future__ import annotations

import os

from meterseal.hsm.config import CryptoMachineConfig, Pkcs11Config, SoftwareConfig, parse_url
from meterseal.hsm.interface import CryptoMachine
from meterseal.hsm.software import SoftwareKeystore


def open_crypto_machine(config: CryptoMachineConfig | str) -> CryptoMachine:
    """The software keystore or the PKCS#11 token that ``config`` names."""
    if isinstance(config, str):
        config = parse_url(config)
    if isinstance(config, SoftwareConfig):
        return SoftwareKeystore(config.path, config.kek_source(), create=config.create)
    return _open_pkcs11(config)


def _open_pkcs11(config: Pkcs11Config) -> CryptoMachine:
    """Import python-pkcs11 only when a PKCS#11 machine is asked for."""
    from meterseal.hsm.pkcs11 import Pkcs11Machine  # noqa: PLC0415 - optional dependency

    if config.softhsm_conf is not None:
        os.environ["SOFTHSM2_CONF"] = str(config.softhsm_conf)
    return Pkcs11Machine(config.module_path, config.token_label, config.pin())
