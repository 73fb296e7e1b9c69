"""Head-end key rotation without dropping the fleet: a CA-issued head-end credential,
published beside the old one in the meters' trust; a head-end restarted on the new key
serves meters that trust both, while a session on the old key keeps running."""

from __future__ import annotations

import os
from contextlib import AsyncExitStack

import pytest
from security_support import NOW, YEAR, SecurityBackend, ca_on, enrol, provisioned, sim

from meterseal.crypto.suites import SUITE_2
from meterseal.edhoc import LocalIdentity, Method
from meterseal.edhoc.id_cred import IdCred
from meterseal.headend import HeadendConfig, HeadendHandle, start_headend
from meterseal.headend.config import HeadendKeys
from meterseal.headend.testing import MeterLink, async_test, command_key
from meterseal.hsm.interface import CryptoMachine
from meterseal.ledger.leaves import RevocationReason
from meterseal.messages import AckStatus
from meterseal.meter.buffer import MemoryBuffer
from meterseal.meter.client import Backoff, ClientConfig, MeterClient, UploadStats
from meterseal.meter.metering import build_batch
from meterseal.meter.provisioning import ProvisionedMeter, apply_revocation_list
from meterseal.meter.trust import HeadendTrust
from meterseal.pki.ca import CertificateAuthority
from meterseal.pki.headend_keys import (
    HeadendCredential,
    HeadendKeyRequest,
    generation_kid,
    issue_headend_credential,
    trust_with,
    trust_without,
)
from meterseal.pki.revocation import (
    RevocationListRejectedError,
    StaleRevocationListError,
    revoke_serial,
)
from meterseal.store.base import SqlStore

pytest_plugins = ["security_fixtures"]
pytestmark = pytest.mark.timeout(120)

DAY0 = NOW - NOW % 86_400


def certify(
    machine: CryptoMachine, ca: CertificateAuthority, store: SqlStore, generation: int
) -> tuple[HeadendCredential, LocalIdentity]:
    """A head-end signature key made in ``machine``, its credential, its identity."""
    kid = generation_kid(SUITE_2, "sig", generation)
    key = machine.generate_signing_key(f"he-sig-g{generation}", SUITE_2.signature)
    request = HeadendKeyRequest("headend-1", SUITE_2, key.public_key, True, kid)
    issued = issue_headend_credential(
        request, ca=ca, store=store, now=NOW, rng=os.urandom, valid_for=YEAR
    )
    return issued, LocalIdentity.signature(issued.credential, IdCred.by_kid(kid), key)


async def serve(
    stack: AsyncExitStack, backend: SecurityBackend, identity: LocalIdentity
) -> HeadendHandle:
    config = HeadendConfig(store_url=backend.url, port=0, methods=frozenset({Method.SIGN_SIGN}))
    keys = HeadendKeys({(2, Method.SIGN_SIGN): identity}, {2: command_key(SUITE_2)}, b"HE")
    handle = await start_headend(config, keys, store_factory=backend.factory)
    stack.push_async_callback(handle.close)
    return handle


async def upload(meter: ProvisionedMeter, port: int, day: int) -> UploadStats:
    """One day's batch through the real meter client (its trust checks the head-end)."""
    buffer = MemoryBuffer()
    batch = build_batch(meter.model, DAY0 + day * 86_400)
    buffer.put(meter.meter_id, batch.batch_seq, meter.seal(batch))
    config = ClientConfig("127.0.0.1", port, backoff=Backoff(0.01, 0.02), max_attempts=1)
    client = MeterClient(meter.session_config(), buffer, config)
    return await client.upload()


@async_test
async def test_a_new_headend_key_is_trusted_beside_the_old_one(
    security_backend: SecurityBackend, ca_machine: CryptoMachine
) -> None:
    store = security_backend.open()
    ca = ca_on(ca_machine)
    old, old_identity = certify(ca_machine, ca, store, 1)
    new, new_identity = certify(ca_machine, ca, store, 2)
    command = command_key(SUITE_2).public_key
    meter, laggard = provisioned("HER-1"), provisioned("HER-2")
    for each in (meter, laggard):
        each.trust = HeadendTrust.of([old.credential], command)
        enrol(each, ca, store)
    async with AsyncExitStack() as stack:
        before = await serve(stack, security_backend, old_identity)
        assert (await upload(meter, before.port, 0)).accepted == 1
        running = await MeterLink.connect(before.port, sim(meter), lambda _s, _m: old_identity)

        # the new credential is published beside the old one; a worker restarts on it
        meter.trust = trust_with(meter.trust, [new.credential])
        after = await serve(stack, security_backend, new_identity)
        assert (await upload(meter, after.port, 1)).accepted == 1
        refused = await upload(laggard, after.port, 1)  # still trusts only the old key
        assert (refused.handshakes_ok, refused.accepted) == (0, 0)
        assert any("untrusted head-end credential" in error for error in refused.errors)
        ack = await running.upload(sim(meter).signed_batch(7, count=4))
        assert ack.status is AckStatus.ACCEPTED  # the old-key session kept running
        await running.close()

        # every meter moved: the old credential is retired and revoked
        meter.trust = trust_without(meter.trust, [generation_kid(SUITE_2, "sig", 1)])
        assert set(meter.trust.credentials) == {generation_kid(SUITE_2, "sig", 2)}
        assert (await upload(meter, after.port, 2)).accepted == 1
        assert (await upload(meter, before.port, 3)).handshakes_ok == 0
    revoke_serial(old.serial, ca=ca, store=store, now=NOW + 5, reason=RevocationReason.SUPERSEDED)
    filed = {row.serial: row.state for row in store.credentials("headend-1")}
    trail = [(e.kind, e.subject) for e in store.key_events() if e.subject == "headend-1"]
    store.close()
    assert filed == {old.serial: "revoked", new.serial: "active"}
    assert trail == [("generation", "headend-1"), ("issuance", "headend-1")] * 2 + [
        ("revocation", "headend-1")
    ]


@async_test
async def test_a_revoked_headend_credential_fails_the_meters_next_handshake(
    security_backend: SecurityBackend, ca_machine: CryptoMachine
) -> None:
    store = security_backend.open()
    ca = ca_on(ca_machine)
    issued, identity = certify(ca_machine, ca, store, 1)
    meter = provisioned("HER-3")
    meter.trust = HeadendTrust.of([issued.credential], command_key(SUITE_2).public_key)
    enrol(meter, ca, store)
    root = ca.root_public_key(SUITE_2)
    async with AsyncExitStack() as stack:
        handle = await serve(stack, security_backend, identity)
        assert (await upload(meter, handle.port, 0)).accepted == 1
        [signed, *_] = revoke_serial(
            issued.serial, ca=ca, store=store, now=NOW, reason=RevocationReason.KEY_COMPROMISE
        )
        forged = signed.signed_list[:-1] + bytes([signed.signed_list[-1] ^ 1])
        with pytest.raises(RevocationListRejectedError):
            apply_revocation_list(meter, forged, root_public_key=root, now=NOW)
        with pytest.raises(StaleRevocationListError):
            apply_revocation_list(meter, signed.signed_list, root_public_key=root, now=NOW + YEAR)
        assert (await upload(meter, handle.port, 1)).accepted == 1  # still trusted
        listed = apply_revocation_list(meter, signed.signed_list, root_public_key=root, now=NOW)
        assert listed.serials == {issued.serial}
        assert meter.revocation_number == 1
        refused = await upload(meter, handle.port, 2)
    store.close()
    assert (refused.handshakes_ok, refused.accepted) == (0, 0)
    assert any("untrusted head-end credential" in error for error in refused.errors)
