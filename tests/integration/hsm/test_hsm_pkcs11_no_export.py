"""Nothing leaves the token: keys are sensitive and unextractable, and no API shows them.

The attribute checks open their own python-pkcs11 session on the test's token and ask
it directly (PKCS#11 v2.40 section 4.9: a sensitive or unextractable key's CKA_VALUE
cannot be read, and C_WrapKey refuses an unextractable key).
"""

from __future__ import annotations

import os
import pickle
from typing import TYPE_CHECKING, Any

import pytest

pkcs11 = pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed")

from meterseal.crypto.international import ED25519, ES256, P256  # noqa: E402 - after the skip
from meterseal.hsm import Pkcs11Config  # noqa: E402 - after the skip
from meterseal.hsm.testing import exposed_bytes, leaks  # noqa: E402 - after the skip

pytest_plugins = ["softhsm_support"]


if TYPE_CHECKING:
    from meterseal.hsm.pkcs11 import Pkcs11Machine

MASTER = bytes.fromhex("5c" * 32)
WRAPPING = bytes.fromhex("3a" * 32)
Attribute = pkcs11.Attribute
ObjectClass = pkcs11.ObjectClass


def _own_session(softhsm_token: Pkcs11Config) -> Any:
    """A second session on the token; the machine's login covers it (PKCS#11 logins are
    per application and softhsm_token, v2.40 base section 5.6)."""
    library = pkcs11.lib(softhsm_token.module_path)
    return library.get_token(token_label=softhsm_token.token_label).open()


def _populate(pkcs11_machine: Pkcs11Machine) -> None:
    pkcs11_machine.generate_dh_key("dh", P256)
    pkcs11_machine.generate_signing_key("es256", ES256)
    pkcs11_machine.generate_signing_key("ed25519", ED25519)
    pkcs11_machine.generate_master_key("master")
    pkcs11_machine.generate_wrapping_key("wrap")


def test_private_and_secret_keys_are_sensitive_and_never_extractable(
    pkcs11_machine: Pkcs11Machine, softhsm_token: Pkcs11Config
) -> None:
    _populate(pkcs11_machine)
    with _own_session(softhsm_token) as session:
        keys = [
            *session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}),
            *session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}),
        ]
        assert sorted(key.label for key in keys) == ["dh", "ed25519", "es256", "master", "wrap"]
        for key in keys:
            assert key[Attribute.SENSITIVE] is True
            assert key[Attribute.EXTRACTABLE] is False
            assert key[Attribute.ALWAYS_SENSITIVE] is True
            assert key[Attribute.NEVER_EXTRACTABLE] is True
            with pytest.raises(pkcs11.exceptions.AttributeSensitive):
                key[Attribute.VALUE]


def test_the_token_refuses_to_wrap_its_own_keys(
    pkcs11_machine: Pkcs11Machine, softhsm_token: Pkcs11Config
) -> None:
    _populate(pkcs11_machine)
    with _own_session(softhsm_token) as session:
        wrapping = session.get_key(ObjectClass.SECRET_KEY, label="wrap")
        for label in ("master", "dh"):
            target = next(
                key
                for key in session.get_objects({Attribute.LABEL: label})
                if key[Attribute.CLASS] != ObjectClass.PUBLIC_KEY
            )
            with pytest.raises(pkcs11.exceptions.KeyUnextractable):
                wrapping.wrap_key(target, mechanism=pkcs11.Mechanism.AES_KEY_WRAP)


def test_imported_secrets_never_appear_on_any_public_surface(pkcs11_machine: Pkcs11Machine) -> None:
    pkcs11_machine.import_master_key("master", MASTER)
    pkcs11_machine.import_wrapping_key("wrap", WRAPPING)
    dh = pkcs11_machine.generate_dh_key("dh", P256)
    signer = pkcs11_machine.generate_signing_key("es256", ES256)
    surfaces = exposed_bytes(pkcs11_machine) + exposed_bytes(dh) + exposed_bytes(signer)
    surfaces += [
        pkcs11_machine.derive_meter_key("master", "M00000001", "prepaid", 64),
        pkcs11_machine.wrap_key("wrap", os.urandom(32)),
        dh.exchange(P256.generate(os.urandom).public_key),
        signer.sign(b"m"),
    ]
    assert leaks([MASTER, WRAPPING], surfaces) == []


def test_machine_and_handles_cannot_be_pickled(pkcs11_machine: Pkcs11Machine) -> None:
    handles = [
        pkcs11_machine.generate_dh_key("dh", P256),
        pkcs11_machine.generate_signing_key("s", ES256),
    ]
    for target in [pkcs11_machine, *handles]:
        with pytest.raises(TypeError):
            pickle.dumps(target)
        assert not hasattr(target, "__dict__")
