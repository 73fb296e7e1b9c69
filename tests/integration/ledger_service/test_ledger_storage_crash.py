"""Kill -9 a sequencer while it integrates batches: the store holds whole batches only, and
the next sequencer continues the same tree (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from ledger_service_support import ORIGIN, PG_DSN, Backend, ed25519_signer, leaves

from meterseal.ledger.checkpoint import open_checkpoint
from meterseal.ledger.local import LedgerReader
from meterseal.ledger.sequencer import Sequencer
from meterseal.ledger.tiles import MemoryTiles

pytest_plugins = ["ledger_service_fixtures"]
pytestmark = pytest.mark.timeout(120)

BATCH = 257

WRITER = textwrap.dedent(
    """
    import sys
    from meterseal.crypto.international import ED25519
    from meterseal.ledger.config import open_storage
    from meterseal.ledger.keys import Ed25519NoteSigner
    from meterseal.ledger.leaves import BatchAccepted, leaf_data
    from meterseal.ledger.sequencer import Sequencer

    origin, url, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    signer = Ed25519NoteSigner(origin, ED25519.from_private_bytes(bytes([1]) * 32))
    sequencer = Sequencer(open_storage(url), [signer], origin=origin)
    while True:
        start = sequencer.size
        entries = [
            leaf_data(BatchAccepted("M-0001", n, n.to_bytes(32, "big")))
            for n in range(start, start + batch)
        ]
        print(sequencer.submit(entries).tree_size, flush=True)
    """
)


def store_url(backend: Backend) -> str:
    if backend.kind == "sqlite":
        return f"sqlite:///{backend.path}"
    return f"{PG_DSN} schema={backend.schema}"


def test_a_killed_sequencer_leaves_whole_batches_and_the_tree_continues(
    backend: Backend,
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, ORIGIN, store_url(backend), str(BATCH)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    reported = 0
    try:
        while reported < 20 * BATCH:
            line = process.stdout.readline()
            assert line, "the writer exited early"
            reported = int(line)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        process.stdout.close()

    restarted = Sequencer(backend.open(), [ed25519_signer()], origin=ORIGIN)
    size = restarted.size
    assert size >= reported
    assert size % BATCH == 0
    result = restarted.submit(leaves(size, 3))
    memory = MemoryTiles()
    memory.append_leaves(leaves(0, size + 3))
    checkpoint = open_checkpoint(result.checkpoint, [ed25519_signer().verifier]).checkpoint
    assert (checkpoint.size, checkpoint.root_hash) == (memory.size, memory.root())
    assert list(LedgerReader(restarted.storage).entries(0, size + 3)) == leaves(0, size + 3)
