"""``meterseal ledger verify``, ``meterseal ledger verify-proof`` and ``meterseal witness``.

::

    meterseal ledger verify [--data-dir DIR] [--store URL] [--ledger-url URL | --ledger-dir DIR]
                            --vkey VKEY... [--witness-vkey VKEY...] [--grace SECONDS]
                            [--workers N] [--max-findings N] [--gm] [--json] [--no-record]
    meterseal ledger verify-proof --checkpoint FILE --vkey VKEY [--witness-vkey VKEY...]
                            inclusion (--leaf-data-hex HEX | --leaf-file FILE) --index I
                            --proof FILE
                          | consistency --old-checkpoint FILE --proof FILE
    meterseal witness init [--data-dir DIR] [--name NAME]
    meterseal witness serve [--data-dir DIR] [--listen HOST:PORT] --log-vkey VKEY...

``verify`` prints one line per finding (kind, meter id, batch sequence, detail), at most
``--max-findings`` of them (all are counted), then a summary line, and with ``--json`` a
last line holding one JSON object. Exit status: 0 clean, 1 findings, 2 error. The run is
filed in the collection store for the console's ledger page unless ``--no-record``.
``verify-proof`` exits 0 when the proof verifies and 1, with the reason, when not.

The store is the collection store of ``serve`` and ``demo`` (``DATA_DIR``'s SQLite file
unless ``--store`` names another); the log is read from the ledger's own store in
``--ledger-dir`` (default: ``DATA_DIR``, i.e. ``DATA_DIR/ledger``) or from a running
ledger service (``--ledger-url``). The verifier keys are always given (``--vkey`` or
``--vkey-file``): a key read from the ledger's own directory would vouch for itself.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from meterseal.crypto.hashes import SHA_256, SM3
from meterseal.errors import MeterSealError, VerificationError
from meterseal.http_server import parse_listen, serve_until_signal
from meterseal.ledger.checkpoint import Cosigner
from meterseal.ledger.errors import LedgerError
from meterseal.ledger.keys import parse_verifier_key
from meterseal.ledger.merkle import SHA256_HASHER, SM3_HASHER, TreeHasher
from meterseal.ledger.verify import DEFAULT_MAX_FINDINGS, verify_ledger
from meterseal.ledger.verify_findings import VerifyReport
from meterseal.ledger.verify_log import LogSource
from meterseal.ledger.verify_proof import (
    TrustedKeys,
    check_consistency,
    check_inclusion,
    read_proof,
)
from meterseal.ledger.witness_service import (
    DEFAULT_NAME,
    WitnessConfig,
    create_app,
    listen,
    open_persistent_witness,
    open_witness_keystore,
    witness_key,
)
from meterseal.store.factory import sqlite_url
from meterseal.store.verify_queries import open_verifiable_store

DEFAULT_DATA_DIR = Path("meterseal-data")


class VerifyCommandError(MeterSealError):
    """The verify command was given options it cannot work with."""


# --- ledger verify ----------------------------------------------------------------------


def _data_dir(args: argparse.Namespace) -> Path:
    return (args.data_dir or DEFAULT_DATA_DIR).resolve()


def _vkeys(args: argparse.Namespace) -> list[str]:
    keys = list(args.vkey or [])
    if args.vkey_file is not None:
        lines = args.vkey_file.read_text("utf-8").splitlines()
        keys += [line.strip() for line in lines if line.strip()]
    if not keys:
        raise VerifyCommandError("give the log's verifier keys: --vkey VKEY or --vkey-file FILE")
    return keys


def open_log(args: argparse.Namespace) -> LogSource:
    """The log to verify: a running ledger service, or the ledger's own store."""
    if args.ledger_url and args.ledger_dir:
        raise VerifyCommandError("give --ledger-url or --ledger-dir, not both")
    try:
        if args.ledger_url:
            from meterseal.ledger.client import LedgerClient  # noqa: PLC0415 - optional part

            return LedgerClient(args.ledger_url)
        from meterseal.ledger.config import LedgerConfig  # noqa: PLC0415 - optional part
        from meterseal.ledger.local import LedgerReader  # noqa: PLC0415 - optional part
    except ImportError as exc:  # pragma: no cover - the ledger service ships with MeterSeal
        raise VerifyCommandError(f"the ledger service is not installed: {exc}") from exc
    directory = (args.ledger_dir or args.data_dir or DEFAULT_DATA_DIR).resolve()
    return LedgerReader.open(LedgerConfig(directory).store)


def run_verify_command(
    args: argparse.Namespace, *, log: LogSource | None = None, out: TextIO | None = None
) -> int:
    """Verify and print; ``log`` replaces the one the options name (tests pass their own)."""
    out = out or sys.stdout
    verifiers = [parse_verifier_key(vkey) for vkey in [*_vkeys(args), *(args.witness_vkey or [])]]
    store_url = args.store or sqlite_url(_data_dir(args))
    if store_url.startswith("sqlite:") and not Path(urlsplit(store_url).path).exists():
        raise VerifyCommandError(f"no collection store at {store_url}")
    source = log if log is not None else open_log(args)
    try:
        report = verify_ledger(
            source,
            functools.partial(open_verifiable_store, store_url),
            verifiers,
            rng=os.urandom,
            now=int(time.time()),
            grace=args.grace,
            workers=args.workers,
            max_findings=args.max_findings,
            hash_alg=SM3 if args.gm or getattr(source, "hasher", None) is SM3_HASHER else SHA_256,
        )
    finally:
        if log is None:
            _close(source)
    print_report(report, out, as_json=args.json)
    if not args.no_record:
        record_run(store_url, report)
    return 0 if report.clean else 1


def record_run(store_url: str, report: VerifyReport) -> None:
    """File the run in the collection store for the console's ledger page
    (:func:`meterseal.api.verification.record_verification`), when the store keeps runs.

    A run that cannot be recorded is reported on stderr; the verification still stands.
    """
    try:
        from meterseal.api.verification import record_verification  # noqa: PLC0415 - optional
    except ImportError:  # pragma: no cover - the console ships with MeterSeal
        return
    with closing(open_verifiable_store(store_url)) as store:
        if not hasattr(store, "add_verification_run"):  # pragma: no cover - both stores do
            return
        try:
            record_verification(store, report, int(time.time()))
        except MeterSealError as exc:
            print(f"meterseal: the run was not recorded in the store: {exc}", file=sys.stderr)


def _close(source: object) -> None:
    close: Callable[[], None] | None = getattr(source, "close", None)
    if close is not None:
        close()


def print_report(report: VerifyReport, out: TextIO, *, as_json: bool) -> None:
    """One line per kept finding, a summary, and the JSON object last."""
    for finding in report.tally.findings:
        print(finding.line(), file=out)
    hidden = report.tally.total - len(report.tally.findings)
    if hidden:
        print(f"... {hidden} more findings not shown (--max-findings)", file=out)
    print(report.summary(), file=out)
    if as_json:
        print(report.as_json(), file=out)


def _add_verify(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = "check every stored batch and reading against the ledger; exit 1 on findings"
    verify = commands.add_parser("verify", help=about, description=about)
    verify.add_argument("--data-dir", type=Path, help="default ./meterseal-data")
    verify.add_argument("--store", help="the collection store URL (default: DATA_DIR's SQLite)")
    verify.add_argument("--ledger-url", help="a running ledger service")
    verify.add_argument("--ledger-dir", type=Path, help="the ledger's data dir (default DATA_DIR)")
    verify.add_argument("--vkey", action="append", help="the log's verifier key (repeatable)")
    verify.add_argument("--vkey-file", type=Path, help="verifier keys, one a line")
    verify.add_argument(
        "--witness-vkey", action="append", help="a witness whose cosignature dates the checkpoint"
    )
    verify.add_argument(
        "--grace",
        type=int,
        help="unlogged batches received this many seconds before the checkpoint are pending",
    )
    verify.add_argument(
        "--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes (default 2)"
    )
    verify.add_argument("--max-findings", type=int, default=DEFAULT_MAX_FINDINGS)
    verify.add_argument("--gm", action="store_true", help="the log hashes with SM3")
    verify.add_argument("--json", action="store_true", help="end with one JSON line")
    verify.add_argument(
        "--no-record",
        action="store_true",
        help="do not file the run in the store for the console (default: file it)",
    )
    verify.set_defaults(handler=_exit_2_on_error(run_verify_command))


def _exit_2_on_error(run: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Errors print to stderr and exit 2 (findings are exit 1)."""

    @functools.wraps(run)
    def handler(args: argparse.Namespace, **kwargs: Any) -> int:
        try:
            return run(args, **kwargs)
        except MeterSealError as exc:
            print(f"meterseal: {exc}", file=sys.stderr)
            return 2

    return handler


# --- ledger verify-proof ----------------------------------------------------------------


def _hasher(args: argparse.Namespace) -> TreeHasher:
    return SM3_HASHER if args.gm else SHA256_HASHER


def _keys(args: argparse.Namespace) -> TrustedKeys:
    return TrustedKeys.parse(args.vkey, args.witness_vkey or [])


def _leaf(args: argparse.Namespace) -> bytes:
    if (args.leaf_data_hex is None) == (args.leaf_file is None):
        raise VerifyCommandError("give exactly one of --leaf-data-hex and --leaf-file")
    if args.leaf_file is not None:
        return bytes(args.leaf_file.read_bytes())
    try:
        return bytes.fromhex(args.leaf_data_hex)
    except ValueError as exc:
        raise VerifyCommandError(f"--leaf-data-hex is not hex: {exc}") from exc


def run_inclusion(args: argparse.Namespace) -> int:
    """Check an inclusion proof offline; 0 verified, 1 not."""
    hasher = _hasher(args)
    return _outcome(
        lambda: check_inclusion(
            args.checkpoint.read_bytes(),
            _keys(args),
            _leaf(args),
            args.index,
            read_proof(args.proof.read_text("ascii"), hasher),
            hasher=hasher,
        )
    )


def run_consistency(args: argparse.Namespace) -> int:
    """Check a consistency proof offline; 0 verified, 1 not."""
    hasher = _hasher(args)
    return _outcome(
        lambda: check_consistency(
            args.checkpoint.read_bytes(),
            args.old_checkpoint.read_bytes(),
            _keys(args),
            read_proof(args.proof.read_text("ascii"), hasher),
            hasher=hasher,
        )
    )


def _outcome(check: Callable[[], str]) -> int:
    try:
        message = check()
    except (VerificationError, LedgerError, VerifyCommandError, OSError, ValueError) as exc:
        print(f"NOT VERIFIED: {exc}")
        return 1
    print(f"verified: {message}")
    return 0


def _add_verify_proof(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = "check an inclusion or consistency proof offline: a checkpoint and keys only"
    proof = commands.add_parser("verify-proof", help=about, description=about)
    proof.add_argument("--checkpoint", type=Path, required=True, help="signed checkpoint note")
    proof.add_argument("--vkey", action="append", required=True, help="log verifier key")
    proof.add_argument("--witness-vkey", action="append", help="a witness that must cosign")
    proof.add_argument("--gm", action="store_true", help="the log hashes with SM3")
    kinds = proof.add_subparsers(dest="proof_kind", required=True)
    inclusion = kinds.add_parser("inclusion", help="RFC 9162 inclusion proof of a leaf")
    inclusion.add_argument("--leaf-data-hex", help="the leaf data, hex")
    inclusion.add_argument("--leaf-file", type=Path, help="the leaf data, a binary file")
    inclusion.add_argument("--index", type=int, required=True, help="the leaf's index")
    inclusion.add_argument("--proof", type=Path, required=True, help="base64 hashes, one a line")
    inclusion.set_defaults(handler=run_inclusion)
    consistency = kinds.add_parser("consistency", help="RFC 9162 consistency proof")
    consistency.add_argument("--old-checkpoint", type=Path, required=True)
    consistency.add_argument("--proof", type=Path, required=True, help="base64 hashes")
    consistency.set_defaults(handler=run_consistency)


def add_verify_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``verify`` and ``verify-proof`` to the ``ledger`` command's subparsers."""
    _add_verify(subparsers)
    _add_verify_proof(subparsers)


# --- witness ----------------------------------------------------------------------------


def _witness_config(args: argparse.Namespace) -> WitnessConfig:
    vkeys = tuple(getattr(args, "log_vkey", None) or ())
    return WitnessConfig(_data_dir(args), vkeys, args.name, args.keystore)


def run_witness_init(args: argparse.Namespace) -> int:
    """Make the witness's key in its keystore (once) and print its verifier key."""
    config = _witness_config(args)
    with closing(open_witness_keystore(config)) as machine:
        key = witness_key(machine, create=True)
        vkey = Cosigner(config.name, key).verifier.verifier_key
    print(f"witness: {config.name}")
    print(f"state and keys: {config.witness_dir}")
    print(f"witness verifier key: {vkey}")
    return 0


def run_witness_serve(args: argparse.Namespace) -> int:
    """Serve add-checkpoint until SIGINT or SIGTERM."""
    config = _witness_config(args)
    host, port = parse_listen(args.listen)
    with closing(open_witness_keystore(config)) as machine:
        witness = open_persistent_witness(config, witness_key(machine, create=False))
        with closing(witness.store), listen(host, port) as sock:
            bound = sock.getsockname()[1]
            print(f"witness {config.name} listening on http://{host}:{bound}", flush=True)
            for log in config.logs():
                print(f"witnessing {log.origin}", flush=True)
            serve_until_signal(create_app(witness), sock)
    return 0


def add_witness_subcommands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add ``witness init|serve`` to the top-level subparsers."""
    about = "a C2SP tlog-witness: cosigns checkpoints that extend what it cosigned before"
    witness = subparsers.add_parser("witness", help=about, description=about)
    commands = witness.add_subparsers(dest="witness_command", required=True)
    for name, run, text in (
        ("init", run_witness_init, "make the witness key; print its verifier key"),
        ("serve", run_witness_serve, "serve POST /add-checkpoint"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--data-dir", type=Path, help="state and key in DIR/witness")
        command.add_argument("--name", default=DEFAULT_NAME, help="the witness's key name")
        command.add_argument("--keystore", help="crypto machine URL (default: its own keystore)")
        if name == "serve":
            command.add_argument("--listen", default="127.0.0.1:7430", help="HOST:PORT")
            command.add_argument(
                "--log-vkey", action="append", required=True, help="a log to witness"
            )
        command.set_defaults(handler=run)
