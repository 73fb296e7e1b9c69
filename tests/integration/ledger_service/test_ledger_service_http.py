"""The ledger's HTTP service over real TCP on 127.0.0.1: the tlog-tiles read paths, /add,
proofs, bad requests refused while others are served, 503 while the store is down, and
LedgerClient answering exactly as LocalLedger does."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from ledger_service_support import ORIGIN, Backend, ed25519_signer, leaves

from meterseal import cbor
from meterseal.http_server import ServerThread
from meterseal.ledger.client import LedgerClient
from meterseal.ledger.errors import (
    LedgerError,
    LedgerUnavailableError,
    MalformedLeafError,
    TreeRangeError,
)
from meterseal.ledger.http_app import HttpLimits, create_app
from meterseal.ledger.interface import Ledger, Submitted
from meterseal.ledger.local import LocalLedger
from meterseal.ledger.sequencer import Sequencer
from meterseal.ledger.tiles import Tile, decode_entry_bundle

pytest_plugins = ["ledger_service_fixtures"]
pytestmark = pytest.mark.timeout(60)

LIMITS = HttpLimits(max_body_bytes=4000, max_entries=20)


@pytest.fixture
def service(backend: Backend) -> Iterator[tuple[LocalLedger, str]]:
    """A LocalLedger on the backend, served on a free port of 127.0.0.1."""
    ledger = LocalLedger(Sequencer(backend.open(), [ed25519_signer()], origin=ORIGIN))
    with ServerThread(create_app(ledger, LIMITS)) as server:
        yield ledger, server.url
    ledger.close()


def grow(ledger: Ledger, total: int) -> None:
    while (size := _size(ledger)) < total:
        ledger.submit(leaves(size, min(20, total - size)))


def _size(ledger: Ledger) -> int:
    return int(ledger.checkpoint().split(b"\n")[1])


# --- the client answers as the local ledger does ----------------------------------------


def test_the_client_answers_exactly_as_the_local_ledger(service: tuple[LocalLedger, str]) -> None:
    local, url = service
    client = LedgerClient(url)
    first = client.submit(leaves(0, 20))
    assert (first.first_index, first.count, first.tree_size) == (0, 20, 20)
    assert first.checkpoint == local.checkpoint()
    grow(client, 530)
    assert client.checkpoint() == local.checkpoint()
    assert client.submit([]) == local.submit([])
    for start, end in ((0, 530), (250, 262), (256, 512), (529, 530), (7, 7)):
        assert list(client.entries(start, end)) == list(local.entries(start, end))
    for index, size in ((0, 1), (255, 256), (256, 257), (529, 530), (100, 300)):
        assert client.inclusion_proof(index, size) == local.inclusion_proof(index, size)
    for old, new in ((1, 530), (256, 512), (255, 257), (530, 530)):
        assert client.consistency_proof(old, new) == local.consistency_proof(old, new)
    for ledger in (client, local):
        with pytest.raises(TreeRangeError):
            ledger.inclusion_proof(530, 530)
        with pytest.raises(TreeRangeError):
            ledger.consistency_proof(0, 10)
        with pytest.raises(TreeRangeError):
            ledger.entries(0, 531)
    client.close()
    with pytest.raises(LedgerError):
        client.checkpoint()


# --- read paths -------------------------------------------------------------------------


def test_tiles_and_bundles_with_their_content_types_and_caching(
    service: tuple[LocalLedger, str],
) -> None:
    local, url = service
    grow(local, 300)
    note = httpx.get(f"{url}/checkpoint")
    assert note.headers["content-type"] == "text/plain; charset=utf-8"
    assert note.content == local.checkpoint()
    full = httpx.get(f"{url}/tile/0/000")
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert full.content == local.storage.read_tiles([Tile(0, 0)])[0]
    partial = httpx.get(f"{url}/tile/0/001.p/44")
    assert partial.headers["cache-control"] == "no-cache"
    assert len(partial.content) == 44 * 32
    level1 = httpx.get(f"{url}/tile/1/000.p/1")
    assert level1.content == local.storage.read_tiles([Tile(1, 0, 1)])[0]
    bundle = httpx.get(f"{url}/tile/entries/000")
    assert bundle.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert decode_entry_bundle(bundle.content) == leaves(0, 256)
    assert decode_entry_bundle(httpx.get(f"{url}/tile/entries/001.p/3").content) == leaves(256, 3)
    for missing in ("tile/0/001.p/45", "tile/0/002", "tile/1/000", "tile/0/01", "tile/x"):
        assert httpx.get(f"{url}/{missing}").status_code == 404, missing


# --- bad requests -----------------------------------------------------------------------


def _post(url: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/add", content=body, headers={"Content-Type": "application/cbor"})


BAD_ADDS: list[tuple[bytes, int, str]] = [
    (b"\x9f\x41", 400, "CBOR"),
    (cbor.encode({"entries": []}), 400, "array"),
    (cbor.encode([leaves(0, 1)[0], 7]), 400, "entry 1"),
    (cbor.encode([*leaves(0, 2), b"\x82\x01\xa1\x01\x00"]), 400, "entry 2"),
    (cbor.encode(leaves(0, 21)), 413, "more than 20"),
    (cbor.encode([b"\x00" * 5000]), 413, "larger than 4000"),
]


@pytest.mark.parametrize(("body", "status", "words"), BAD_ADDS)
def test_bad_adds_are_refused_and_the_service_keeps_serving(
    service: tuple[LocalLedger, str], body: bytes, status: int, words: str
) -> None:
    local, url = service
    local.submit(leaves(0, 3))
    response = _post(url, body)
    assert response.status_code == status
    assert words in response.text
    assert local.size() == 3
    good = cbor.decode(_post(url, cbor.encode(leaves(3, 2))).content)
    assert (good["first_index"], good["count"], good["tree_size"]) == (3, 2, 5)


@pytest.mark.parametrize(
    "query",
    [
        "inclusion?index=1",
        "inclusion?index=-1&tree_size=3",
        "inclusion?index=a&tree_size=3",
        "inclusion?index=3&tree_size=3",
        "inclusion?index=0&tree_size=4",
        "consistency?old=0&new=3",
        "consistency?old=3&new=2",
        "consistency?old=1&new=99999999999999999999",
    ],
)
def test_bad_proof_requests_are_400(service: tuple[LocalLedger, str], query: str) -> None:
    local, url = service
    local.submit(leaves(0, 3))
    assert httpx.get(f"{url}/proof/{query}").status_code == 400
    assert httpx.get(f"{url}/proof/inclusion?index=0&tree_size=3").status_code == 200


def test_the_client_reports_refused_leaves_and_limits(service: tuple[LocalLedger, str]) -> None:
    _, url = service
    with LedgerClient(url) as client:
        with pytest.raises(MalformedLeafError, match="entry 0"):
            client.submit([b"not a leaf"])
        with pytest.raises(LedgerError, match="413"):
            client.submit(leaves(0, 21))


# --- unavailability and concurrency ----------------------------------------------------


def test_a_store_that_is_down_is_503_and_the_client_says_unavailable(
    service: tuple[LocalLedger, str],
) -> None:
    local, url = service
    local.submit(leaves(0, 3))
    local.storage.close()
    response = httpx.get(f"{url}/tile/0/000.p/3")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert _post(url, cbor.encode(leaves(3, 1))).status_code == 503
    with LedgerClient(url) as client, pytest.raises(LedgerUnavailableError):
        client.submit(leaves(3, 1))
    with (
        LedgerClient("http://127.0.0.1:9", timeout=2) as nowhere,
        pytest.raises(LedgerUnavailableError),
    ):
        nowhere.checkpoint()


def test_concurrent_adds_each_get_their_own_entries(service: tuple[LocalLedger, str]) -> None:
    """Sixteen clients add at once (one of them sends garbage): every good request's
    range holds exactly its entries, whatever batches the service folded them into."""
    local, url = service
    results: dict[int, Submitted] = {}
    refused: list[int] = []

    def good(n: int) -> Callable[[], None]:
        def run() -> None:
            with LedgerClient(url) as client:
                results[n] = client.submit(leaves(1000 * n, 15))

        return run

    def bad() -> None:
        refused.append(_post(url, b"\xff\xff").status_code)

    threads = [threading.Thread(target=good(n)) for n in range(15)]
    threads.insert(7, threading.Thread(target=bad))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert refused == [400]
    assert local.size() == 15 * 15
    assert sorted(r.first_index for r in results.values()) == list(range(0, 225, 15))
    for n, result in results.items():
        assert result.count == 15
        assert result.tree_size >= result.first_index + 15
        got = list(local.entries(result.first_index, result.first_index + 15))
        assert got == leaves(1000 * n, 15)
