"""The ledger setting of ``meterseal serve``: where the store's outbox is forwarded."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterseal.config import ConfigError, load_settings
from meterseal.headend.ledger_forwarder import ledger_location


def settings_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "meterseal.toml"
    path.write_text(text)
    return path


def test_by_default_the_ledger_lives_in_the_data_directory(tmp_path: Path) -> None:
    settings = load_settings(settings_file(tmp_path, 'data_dir = "data"\n'))
    assert settings.ledger_spec == str(tmp_path / "data")
    assert settings.headend_config().ledger == str(tmp_path / "data")
    assert ledger_location(settings.ledger_spec) == f"in process, {tmp_path / 'data' / 'ledger'}"


def test_a_relative_ledger_directory_is_relative_to_the_file(tmp_path: Path) -> None:
    settings = load_settings(settings_file(tmp_path, 'ledger = "elsewhere"\n'))
    assert settings.ledger_spec == str(tmp_path / "elsewhere")


@pytest.mark.parametrize("value", ["none", "http://ledger.example:8410"])
def test_none_and_urls_are_taken_as_given(tmp_path: Path, value: str) -> None:
    settings = load_settings(settings_file(tmp_path, f'ledger = "{value}"\n'))
    assert settings.headend_config().ledger == value


def test_a_url_and_none_print_as_what_they_are() -> None:
    assert (
        ledger_location("http://ledger.example:8410") == "ledger service http://ledger.example:8410"
    )
    assert ledger_location("none") is None
    assert ledger_location(None) is None


def test_the_ledger_must_be_a_string(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ledger"):
        load_settings(settings_file(tmp_path, "ledger = 3\n"))
