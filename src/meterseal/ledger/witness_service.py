"""The witness service: C2SP tlog-witness ``add-checkpoint`` over HTTP (FastAPI).

::

    POST /add-checkpoint      body: "old <size>\\n", consistency proof lines (base64, at most
                              63), a blank line, the signed checkpoint note
                              200 text/plain: one cosignature line per witness key
                              400 malformed; 403 no trusted signature; 404 unknown log;
                              409 text/x.tlog.size "<size>\\n": the witness's size;
                              422 the consistency proof does not verify;
                              413 a body over MAX_BODY; 503 the state cannot be written

The checks are the sans-IO :class:`~meterseal.ledger.witness.Witness`'s; the new state is
persisted by compare-and-swap before the 200 goes out
(:class:`~meterseal.ledger.witness_store.PersistentWitness`). The witness's Ed25519 key
lives in its own encrypted software keystore (or a crypto machine URL) and its state in
its own SQLite file, both under ``DATA_DIR/witness/``::

    DATA_DIR/witness/witness-state.db       latest (size, root) per log, and the history
    DATA_DIR/witness/witness-keys.mskeys    its keystore (key label witness-cosign-ed25519)
    DATA_DIR/witness/witness-keys.kek       the keystore's KEK (mode 0600; keep it
                                            elsewhere in production)

The logs it witnesses are configured by their verifier keys; a log's origin is its key's
name (C2SP tlog-checkpoint: the log's key name should be its origin).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from meterseal.crypto.interfaces import SigningKey
from meterseal.crypto.international import ED25519
from meterseal.hsm import CryptoMachine, SoftwareKeystore, kek_from_file, open_crypto_machine
from meterseal.hsm.errors import KeyNotFoundError
from meterseal.http_server import (
    ServerThread,
    bind,
)
from meterseal.ledger.checkpoint import Cosigner
from meterseal.ledger.errors import (
    LedgerError,
    LedgerUnavailableError,
    WitnessConflictError,
    WitnessError,
)
from meterseal.ledger.keys import parse_verifier_key
from meterseal.ledger.merkle import SHA256_HASHER, TreeHasher
from meterseal.ledger.note import NoteVerifier
from meterseal.ledger.witness import LogConfig, Witness
from meterseal.ledger.witness_store import PersistentWitness, WitnessStore

MAX_BODY = 64 * 1024
"""Largest add-checkpoint body accepted: 63 proof lines and a note with 100 signatures fit."""

WITNESS_DIR = "witness"
STATE_NAME = "witness-state.db"
KEYSTORE_NAME = "witness-keys.mskeys"
KEK_NAME = "witness-keys.kek"
KEY_LABEL = "witness-cosign-ed25519"
DEFAULT_NAME = "meterseal.local/witness"
TLOG_SIZE = "text/x.tlog.size"


@dataclass(frozen=True, slots=True)
class WitnessConfig:
    """Where the witness keeps its state and key, its name, and the logs it witnesses."""

    data_dir: Path
    log_vkeys: tuple[str, ...] = ()
    name: str = DEFAULT_NAME
    keystore_url: str | None = None
    hasher: TreeHasher = SHA256_HASHER

    @property
    def witness_dir(self) -> Path:
        return self.data_dir / WITNESS_DIR

    def logs(self) -> list[LogConfig]:
        """One log per verifier key, its origin the key's name (keys of one name share)."""
        by_origin: dict[str, list[NoteVerifier]] = {}
        for vkey in self.log_vkeys:
            verifier = parse_verifier_key(vkey)
            by_origin.setdefault(verifier.name, []).append(verifier)
        return [
            LogConfig(origin, tuple(verifiers), self.hasher)
            for origin, verifiers in by_origin.items()
        ]


def open_witness_keystore(config: WitnessConfig) -> CryptoMachine:
    """The witness's own crypto machine: the URL given, or its software keystore."""
    if config.keystore_url:
        return open_crypto_machine(config.keystore_url)
    directory = config.witness_dir
    directory.mkdir(parents=True, exist_ok=True)
    kek_path, store_path = directory / KEK_NAME, directory / KEYSTORE_NAME
    if not kek_path.exists():
        descriptor = os.open(kek_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as kek_file:
            kek_file.write(secrets.token_hex(32))
    return SoftwareKeystore(store_path, kek_from_file(kek_path), create=not store_path.exists())


def witness_key(machine: CryptoMachine, *, create: bool) -> SigningKey:
    """The witness's Ed25519 key handle (made inside the machine when ``create``)."""
    try:
        return machine.signing_key(KEY_LABEL)
    except KeyNotFoundError:
        if not create:
            raise LedgerError("the witness key is missing: run `meterseal witness init`") from None
    return machine.generate_signing_key(KEY_LABEL, ED25519)


def open_persistent_witness(config: WitnessConfig, key: SigningKey) -> PersistentWitness:
    """The witness over its state file, cosigning with ``key`` at the wall-clock second."""
    if not config.log_vkeys:
        raise LedgerError("a witness needs at least one log verifier key (--log-vkey)")
    config.witness_dir.mkdir(parents=True, exist_ok=True)
    witness = Witness([Cosigner(config.name, key)], config.logs())
    store = WitnessStore(config.witness_dir / STATE_NAME)
    return PersistentWitness(witness, store, lambda: int(time.time()))


# --- HTTP -----------------------------------------------------------------------------


def _text(status: int, message: str) -> Response:
    return Response(f"{message}\n", status_code=status, media_type="text/plain; charset=utf-8")


def _refusal(exc: WitnessError) -> Response:
    if isinstance(exc, WitnessConflictError):
        # Set as a header: Starlette would add "; charset=utf-8" to a text/* media type.
        return Response(exc.body, status_code=409, headers={"content-type": TLOG_SIZE})
    return _text(exc.wire_code, str(exc))


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(witness: PersistentWitness, *, max_body: int = MAX_BODY) -> FastAPI:
    """The witness's FastAPI app: ``POST /add-checkpoint`` (c2sp.org/tlog-witness)."""
    app = FastAPI(title="MeterSeal witness", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = await _read_body(request, max_body)
        if body is None:
            return _text(413, f"request body over {max_body} bytes")
        try:
            lines = await run_in_threadpool(witness.handle, body)
        except WitnessError as exc:
            return _refusal(exc)
        except LedgerError as exc:
            return _text(503, f"the witness cannot record its state: {exc}")
        return Response(lines, status_code=200, media_type="text/plain; charset=utf-8")

    return app


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket for the witness (port 0: any free port)."""
    return bind(host, port, service="the witness", error=LedgerUnavailableError)


@contextlib.contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` from a background thread; yields its base URL, stops on exit."""
    with ServerThread(app, host, port, error=LedgerUnavailableError) as server:
        yield server.url
