"""``meterseal``: the command line entry point and its subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from meterseal import __version__
from meterseal.cli.bench_command import AREAS, run_bench
from meterseal.cli.console_command import add_arguments as add_console_arguments
from meterseal.cli.console_command import run_console_command
from meterseal.cli.demo_command import add_arguments as add_demo_arguments
from meterseal.cli.demo_command import run_demo_command
from meterseal.cli.ledger_command import add_ledger_arguments
from meterseal.cli.ledger_verify_command import add_witness_subcommands
from meterseal.cli.pki_command import add_ca_arguments, add_meter_arguments
from meterseal.cli.serve_command import add_arguments as add_serve_arguments
from meterseal.cli.serve_command import run_serve_command
from meterseal.cli.simulate_command import add_arguments as add_simulate_arguments
from meterseal.cli.simulate_command import run_simulate_command
from meterseal.cli.user_command import add_arguments as add_user_arguments
from meterseal.errors import MeterSealError


def _add_bench(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = subparsers.add_parser("bench", help="measure speed against same-run baselines")
    bench.add_argument("area", choices=sorted(AREAS), help="what to measure")
    bench.add_argument("--json", action="store_true", help="end with one JSON line")
    bench.add_argument(
        "--seconds", type=float, default=1.0, help="time per measurement (default 1)"
    )
    bench.set_defaults(handler=run_bench)


def _add_demo(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo", help="a head-end on SQLite and a simulated fleet, end to end, no services"
    )
    add_demo_arguments(demo)
    demo.set_defaults(handler=run_demo_command)


def _add_ca(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = "the certificate authority: roots inside the keystore in DATA_DIR"
    ca = subparsers.add_parser("ca", help=about, description=about)
    add_ca_arguments(ca)


def _add_ledger(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = "the ledger service: its own store and key in DATA_DIR/ledger; tiles and proofs"
    ledger = subparsers.add_parser("ledger", help=about, description=about)
    add_ledger_arguments(ledger)


def _add_meter(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = "register meters against a factory manifest; list and show registered meters"
    meter = subparsers.add_parser("meter", help=about, description=about)
    add_meter_arguments(meter)


def _add_serve(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = "run the head-end until SIGINT or SIGTERM (settings: --config FILE)"
    serve = subparsers.add_parser("serve", help=about, description=about)
    add_serve_arguments(serve)
    serve.set_defaults(handler=run_serve_command)


def _add_simulate(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = (
        "a simulated fleet uploading to a running head-end; its meters trust the head-end "
        "from DATA_DIR/headend-trust.cbor and are registered straight into the head-end's "
        "store (the stand-in for the security server, until it exists)"
    )
    simulate = subparsers.add_parser("simulate", help=about, description=about)
    add_simulate_arguments(simulate)
    simulate.set_defaults(handler=run_simulate_command)


def _add_console(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = "serve the web console and REST API over the store (until SIGINT or SIGTERM)"
    console = subparsers.add_parser("console", help=about, description=about)
    add_console_arguments(console)
    console.set_defaults(handler=run_console_command)


def _add_user(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = "console accounts: add, list, disable, enable, issue API tokens"
    user = subparsers.add_parser("user", help=about, description=about)
    add_user_arguments(user)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meterseal", description="Secure smart-meter data collection."
    )
    parser.add_argument("--version", action="version", version=f"meterseal {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_bench(subparsers)
    _add_ca(subparsers)
    _add_console(subparsers)
    _add_demo(subparsers)
    _add_ledger(subparsers)
    _add_meter(subparsers)
    _add_serve(subparsers)
    _add_simulate(subparsers)
    _add_user(subparsers)
    add_witness_subcommands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except MeterSealError as exc:
        print(f"meterseal: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
