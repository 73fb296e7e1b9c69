"""The fleet plan: a deterministic mix of meter types, suites and methods."""

from __future__ import annotations

from collections import Counter

import pytest

from meterseal.edhoc import Method
from meterseal.messages import MeterType
from meterseal.messages.fields import METER_ID_PATTERN
from meterseal.meter.fleet import FleetConfig, plan_fleet


def test_twenty_meters_mix_every_type_suite_and_method() -> None:
    plans = plan_fleet(FleetConfig(meters=20))
    combos = Counter((p.meter_type, p.suite.value, p.method) for p in plans)
    assert {p.meter_type for p in plans} == set(MeterType)
    assert {p.suite.value for p in plans} == {2, -24, 0}
    assert {p.method for p in plans} == {Method.STATIC_STATIC, Method.SIGN_SIGN}
    assert len(combos) >= 12


def test_meter_ids_are_unique_valid_and_name_the_type() -> None:
    plans = plan_fleet(FleetConfig(meters=300, id_prefix="T"))
    ids = [p.meter_id for p in plans]
    assert len(set(ids)) == 300
    assert all(METER_ID_PATTERN.fullmatch(i) for i in ids)
    assert plans[0].meter_id == "T-ELEC-000001"
    assert plans[1].meter_id == "T-WATR-000002"


def test_plan_is_deterministic_and_seeds_differ_per_meter() -> None:
    first, again = plan_fleet(FleetConfig(meters=5)), plan_fleet(FleetConfig(meters=5))
    assert first == again
    assert len({p.model_seed for p in first}) == 5


@pytest.mark.parametrize(
    ("days", "per_batch", "batches"), [(1, 96, 1), (7, 96, 7), (1, 40, 3), (0, 96, 0)]
)
def test_batches_per_meter_cover_every_interval(days: int, per_batch: int, batches: int) -> None:
    config = FleetConfig(days=days, intervals_per_batch=per_batch)
    assert config.batches_per_meter == batches


def test_a_fleet_without_suites_is_refused() -> None:
    with pytest.raises(ValueError, match="suites"):
        FleetConfig(suites=())
