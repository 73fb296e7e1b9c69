"""Reconnect backoff (1 s doubling to 60 s, full jitter) and the meter's clock."""

from __future__ import annotations

import random

import pytest

from meterseal.meter.client import Backoff, ClientConfig, MeterClock


def _jitter(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - reconnect jitter, not a secret


def test_ceiling_doubles_from_one_second_and_stops_at_sixty() -> None:
    backoff = Backoff()
    assert [backoff.ceiling(n) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_ceiling_of_a_huge_attempt_number_is_the_cap() -> None:
    assert Backoff().ceiling(10_000) == 60


def test_delays_are_full_jitter_below_the_ceiling() -> None:
    backoff, jitter = Backoff(), _jitter(3)
    delays = [backoff.delay(n, jitter) for n in range(8) for _ in range(50)]
    ceilings = [backoff.ceiling(n) for n in range(8) for _ in range(50)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert min(d / c for d, c in zip(delays, ceilings, strict=True)) < 0.1
    assert max(d / c for d, c in zip(delays, ceilings, strict=True)) > 0.9


def test_schedule_is_deterministic_for_a_seeded_rng() -> None:
    backoff, first_rng, again_rng, reference = Backoff(), _jitter(11), _jitter(11), _jitter(11)
    first = [backoff.delay(n, first_rng) for n in range(6)]
    again = [backoff.delay(n, again_rng) for n in range(6)]
    expected = [reference.uniform(0, backoff.ceiling(n)) for n in range(6)]
    assert first == again == expected


def test_backoff_is_configurable_for_tests() -> None:
    backoff = Backoff(base=0.01, cap=0.05)
    assert [backoff.ceiling(n) for n in range(4)] == [0.01, 0.02, 0.04, 0.05]


def test_client_config_refuses_an_empty_window() -> None:
    with pytest.raises(ValueError, match="window"):
        ClientConfig("127.0.0.1", 1, window=0)


def test_time_sync_moves_the_meter_clock_and_reports_the_adjustment() -> None:
    clock = MeterClock(lambda: 1_000.7)
    assert clock.now() == 1_000
    assert clock.set(1_250) == 250
    assert clock.now() == 1_250
    assert clock.set(1_200) == -50
