"""The crypto machine: PKCS#11 HSM (SoftHSM2 in tests) and the encrypted software keystore.

One interface (:class:`CryptoMachine`), two backends chosen by configuration
(:func:`open_crypto_machine`). See docs/crypto-machine.md. The PKCS#11 backend lives in
:mod:`meterseal.hsm.pkcs11` and is imported only when asked for, so the software keystore
works without python-pkcs11.
"""

from meterseal.hsm.config import Pkcs11Config, SoftwareConfig, parse_url
from meterseal.hsm.errors import (
    DuplicateLabelError,
    HsmError,
    HsmUnavailableError,
    KeyNotFoundError,
    KeystoreTamperedError,
    UnsupportedByBackendError,
    WrongKeyKindError,
    WrongPassphraseError,
)
from meterseal.hsm.factory import open_crypto_machine
from meterseal.hsm.interface import CryptoMachine, KeyInfo, KeyKind
from meterseal.hsm.kek import (
    KekSource,
    ScryptParams,
    kek_from_env,
    kek_from_file,
    kek_from_passphrase,
)
from meterseal.hsm.software import SoftwareKeystore

__all__ = [
    "CryptoMachine",
    "DuplicateLabelError",
    "HsmError",
    "HsmUnavailableError",
    "KekSource",
    "KeyInfo",
    "KeyKind",
    "KeyNotFoundError",
    "KeystoreTamperedError",
    "Pkcs11Config",
    "ScryptParams",
    "SoftwareConfig",
    "SoftwareKeystore",
    "UnsupportedByBackendError",
    "WrongKeyKindError",
    "WrongPassphraseError",
    "kek_from_env",
    "kek_from_file",
    "kek_from_passphrase",
    "open_crypto_machine",
    "parse_url",
]
