"""Choosing a crypto machine by configuration: URLs, dataclasses and the factory."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterseal.crypto.international import ES256
from meterseal.hsm import (
    HsmError,
    HsmUnavailableError,
    Pkcs11Config,
    SoftwareConfig,
    SoftwareKeystore,
    open_crypto_machine,
    parse_url,
)
from meterseal.hsm.kek import TEST_SCRYPT

KEK_HEX = "11" * 32


def test_software_url_names_path_kek_and_create() -> None:
    config = parse_url("software:///var/lib/meterseal/keys.msks?kek=env:MS_KEK&create=1")
    assert config == SoftwareConfig(Path("/var/lib/meterseal/keys.msks"), "env:MS_KEK", True)


def test_pkcs11_url_names_module_token_pin_variable_and_conf() -> None:
    config = parse_url(
        "pkcs11:///usr/lib/softhsm/libsofthsm2.so?token=head-end&pin-env=MS_PIN"
        "&softhsm-conf=/data/softhsm/softhsm2.conf"
    )
    assert config == Pkcs11Config(
        token_label="head-end",  # noqa: S106 - a token label, not a password
        module_path="/usr/lib/softhsm/libsofthsm2.so",
        pin_env="MS_PIN",
        softhsm_conf=Path("/data/softhsm/softhsm2.conf"),
    )


@pytest.mark.parametrize(
    "url",
    [
        "hsm:///x?token=t",
        "software://host/keys?kek=env:K",
        "software:///keys",
        "software:///keys?kek=K",
        "pkcs11:///lib.so?token=t",
        "pkcs11:///lib.so?pin-env=P",
    ],
)
def test_incomplete_or_unknown_urls_are_refused(url: str) -> None:
    with pytest.raises(HsmError):
        parse_url(url)


def test_factory_creates_then_opens_a_software_keystore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MS_TEST_KEK", KEK_HEX)
    url = f"software://{tmp_path}/keys.msks?kek=env:MS_TEST_KEK"
    with open_crypto_machine(url + "&create=1") as machine:
        assert isinstance(machine, SoftwareKeystore)
        public = machine.generate_signing_key("ca", ES256).public_key
    with open_crypto_machine(url) as machine:
        assert machine.signing_key("ca").public_key == public


def test_factory_reads_a_passphrase_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MS_TEST_PASSPHRASE", "a long operator passphrase")
    config = SoftwareConfig(tmp_path / "k", "passphrase-env:MS_TEST_PASSPHRASE", True, TEST_SCRYPT)
    open_crypto_machine(config).close()
    monkeypatch.setenv("MS_TEST_PASSPHRASE", "another passphrase")
    with pytest.raises(HsmError):
        open_crypto_machine(SoftwareConfig(tmp_path / "k", "passphrase-env:MS_TEST_PASSPHRASE"))


def test_missing_secrets_are_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MS_ABSENT", raising=False)
    with pytest.raises(HsmUnavailableError, match="MS_ABSENT"):
        SoftwareConfig(tmp_path / "k", "passphrase-env:MS_ABSENT").kek_source()
    with pytest.raises(HsmUnavailableError, match="MS_ABSENT"):
        Pkcs11Config("token", pin_env="MS_ABSENT").pin()


def test_pins_are_never_printed() -> None:
    config = Pkcs11Config("token", user_pin="9137-secret")
    assert "9137" not in repr(config)
    assert config.pin() == "9137-secret"
