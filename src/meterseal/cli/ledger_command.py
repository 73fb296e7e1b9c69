"""``meterseal ledger ...``: create, run and query the ledger service.

::

    meterseal ledger init [--data-dir DIR] [--gm] [--origin O] [--store URL] [--keystore URL]
    meterseal ledger serve [--data-dir DIR] [--listen HOST:PORT] [--store URL] [--keystore URL]
                           [--witness NAME=URL ...]
    meterseal ledger checkpoint [--url URL | --data-dir DIR [--store URL]]
    meterseal ledger proof inclusion INDEX [--size N] [--url URL | --data-dir DIR]
    meterseal ledger proof consistency OLD NEW [--url URL | --data-dir DIR]

The ledger keeps its own store and its own keystore under ``DATA_DIR/ledger/`` (see
:mod:`meterseal.ledger.config`). ``init`` makes the signing key(s) inside the keystore and
the log's first (empty) checkpoint, prints the verifier keys in C2SP vkey format and
writes them to ``DATA_DIR/ledger/verifier-keys.txt`` (public). ``serve`` runs the HTTP
service (:mod:`meterseal.ledger.http_app`) until SIGINT or SIGTERM. The query commands
read a running service (``--url``) or the store directly (``--data-dir``, no key needed).
"""

from __future__ import annotations

import argparse
import base64
import logging
from contextlib import closing
from pathlib import Path

from meterseal.cli.ledger_verify_command import add_verify_subcommands
from meterseal.config import redact
from meterseal.errors import MeterSealError
from meterseal.http_server import bind, parse_listen, serve_until_signal, url_of
from meterseal.ledger.client import LedgerClient
from meterseal.ledger.config import LedgerConfig
from meterseal.ledger.http_app import create_app
from meterseal.ledger.local import LedgerReader, LocalLedger, open_local_ledger
from meterseal.ledger.witness_client import WitnessClient

DEFAULT_LISTEN = "127.0.0.1:7420"
VKEYS_NAME = "verifier-keys.txt"


class LedgerCommandError(MeterSealError):
    """A ``meterseal ledger`` command was given options it cannot use."""


def _config(args: argparse.Namespace) -> LedgerConfig:
    data_dir = (args.data_dir or Path("meterseal-data")).resolve()
    return LedgerConfig(data_dir, args.store, getattr(args, "keystore", None))


def _where(parser: argparse.ArgumentParser, *, keystore: bool = False) -> None:
    parser.add_argument(
        "--data-dir", type=Path, help="the ledger lives in DIR/ledger (default ./meterseal-data)"
    )
    parser.add_argument(
        "--store", help="sqlite:///file.db, postgresql://...[?schema=NAME] or a libpq DSN"
    )
    if keystore:
        parser.add_argument(
            "--keystore", help="crypto machine URL (default: the ledger's software keystore)"
        )


def _source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="a running ledger service, e.g. http://127.0.0.1:7420")
    _where(parser)


# --- init and serve ---------------------------------------------------------------------


def _print_identity(ledger: LocalLedger, config: LedgerConfig) -> None:
    print(f"origin: {ledger.origin}")
    print(f"tree hash: {ledger.hasher.name}")
    print(f"tree size: {ledger.size()}")
    print(f"store: {redact(config.store)}")
    for vkey in ledger.verifier_keys():
        print(f"verifier key: {vkey}")


def run_init(args: argparse.Namespace) -> int:
    config = _config(args)
    with closing(open_local_ledger(config, create=True, gm=args.gm, origin=args.origin)) as ledger:
        path = config.ledger_dir / VKEYS_NAME
        path.write_text("".join(f"{vkey}\n" for vkey in ledger.verifier_keys()), "utf-8")
        _print_identity(ledger, config)
        print(f"verifier keys written to {path}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = _config(args)
    host, port = parse_listen(args.listen)
    witnesses = _witnesses(args.witness or [])
    try:
        return _serve(config, host, port, witnesses)
    finally:
        for client in witnesses.values():
            client.close()


def _witnesses(specs: list[str]) -> dict[str, WitnessClient]:
    """``NAME=URL`` options as witness clients (c2sp.org/tlog-witness over HTTP)."""
    clients: dict[str, WitnessClient] = {}
    for spec in specs:
        name, sep, url = spec.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise LedgerCommandError(f"--witness takes NAME=http://host:port, not {spec!r}")
        if name in clients:
            raise LedgerCommandError(f"two witnesses named {name!r}")
        clients[name] = WitnessClient(url)
    return clients


def _serve(config: LedgerConfig, host: str, port: int, witnesses: dict[str, WitnessClient]) -> int:
    with (
        closing(open_local_ledger(config, witnesses=witnesses)) as ledger,
        bind(host, port, service="the ledger service") as sock,
    ):
        print(f"listening on {url_of(sock)}")
        _print_identity(ledger, config)
        for name, client in witnesses.items():
            print(f"witness: {name} at {client.url}")
        print("ready; SIGINT or SIGTERM stops the ledger service", flush=True)
        serve_until_signal(create_app(ledger), sock)
    return 0


# --- queries ----------------------------------------------------------------------------


def _open_source(args: argparse.Namespace) -> LedgerReader | LedgerClient:
    if args.url and (args.data_dir or args.store):
        raise LedgerCommandError("give --url or --data-dir/--store, not both")
    if args.url:
        return LedgerClient(args.url)
    return LedgerReader.open(_config(args).store)


def _print_hashes(hashes: list[bytes]) -> None:
    for node in hashes:
        print(base64.b64encode(node).decode("ascii"))


def run_checkpoint(args: argparse.Namespace) -> int:
    source = _open_source(args)
    try:
        print(source.checkpoint().decode("utf-8"), end="")
    finally:
        source.close()
    return 0


def _latest_size(source: LedgerReader | LedgerClient) -> int:
    lines = source.checkpoint().decode("utf-8").split("\n")
    return int(lines[1])


def run_inclusion(args: argparse.Namespace) -> int:
    source = _open_source(args)
    try:
        size = args.size if args.size is not None else _latest_size(source)
        _print_hashes(source.inclusion_proof(args.index, size))
    finally:
        source.close()
    return 0


def run_consistency(args: argparse.Namespace) -> int:
    source = _open_source(args)
    try:
        _print_hashes(source.consistency_proof(args.old, args.new))
    finally:
        source.close()
    return 0


# --- the parser -------------------------------------------------------------------------


def _add_init(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = "create the ledger's keys and store; print its verifier keys"
    init = commands.add_parser("init", help=about, description=about)
    _where(init, keystore=True)
    init.add_argument("--gm", action="store_true", help="SM3 tree hash and an SM2 note key too")
    init.add_argument("--origin", help="the log's origin line (default meterseal.local/ledger)")
    init.set_defaults(handler=run_init)


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = "run the ledger's HTTP service until SIGINT or SIGTERM"
    serve = commands.add_parser("serve", help=about, description=about)
    _where(serve, keystore=True)
    serve.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        help=f"HOST:PORT (default {DEFAULT_LISTEN}; port 0: any)",
    )
    serve.add_argument(
        "--witness",
        action="append",
        metavar="NAME=URL",
        help="ask this witness to cosign each checkpoint (repeatable; NAME keys its size)",
    )
    serve.set_defaults(handler=run_serve)


def _add_queries(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = "print the latest signed checkpoint"
    checkpoint = commands.add_parser("checkpoint", help=about, description=about)
    _source(checkpoint)
    checkpoint.set_defaults(handler=run_checkpoint)
    proof = commands.add_parser("proof", help="print an RFC 9162 proof, base64 lines")
    kinds = proof.add_subparsers(dest="proof_kind", required=True)
    inclusion = kinds.add_parser("inclusion", help="inclusion proof of leaf INDEX")
    inclusion.add_argument("index", type=int)
    inclusion.add_argument("--size", type=int, help="tree size (default: the latest)")
    _source(inclusion)
    inclusion.set_defaults(handler=run_inclusion)
    consistency = kinds.add_parser("consistency", help="consistency proof from OLD to NEW")
    consistency.add_argument("old", type=int)
    consistency.add_argument("new", type=int)
    _source(consistency)
    consistency.set_defaults(handler=run_consistency)


def add_ledger_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``ledger`` subcommands."""
    commands = parser.add_subparsers(dest="ledger_command", required=True)
    _add_init(commands)
    _add_serve(commands)
    _add_queries(commands)
    add_verify_subcommands(commands)  # `verify` and `verify-proof`
