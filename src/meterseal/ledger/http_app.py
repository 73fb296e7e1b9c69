"""The ledger's HTTP service (FastAPI): C2SP tlog-tiles reads, ``/add`` and proofs.

Read paths (c2sp.org/tlog-tiles)::

    GET /checkpoint                      text/plain; charset=utf-8, the latest signed note
    GET /tile/<L>/<N>[.p/<W>]            application/octet-stream, W (or 256) hashes
    GET /tile/entries/<N>[.p/<W>]        application/octet-stream, an entry bundle

Full tiles and bundles never change: they are sent with ``Cache-Control: public,
max-age=31536000, immutable``; partial ones and the checkpoint with ``no-cache``.

Write and proof paths (MeterSeal's)::

    POST /add                 body: a CBOR array of leaf-data byte strings, each a valid
                              MeterSeal leaf (meterseal.ledger.leaves.parse_leaf);
                              reply: CBOR map {first_index, count, tree_size, checkpoint}
    GET /proof/inclusion?index=I&tree_size=N    base64 hashes, one a line (RFC 9162 2.1.3)
    GET /proof/consistency?old=M&new=N          base64 hashes, one a line (RFC 9162 2.1.4)

Errors are ``text/plain`` messages: 400 for malformed input (naming the bad entry), 404 for
a tile or bundle the log does not have, 413 for a body or an entry count over the limits,
503 (with ``Retry-After``) while the store cannot be reached. Concurrent ``/add`` requests
are coalesced: while one batch integrates, the next requests queue and go in together as
one transaction (each still gets its own ``first_index``). A refused request touches no
other request's entries.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from meterseal import cbor
from meterseal.errors import EncodingError
from meterseal.ledger.errors import (
    LedgerError,
    LedgerUnavailableError,
    MalformedLeafError,
    TileError,
    TreeRangeError,
)
from meterseal.ledger.interface import Submitted
from meterseal.ledger.leaves import parse_leaf
from meterseal.ledger.local import LocalLedger
from meterseal.ledger.tiles import TILE_WIDTH, parse_entry_bundle_path, parse_tile_path

logger = logging.getLogger(__name__)

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
TILE_TYPE = "application/octet-stream"
NOTE_TYPE = "text/plain; charset=utf-8"
CBOR_TYPE = "application/cbor"


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one request may carry, and how many entries one coalesced batch holds."""

    max_body_bytes: int = 1 << 20
    max_entries: int = 8192
    max_batch_entries: int = 32768


class BadRequestError(LedgerError):
    """A request the service refuses: ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# --- /add: parsing and coalescing -----------------------------------------------------


def parse_add_body(body: bytes, limits: HttpLimits) -> list[bytes]:
    """The leaf data of an ``/add`` body; every entry must be a valid MeterSeal leaf."""
    try:
        items = cbor.decode(body)
    except EncodingError as exc:
        raise BadRequestError(f"body is not one CBOR data item: {exc}") from exc
    if not isinstance(items, list) or not items:
        raise BadRequestError("body must be a non-empty CBOR array of byte strings")
    if len(items) > limits.max_entries:
        raise BadRequestError(f"more than {limits.max_entries} entries in one request", 413)
    for index, item in enumerate(items):
        if not isinstance(item, bytes):
            raise BadRequestError(f"entry {index} is not a byte string")
        try:
            parse_leaf(item)
        except MalformedLeafError as exc:
            raise BadRequestError(f"entry {index} is not a MeterSeal leaf: {exc}") from exc
    return items


_Waiting = tuple[list[bytes], "asyncio.Future[Submitted]"]


@dataclass
class Coalescer:
    """Runs ``submit`` one batch at a time, folding the requests that wait into one batch."""

    submit: Callable[[Sequence[bytes]], Submitted]
    max_batch: int
    _pending: list[_Waiting] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def add(self, entries: list[bytes]) -> Submitted:
        future: asyncio.Future[Submitted] = asyncio.get_running_loop().create_future()
        self._pending.append((entries, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    def _take(self) -> list[_Waiting]:
        taken: list[_Waiting] = []
        total = 0
        while self._pending and (not taken or total + len(self._pending[0][0]) <= self.max_batch):
            taken.append(self._pending.pop(0))
            total += len(taken[-1][0])
        return taken

    async def _drain(self) -> None:
        while self._pending:
            taken = self._take()
            entries = [entry for part, _ in taken for entry in part]
            try:
                result = await run_in_threadpool(self.submit, entries)
            except Exception as exc:  # noqa: BLE001 - handed to every request of the batch
                for _, future in taken:
                    if not future.done():  # a request whose client went away is cancelled
                        future.set_exception(exc)
                continue
            offset = result.first_index
            for part, future in taken:
                if not future.done():
                    future.set_result(
                        Submitted(offset, len(part), result.tree_size, result.checkpoint)
                    )
                offset += len(part)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequestError(f"body larger than {limit} bytes", 413)
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise BadRequestError(f"body larger than {limit} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


# --- helpers for the read paths -------------------------------------------------------


def _int_param(request: Request, name: str) -> int:
    text = request.query_params.get(name)
    if text is None or not text.isdigit() or len(text) > 19:
        raise BadRequestError(f"query parameter {name!r} must be a non-negative integer")
    return int(text)


def _proof_response(hashes: list[bytes]) -> Response:
    body = "".join(base64.b64encode(h).decode("ascii") + "\n" for h in hashes)
    return PlainTextResponse(body, headers={"Cache-Control": NO_CACHE})


def _tile_response(data: bytes, width: int) -> Response:
    cache = IMMUTABLE if width == TILE_WIDTH else NO_CACHE
    return Response(data, media_type=TILE_TYPE, headers={"Cache-Control": cache})


def _read_tile(ledger: LocalLedger, path: str) -> Response:
    try:
        if path.startswith("tile/entries/"):
            index, width = parse_entry_bundle_path(path)
            return _tile_response(ledger.read_bundle(index, width), width)
        tile = parse_tile_path(path)
        return _tile_response(ledger.read_tiles([tile])[0], tile.width)
    except (TileError, TreeRangeError) as exc:
        raise BadRequestError(str(exc), 404) from exc


# --- the application ------------------------------------------------------------------


def _error_handlers(app: FastAPI) -> None:
    async def bad_request(_: Request, exc: Exception) -> Response:
        status = exc.status if isinstance(exc, BadRequestError) else 400
        return PlainTextResponse(f"{exc}\n", status_code=status)

    async def unavailable(_: Request, exc: Exception) -> Response:
        logger.warning("ledger store unavailable: %s", exc)
        return PlainTextResponse(f"{exc}\n", status_code=503, headers={"Retry-After": "1"})

    async def refused(_: Request, exc: Exception) -> Response:
        logger.error("ledger refused a request: %s", exc)
        return PlainTextResponse("the ledger could not serve this request\n", status_code=500)

    app.add_exception_handler(BadRequestError, bad_request)
    app.add_exception_handler(TreeRangeError, bad_request)
    app.add_exception_handler(LedgerUnavailableError, unavailable)
    app.add_exception_handler(LedgerError, refused)


def _routes(app: FastAPI, ledger: LocalLedger, limits: HttpLimits) -> None:
    coalescer = Coalescer(ledger.submit, limits.max_batch_entries)

    @app.get("/checkpoint")
    def checkpoint() -> Response:
        return Response(
            ledger.checkpoint(), media_type=NOTE_TYPE, headers={"Cache-Control": NO_CACHE}
        )

    @app.get("/tile/{path:path}")
    def tile(path: str) -> Response:
        return _read_tile(ledger, f"tile/{path}")

    @app.post("/add")
    async def add(request: Request) -> Response:
        entries = parse_add_body(await read_body(request, limits.max_body_bytes), limits)
        result = await coalescer.add(entries)
        reply = {
            "first_index": result.first_index,
            "count": result.count,
            "tree_size": result.tree_size,
            "checkpoint": result.checkpoint,
        }
        return Response(cbor.encode(reply), media_type=CBOR_TYPE)

    @app.get("/proof/inclusion")
    def inclusion(request: Request) -> Response:
        index, size = _int_param(request, "index"), _int_param(request, "tree_size")
        return _proof_response(ledger.inclusion_proof(index, size))

    @app.get("/proof/consistency")
    def consistency(request: Request) -> Response:
        old, new = _int_param(request, "old"), _int_param(request, "new")
        return _proof_response(ledger.consistency_proof(old, new))


def create_app(ledger: LocalLedger, limits: HttpLimits | None = None) -> FastAPI:
    """The ASGI application serving ``ledger`` (which the caller opens and closes)."""
    app = FastAPI(title="MeterSeal ledger", docs_url=None, redoc_url=None, openapi_url=None)
    _error_handlers(app)
    _routes(app, ledger, limits or HttpLimits())
    return app
