"""``meterseal ca init|revoke|crl|expire|events`` and ``meterseal meter register|list|show``.

The CA's roots live in the head-end's encrypted software keystore in DATA_DIR (see
:func:`meterseal.demo.open_keystore`); meters, credentials, signed revocation lists and
the key-event trail are filed in the SQLite store there (:mod:`meterseal.store.security`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from meterseal.crypto.suites import CipherSuite, get_suite, supported_suites
from meterseal.demo import KEYSTORE_NAME, open_keystore
from meterseal.errors import EncodingError, MeterSealError
from meterseal.ledger.leaves import RevocationReason
from meterseal.pki import events
from meterseal.pki.ca import CertificateAuthority, root_generations, root_label
from meterseal.pki.manifest import parse_manifest
from meterseal.pki.registration import (
    CustomerRecord,
    RegistrationRefusedError,
    RegistrationRequest,
    RegistrationStore,
    Validity,
    register,
)
from meterseal.pki.revocation import (
    list_signer,
    read_revocation_list,
    revoke_meter,
    revoke_serial,
)
from meterseal.pki.rotation import expire_superseded
from meterseal.pki.serials import ccs_serial, new_serial
from meterseal.store import open_store, sqlite_url
from meterseal.store.interface import Store
from meterseal.store.rows import MeterRecord
from meterseal.store.security import KeyEventRow, RevocationListRow, SecurityStore

EXIT_REFUSED = 3
DEFAULT_DATA_DIR = Path("data")
DEFAULT_VALID_DAYS = 3650
FINGERPRINT_HEX = 16
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


class CustomersFileError(EncodingError):
    """The customers file is not a well-formed customer list."""


class CaNotInitialisedError(MeterSealError):
    """The keystore lacks a root the operation needs."""


def hex_bytes(text: str) -> bytes:
    """argparse type: hexadecimal, two digits a byte."""
    if not _HEX.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not hexadecimal, two digits a byte: {text!r}")
    return bytes.fromhex(text)


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def fingerprint(public_key: bytes) -> str:
    """A short SHA-256 fingerprint of a public key (hex prefix)."""
    return hashlib.sha256(public_key).hexdigest()[:FINGERPRINT_HEX]


def _data_dir_argument(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        required=required,
        default=None if required else DEFAULT_DATA_DIR,
        help="where the keystore and store live" + ("" if required else " (default ./data)"),
    )


REASONS = {reason.name.lower().replace("_", "-"): reason for reason in RevocationReason}


def add_ca_arguments(parser: argparse.ArgumentParser) -> None:
    """``meterseal ca init|revoke|crl|expire|events [--data-dir DIR]``."""
    actions = parser.add_subparsers(dest="ca_command", required=True)
    init = actions.add_parser(
        "init", help="create the missing root of every supported suite (idempotent)"
    )
    _data_dir_argument(init)
    init.set_defaults(handler=run_ca_init)
    rollover = actions.add_parser(
        "rollover", help="make the next generation of CA roots (docs/operations.md)"
    )
    _data_dir_argument(rollover)
    rollover.set_defaults(handler=run_ca_rollover)
    revoke = actions.add_parser(
        "revoke", help="revoke a meter or one credential; publish the next signed list"
    )
    target = revoke.add_mutually_exclusive_group(required=True)
    target.add_argument("--meter", help="revoke the meter and every credential it holds")
    target.add_argument("--serial", type=positive_int, help="revoke one credential")
    revoke.add_argument("--reason", choices=sorted(REASONS), required=True, help="why")
    _data_dir_argument(revoke)
    revoke.set_defaults(handler=run_ca_revoke)
    crl = actions.add_parser("crl", help="the latest signed revocation list of a suite")
    crl.add_argument("--suite", type=int, default=2, help="whose root signed it (default 2)")
    crl.add_argument("--refresh", action="store_true", help="sign and publish a new list first")
    crl.add_argument("--out", type=Path, default=None, help="write it here (default: hex)")
    _data_dir_argument(crl)
    crl.set_defaults(handler=run_ca_crl)
    expire = actions.add_parser(
        "expire", help="revoke superseded credentials whose grace period has ended"
    )
    _data_dir_argument(expire)
    expire.set_defaults(handler=run_ca_expire)
    trail = actions.add_parser("events", help="the key-event audit trail, oldest first")
    trail.add_argument("--after", type=int, default=0, help="only events after this id")
    trail.add_argument("--json", action="store_true", help="one JSON document")
    _data_dir_argument(trail)
    trail.set_defaults(handler=run_ca_events)


def add_meter_arguments(parser: argparse.ArgumentParser) -> None:
    """``meterseal meter register|list|show``."""
    actions = parser.add_subparsers(dest="meter_command", required=True)
    reg = actions.add_parser("register", help="admit a factory-declared meter, issue its CWT")
    _data_dir_argument(reg, required=True)
    reg.add_argument("--manifest", type=Path, required=True, help="factory manifest (JSON)")
    reg.add_argument(
        "--customers",
        type=Path,
        required=True,
        help='customer records: {"customers": [{"customer_id": ..., "address_hash": hex}]}',
    )
    reg.add_argument("--meter", required=True, help="meter ID")
    reg.add_argument("--identity-key", type=hex_bytes, required=True, help="identity key (hex)")
    reg.add_argument("--data-key", type=hex_bytes, required=True, help="data key (hex)")
    reg.add_argument("--customer", required=True, help="customer ID")
    reg.add_argument("--address-hash", type=hex_bytes, required=True, help="address hash (hex)")
    reg.add_argument(
        "--static-dh",
        action="store_true",
        help="the identity key is a static DH key (EDHOC methods 2 and 3; default: signature)",
    )
    reg.add_argument(
        "--valid-days",
        type=positive_int,
        default=DEFAULT_VALID_DAYS,
        help=f"credential validity in days (default {DEFAULT_VALID_DAYS})",
    )
    reg.add_argument("--out", type=Path, default=None, help="write the CWT here (default: hex)")
    reg.set_defaults(handler=run_meter_register)
    listing = actions.add_parser("list", help="one line per registered meter")
    _data_dir_argument(listing)
    listing.add_argument("--json", action="store_true", help="one JSON document")
    listing.set_defaults(handler=run_meter_list)
    show = actions.add_parser("show", help="one meter's record")
    show.add_argument("meter_id", metavar="ID", help="meter ID")
    _data_dir_argument(show)
    show.add_argument("--json", action="store_true", help="one JSON document")
    show.set_defaults(handler=run_meter_show)


def run_ca_init(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    suites = supported_suites()
    with _store(data_dir) as store, open_keystore(data_dir) as machine:
        made = [suite for suite in suites if not root_generations(machine, suite)]
        _record_roots(store, CertificateAuthority.init(machine, suites), made)
        ca = CertificateAuthority.current(machine, suites)
        for suite in suites:
            label = root_label(suite, ca.generation)
            print(f"{label}  {fingerprint(ca.root_public_key(suite))}")
    return 0


def _record_roots(store: Store, ca: CertificateAuthority, suites: list[CipherSuite]) -> None:
    """A generation key event for each new root of ``ca``'s generation."""
    now = int(time.time())
    _security(store).record_key_events(
        [
            events.generated(
                root_label(suite, ca.generation),
                ca.root_public_key(suite),
                at=now,
                where="crypto-machine",
                purpose="ca-root",
            )
            for suite in suites
        ]
    )


def run_ca_rollover(args: argparse.Namespace) -> int:
    with _authority(args.data_dir) as (current, store):
        ca = CertificateAuthority.rollover(current.machine, current.suites)
        _record_roots(store, ca, list(ca.suites))
        for suite in ca.suites:
            label = root_label(suite, ca.generation)
            print(f"{label}  {fingerprint(ca.root_public_key(suite))}")
    return 0


def _security(store: Store) -> SecurityStore:
    """The SQL stores implement both protocols (store/base.py)."""
    if not hasattr(store, "revoke_credentials"):
        raise MeterSealError("this store keeps no security records")
    return cast(SecurityStore, store)  # both SQL stores are (store/base.py)


@contextmanager
def _authority(data_dir: Path) -> Iterator[tuple[CertificateAuthority, Store]]:
    """The initialised CA and the store of DATA_DIR."""
    suites = supported_suites()
    if not (data_dir / KEYSTORE_NAME).exists():
        raise CaNotInitialisedError(
            f"no keystore in {str(data_dir)!r}; run `meterseal ca init` first"
        )
    with _store(data_dir) as store, open_keystore(data_dir) as machine:
        missing = [root_label(suite) for suite in suites if not root_generations(machine, suite)]
        if missing:
            raise CaNotInitialisedError(
                f"the keystore has no {', '.join(missing)}; run `meterseal ca init` first"
            )
        yield CertificateAuthority.current(machine, suites), store


def _list_summary(rows: list[RevocationListRow]) -> str:
    if not rows:
        return "no revocation list published"
    content = read_revocation_list(rows[0].signed_list)
    return (
        f"revocation list {content.number}: {len(content.entries)} revoked, "
        f"next update {_iso(content.next_update)}"
    )


def run_ca_revoke(args: argparse.Namespace) -> int:
    reason = REASONS[args.reason]
    with _authority(args.data_dir) as (ca, store):
        security, now = _security(store), int(time.time())
        if args.meter is not None:
            rows = revoke_meter(args.meter, ca=ca, store=security, now=now, reason=reason)
        else:
            rows = revoke_serial(args.serial, ca=ca, store=security, now=now, reason=reason)
    print(_list_summary(rows))
    return 0


def run_ca_expire(args: argparse.Namespace) -> int:
    with _authority(args.data_dir) as (ca, store):
        rows = expire_superseded(ca=ca, store=_security(store), now=int(time.time()))
    print(_list_summary(rows) if rows else "no superseded credential is due")
    return 0


def run_ca_crl(args: argparse.Namespace) -> int:
    suite = get_suite(args.suite)
    with _authority(args.data_dir) as (ca, store):
        security = _security(store)
        latest = security.revocation_list(suite.value)
        if args.refresh or latest is None:
            security.publish_revocation_list(list_signer(ca, now=int(time.time())))
            latest = security.revocation_list(suite.value)
    if latest is None:
        raise CaNotInitialisedError(f"the CA has no root for suite {suite.value}")
    print(_list_summary([latest]), file=sys.stderr)
    if args.out is None:
        print(latest.signed_list.hex())
    else:
        args.out.write_bytes(latest.signed_list)
    return 0


def _event_fields(event: KeyEventRow) -> dict[str, Any]:
    return {
        "id": event.event_id,
        "at": _iso(event.at),
        "kind": event.kind,
        "subject": event.subject,
        "serial": event.serial,
        "detail": events.detail_of(event),
    }


def run_ca_events(args: argparse.Namespace) -> int:
    with _store(args.data_dir) as store:
        trail = _security(store).key_events(after=args.after, limit=1_000_000)
    if args.json:
        print(json.dumps({"events": [_event_fields(event) for event in trail]}))
        return 0
    for event in trail:
        serial = "-" if event.serial is None else str(event.serial)
        print(
            f"{event.event_id}  {_iso(event.at)}  {event.kind}  {event.subject}  {serial}  "
            f"{event.detail}"
        )
    return 0


def parse_customers(text: str | bytes) -> dict[str, CustomerRecord]:
    """Parse a customers document strictly; CustomersFileError on anything unexpected."""
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CustomersFileError(f"customers file is not JSON: {exc}") from exc
    if type(document) is not dict or set(document) != {"customers"}:
        raise CustomersFileError("customers file must be an object with only 'customers'")
    if type(document["customers"]) is not list:
        raise CustomersFileError("'customers' must be a list")
    records: dict[str, CustomerRecord] = {}
    for item in document["customers"]:
        record = _customer(item)
        if record.customer_id in records:
            raise CustomersFileError(f"customer {record.customer_id!r} appears twice")
        records[record.customer_id] = record
    return records


def _customer(item: object) -> CustomerRecord:
    if type(item) is not dict or set(item) != {"customer_id", "address_hash"}:
        raise CustomersFileError("each customer needs exactly 'customer_id' and 'address_hash'")
    customer_id, address_hash = item["customer_id"], item["address_hash"]
    if type(customer_id) is not str or not customer_id:
        raise CustomersFileError("customer_id must be a non-empty string")
    if type(address_hash) is not str or not _HEX.fullmatch(address_hash):
        raise CustomersFileError("address_hash must be hexadecimal, two digits a byte")
    return CustomerRecord(customer_id, bytes.fromhex(address_hash))


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MeterSealError(f"cannot read the {what} {str(path)!r}: {exc.strerror}") from exc


@contextmanager
def _store(data_dir: Path) -> Iterator[Store]:
    if not data_dir.is_dir():
        raise MeterSealError(f"data directory {str(data_dir)!r} does not exist")
    store = open_store(sqlite_url(data_dir))
    try:
        yield store
    finally:
        store.close()


def run_meter_register(args: argparse.Namespace) -> int:
    manifest = parse_manifest(_read(args.manifest, "manifest"))
    customers = parse_customers(_read(args.customers, "customers file"))
    request = RegistrationRequest(
        args.meter,
        args.identity_key,
        args.data_key,
        args.customer,
        args.address_hash,
        static_dh=args.static_dh,
    )
    with _authority(args.data_dir) as (ca, store):
        now = int(time.time())
        validity = Validity(
            serial=new_serial(os.urandom), now=now, not_after=now + args.valid_days * 86_400
        )
        try:
            registration = register(
                manifest, customers, request, ca=ca, store=_registry(store), validity=validity
            )
        except RegistrationRefusedError as exc:
            print(f"meterseal: {exc}", file=sys.stderr)
            return EXIT_REFUSED
    if args.out is None:
        print(registration.cwt.hex())
    else:
        args.out.write_bytes(registration.cwt)
        print(f"meter {args.meter} registered; CWT written to {args.out}", file=sys.stderr)
    return 0


def _registry(store: Store) -> RegistrationStore:
    return cast(RegistrationStore, _security(store))


def _serial_of(credential: bytes) -> int | None:
    """The serial (cti) of a CA-issued CCS; None for a certificate or a bare CCS."""
    return None if credential[:1] == b"\x30" else ccs_serial(credential)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _summary(meter: MeterRecord) -> dict[str, Any]:
    return {
        "meter_id": meter.meter_id,
        "meter_type": meter.meter_type,
        "suite": meter.suite,
        "state": meter.state,
        "owner": meter.owner,
    }


def run_meter_list(args: argparse.Namespace) -> int:
    with _store(args.data_dir) as store:
        meters = store.list_meters()
    if args.json:
        print(json.dumps({"meters": [_summary(meter) for meter in meters]}))
        return 0
    for meter in meters:
        print(f"{meter.meter_id}  {meter.meter_type}  {meter.suite}  {meter.state}  {meter.owner}")
    return 0


def run_meter_show(args: argparse.Namespace) -> int:
    with _store(args.data_dir) as store:
        meter = store.get_meter(args.meter_id)
    if meter is None:
        print(f"meterseal: no meter {args.meter_id!r} is registered", file=sys.stderr)
        return EXIT_REFUSED
    fields = _summary(meter) | {
        "public_key": meter.public_key.hex(),
        "credential_size": len(meter.identity_credential),
        "credential_serial": _serial_of(meter.identity_credential),
        "registered_at": _iso(meter.registered_at),
    }
    if args.json:
        print(json.dumps(fields))
        return 0
    for name, value in fields.items():
        print(f"{name + ':':<17}{value}")
    return 0
