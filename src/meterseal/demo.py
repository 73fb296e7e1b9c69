"""``meterseal demo``: a head-end on SQLite and a simulated fleet, end to end, on one machine.

Everything runs in one process and needs no service: the head-end's keys live in an
encrypted software crypto machine in the data directory, the store is a SQLite file
there, and a mixed fleet (electricity, water and gas; suites 2, 0 and the GM/T suite;
EDHOC methods 3 and 0) uploads D days of signed readings over TCP on 127.0.0.1. A
time-sync command is queued for a few meters before they connect, to show the command
path. The ledger runs in process too, with its own store and keys under
``DATA_DIR/ledger``: every accepted batch, every authentication result and every queued
command reaches it through the store's outbox (docs/ledger.md, "From ingest to the
ledger"), and the demo waits until the outbox is drained. At the end the store is read
back: the demo succeeds only if every batch every honest meter produced is stored exactly
once, the ledger got exactly one leaf for each of them, for each handshake and for
each command, and ``ledger verify`` (:func:`meterseal.ledger.verify.verify_ledger`) then
finds every stored batch and reading consistent with the signed checkpoint. The
verification run is filed in the store, where the console's ledger page shows it.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from meterseal.api.verification import record_verification
from meterseal.crypto.interfaces import DhKey, SigningKey
from meterseal.crypto.suites import CipherSuite, get_suite, supported_suites
from meterseal.errors import VerificationError
from meterseal.headend.config import HeadendConfig, HeadendKeys
from meterseal.headend.ledger_forwarder import ForwarderStatus
from meterseal.headend.server import start_headend
from meterseal.headend.stats import HeadendStats
from meterseal.hsm import CryptoMachine, SoftwareKeystore, kek_from_file
from meterseal.hsm.errors import KeyNotFoundError
from meterseal.ledger.checkpoint import CosignatureVerifier, Cosigner, parse_checkpoint
from meterseal.ledger.config import LedgerConfig
from meterseal.ledger.errors import NoteError
from meterseal.ledger.keys import parse_verifier_key
from meterseal.ledger.leaves import parse_leaf
from meterseal.ledger.local import LocalLedger, open_local_ledger
from meterseal.ledger.note import open_note, parse_note
from meterseal.ledger.verify import verify_ledger
from meterseal.ledger.witness_client import LocalWitness
from meterseal.ledger.witness_service import (
    WitnessConfig,
    open_persistent_witness,
    open_witness_keystore,
    witness_key,
)
from meterseal.messages import TimeSync
from meterseal.meter.fleet import (
    FleetConfig,
    FleetProgress,
    FleetResult,
    provision_fleet,
    register_fleet,
    run_fleet,
)
from meterseal.meter.provisioning import HeadendIdentities, ProvisionedMeter, headend_identities
from meterseal.store import open_store, sqlite_url
from meterseal.store.verify_queries import open_verifiable_store

KEYSTORE_NAME = "headend-keys.mskeys"
KEK_NAME = "headend-keys.kek"
COMMANDED_METERS = 3
SHUTDOWN_GRACE = 60.0
"""Seconds the demo's head-end may take at the end to store, ack and forward to the ledger."""
SUITES = tuple(suite.value for suite in supported_suites())


@dataclass(frozen=True, slots=True)
class DemoOptions:
    meters: int = 100
    days: int = 1
    data_dir: Path | None = None
    seed: int = 1


@dataclass(frozen=True, slots=True)
class LedgerSummary:
    """What the demo's run added to the ledger, and what is left in the outbox."""

    directory: str
    origin: str
    tree_size: int  # the checkpoint's size at the end
    leaves: int  # leaves this run added (tree_size minus the size before the run)
    by_kind: dict[str, int]  # those leaves by kind: batch_accepted, authentication, ...
    pending: int  # leaves still queued in the store's outbox
    queued_before: int  # leaves a previous run left queued (forwarded by this one)
    submissions: int
    failures: int  # forwarding rounds that failed and were retried
    witnessed: bool  # the final checkpoint carries the demo witness's cosignature


@dataclass(frozen=True, slots=True)
class VerifySummary:
    """``ledger verify`` run over the demo's store and ledger at the end of the demo."""

    clean: bool
    findings: int
    batches: int  # stored batches checked against the log
    intervals: int  # stored interval readings checked against their signed batches
    seconds: float


@dataclass
class DemoSummary:
    """What the demo did, and whether every honest batch is stored exactly once."""

    meters: int
    days: int
    data_dir: str
    store_url: str
    elapsed_s: float
    batches_produced: int
    readings_produced: int
    batches_stored: int
    register_values_stored: int
    missing_batches: int
    handshakes_ok: int
    handshakes_failed: int
    headend: HeadendStats
    commands_acked: int
    ledger: LedgerSummary
    verified: VerifySummary
    by_suite: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)

    @property
    def exactly_once(self) -> bool:
        return self.missing_batches == 0 and self.batches_stored == self.batches_produced

    @property
    def ledger_expected(self) -> int:
        """Leaves this run must add: one per accepted batch, authentication result
        (connection) and queued command."""
        stats = self.headend
        logged = stats.batches_accepted + stats.auth_results_logged + stats.commands_queued
        return logged + self.ledger.queued_before

    @property
    def ledger_complete(self) -> bool:
        """Every leaf of the run is in the ledger, once, nothing is left queued, and the
        witness cosigned the final checkpoint."""
        ledger = self.ledger
        return ledger.pending == 0 and ledger.leaves == self.ledger_expected and ledger.witnessed

    @property
    def succeeded(self) -> bool:
        return self.exactly_once and self.ledger_complete and self.verified.clean

    def as_json(self) -> dict[str, object]:
        return {
            "meters": self.meters,
            "days": self.days,
            "handshakes_ok": self.handshakes_ok,
            "handshakes_failed": self.handshakes_failed,
            "batches_produced": self.batches_produced,
            "batches_accepted": self.headend.batches_accepted,
            "batches_duplicate": self.headend.batches_duplicate,
            "batches_rejected": self.headend.batches_rejected,
            "batches_stored": self.batches_stored,
            "readings_stored": self.headend.intervals_stored,
            "readings_produced": self.readings_produced,
            "register_values_stored": self.register_values_stored,
            "commands_acked": self.commands_acked,
            "exactly_once": self.exactly_once,
            "elapsed_s": round(self.elapsed_s, 3),
            "meters_by_suite": self.by_suite,
            "meters_by_type": self.by_type,
            "data_dir": self.data_dir,
            "store_url": self.store_url,
            "ledger_dir": self.ledger.directory,
            "ledger_leaves": self.ledger.leaves,
            "ledger_leaves_expected": self.ledger_expected,
            "ledger_leaves_by_kind": self.ledger.by_kind,
            "ledger_pending": self.ledger.pending,
            "ledger_queued_before": self.ledger.queued_before,
            "ledger_tree_size": self.ledger.tree_size,
            "ledger_checkpoint_origin": self.ledger.origin,
            "ledger_checkpoint_size": self.ledger.tree_size,
            "ledger_witnessed": self.ledger.witnessed,
            "ledger_complete": self.ledger_complete,
            "ledger_verified": self.verified.clean,
            "ledger_verify_findings": self.verified.findings,
            "ledger_verify_batches": self.verified.batches,
            "ledger_verify_s": round(self.verified.seconds, 3),
        }


def open_keystore(data_dir: Path) -> SoftwareKeystore:
    """The head-end's crypto machine: an encrypted keystore whose key file sits beside it
    (a demo convenience; docs/crypto-machine.md shows how to keep the KEK elsewhere)."""
    kek_path, store_path = data_dir / KEK_NAME, data_dir / KEYSTORE_NAME
    if not kek_path.exists():
        descriptor = os.open(kek_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as kek_file:
            kek_file.write(secrets.token_hex(32))
    return SoftwareKeystore(store_path, kek_from_file(kek_path), create=not store_path.exists())


@dataclass(frozen=True, slots=True)
class _MachineKeys:
    """Head-end keys as handles into a crypto machine: made on first use, found by label
    afterwards, never read out."""

    machine: CryptoMachine

    def dh_key(self, suite: CipherSuite) -> DhKey:
        label = f"headend-{suite.value}-dh"
        try:
            return self.machine.dh_key(label)
        except KeyNotFoundError:
            return self.machine.generate_dh_key(label, suite.dh)

    def signing_key(self, suite: CipherSuite, role: str) -> SigningKey:
        label = f"headend-{suite.value}-{role}"
        try:
            return self.machine.signing_key(label)
        except KeyNotFoundError:
            return self.machine.generate_signing_key(label, suite.signature)


def machine_identities(machine: CryptoMachine, suites: tuple[int, ...]) -> HeadendIdentities:
    """The head-end's EDHOC identities and command keys, as handles into ``machine``."""
    return headend_identities(_MachineKeys(machine), [get_suite(value) for value in suites])


def _id_prefix(registered: int) -> str:
    """Meter ids for this run: a data directory used again gets a new fleet beside the
    old one (meter ids are unique in the registry)."""
    return "DEMO" if registered == 0 else f"DEMO{registered}"


def _stored_per_meter(store_url: str) -> tuple[Counter[str], int]:
    """Batches stored per meter, and the register values in them, read back from the store."""
    store = open_store(store_url)
    try:
        per_meter: Counter[str] = Counter()
        values = 0
        for row in store.iter_batches():
            per_meter[row.meter_id] += 1
            values += row.reading_count
        return per_meter, values
    finally:
        store.close()


def _provision(
    store_url: str, options: DemoOptions, identities: HeadendIdentities
) -> tuple[FleetConfig, list[ProvisionedMeter]]:
    """Make the fleet's meters and register them in the head-end's store."""
    store = open_store(store_url)
    try:
        config = FleetConfig(
            meters=options.meters,
            days=options.days,
            seed=options.seed,
            suites=SUITES,
            id_prefix=_id_prefix(len(store.list_meters())),
        )
        meters = provision_fleet(config, identities)
        register_fleet(store, meters, registered_at=int(time.time()))
    finally:
        store.close()
    return config, meters


def _checkpoint_of(ledger: LocalLedger) -> tuple[str, int]:
    """The origin and tree size of the ledger's latest checkpoint."""
    checkpoint = parse_checkpoint(parse_note(ledger.checkpoint()).text)
    return checkpoint.origin, checkpoint.size


def _pending_leaves(store_url: str) -> int:
    store = open_store(store_url)
    try:
        return store.count_pending_leaves()
    finally:
        store.close()


def _ledger_summary(
    ledger: LocalLedger,
    data_dir: Path,
    before: tuple[int, int],
    status: ForwarderStatus,
    witness: CosignatureVerifier,
) -> LedgerSummary:
    """What the run added to the ledger, read back from the ledger itself; ``before`` is
    the tree size and the leaves queued in the outbox when the run began."""
    size_before, queued_before = before
    origin, size = _checkpoint_of(ledger)
    kinds = Counter(
        parse_leaf(leaf).KIND.name.lower() for leaf in ledger.entries(size_before, size)
    )
    return LedgerSummary(
        directory=str(LedgerConfig(data_dir=data_dir).ledger_dir),
        origin=origin,
        tree_size=size,
        leaves=size - size_before,
        by_kind=dict(kinds),
        pending=_pending_leaves(sqlite_url(data_dir)),
        submissions=status.submissions,
        failures=status.failures,
        queued_before=queued_before,
        witnessed=_cosigned(ledger.checkpoint(), witness),
    )


def _cosigned(note: bytes, witness: CosignatureVerifier) -> bool:
    """True if the note carries a valid cosignature of ``witness``."""
    try:
        open_note(note, [witness])
    except (NoteError, VerificationError):
        return False
    return True


def _open_witnessed_ledger(
    data_dir: Path, stack: ExitStack
) -> tuple[LocalLedger, CosignatureVerifier]:
    """The in-process ledger (its own store and keys under ``DATA_DIR/ledger``) with the
    collection side's witness (its own state file and key under ``DATA_DIR/witness``)
    cosigning each checkpoint that extends the last one it saw; the witness's verifier."""
    config = LedgerConfig(data_dir=data_dir)
    with closing(open_local_ledger(config, create=True)) as ledger:
        log_vkeys = tuple(ledger.verifier_keys())  # made on first use, by the ledger alone
    witness_config = WitnessConfig(data_dir=data_dir, log_vkeys=log_vkeys)
    machine = stack.enter_context(closing(open_witness_keystore(witness_config)))
    key = witness_key(machine, create=True)
    witness = LocalWitness(open_persistent_witness(witness_config, key))
    stack.callback(witness.close)
    witnesses = {witness_config.name: witness}
    ledger = stack.enter_context(
        closing(open_local_ledger(config, create=True, witnesses=witnesses))
    )
    return ledger, Cosigner(witness_config.name, key).verifier


def _verify(ledger: LocalLedger, store_url: str) -> VerifySummary:
    """``meterseal ledger verify`` over what the demo stored and logged: the checkpoint
    under the ledger's own keys, every batch against the log, every reading against its
    signed batch. The run is filed in the store for the console's ledger page."""
    verifiers = [parse_verifier_key(key) for key in ledger.verifier_keys()]
    opener = partial(open_verifiable_store, store_url)
    report = verify_ledger(ledger, opener, verifiers, rng=os.urandom, now=int(time.time()))
    with closing(opener()) as store:
        record_verification(store, report, int(time.time()))
    tally = report.tally
    return VerifySummary(
        report.clean, tally.total, tally.batches, tally.intervals, report.elapsed_s
    )


async def _run_headend(
    options: DemoOptions,
    data_dir: Path,
    ledger: LocalLedger,
    progress: Callable[[FleetProgress], None] | None,
) -> tuple[FleetResult, HeadendStats, ForwarderStatus, float]:
    """Provision the fleet, run the head-end and the fleet, stop: the fleet's result, the
    final counters, the forwarder's status and the seconds it took."""
    store_url = sqlite_url(data_dir)
    with open_keystore(data_dir) as machine:
        identities = machine_identities(machine, SUITES)
        fleet_config, meters = _provision(store_url, options, identities)
        keys = HeadendKeys(identities.by_method(), dict(identities.command_keys))
        config = HeadendConfig(
            store_url=store_url, port=0, suites=SUITES, shutdown_grace=SHUTDOWN_GRACE
        )
        started = time.perf_counter()
        headend = await start_headend(config, keys, ledger=ledger)
        try:
            for meter in meters[:COMMANDED_METERS]:
                await headend.queue_command(meter.meter_id, TimeSync(int(time.time())))
            result = await run_fleet(
                meters, "127.0.0.1", headend.port, fleet_config, progress=progress
            )
        finally:
            stats = await headend.close()  # stores and acks, then drains the ledger outbox
        forwarder = headend.forwarder
        assert forwarder is not None  # noqa: S101 - a ledger was given
        return result, stats, forwarder.status(), time.perf_counter() - started


async def run_demo(
    options: DemoOptions, progress: Callable[[FleetProgress], None] | None = None
) -> DemoSummary:
    """Run the whole demo and return its summary (see the module docstring)."""
    data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="meterseal-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    store_url = sqlite_url(data_dir)
    with ExitStack() as stack:
        ledger, witness = _open_witnessed_ledger(data_dir, stack)
        before = _checkpoint_of(ledger)[1], _pending_leaves(store_url)
        result, stats, status, elapsed = await _run_headend(options, data_dir, ledger, progress)
        ledger_summary = _ledger_summary(ledger, data_dir, before, status, witness)
        verified = _verify(ledger, store_url)
    per_meter, values_stored = _stored_per_meter(store_url)
    produced = {m.meter_id: m.produced for m in result.meters}
    missing = sum(max(0, count - per_meter[meter_id]) for meter_id, count in produced.items())
    return DemoSummary(
        meters=options.meters,
        days=options.days,
        data_dir=str(data_dir),
        store_url=store_url,
        elapsed_s=elapsed,
        batches_produced=result.batches_produced,
        readings_produced=result.readings_produced,
        batches_stored=sum(per_meter[meter_id] for meter_id in produced),
        register_values_stored=values_stored,
        missing_batches=missing,
        handshakes_ok=result.handshakes_ok,
        handshakes_failed=result.handshakes_failed,
        headend=stats,
        commands_acked=stats.command_acks,
        ledger=ledger_summary,
        verified=verified,
        by_suite=dict(Counter(str(m.suite) for m in result.meters)),
        by_type=dict(Counter(m.meter_type.name.lower() for m in result.meters)),
    )
