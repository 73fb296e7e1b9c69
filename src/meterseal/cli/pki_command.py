"""``meterseal ca init`` and ``meterseal meter register|list|show``.

The CA's roots live in the head-end's encrypted software keystore in DATA_DIR (see
:func:`meterseal.demo.open_keystore`); meters are filed in the SQLite store there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meterseal.crypto.suites import supported_suites
from meterseal.demo import KEYSTORE_NAME, open_keystore
from meterseal.errors import EncodingError, MeterSealError
from meterseal.pki.ca import CertificateAuthority, root_label
from meterseal.pki.manifest import parse_manifest
from meterseal.pki.registration import (
    CustomerRecord,
    RegistrationRefusedError,
    RegistrationRequest,
    Validity,
    register,
)
from meterseal.store import open_store, sqlite_url
from meterseal.store.interface import Store
from meterseal.store.rows import MeterRecord

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


def add_ca_arguments(parser: argparse.ArgumentParser) -> None:
    """``meterseal ca init [--data-dir DIR]``."""
    actions = parser.add_subparsers(dest="ca_command", required=True)
    init = actions.add_parser(
        "init", help="create the missing root of every supported suite (idempotent)"
    )
    _data_dir_argument(init)
    init.set_defaults(handler=run_ca_init)


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
    with open_keystore(data_dir) as machine:
        ca = CertificateAuthority.init(machine, suites)
        for suite in suites:
            print(f"{root_label(suite)}  {fingerprint(ca.root_public_key(suite))}")
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
        args.meter, args.identity_key, args.data_key, args.customer, args.address_hash
    )
    data_dir: Path = args.data_dir
    suites = supported_suites()
    if not (data_dir / KEYSTORE_NAME).exists():
        raise CaNotInitialisedError(
            f"no keystore in {str(data_dir)!r}; run `meterseal ca init` first"
        )
    with _store(data_dir) as store, open_keystore(data_dir) as machine:
        present = {info.label for info in machine.labels()}
        missing = [root_label(suite) for suite in suites if root_label(suite) not in present]
        if missing:
            raise CaNotInitialisedError(
                f"the keystore has no {', '.join(missing)}; run `meterseal ca init` first"
            )
        now = int(time.time())
        validity = Validity(
            serial=len(store.list_meters()) + 1,
            now=now,
            not_after=now + args.valid_days * 86_400,
        )
        ca = CertificateAuthority(machine, suites)
        try:
            registration = register(
                manifest, customers, request, ca=ca, store=store, validity=validity
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
        "registered_at": _iso(meter.registered_at),
    }
    if args.json:
        print(json.dumps(fields))
        return 0
    for name, value in fields.items():
        print(f"{name + ':':<17}{value}")
    return 0
