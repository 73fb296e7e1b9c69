"""Every attacker mode of :mod:`meterseal.meter.attacks` against the real head-end, while
an honest fleet uploads: each attempt is refused and counted in the head-end's stats
under its reason, and every honest meter completes with every batch stored once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest
from reliability_support import (
    exactly_once_problems,
    fleet_config,
    headend_identities,
    provision,
    start,
)

from meterseal.crypto.suites import SUITE_2
from meterseal.headend import HeadendStats
from meterseal.headend.testing import async_test
from meterseal.meter.attacks import AttackMode, AttackReport, Target, prepare_attack_kit
from meterseal.meter.fleet import FleetResult, run_fleet
from meterseal.store import open_store

pytest_plugins = ["reliability_fixtures"]  # store_url: SQLite and PostgreSQL
pytestmark = pytest.mark.timeout(60)

METERS, DAYS = 12, 2
HANDSHAKE_LIMIT = 0.5


@dataclass(frozen=True)
class Counted:
    """What the head-end must have counted for one attacker mode (and nothing else)."""

    handshakes_failed_by: dict[str, int] = field(default_factory=dict)
    batches_rejected_by: dict[str, int] = field(default_factory=dict)
    batches_duplicate: int = 0


EXPECTED = {
    # replayed message_3 fails its AEAD check; the acked batch sent again is a DUPLICATE
    AttackMode.REPLAY: Counted({"handshake_failed": 1}, batches_duplicate=1),
    AttackMode.FORGED_SIGNATURE: Counted(batches_rejected_by={"bad_signature": 2}),
    AttackMode.WRONG_KEY: Counted({"handshake_failed": 1}),  # message_3's MAC
    AttackMode.UNREGISTERED: Counted({"unknown_meter": 1}),
    AttackMode.GARBAGE_FRAMES: Counted({"framing": 3, "protocol": 1, "malformed": 1}),
    AttackMode.SLOW_SENDER: Counted({"handshake_timeout": 2}),
}


async def _attack_during_fleet(
    store_url: str, modes: tuple[AttackMode, ...]
) -> tuple[FleetResult, HeadendStats]:
    """An honest fleet and the attackers against one in-process head-end."""
    identities = headend_identities()
    config = fleet_config(METERS, DAYS, attacks=tuple(mode.value for mode in modes))
    meters = provision(store_url, config, identities=identities)
    store = open_store(store_url)
    try:
        kit = prepare_attack_kit(identities.trust_for(SUITE_2), store)
    finally:
        store.close()
    headend = await start(store_url, identities, handshake_timeout=HANDSHAKE_LIMIT)
    target = Target(
        "127.0.0.1",
        headend.port,
        timeout=3.0,
        handshake_limit=HANDSHAKE_LIMIT,
        grace=1.0,
        dribble_interval=0.01,
    )
    try:
        result = await run_fleet(
            meters, "127.0.0.1", headend.port, config, attack_kit=kit, attack_target=target
        )
    finally:
        stats = await headend.close()
    return result, stats


def _undefended(reports: list[AttackReport]) -> list[AttackReport]:
    return [report for report in reports if not report.defended]


@pytest.mark.parametrize("mode", list(AttackMode), ids=lambda mode: mode.value)
@async_test
async def test_reliability_attack_is_refused_and_counted_while_honest_meters_complete(
    store_url: str, mode: AttackMode
) -> None:
    result, stats = await _attack_during_fleet(store_url, (mode,))
    expected = EXPECTED[mode]
    assert result.attacks, "the attack did not run"
    assert {report.mode for report in result.attacks} == {mode}
    assert _undefended(result.attacks) == []
    assert stats.handshakes_failed_by == Counter(expected.handshakes_failed_by)
    assert stats.batches_rejected_by == Counter(expected.batches_rejected_by)
    assert stats.batches_duplicate == expected.batches_duplicate
    assert result.complete
    assert [m.meter_id for m in result.meters if m.stats.handshakes_failed] == []
    assert exactly_once_problems(result, store_url) == []


@async_test
async def test_reliability_all_attack_modes_at_once_are_refused_and_counted(
    store_url: str,
) -> None:
    result, stats = await _attack_during_fleet(store_url, tuple(AttackMode))
    failed: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    for expected in EXPECTED.values():
        failed.update(expected.handshakes_failed_by)
        rejected.update(expected.batches_rejected_by)
    assert {report.mode for report in result.attacks} == set(AttackMode)
    assert _undefended(result.attacks) == []
    assert stats.handshakes_failed_by == failed
    assert stats.batches_rejected_by == rejected
    assert result.complete
    assert exactly_once_problems(result, store_url) == []


@async_test
async def test_reliability_replayed_records_are_counted_as_record_failures(
    sqlite_store_url: str,
) -> None:
    result, stats = await _attack_during_fleet(sqlite_store_url, (AttackMode.REPLAY,))
    assert _undefended(result.attacks) == []
    assert stats.record_failures == 2  # the record resent in its session, and in a new one
