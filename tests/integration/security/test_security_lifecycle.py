"""The credential lifecycle against a real head-end over TCP, on both CA backends (software
keystore, SoftHSM2) and both stores: register -> issue (serial) -> rotate -> grace period
-> revoke -> EDHOC refused; and the key events in order."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from security_support import (
    DEVICE_SECRET,
    NOW,
    YEAR,
    SecurityBackend,
    admitted,
    ca_on,
    enrol,
    headend,
    provisioned,
    sim,
)

from meterseal.crypto.suites import SUITE_2
from meterseal.edhoc import LocalIdentity, Method
from meterseal.edhoc.credentials import Credential
from meterseal.edhoc.id_cred import IdCred
from meterseal.headend.server import LocalHeadend
from meterseal.headend.testing import (
    LinkClosedError,
    MeterLink,
    SimMeter,
    async_test,
    make_meter,
)
from meterseal.hsm.interface import CryptoMachine
from meterseal.hsm.kek import TEST_SCRYPT, kek_from_passphrase
from meterseal.hsm.software import SoftwareKeystore
from meterseal.ledger.leaves import LeafKind, RevocationReason, parse_leaf
from meterseal.messages import AckStatus
from meterseal.meter.provisioning import adopt_credential, request_rotation
from meterseal.meter.secure_element import SecureElement
from meterseal.pki.revocation import revoke_meter
from meterseal.pki.rotation import expire_superseded, rotate_meter_credential

pytest_plugins = ["security_fixtures"]
pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

GRACE = 3600
KEY_EVENT_LEAVES = {
    LeafKind.REGISTRATION,
    LeafKind.CREDENTIAL_ISSUED,
    LeafKind.CREDENTIAL_ROTATED,
    LeafKind.CREDENTIAL_REVOKED,
}
CLOSE_BOUND = 5.0
"""Seconds within which a revocation must close a session: the 1 s poll, with slack
for a loaded machine."""


async def closed_within(link: MeterLink, seconds: float = CLOSE_BOUND) -> bool:
    """Whether the head-end ends the link's session within ``seconds`` (polling reads)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            await link.receive(timeout=left)
        except (LinkClosedError, ConnectionError):
            return True
        except TimeoutError:
            return False
    return False


async def settles(port: int, meter: SimMeter, admit: bool, seconds: float = CLOSE_BOUND) -> bool:
    """Whether handshakes of ``meter`` come to be admitted (or refused) within
    ``seconds``, and the next two attempts agree."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while await admitted(port, meter) is not admit:
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.1)
    return [await admitted(port, meter) for _ in range(2)] == [admit, admit]


async def holds_within(condition: Callable[[], bool], seconds: float = CLOSE_BOUND) -> bool:
    """Whether ``condition`` comes to hold within ``seconds`` (polled)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def upload_ok(link: MeterLink, seq: int) -> bool:
    ack = await link.upload(link.meter.signed_batch(seq, count=4))
    return ack.status is AckStatus.ACCEPTED


@async_test
async def test_register_rotate_expire_revoke_over_tcp(
    ca_machine: CryptoMachine, security_backend: SecurityBackend
) -> None:
    store = security_backend.open()
    ca = ca_on(ca_machine)
    meter = provisioned("LIFE-1")
    before_rotation = meter.element.save()
    registration = enrol(meter, ca, store)
    serial = registration.credential.serial
    filed = store.get_credential(serial)
    assert filed is not None
    assert (filed.state, filed.credential) == ("active", registration.cwt)
    async with headend(security_backend) as handle:
        assert isinstance(handle, LocalHeadend)
        port, registry = handle.port, handle.core.registry
        old_link = await MeterLink.connect(port, sim(meter))
        assert await upload_ok(old_link, 1)

        # rotation: once the head-end adopted the rotation's list, the session opened
        # with the old key keeps running (grace period)
        request = request_rotation(meter, serial, now=NOW + 60)
        rotated = rotate_meter_credential(
            request, ca=ca, store=store, now=NOW + 60, rng=os.urandom, valid_for=YEAR, grace=GRACE
        )
        old_credential = meter.credential
        adopt_credential(meter, rotated.credential.ccs)
        assert rotated.new.serial != serial
        assert await holds_within(lambda: registry.list_number == 1)
        assert await upload_ok(old_link, 2)

        # the grace period ends: the old credential is revoked, its session closed
        expire_superseded(ca=ca, store=store, now=rotated.grace_until)
        assert await closed_within(old_link)
        assert registry.revoked_serials == {serial}
        # the new key authenticates; the old key (an element rolled back) does not
        assert await settles(port, sim(meter), admit=True, seconds=0)
        rolled_back = SecureElement.load(before_rotation, DEVICE_SECRET, rng=os.urandom)
        old_key = rolled_back.identity_signing_key(SUITE_2)
        old_identity = LocalIdentity.signature(old_credential, IdCred.by_kid(b"LIFE-1"), old_key)
        stale = SimMeter("LIFE-1", SUITE_2, meter.method, old_identity, meter.element.data_key)
        assert await settles(port, stale, admit=False, seconds=0)
        new_link = await MeterLink.connect(port, sim(meter))
        assert await upload_ok(new_link, 3)

        # the meter is revoked: its session is closed and it is refused
        revoke_meter(
            "LIFE-1", ca=ca, store=store, now=NOW + GRACE + 120,
            reason=RevocationReason.KEY_COMPROMISE,
        )  # fmt: skip
        assert await closed_within(new_link)
        assert await settles(port, sim(meter), admit=False, seconds=0)
    trail = [(event.kind, event.serial) for event in store.key_events()]
    leaves = [parse_leaf(leaf) for _, leaf in store.pending_leaves(1000)]
    store.close()
    anchored = [leaf.KIND for leaf in leaves if leaf.KIND in KEY_EVENT_LEAVES]
    assert anchored == [
        LeafKind.REGISTRATION,
        LeafKind.CREDENTIAL_ISSUED,
        LeafKind.CREDENTIAL_ISSUED,
        LeafKind.CREDENTIAL_ROTATED,
        LeafKind.CREDENTIAL_REVOKED,
        LeafKind.CREDENTIAL_REVOKED,
    ]
    assert trail == [
        ("issuance", serial),
        ("generation", None),
        ("issuance", rotated.new.serial),
        ("rotation", serial),
        ("revocation", serial),
        ("revocation", rotated.new.serial),
    ]


@async_test
async def test_a_meter_registered_without_a_serial_is_closed_and_refused_too(
    security_backend: SecurityBackend, tmp_path: Path
) -> None:
    store = security_backend.open()
    legacy = make_meter("LEGACY-1")  # a simulator registration: no CA, no serial
    store.add_meter(legacy.record())
    kek = kek_from_passphrase("legacy", TEST_SCRYPT)
    with SoftwareKeystore(tmp_path / "ca.keys", kek, create=True) as machine:
        ca = ca_on(machine)
        async with headend(security_backend) as handle:
            link = await MeterLink.connect(handle.port, legacy)
            rows = revoke_meter(
                "LEGACY-1", ca=ca, store=store, now=NOW, reason=RevocationReason.TAMPERED
            )
            assert await closed_within(link)
            assert await settles(handle.port, legacy, admit=False, seconds=0)
    trail = store.key_events()
    store.close()
    assert [row.number for row in rows] == [1]  # a new list, though it names no serial
    assert trail == []  # no credential of the CA's was revoked


@async_test
async def test_a_static_dh_meter_registered_by_the_ca_authenticates_with_method_3(
    security_backend: SecurityBackend, tmp_path: Path
) -> None:
    store = security_backend.open()
    meter = provisioned("DH-1", method=Method.STATIC_STATIC)
    kek = kek_from_passphrase("static dh", TEST_SCRYPT)
    with SoftwareKeystore(tmp_path / "ca.keys", kek, create=True) as machine:
        ca = ca_on(machine)
        registration = enrol(meter, ca, store)
        key = Credential.from_ccs(registration.credential.ccs).key
        assert key.dh_public_key(SUITE_2.dh) == meter.element.identity_dh_key(SUITE_2).public_key
        async with headend(security_backend) as handle:
            link = await MeterLink.connect(handle.port, sim(meter))
            assert await upload_ok(link, 1)
            revoke_meter("DH-1", ca=ca, store=store, now=NOW, reason=RevocationReason.TAMPERED)
            assert await closed_within(link)
            assert await settles(handle.port, sim(meter), admit=False, seconds=0)
    store.close()
