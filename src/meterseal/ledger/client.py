"""``LedgerClient``: the :class:`~meterseal.ledger.interface.Ledger` over the ledger's HTTP API.

A synchronous httpx client of :mod:`meterseal.ledger.http_app`. It checks the *shape* of
what comes back (a CBOR map with the four fields, a note that parses, base64 hashes of the
tree hash's size, entry bundles that decode) and nothing more: callers verify proofs against
checkpoints they trust (RFC 9162 section 2.1.3.2, 2.1.4.2) with the log's verifier keys.

Errors: an unreachable service, a timeout or a 5xx is
:class:`~meterseal.ledger.errors.LedgerUnavailableError`; a refused ``/add`` entry is
:class:`~meterseal.ledger.errors.MalformedLeafError`; a range the log does not have is
:class:`~meterseal.ledger.errors.TreeRangeError`, as :class:`~meterseal.ledger.local.LocalLedger`
raises them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from meterseal import cbor
from meterseal.errors import EncodingError
from meterseal.ledger.errors import (
    LedgerError,
    LedgerUnavailableError,
    MalformedLeafError,
    NoteError,
    TileError,
    TreeRangeError,
)
from meterseal.ledger.interface import Submitted
from meterseal.ledger.note import parse_note
from meterseal.ledger.tiles import TILE_WIDTH, decode_entry_bundle, entry_bundle_path

_SUBMITTED_FIELDS = ("first_index", "count", "tree_size", "checkpoint")


def _size_of(note: bytes) -> int:
    """The tree size line of a checkpoint note (its shape only)."""
    try:
        lines = parse_note(note).text.split("\n")
    except NoteError as exc:
        raise LedgerError(f"the ledger sent a malformed checkpoint: {exc}") from exc
    if len(lines) < 3 or not lines[1].isdigit():
        raise LedgerError("the ledger sent a checkpoint without a tree size line")
    return int(lines[1])


def _submitted(body: bytes) -> Submitted:
    try:
        reply = cbor.decode(body)
    except EncodingError as exc:
        raise LedgerError(f"the ledger's /add reply is not CBOR: {exc}") from exc
    if not isinstance(reply, dict) or set(reply) != set(_SUBMITTED_FIELDS):
        raise LedgerError("the ledger's /add reply is not the expected CBOR map")
    numbers = [reply[key] for key in _SUBMITTED_FIELDS[:3]]
    if not all(isinstance(n, int) and n >= 0 for n in numbers):
        raise LedgerError("the ledger's /add reply has a field that is not a size")
    if not isinstance(reply["checkpoint"], bytes):
        raise LedgerError("the ledger's /add reply has no checkpoint note")
    _size_of(reply["checkpoint"])
    return Submitted(numbers[0], numbers[1], numbers[2], reply["checkpoint"])


def _hashes(body: str, digest_size: int) -> list[bytes]:
    hashes = []
    for line in body.splitlines():
        try:
            node = base64.b64decode(line, validate=True)
        except binascii.Error as exc:
            raise LedgerError("the ledger sent a proof line that is not base64") from exc
        if len(node) != digest_size:
            raise LedgerError(f"the ledger sent a proof hash of {len(node)} bytes")
        hashes.append(node)
    return hashes


class LedgerClient:
    """The ledger service at ``base_url`` (``http://host:port``)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        digest_size: int = 32,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._digest_size = digest_size
        self._http: httpx.Client | None = httpx.Client(
            base_url=self.base_url, timeout=timeout, transport=transport
        )

    # --- transport and errors -------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._http is None:
            raise LedgerError("the ledger client is closed")
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise LedgerUnavailableError(f"ledger at {self.base_url} unreachable: {exc}") from exc
        if response.status_code >= 500:
            detail = response.text.strip()
            raise LedgerUnavailableError(
                f"ledger at {self.base_url} answered {response.status_code}: {detail}"
            )
        return response

    @staticmethod
    def _refused(response: httpx.Response, error: type[LedgerError]) -> LedgerError:
        return error(f"the ledger refused ({response.status_code}): {response.text.strip()}")

    # --- the Ledger interface ---------------------------------------------------------------

    def submit(self, entries: Sequence[bytes]) -> Submitted:
        """POST /add; the entries are integrated and durable when this returns."""
        if not entries:
            note = self.checkpoint()
            size = _size_of(note)
            return Submitted(size, 0, size, note)
        body = cbor.encode(list(entries))
        response = self._request(
            "POST", "/add", content=body, headers={"Content-Type": "application/cbor"}
        )
        if response.status_code == 400:
            raise self._refused(response, MalformedLeafError)
        if response.status_code != 200:
            raise self._refused(response, LedgerError)
        return _submitted(response.content)

    def checkpoint(self) -> bytes:
        """GET /checkpoint: the latest signed note."""
        response = self._request("GET", "/checkpoint")
        if response.status_code != 200:
            raise self._refused(response, LedgerError)
        _size_of(response.content)
        return response.content

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        """Leaf data ``start <= index < end``, one GET /tile/entries/... per bundle."""
        size = _size_of(self.checkpoint())
        if not 0 <= start <= end <= size:
            raise TreeRangeError(f"entries [{start}, {end}) are not in a tree of size {size}")
        return self._entries(start, end)

    def _entries(self, start: int, end: int) -> Iterator[bytes]:
        for n in range(start // TILE_WIDTH, (end + TILE_WIDTH - 1) // TILE_WIDTH):
            width = min(TILE_WIDTH, end - n * TILE_WIDTH)
            response = self._request("GET", "/" + entry_bundle_path(n, width))
            if response.status_code != 200:
                raise self._refused(response, TreeRangeError)
            try:
                bundle = decode_entry_bundle(response.content)
            except TileError as exc:
                raise LedgerError(f"the ledger sent a malformed entry bundle: {exc}") from exc
            if len(bundle) != width:
                raise LedgerError(f"entry bundle {n} holds {len(bundle)} entries, not {width}")
            first = n * TILE_WIDTH
            yield from bundle[max(0, start - first) : end - first]

    def _proof(self, path: str, params: dict[str, int]) -> list[bytes]:
        response = self._request("GET", path, params=params)
        if response.status_code != 200:
            raise self._refused(response, TreeRangeError)
        return _hashes(response.text, self._digest_size)

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """GET /proof/inclusion (RFC 9162 section 2.1.3)."""
        return self._proof("/proof/inclusion", {"index": index, "tree_size": tree_size})

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """GET /proof/consistency (RFC 9162 section 2.1.4)."""
        return self._proof("/proof/consistency", {"old": old_size, "new": new_size})

    def tile(self, path: str) -> bytes:
        """GET one tile or entry bundle by its C2SP path (``tile/0/000.p/5``)."""
        response = self._request("GET", "/" + path.lstrip("/"))
        if response.status_code != 200:
            raise self._refused(response, TileError)
        return response.content

    def close(self) -> None:
        """Close the connection pool; later calls raise."""
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
