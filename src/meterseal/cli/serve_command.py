"""``meterseal serve [--config FILE] [--data-dir DIR] [--host H] [--port P] [--workers N]``.

Runs the head-end until SIGINT or SIGTERM. Settings come from the TOML file
(:mod:`meterseal.config`), flags override it. At start it opens the crypto machine (by
default the encrypted software keystore in the data directory, as the demo does), makes
the head-end's EDHOC identities and command keys there on first use and finds them by
label afterwards (:func:`meterseal.demo.machine_identities`), and writes the head-end's
**trust bundle** to ``DATA_DIR/headend-trust.cbor``: its EDHOC credentials per suite and
its command public keys, public data only, so that ``meterseal simulate`` (and, until the
security server exists, anyone provisioning meters) can make meters that trust it.

Trust bundle format (CBOR, RFC 8949; written atomically)::

    {"format": "meterseal-headend-trust", "version": 1,
     "suites": {suite value: {"credentials": [CCS, ...], "command_key": bstr}}}

Each CCS is a credential exactly as the head-end sends it in EDHOC (kid ``HE-<|suite|>-dh``
or ``HE-<|suite|>-sig``); ``command_key`` is the public key that signs commands for meters
of that suite. The bundle is public, but whoever can rewrite it chooses whom newly
provisioned meters trust: keep the data directory writable by the head-end only.

With ``workers > 1`` every worker process opens the crypto machine itself, which a PKCS#11
token allows and the software keystore (locked by one process) does not.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, closing
from functools import partial
from pathlib import Path
from typing import Any, Final

from meterseal import cbor
from meterseal.api.embedded import NO_CONSOLE, ConsoleListen, embedded_console
from meterseal.config import ConfigError, Settings, load_settings, redact
from meterseal.demo import KEK_NAME, KEYSTORE_NAME, machine_identities, open_keystore
from meterseal.edhoc.credentials import Credential
from meterseal.errors import MeterSealError
from meterseal.headend import HeadendHandle, HeadendKeys, HeadendStats, KeySource, start_headend
from meterseal.headend.ledger_forwarder import NO_LEDGER, ledger_location
from meterseal.hsm import CryptoMachine, Pkcs11Config, SoftwareConfig, open_crypto_machine
from meterseal.hsm import parse_url as parse_machine_url
from meterseal.http_server import parse_listen
from meterseal.meter.provisioning import HeadendIdentities
from meterseal.meter.trust import HeadendTrust

TRUST_BUNDLE_NAME: Final = "headend-trust.cbor"
TRUST_FORMAT: Final = "meterseal-headend-trust"
TRUST_VERSION: Final = 1

_OPEN_MACHINES: list[CryptoMachine] = []
"""Crypto machines a worker process opened for its keys; open for the process's life."""


class ServeError(MeterSealError):
    """The head-end could not run (the port is taken, the data directory unwritable)."""


class TrustBundleError(MeterSealError):
    """The trust bundle is missing or is not one ``meterseal serve`` wrote."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``serve``; each overrides the configuration file."""
    parser.add_argument("--config", type=Path, help="TOML settings (see meterseal.config)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keys, store and trust bundle live here (default ./meterseal-data)",
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (default 7410; 0: any free port)")
    parser.add_argument("--workers", type=int, help="head-end processes (default 1)")
    parser.add_argument(
        "--ledger",
        help="where accepted batches and authentication results are logged: a data "
        "directory (default: --data-dir, the ledger in DATA_DIR/ledger), an http(s) URL "
        "of the ledger service, or none",
    )
    parser.add_argument(
        "--console",
        help='the web console and REST API, HOST:PORT (default 127.0.0.1:7480), or "none"',
    )
    parser.add_argument("--json", action="store_true", help="end with the counters as JSON")


def serve_settings(args: argparse.Namespace) -> Settings:
    """The file's settings (or the defaults) with the flags that were given."""
    ledger = args.ledger
    if ledger is not None and ledger != NO_LEDGER and not ledger.startswith(("http:", "https:")):
        ledger = str(Path(ledger).resolve())
    return load_settings(args.config).override(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        workers=args.workers,
        ledger=ledger,
        console=args.console,
    )


def run_serve_command(args: argparse.Namespace) -> int:
    """Serve until a signal, then print the final counters."""
    settings = serve_settings(args)
    check_workers(settings)
    logging.basicConfig(
        level=settings.log_level_number, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    machine, description = open_machine(settings)
    with closing(machine):
        final = serve(settings, machine, description)
    print_final(final, as_json=args.json)
    return 0


def serve(settings: Settings, machine: CryptoMachine, description: str) -> HeadendStats:
    """Keys from ``machine``, the trust bundle written, the head-end run until a signal."""
    identities = machine_identities(machine, settings.suites)
    bundle = write_trust_bundle(settings.data_dir, identities, settings.suites)

    def ready(handle: HeadendHandle, console: str | None) -> None:
        print_ready(settings, description, bundle, identities, handle, console=console)

    keys = key_source(settings, identities)
    try:
        return asyncio.run(_serve(settings, keys, ready))
    except OSError as exc:
        raise ServeError(f"the head-end could not run: {exc}") from exc


async def _serve(
    settings: Settings, keys: KeySource, ready: Callable[[HeadendHandle, str | None], None]
) -> HeadendStats:
    """The head-end and, beside it in this loop, the console; until SIGINT or SIGTERM."""
    handle = await start_headend(settings.headend_config(), keys)
    try:
        async with _console(settings, handle) as console_url:
            stop = _stop_on_signal()  # before "ready": a signal right after it must count
            ready(handle, console_url)
            await stop.wait()
    finally:
        stats = await handle.close()
    return stats


@asynccontextmanager
async def _console(settings: Settings, handle: HeadendHandle) -> AsyncIterator[str | None]:
    """The console's URL while it serves (None when ``console = "none"``)."""
    if settings.console == NO_CONSOLE:
        yield None
        return
    host, port = parse_listen(settings.console)
    async with embedded_console(
        ConsoleListen(host, port),
        store_url=settings.store,
        ledger_spec=settings.ledger_spec,
        commands=handle,
    ) as running:
        yield running.url


def _stop_on_signal() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM from now on."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


# --- the crypto machine and the keys ----------------------------------------------------


def open_machine(settings: Settings) -> tuple[CryptoMachine, str]:
    """The configured crypto machine (default: the keystore in the data directory) and a
    description of it fit to print."""
    url = settings.crypto_machine_url
    if url is None:
        keystore = settings.data_dir / KEYSTORE_NAME
        description = f"software keystore {keystore} (KEK {settings.data_dir / KEK_NAME})"
        return open_keystore(settings.data_dir), description
    return open_crypto_machine(url), describe_machine(url)


def describe_machine(url: str) -> str:
    """What a crypto machine URL names, without any secret."""
    config = parse_machine_url(url)
    if isinstance(config, SoftwareConfig):
        return f"software keystore {config.path}"
    assert isinstance(config, Pkcs11Config)  # noqa: S101 - the two kinds parse_url returns
    return f"PKCS#11 token {config.token_label!r} ({config.module_path})"


def check_workers(settings: Settings) -> None:
    """Workers each open the crypto machine: refuse ``workers > 1`` without a PKCS#11 one."""
    url = settings.crypto_machine_url or ""
    if settings.workers > 1 and not url.startswith("pkcs11:"):
        raise ConfigError(
            "workers > 1 needs a crypto machine that every worker process can open: a "
            "pkcs11: URL in [crypto_machine]; the software keystore is locked by one process"
        )


def key_source(settings: Settings, identities: HeadendIdentities) -> KeySource:
    """The head-end's keys: the handles themselves in one process; with workers, a
    picklable function with which each worker opens the crypto machine for itself."""
    check_workers(settings)
    if settings.workers == 1 or settings.crypto_machine_url is None:
        return HeadendKeys(identities.by_method(), dict(identities.command_keys))
    return partial(open_machine_keys, settings.crypto_machine_url, settings.suites)


def open_machine_keys(url: str, suites: tuple[int, ...]) -> HeadendKeys:
    """In a worker process: open the crypto machine and find the head-end's keys by label
    (kept open for the life of the process)."""
    machine = open_crypto_machine(url)
    _OPEN_MACHINES.append(machine)
    identities = machine_identities(machine, suites)
    return HeadendKeys(identities.by_method(), dict(identities.command_keys))


# --- the trust bundle -------------------------------------------------------------------


def trust_bundle(identities: HeadendIdentities, suites: tuple[int, ...]) -> bytes:
    """The trust bundle (see the module docstring) of ``identities`` for ``suites``."""
    by_suite = {
        value: {
            "credentials": [
                identities.identities[(value, signs)].credential.value for signs in (False, True)
            ],
            "command_key": identities.command_keys[value].public_key,
        }
        for value in suites
    }
    return cbor.encode({"format": TRUST_FORMAT, "version": TRUST_VERSION, "suites": by_suite})


def write_trust_bundle(
    data_dir: Path, identities: HeadendIdentities, suites: tuple[int, ...]
) -> Path:
    """Write DATA_DIR/headend-trust.cbor atomically; return its path."""
    path = data_dir / TRUST_BUNDLE_NAME
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_bytes(trust_bundle(identities, suites))
    temporary.replace(path)
    return path


def read_trust_bundle(path: Path) -> dict[int, HeadendTrust]:
    """What a meter of each suite is provisioned to trust, from a trust bundle file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TrustBundleError(
            f"no trust bundle at {path}: start `meterseal serve` on that data directory first"
        ) from None
    try:
        return parse_trust_bundle(cbor.decode(data))
    except (MeterSealError, KeyError, TypeError, AttributeError) as exc:
        raise TrustBundleError(f"{path} is not a head-end trust bundle: {exc}") from exc


def parse_trust_bundle(document: Any) -> dict[int, HeadendTrust]:
    """The per-suite trust of a decoded bundle (raises on anything unexpected)."""
    if document.get("format") != TRUST_FORMAT or document.get("version") != TRUST_VERSION:
        raise TrustBundleError("unknown format or version")
    suites: Mapping[int, Any] = document["suites"]
    return {int(value): _suite_trust(entry) for value, entry in suites.items()}


def _suite_trust(entry: Mapping[str, Any]) -> HeadendTrust:
    credentials = [Credential.from_ccs(bytes(value)) for value in entry["credentials"]]
    return HeadendTrust.of(credentials, bytes(entry["command_key"]))


# --- printing ---------------------------------------------------------------------------


def print_ready(
    settings: Settings,
    machine: str,
    bundle: Path,
    identities: HeadendIdentities,
    handle: HeadendHandle,
    *,
    console: str | None,
) -> None:
    """What the operator needs to know once the head-end listens."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"listening on {host}:{handle.port}")
    print(f"data directory: {settings.data_dir}")
    print(f"store: {redact(settings.store)}")
    print(f"crypto machine: {machine}")
    print(f"workers: {settings.workers}")
    print(f"trust bundle: {bundle}")
    ledger = ledger_location(settings.ledger_spec) or "none (leaves stay queued in the store)"
    print(f"ledger: {ledger}")
    shown = console or "none"
    if console is not None and settings.console.startswith(("127.", "localhost", "[::1]")):
        shown += " (loopback, plain HTTP; add users with `meterseal user add`)"
    print(f"console: {shown}")
    for value in settings.suites:
        print(suite_line(value, identities))
    print("ready; SIGINT or SIGTERM stops the head-end gracefully", flush=True)


def suite_line(value: int, identities: HeadendIdentities) -> str:
    """``suite 2: kid HE-2-dh (methods 1, 3), kid HE-2-sig (methods 0, 2), command key ...``."""
    dh = identities.identities[(value, False)].credential.kid or b"?"
    sig = identities.identities[(value, True)].credential.kid or b"?"
    command = hashlib.sha256(identities.command_keys[value].public_key).hexdigest()[:16]
    return (
        f"suite {value}: kid {dh.decode()} (methods 1, 3), kid {sig.decode()} (methods 0, 2), "
        f"command key sha256:{command}"
    )


def print_final(stats: HeadendStats, *, as_json: bool) -> None:
    """The final counters, one per line (and as one JSON object with ``as_json``)."""
    snapshot = stats.snapshot()
    print("stopped; final counters:")
    for name, value in snapshot.items():
        shown = json.dumps(value, sort_keys=True) if isinstance(value, dict) else value
        print(f"  {name}: {shown}")
    if as_json:
        print(json.dumps(snapshot, sort_keys=True))
    sys.stdout.flush()
