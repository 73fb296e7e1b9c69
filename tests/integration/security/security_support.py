"""The security-server tests' parts: stores, a CA with one registered meter, a head-end."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from meterseal.crypto.suites import SUITE_2, CipherSuite
from meterseal.edhoc import Method
from meterseal.errors import MeterSealError
from meterseal.headend import HeadendConfig, HeadendHandle, start_headend
from meterseal.headend.config import StoreFactory
from meterseal.headend.testing import MeterLink, SimMeter, sample_keys
from meterseal.hsm.interface import CryptoMachine
from meterseal.messages import MeterType
from meterseal.meter.provisioning import (
    ProvisionedMeter,
    adopt_credential,
    make_headend_identities,
    make_meter,
)
from meterseal.meter.se_state import ScryptParams
from meterseal.meter.secure_element import KeyKind, SecureElement
from meterseal.meter.trust import HeadendTrust
from meterseal.pki.ca import CertificateAuthority
from meterseal.pki.manifest import Manifest, parse_manifest
from meterseal.pki.registration import (
    CustomerRecord,
    Registration,
    RegistrationRequest,
    Validity,
    register,
)
from meterseal.pki.serials import new_serial
from meterseal.store import PostgresStore, SqliteStore
from meterseal.store.base import SqlStore

NOW = 1_760_000_000
YEAR = 365 * 86_400
ADDRESS = b"\x11" * 32
CUSTOMERS = {"cust-1": CustomerRecord("cust-1", ADDRESS)}
FAST_SCRYPT = ScryptParams(log2_n=4, r=8, p=1)
DEVICE_SECRET = b"\x42" * 32


def open_sqlite(path: str) -> SqlStore:
    """A migrated SQLite store (module level: picklable for worker processes)."""
    store = SqliteStore(path)
    store.migrate()
    return store


def open_postgres(dsn: str, schema: str) -> SqlStore:
    """A migrated PostgreSQL store in ``schema``."""
    store = PostgresStore(dsn, schema=schema)
    store.migrate()
    return store


@dataclass(frozen=True)
class SecurityBackend:
    """Where a test keeps its data: the URL the head-end config names, and a factory."""

    name: str
    url: str
    factory: partial[SqlStore]

    def open(self) -> SqlStore:
        """A new, migrated store connection."""
        return self.factory()


def sqlite_backend(directory: Path) -> SecurityBackend:
    """A SQLite file in ``directory``."""
    path = directory / "store.db"
    return SecurityBackend("sqlite", f"sqlite:///{path}", partial(open_sqlite, str(path)))


def postgres_backend(dsn: str, schema: str) -> SecurityBackend:
    """The PostgreSQL schema ``schema`` at ``dsn``."""
    return SecurityBackend("postgres", dsn, partial(open_postgres, dsn, schema))


def secure_element(meter_id: str, suite: CipherSuite, kind: KeyKind) -> SecureElement:
    """A meter's element with one identity key, its device secret known to the test (so
    that a saved copy can be loaded again: a meter rolled back to an old key)."""
    return SecureElement.create(
        suites=(suite,),
        device_secret=DEVICE_SECRET,
        rng=os.urandom,
        device_id=meter_id.encode(),
        kinds=(kind,),
        scrypt=FAST_SCRYPT,
    )


def provisioned(
    meter_id: str, suite: CipherSuite = SUITE_2, method: Method = Method.SIGN_SIGN
) -> ProvisionedMeter:
    """A meter authenticating with ``method`` (default 0, signatures) from its element."""
    meter = make_meter(
        meter_id,
        MeterType.ELECTRICITY,
        suite,
        method,
        sample_trust(suite),
        rng=os.urandom,
        model_seed=1,
        scrypt=FAST_SCRYPT,
    )
    kind = KeyKind.SIGNATURE if method.initiator_signs else KeyKind.STATIC_DH
    meter.element = secure_element(meter_id, suite, kind)
    return meter


def identity_public_key(meter: ProvisionedMeter) -> bytes:
    """The public key of the meter's identity key, as a credential carries it."""
    if meter.method.initiator_signs:
        return meter.element.identity_signing_key(meter.suite).public_key
    return meter.element.identity_dh_key(meter.suite).public_point


def sample_trust(suite: CipherSuite) -> HeadendTrust:
    """The head-end trust a meter would be provisioned with (unused by MeterLink)."""
    return make_headend_identities(os.urandom, [suite]).trust_for(suite)


def manifest_for(*meters: ProvisionedMeter) -> Manifest:
    """The factory manifest declaring ``meters`` and their public keys."""
    entries = [
        {
            "meter_id": meter.meter_id,
            "model": "MS-100",
            "meter_type": "electricity",
            "suite": meter.suite.value,
            "identity_public_key": identity_public_key(meter).hex(),
            "data_public_key": meter.element.data_key.public_key.hex(),
        }
        for meter in meters
    ]
    return parse_manifest(json.dumps({"version": 1, "meters": entries}))


def request_for(meter: ProvisionedMeter) -> RegistrationRequest:
    """What the installer presents for ``meter``."""
    return RegistrationRequest(
        meter.meter_id,
        identity_public_key(meter),
        meter.element.data_key.public_key,
        "cust-1",
        ADDRESS,
        static_dh=not meter.method.initiator_signs,
    )


def enrol(
    meter: ProvisionedMeter, ca: CertificateAuthority, store: SqlStore, now: int = NOW
) -> Registration:
    """Register ``meter`` through the CA and make it use the issued credential."""
    validity = Validity(serial=new_serial(os.urandom), now=now, not_after=now + YEAR)
    result = register(
        manifest_for(meter), CUSTOMERS, request_for(meter), ca=ca, store=store, validity=validity
    )
    adopt_credential(meter, result.credential.ccs)
    return result


def sim(meter: ProvisionedMeter) -> SimMeter:
    """The head-end test client's view of ``meter`` (its current identity)."""
    return SimMeter(
        meter.meter_id, meter.suite, meter.method, meter.identity, meter.element.data_key
    )


async def admitted(port: int, meter: SimMeter) -> bool:
    """Whether the head-end completes a handshake with ``meter`` (closing it again)."""
    try:
        link = await MeterLink.connect(port, meter)
    except (MeterSealError, ConnectionError, TimeoutError):
        return False
    await link.close()
    return True


@asynccontextmanager
async def headend(backend: SecurityBackend, **settings: Any) -> AsyncIterator[HeadendHandle]:
    """A head-end on ``backend`` on a free loopback port (``workers`` in ``settings``)."""
    config = HeadendConfig(store_url=backend.url, port=0, **settings)
    factory: StoreFactory = backend.factory
    source = sample_keys if config.workers > 1 else sample_keys()
    handle = await start_headend(config, source, store_factory=factory)
    try:
        yield handle
    finally:
        await handle.close()


def ca_on(
    machine: CryptoMachine, suites: tuple[CipherSuite, ...] = (SUITE_2,)
) -> CertificateAuthority:
    """A CA with roots for ``suites`` in ``machine``."""
    return CertificateAuthority.init(machine, suites)
