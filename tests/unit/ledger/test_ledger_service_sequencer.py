"""The sequencer's pure right edge and the HTTP service's /add parsing, without I/O."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterseal import cbor
from meterseal.headend.testing import async_test
from meterseal.ledger.errors import LedgerUnavailableError, MissingTileError, TileError
from meterseal.ledger.http_app import BadRequestError, Coalescer, HttpLimits, parse_add_body
from meterseal.ledger.interface import Submitted
from meterseal.ledger.leaves import BatchAccepted, leaf_data
from meterseal.ledger.merkle import SHA256_HASHER, SM3_HASHER, TreeHasher
from meterseal.ledger.sequencer import RightEdge, edge_root, edge_tiles, grow
from meterseal.ledger.tiles import TILE_WIDTH, MemoryTiles, Tile, decode_entry_bundle, new_tiles


def entries(start: int, count: int) -> list[bytes]:
    return [b"entry %d" % n for n in range(start, start + count)]


def grow_both(batches: list[int], hasher: TreeHasher) -> tuple[RightEdge, MemoryTiles, list[Tile]]:
    """Grow a right edge and a MemoryTiles alike; check each batch's rows as it goes."""
    edge, memory = RightEdge(0), MemoryTiles(hasher)
    written: list[Tile] = []
    for count in batches:
        batch = entries(edge.size, count)
        growth = grow(edge, batch, hasher)
        memory.append_leaves(batch)
        assert [t.tile for t in growth.tiles] == new_tiles(edge.size, edge.size + count)
        for stored in growth.tiles:
            assert stored.data == memory.tile(stored.tile)
        written += [t.tile for t in growth.tiles]
        bundled = [e for b in growth.bundles for e in decode_entry_bundle(b.data)]
        first = growth.bundles[0].index * TILE_WIDTH if growth.bundles else edge.size
        assert bundled == entries(first, edge.size + count - first)
        edge = growth.edge
        assert edge_root(edge, hasher) == memory.root()
    return edge, memory, written


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=700), min_size=1, max_size=12))
def test_grow_writes_exactly_new_tiles_with_memory_tiles_hashes(batches: list[int]) -> None:
    edge, memory, _ = grow_both(batches, SHA256_HASHER)
    assert edge.size == memory.size == sum(batches)


def test_grow_across_a_level_two_tile_boundary() -> None:
    """65536 leaves complete the first level-1 tile: a level-2 partial tile appears."""
    edge, memory, written = grow_both([65535, 1, 1], SHA256_HASHER)
    assert Tile(1, 0) in written
    assert Tile(2, 0, 1) in written
    assert edge.size == 65537
    assert edge_tiles(65537) == [Tile(0, 256, 1), Tile(2, 0, 1)]
    assert edge_root(edge, SHA256_HASHER) == memory.root()


def test_grow_with_sm3_matches_an_sm3_tree() -> None:
    edge, memory, _ = grow_both([300, 5, 256], SM3_HASHER)
    assert edge_root(edge, SM3_HASHER) == memory.root()
    assert edge_root(edge, SM3_HASHER) != edge_root(
        grow_both([300, 5, 256], SHA256_HASHER)[0], SHA256_HASHER
    )


def test_empty_edge_root_is_the_hash_of_nothing() -> None:
    assert edge_root(RightEdge(0), SHA256_HASHER) == SHA256_HASHER.empty_root()
    assert edge_tiles(0) == []


def test_an_edge_serves_only_its_own_partial_tiles() -> None:
    edge, _, _ = grow_both([600], SHA256_HASHER)
    with pytest.raises(MissingTileError):
        edge_root(RightEdge(600, edge.rows[:0], ()), SHA256_HASHER)


def test_an_entry_too_long_for_a_bundle_is_refused_before_anything_is_written() -> None:
    with pytest.raises(TileError):
        grow(RightEdge(0), [b"x" * 0x10000], SHA256_HASHER)


# --- /add bodies ----------------------------------------------------------------------


def leaf(n: int) -> bytes:
    return leaf_data(BatchAccepted("M-1", n, bytes(32)))


def test_a_cbor_array_of_leaves_parses() -> None:
    assert parse_add_body(cbor.encode([leaf(1), leaf(2)]), HttpLimits()) == [leaf(1), leaf(2)]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"\xff", 400, "CBOR"),
        (cbor.encode({"a": 1}), 400, "array"),
        (cbor.encode([]), 400, "non-empty"),
        (cbor.encode([leaf(1), "text"]), 400, "entry 1"),
        (cbor.encode([leaf(1), leaf(2), b"\x82\x01\xa0"]), 400, "entry 2"),
        (cbor.encode([leaf(n) for n in range(5)]), 413, "more than 4"),
    ],
)
def test_bad_add_bodies_are_refused_naming_the_problem(
    body: bytes, status: int, words: str
) -> None:
    with pytest.raises(BadRequestError) as caught:
        parse_add_body(body, HttpLimits(max_entries=4))
    assert caught.value.status == status
    assert words in str(caught.value)


# --- coalescing concurrent /add requests ----------------------------------------------


class GatedSubmit:
    """A submit whose first call waits for the gate, so that later requests queue."""

    def __init__(self) -> None:
        self.calls: list[list[bytes]] = []
        self.gate = threading.Event()

    def __call__(self, entries: Sequence[bytes]) -> Submitted:
        first = sum(len(call) for call in self.calls)
        self.calls.append(list(entries))
        if len(self.calls) == 1:
            self.gate.wait(10)
        return Submitted(first, len(entries), first + len(entries), b"note %d\n" % len(self.calls))


@async_test
async def test_requests_that_wait_are_folded_into_the_next_batch() -> None:
    submit = GatedSubmit()
    coalescer = Coalescer(submit, max_batch=100)
    first = asyncio.ensure_future(coalescer.add([b"a"]))
    while not submit.calls:  # the first batch is integrating
        await asyncio.sleep(0.001)
    waiting = [asyncio.ensure_future(coalescer.add([b"b%d" % n, b"c%d" % n])) for n in range(3)]
    await asyncio.sleep(0.01)
    waiting[1].cancel()  # a client that went away does not break the others
    submit.gate.set()
    done = await asyncio.gather(first, waiting[0], waiting[2])
    assert submit.calls == [[b"a"], [b"b0", b"c0", b"b1", b"c1", b"b2", b"c2"]]
    assert [(r.first_index, r.count, r.tree_size) for r in done] == [
        (0, 1, 1),
        (1, 2, 7),
        (5, 2, 7),
    ]
    assert done[1].checkpoint == done[2].checkpoint == b"note 2\n"


@async_test
async def test_a_coalesced_batch_never_exceeds_its_limit_and_errors_reach_every_request() -> None:
    calls: list[int] = []

    def failing(entries: Sequence[bytes]) -> Submitted:
        calls.append(len(entries))
        raise LedgerUnavailableError("store down")

    coalescer = Coalescer(failing, max_batch=4)
    results = await asyncio.gather(
        *(coalescer.add([b"x", b"y"]) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, LedgerUnavailableError) for r in results)
    assert sum(calls) == 10
    assert max(calls) <= 4
