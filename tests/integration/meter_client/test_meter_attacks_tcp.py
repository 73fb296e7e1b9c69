"""Attacker modes over TCP: refused by a head-end that keeps the contract, and reported
as undefended by one that does not (so that the reports can fail)."""

from __future__ import annotations

import asyncio

from meter_tcp_support import IDENTITIES, DetRng, loopback

from meterseal.crypto.suites import SUITE_2
from meterseal.messages import AckStatus
from meterseal.meter.attacks import (
    AttackKit,
    AttackMode,
    AttackReport,
    Target,
    prepare_attack_kit,
    run_attacks,
)
from meterseal.meter.provisioning import register
from meterseal.meter.testing import DictRegistry, LoopbackHeadend
from meterseal.meter.testing_server import LoopbackServer


def _kit(registry: DictRegistry) -> AttackKit:
    return prepare_attack_kit(IDENTITIES.trust_for(SUITE_2), registry, rng=DetRng(b"attacker"))


def _attack(
    headend: LoopbackHeadend,
    kit: AttackKit,
    modes: tuple[AttackMode, ...] = tuple(AttackMode),
    handshake_timeout: float = 0.4,
) -> list[AttackReport]:
    async def scenario() -> list[AttackReport]:
        server = LoopbackServer(headend, handshake_timeout=handshake_timeout)
        async with server:
            target = Target(
                "127.0.0.1",
                server.port,
                timeout=2.0,
                handshake_limit=0.4,
                grace=0.6,
                dribble_interval=0.002,
            )
            return await run_attacks(kit, target, modes)

    return asyncio.run(scenario())


def test_every_attack_mode_is_refused_by_a_contract_keeping_headend() -> None:
    headend, registry = loopback()
    reports = _attack(headend, _kit(registry))
    assert {r.mode for r in reports} == set(AttackMode)
    assert all(r.defended for r in reports), [r for r in reports if not r.defended]
    assert len(reports) == 15


def test_replayed_batch_is_answered_duplicate_and_stored_once() -> None:
    headend, registry = loopback()
    kit = _kit(registry)
    reports = _attack(headend, kit, (AttackMode.REPLAY,))
    batch_report = next(r for r in reports if "acked batch" in r.tried)
    assert batch_report.outcome == "first ACCEPTED, replay DUPLICATE"
    first = headend.log.statuses(kit.victim.meter_id)[0][0]
    answers = [status for seq, status in headend.log.statuses(kit.victim.meter_id) if seq == first]
    assert answers == [AckStatus.ACCEPTED, AckStatus.DUPLICATE]


def test_unregistered_meter_is_told_err_code_3_and_wrong_key_err_code_1() -> None:
    headend, registry = loopback()
    modes = (AttackMode.UNREGISTERED, AttackMode.WRONG_KEY)
    outcomes = {r.mode: r.outcome for r in _attack(headend, _kit(registry), modes)}
    assert outcomes[AttackMode.UNREGISTERED] == "EDHOC error ERR_CODE 3"
    assert outcomes[AttackMode.WRONG_KEY] == "EDHOC error ERR_CODE 1"


def test_wrong_key_is_reported_undefended_when_the_registry_holds_the_impostor() -> None:
    headend, registry = loopback()
    kit = _kit(registry)
    register(registry, kit.impostor, registered_at=0)
    [report] = _attack(headend, kit, (AttackMode.WRONG_KEY,))
    assert (report.outcome, report.defended) == ("handshake completed", False)


def test_batch_replay_is_reported_undefended_without_deduplication() -> None:
    headend, registry = loopback()

    def forget(meter_id: str, seq: int) -> None:
        del headend.log.stored[(meter_id, seq)]

    headend.on_store = forget
    reports = _attack(headend, _kit(registry), (AttackMode.REPLAY,))
    batch_report = next(r for r in reports if "acked batch" in r.tried)
    assert not batch_report.defended


def test_slow_sender_is_reported_undefended_without_a_handshake_timeout() -> None:
    headend, registry = loopback()
    reports = _attack(headend, _kit(registry), (AttackMode.SLOW_SENDER,), handshake_timeout=30.0)
    assert [r.defended for r in reports] == [False, False]
