"""SoftHSM2 token initialization under the data directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from softhsm_support import SO_PIN, USER_PIN, new_token

from meterseal.hsm import DuplicateLabelError, HsmError
from meterseal.hsm.softhsm import init_softhsm_token, softhsm_paths, token_labels

pytest_plugins = ["softhsm_support"]


def test_conf_points_the_token_directory_into_the_data_directory(
    softhsm_data_dir: Path,
) -> None:
    config = new_token(softhsm_data_dir)
    conf, tokens = softhsm_paths(softhsm_data_dir)
    assert config.softhsm_conf == conf
    assert os.environ["SOFTHSM2_CONF"] == str(conf)
    assert f"directories.tokendir = {tokens}\n" in conf.read_text(encoding="utf-8")
    assert tokens.is_relative_to(softhsm_data_dir.resolve())
    assert any(tokens.iterdir())
    assert config.token_label in token_labels(conf)


def test_an_existing_token_label_is_refused(softhsm_data_dir: Path) -> None:
    config = new_token(softhsm_data_dir)
    with pytest.raises(DuplicateLabelError):
        init_softhsm_token(softhsm_data_dir, config.token_label, SO_PIN, USER_PIN)


@pytest.mark.parametrize(("so_pin", "user_pin"), [("123", USER_PIN), (SO_PIN, "")])
def test_short_pins_are_refused(softhsm_data_dir: Path, so_pin: str, user_pin: str) -> None:
    conf, _ = softhsm_paths(softhsm_data_dir)
    before = token_labels(conf)
    with pytest.raises(HsmError, match="PIN"):
        init_softhsm_token(softhsm_data_dir, "short-pin", so_pin, user_pin)
    assert token_labels(conf) == before
