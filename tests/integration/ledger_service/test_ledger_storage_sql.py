"""The ledger's own store on SQLite and PostgreSQL: append-only in the database, one
transaction per integration, and a restart that continues the same tree."""

from __future__ import annotations

import secrets
import sqlite3
import threading

import psycopg
import pytest
from ledger_service_support import ORIGIN, PG_DSN, Backend, ed25519_signer, leaves

from meterseal.ledger.checkpoint import open_checkpoint, parse_checkpoint, sign_checkpoint
from meterseal.ledger.errors import LedgerStorageError, LedgerUnavailableError, MissingTileError
from meterseal.ledger.merkle import SM3_HASHER, consistency_proof, verify_consistency
from meterseal.ledger.note import parse_note
from meterseal.ledger.sequencer import Sequencer
from meterseal.ledger.storage_postgres import PostgresLedgerStorage
from meterseal.ledger.storage_sql import TABLES
from meterseal.ledger.tiles import MemoryTiles, Tile, TileNodeReader

pytest_plugins = ["ledger_service_fixtures"]
pytestmark = pytest.mark.timeout(120)

DRIVER_ERRORS = (sqlite3.Error, psycopg.Error)
COLUMNS = {
    "ledger_meta": "value",
    "ledger_tiles": "data",
    "ledger_entries": "data",
    "ledger_checkpoints": "note",
    "ledger_witnesses": "size",
}


def sequencer(backend: Backend, origin: str = ORIGIN) -> Sequencer:
    return Sequencer(backend.open(), [ed25519_signer(origin)], origin=origin)


def root_of(note: bytes) -> tuple[int, bytes]:
    checkpoint = open_checkpoint(note, [ed25519_signer().verifier], origin=ORIGIN).checkpoint
    return checkpoint.size, checkpoint.root_hash


# --- append-only ----------------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
def test_the_database_refuses_update_and_delete_of_every_table(
    backend: Backend, table: str
) -> None:
    seq = sequencer(backend)
    seq.submit(leaves(0, 300))
    seq.storage.record_witness("w", 300)
    before = seq.storage.read_tiles([Tile(0, 0), Tile(0, 1, 44)])
    column = COLUMNS[table]
    with pytest.raises(DRIVER_ERRORS, match="append-only"):
        backend.execute(f"UPDATE {table} SET {column} = {column}")  # noqa: S608 - fixed names
    with pytest.raises(DRIVER_ERRORS, match="append-only"):
        backend.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
    if backend.kind == "postgres":
        with pytest.raises(psycopg.Error, match="append-only"):
            backend.execute(f"TRUNCATE {table}")
    assert seq.storage.read_tiles([Tile(0, 0), Tile(0, 1, 44)]) == before
    assert seq.storage.witness_sizes() == {"w": 300}
    assert root_of(sequencer(backend).checkpoint())[0] == 300


def test_growing_a_partial_tile_adds_rows_and_changes_none(backend: Backend) -> None:
    seq = sequencer(backend)
    for count in (3, 4, 5):
        seq.submit(leaves(seq.size, count))
    tiles = [Tile(0, 0, 3), Tile(0, 0, 7), Tile(0, 0, 12)]
    first, second, third = seq.storage.read_tiles(tiles)
    assert second.startswith(first)
    assert third.startswith(second)
    assert (
        seq.storage.read_bundles([(0, 3), (0, 7), (0, 12)])[0]
        == seq.storage.read_bundles([(0, 3)])[0]
    )


# --- restart and one transaction ---------------------------------------------------------


def test_a_restart_continues_the_same_tree(backend: Backend) -> None:
    memory = MemoryTiles()
    first = sequencer(backend)
    for count in (1, 255, 300, 20):
        batch = leaves(memory.size, count)
        first.submit(batch)
        memory.append_leaves(batch)
    old_note = first.checkpoint()
    first.storage.close()

    second = sequencer(backend)
    assert second.size == memory.size
    assert second.checkpoint() == old_note
    batch = leaves(memory.size, 700)
    result = second.submit(batch)
    memory.append_leaves(batch)
    assert result.first_index == 576
    size, root = root_of(result.checkpoint)
    assert (size, root) == (memory.size, memory.root())
    old_size, old_root = root_of(old_note)
    reader = TileNodeReader(second.storage, size)
    proof = consistency_proof(old_size, size, reader)
    verify_consistency(old_size, size, proof, old_root, root)


def _refuse_checkpoints_above(backend: Backend, size: int) -> None:
    if backend.kind == "sqlite":
        backend.execute(
            f"CREATE TRIGGER injected BEFORE INSERT ON ledger_checkpoints WHEN NEW.size > {size}"
            " BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
        return
    backend.execute(
        "CREATE FUNCTION injected() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" IF NEW.size > {size} THEN RAISE EXCEPTION 'injected failure'; END IF;"
        " RETURN NEW; END $$"
    )
    backend.execute(
        "CREATE TRIGGER injected BEFORE INSERT ON ledger_checkpoints"
        " FOR EACH ROW EXECUTE FUNCTION injected()"
    )


def _allow_checkpoints(backend: Backend) -> None:
    suffix = "" if backend.kind == "sqlite" else " ON ledger_checkpoints"
    backend.execute(f"DROP TRIGGER injected{suffix}")


def test_a_failure_mid_integration_leaves_the_previous_state(backend: Backend) -> None:
    """The checkpoint is the transaction's last insert: refusing it must roll back the
    bundles and tiles inserted before it."""
    seq = sequencer(backend)
    seq.submit(leaves(0, 100))
    note = seq.checkpoint()
    _refuse_checkpoints_above(backend, 100)
    with pytest.raises(LedgerStorageError, match="injected failure"):
        seq.submit(leaves(100, 400))
    assert seq.storage.latest_checkpoint() is not None
    assert seq.storage.latest_checkpoint().note == note  # type: ignore[union-attr]
    for missing in ([Tile(0, 0)], [Tile(0, 1, 244)], [Tile(1, 0, 1)]):
        with pytest.raises(MissingTileError):
            seq.storage.read_tiles(missing)
    with pytest.raises(MissingTileError):
        seq.storage.read_bundles([(0, 256)])
    _allow_checkpoints(backend)

    result = seq.submit(leaves(100, 10))
    memory = MemoryTiles()
    memory.append_leaves(leaves(0, 110))
    assert (result.first_index, result.tree_size) == (100, 110)
    assert root_of(result.checkpoint) == (110, memory.root())
    assert root_of(sequencer(backend).checkpoint()) == (110, memory.root())


def test_a_second_sequencer_cannot_fork_the_log(backend: Backend) -> None:
    one, two = sequencer(backend), sequencer(backend)
    one.submit(leaves(0, 10))
    with pytest.raises(LedgerStorageError, match="another sequencer"):
        two.submit(leaves(10, 5))
    result = two.submit(leaves(10, 5))  # it read the log back and continues it
    memory = MemoryTiles()
    memory.append_leaves(leaves(0, 15))
    assert result.first_index == 10
    assert root_of(result.checkpoint) == (15, memory.root())


def test_a_store_refuses_to_serve_another_log(backend: Backend) -> None:
    sequencer(backend).submit(leaves(0, 3))
    with pytest.raises(LedgerStorageError, match="holds the log"):
        Sequencer(backend.open(), [ed25519_signer("other/log")], origin="other/log")
    with pytest.raises(LedgerStorageError, match="SHA-256"):
        Sequencer(backend.open(), [ed25519_signer()], origin=ORIGIN, hasher=SM3_HASHER)


def test_a_rewritten_tile_is_caught_against_the_signed_root_at_start(backend: Backend) -> None:
    """An intruder with the rights to drop the trigger rewrites the right-edge tile: the
    next start refuses the store instead of extending a tree its checkpoint does not sign."""
    seq = sequencer(backend)
    seq.submit(leaves(0, 5))
    seq.storage.close()
    trigger = "ledger_tiles_no_update" if backend.kind == "sqlite" else "ledger_tiles_no_change"
    suffix = "" if backend.kind == "sqlite" else " ON ledger_tiles"
    backend.execute(f"DROP TRIGGER {trigger}{suffix}")
    zeros = "zeroblob(160)" if backend.kind == "sqlite" else "decode(repeat('00', 160), 'hex')"
    backend.execute(f"UPDATE ledger_tiles SET data = {zeros} WHERE width = 5")  # noqa: S608 - fixed SQL
    with pytest.raises(LedgerStorageError, match="do not match"):
        sequencer(backend)


def test_a_checkpoint_not_signed_by_the_log_is_refused_at_start(backend: Backend) -> None:
    seq = sequencer(backend)
    seq.submit(leaves(0, 5))
    same_tree = parse_checkpoint(parse_note(seq.checkpoint()).text)
    forged_note = sign_checkpoint(same_tree, [ed25519_signer(seed=9)])
    seq.storage.add_checkpoint(5, forged_note)
    with pytest.raises(LedgerStorageError, match="not one this log signed"):
        sequencer(backend)


def test_two_sequencers_racing_cannot_both_commit(backend: Backend) -> None:
    """From the same state, two integrations of different sizes at once: one commits, the
    other is refused (PostgreSQL READ COMMITTED would let both read the same old size
    without the log lock)."""
    one, two = sequencer(backend), sequencer(backend)
    outcomes: dict[str, object] = {}
    start = threading.Barrier(2)

    def race(name: str, seq: Sequencer, count: int) -> None:
        start.wait(10)
        try:
            outcomes[name] = seq.submit(leaves(0, count)).tree_size
        except LedgerStorageError as exc:
            outcomes[name] = exc

    threads = [
        threading.Thread(target=race, args=("one", one, 300)),
        threading.Thread(target=race, args=("two", two, 7)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    refused = [name for name, outcome in outcomes.items() if isinstance(outcome, Exception)]
    assert len(refused) == 1
    winner = "two" if refused == ["one"] else "one"
    size = outcomes[winner]
    assert size in (300, 7)
    memory = MemoryTiles()
    memory.append_leaves(leaves(0, int(str(size))))
    assert root_of(sequencer(backend).checkpoint()) == (size, memory.root())


def test_a_broken_postgres_connection_is_unavailable_then_reconnects(
    postgres_schema: str,
) -> None:
    """The server ends the ledger's session: that call is LedgerUnavailableError, the next
    reconnects, and the sequencer continues the tree it reads back."""
    name = f"ledger_test_{secrets.token_hex(4)}"
    storage = PostgresLedgerStorage(f"{PG_DSN} application_name={name}", schema=postgres_schema)
    seq = Sequencer(storage, [ed25519_signer()], origin=ORIGIN)
    seq.submit(leaves(0, 50))
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,),
        )
    with pytest.raises(LedgerUnavailableError):
        seq.submit(leaves(50, 10))
    result = seq.submit(leaves(50, 10))
    memory = MemoryTiles()
    memory.append_leaves(leaves(0, 60))
    assert (result.first_index, result.tree_size) == (50, 60)
    assert root_of(result.checkpoint) == (60, memory.root())
    storage.close()
