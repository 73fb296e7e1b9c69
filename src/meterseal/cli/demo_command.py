"""``meterseal demo [--meters N] [--days D] [--data-dir DIR] [--json] [--console [ADDR]]``.

With ``--console`` the demo ends by serving the web console over what it stored (see
:func:`serve_demo_console`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import signal
import sys
import time
from contextlib import closing
from pathlib import Path

from meterseal.api.auth import Authenticator
from meterseal.api.context import ApiContext, console_store
from meterseal.api.embedded import (
    DEFAULT_CONSOLE_LISTEN,
    ConsoleListen,
    ConsoleOptionError,
    embedded_console,
    is_loopback,
)
from meterseal.api.ledger_hook import outbox_hook
from meterseal.api.settings import ConsoleSettings
from meterseal.demo import DemoOptions, DemoSummary, run_demo
from meterseal.http_server import parse_listen
from meterseal.meter.fleet import FleetProgress
from meterseal.store import open_store

BAR_WIDTH = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--meters", type=int, default=100, help="fleet size (default 100)")
    parser.add_argument("--days", type=int, default=1, help="days of readings (default 1)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the store and keys live (default: new temp dir)",
    )
    parser.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument(
        "--console",
        nargs="?",
        const=DEFAULT_CONSOLE_LISTEN,
        metavar="HOST:PORT",
        help="after the run, serve the web console over the demo's store and ledger until "
        f"Ctrl-C (loopback only; default {DEFAULT_CONSOLE_LISTEN}), with a new admin account "
        "whose password is printed once",
    )


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, progress: FleetProgress) -> None:
        now = time.monotonic()
        done = progress.meters_done == progress.meters
        if now - self._last < 0.1 and not done:
            return
        self._last = now
        total = max(progress.batches_total, 1)
        filled = BAR_WIDTH * progress.batches_acked // total
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
            f"{progress.batches_acked}/{progress.batches_total} batches acked, "
            f"{progress.meters_done}/{progress.meters} meters done"
        )
        if done:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _print_summary(summary: DemoSummary) -> None:
    stats = summary.headend
    print(f"data directory: {summary.data_dir}")
    print(f"store:          {summary.store_url}")
    print(
        f"meters:         {summary.meters} by suite {summary.by_suite}, by type {summary.by_type}"
    )
    print(f"handshakes:     {summary.handshakes_ok} ok, {summary.handshakes_failed} failed")
    print(
        f"batches:        {summary.batches_produced} produced, {stats.batches_accepted} accepted, "
        f"{stats.batches_duplicate} duplicate, {stats.batches_rejected} rejected, "
        f"{summary.batches_stored} stored"
    )
    print(
        f"readings:       {summary.readings_produced} produced, {stats.intervals_stored} stored "
        f"({summary.register_values_stored} register values in the store)"
    )
    print(f"commands:       {summary.commands_acked} time-sync commands acknowledged")
    ledger = summary.ledger
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(ledger.by_kind.items()))
    print(f"ledger:         {ledger.directory}, log {ledger.origin}")
    print(
        f"                {ledger.leaves} leaves added ({kinds or 'none'}), "
        f"{summary.ledger_expected} expected, {ledger.pending} still queued; "
        f"checkpoint at tree size {ledger.tree_size}, "
        f"{'cosigned by the witness' if ledger.witnessed else 'NOT cosigned by the witness'}"
    )
    verified = summary.verified
    print(
        f"verified:       {verified.batches} stored batches and {verified.intervals} readings "
        f"against the ledger in {verified.seconds:.1f} s: {verified.findings} findings"
    )
    rate = stats.intervals_stored / summary.elapsed_s if summary.elapsed_s else 0.0
    print(f"time:           {summary.elapsed_s:.1f} s ({rate:,.0f} readings/s)")
    if not summary.exactly_once:
        verdict = f"FAILED: {summary.missing_batches} batches missing"
    elif not ledger.witnessed:
        verdict = "FAILED: the witness did not cosign the final checkpoint"
    elif not summary.ledger_complete:
        verdict = f"FAILED: the ledger got {ledger.leaves} of {summary.ledger_expected} leaves"
    elif not verified.clean:
        verdict = f"FAILED: ledger verify found {verified.findings} findings"
    else:
        verdict = "every batch stored exactly once, logged once, witnessed and verified"
    print(f"result:         {verdict}")


def run_demo_command(args: argparse.Namespace) -> int:
    if args.console is not None:
        console_listen(args.console)  # refuse a bad address before the run, not after
    options = DemoOptions(
        meters=args.meters, days=args.days, data_dir=args.data_dir, seed=args.seed
    )
    print(f"meterseal demo: {options.meters} meters, {options.days} day(s) of readings", flush=True)
    summary = asyncio.run(run_demo(options, progress=ProgressBar()))
    _print_summary(summary)
    if args.json:
        print(json.dumps(summary.as_json()))
    if args.console is not None:
        serve_demo_console(args.console, summary)
    return 0 if summary.succeeded else 1


def serve_demo_console(listen: str, summary: DemoSummary) -> None:
    """The console over the demo's data on a loopback address, with a fresh admin account,
    until SIGINT or SIGTERM. The head-end has stopped, so commands answer 503."""
    name, password = _demo_admin(summary.store_url)
    asyncio.run(_serve_console(console_listen(listen), summary, name, password))


def console_listen(listen: str) -> ConsoleListen:
    """Where the demo's console listens; :class:`ConsoleOptionError` off loopback."""
    host, port = parse_listen(listen)
    if not is_loopback(host):
        raise ConsoleOptionError("the demo serves its console on a loopback address only")
    return ConsoleListen(host, port)


def _demo_admin(store_url: str) -> tuple[str, str]:
    """A new admin account with a random password, recorded in the audit log."""
    password = secrets.token_urlsafe(18)
    with closing(open_store(store_url)) as store:
        accounts = console_store(store)
        settings = ConsoleSettings(on_audit=outbox_hook(store))
        context = ApiContext(accounts, settings, Authenticator(accounts, settings))
        name = f"demo-admin-{len(accounts.list_users()) + 1}"
        context.auth.add_user(name, password, "admin")
        context.audit("meterseal-demo", "user.add", name, {"role": "admin"})
    return name, password


async def _serve_console(
    listen: ConsoleListen, summary: DemoSummary, name: str, password: str
) -> None:
    async with embedded_console(
        listen, store_url=summary.store_url, ledger_spec=str(summary.data_dir), commands=None
    ) as running:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        print(f"console: {running.url}")
        print(f"log in as {name} with password {password} (shown once); Ctrl-C stops", flush=True)
        await stop.wait()
