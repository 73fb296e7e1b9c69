"""The crypto machine's errors, one subtree of :class:`~meterseal.errors.MeterSealError`.

Errors from python-pkcs11 and from the keystore file are translated once, where they
enter (:mod:`meterseal.hsm.pkcs11`, :mod:`meterseal.hsm.keystore_file`), with
``raise ... from exc``. No message ever carries key material, a passphrase or a PIN.
"""

from __future__ import annotations

from meterseal.errors import MeterSealError, UnsupportedAlgorithmError


class HsmError(MeterSealError):
    """The crypto machine refused or failed an operation."""


class KeyNotFoundError(HsmError):
    """No key carries this label (or it was destroyed while a handle still named it)."""


class DuplicateLabelError(HsmError):
    """A key with this label already exists; labels name exactly one key."""


class WrongKeyKindError(HsmError):
    """The label names a key of another kind (a signing key asked for as a DH key, ...)."""


class HsmUnavailableError(HsmError):
    """The backend cannot be reached: module or token missing, keystore locked or closed."""


class WrongPassphraseError(HsmError):
    """The passphrase, key-encryption key or user PIN does not open the crypto machine."""


class KeystoreTamperedError(HsmError):
    """The keystore file is malformed or does not authenticate under the right KEK."""


class UnsupportedByBackendError(HsmError, UnsupportedAlgorithmError):
    """This backend cannot hold keys of this algorithm or curve (another backend can)."""
