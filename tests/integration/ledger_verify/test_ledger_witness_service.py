"""The witness service over real TCP on 127.0.0.1 (uvicorn in a thread), its state file,
its keystore, and its clients."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from meterseal.crypto.international import ED25519
from meterseal.ledger.checkpoint import Cosigner
from meterseal.ledger.config import LedgerConfig
from meterseal.ledger.errors import (
    UnknownLogError,
    WitnessBadProofError,
    WitnessConflictError,
    WitnessForbiddenError,
)
from meterseal.ledger.keys import Ed25519NoteSigner
from meterseal.ledger.local import open_local_ledger
from meterseal.ledger.note import open_note
from meterseal.ledger.verify_testing import MemoryLedger
from meterseal.ledger.witness import LogConfig, Witness
from meterseal.ledger.witness_client import LocalWitness, WitnessClient, request_body
from meterseal.ledger.witness_service import (
    STATE_NAME,
    WitnessConfig,
    create_app,
    open_persistent_witness,
    open_witness_keystore,
    serve_in_thread,
    witness_key,
)
from meterseal.ledger.witness_store import PersistentWitness, WitnessStore

ORIGIN = "meterseal.test/ledger"
NOW = 1_750_000_000


def _cosigner() -> Cosigner:
    return Cosigner("witness.test", ED25519.from_private_bytes(bytes(range(32))))


def _impostor() -> MemoryLedger:
    """A log with the right origin and the wrong key."""
    return MemoryLedger([Ed25519NoteSigner(ORIGIN, ED25519.from_private_bytes(bytes(32)))], ORIGIN)


def _persistent(path: Path, log: MemoryLedger) -> PersistentWitness:
    witness = Witness([_cosigner()], [LogConfig(ORIGIN, tuple(log.verifiers))])
    return PersistentWitness(witness, WitnessStore(path), lambda: NOW)


@dataclass
class Served:
    url: str
    http: httpx.Client
    log: MemoryLedger
    witness: PersistentWitness

    def post(self, old: int, proof: list[bytes], note: bytes) -> httpx.Response:
        return self.http.post("/add-checkpoint", content=request_body(old, proof, note))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    log = MemoryLedger.with_test_key(ORIGIN)
    witness = _persistent(tmp_path / STATE_NAME, log)
    with serve_in_thread(create_app(witness)) as url, httpx.Client(base_url=url) as http:
        yield Served(url, http, log, witness)
    witness.store.close()


def _grow(log: MemoryLedger, count: int) -> bytes:
    size = log.tiles.size
    log.submit([b"entry %d" % i for i in range(size, size + count)])
    return log.checkpoint()


def test_cosigns_a_first_and_then_a_consistent_checkpoint(served: Served) -> None:
    first = _grow(served.log, 5)
    response = served.post(0, [], first)
    assert response.status_code == 200
    cosigned = open_note(first + response.content, [_cosigner().verifier])
    assert [s.name for s in cosigned.verified] == ["witness.test"]
    second = _grow(served.log, 9)
    response = served.post(5, served.log.consistency_proof(5, 14), second)
    assert response.status_code == 200
    history = served.witness.store.history(ORIGIN)
    assert [(h.size, h.cosigned_at) for h in history] == [(5, NOW), (14, NOW)]
    assert served.witness.store.state().latest(ORIGIN) is not None


def test_refuses_a_fork_and_a_rewritten_history(served: Served) -> None:
    note = _grow(served.log, 4)
    assert served.post(0, [], note).status_code == 200
    fork = MemoryLedger.with_test_key(ORIGIN)
    fork.submit([b"forged %d" % i for i in range(4)])
    same_size = served.post(4, [], fork.checkpoint())
    assert same_size.status_code == 409
    assert same_size.headers["content-type"] == "text/x.tlog.size"
    assert same_size.content == b"4\n"
    fork.submit([b"more"])
    rewritten = served.post(4, fork.consistency_proof(4, 5), fork.checkpoint())
    assert rewritten.status_code == 422
    stale = served.post(0, [], fork.checkpoint())
    assert (stale.status_code, stale.content) == (409, b"4\n")


def test_refuses_unknown_logs_and_keys(served: Served) -> None:
    stranger = MemoryLedger.with_test_key("other.test/log")
    stranger.submit([b"x"])
    assert served.post(0, [], stranger.checkpoint()).status_code == 404
    impostor = _impostor()
    impostor.submit([b"y"])
    assert served.post(0, [], impostor.checkpoint()).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"garbage",
        b"old 0\n",  # no blank line, no checkpoint
        b"old 01\n\n",  # leading zero
        b"old 0\n!!!notbase64\n\n",
        b"old 0\n\nnot a note",
        b"old 0\n\n\xff\xfe\n\n",
    ],
)
def test_malformed_bodies_are_400_and_the_service_keeps_serving(
    served: Served, body: bytes
) -> None:
    response = served.http.post("/add-checkpoint", content=body)
    assert response.status_code == 400
    assert served.post(0, [], _grow(served.log, 2)).status_code == 200


def test_an_oversized_body_is_413(served: Served) -> None:
    response = served.http.post("/add-checkpoint", content=b"old 0\n" + b"A" * 70_000)
    assert response.status_code == 413
    assert served.post(0, [], _grow(served.log, 1)).status_code == 200


def test_concurrent_requests_advance_the_state_once(served: Served) -> None:
    assert served.post(0, [], _grow(served.log, 3)).status_code == 200
    requests = []
    for _ in range(8):
        note = _grow(served.log, 1)
        size = served.log.tiles.size
        requests.append((served.log.consistency_proof(3, size), note))
    statuses: list[int] = []
    barrier = threading.Barrier(len(requests))

    def send(proof: list[bytes], note: bytes) -> None:
        with httpx.Client(base_url=served.url) as http:
            barrier.wait()
            body = request_body(3, proof, note)
            statuses.append(http.post("/add-checkpoint", content=body).status_code)

    threads = [threading.Thread(target=send, args=pair) for pair in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [409] * 7
    assert len(served.witness.store.history(ORIGIN)) == 2


def test_compare_and_swap_refuses_a_stale_old_state(tmp_path: Path) -> None:
    log = MemoryLedger.with_test_key(ORIGIN)
    witness = _persistent(tmp_path / STATE_NAME, log)
    with closing(witness.store):
        witness.handle(request_body(0, [], _grow(log, 2)))
        state = witness.store.state()
        old = state.latest(ORIGIN)
        assert old is not None
        record = witness.store.history()[0]
        new = type(old)(9, bytes(32))
        assert witness.store.advance(ORIGIN, old, new, record) is True
        assert witness.store.advance(ORIGIN, old, new, record) is False  # old is stale now
        assert witness.store.advance(ORIGIN, None, new, record) is False  # not first contact


def test_the_history_is_append_only(tmp_path: Path) -> None:
    log = MemoryLedger.with_test_key(ORIGIN)
    witness = _persistent(tmp_path / STATE_NAME, log)
    witness.handle(request_body(0, [], _grow(log, 2)))
    witness.store.close()
    with closing(sqlite3.connect(tmp_path / STATE_NAME)) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE witness_history SET size = 0")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM witness_history")


def test_state_and_key_survive_a_restart(tmp_path: Path) -> None:
    log = MemoryLedger.with_test_key(ORIGIN)
    vkeys = tuple(getattr(v, "verifier_key") for v in log.verifiers)  # noqa: B009
    config = WitnessConfig(tmp_path, vkeys, "witness.test")
    with closing(open_witness_keystore(config)) as machine:
        key = witness_key(machine, create=True)
        public = key.public_key
        witness = open_persistent_witness(config, key)
        with serve_in_thread(create_app(witness)) as url:
            client = WitnessClient(url)
            lines = client.add_checkpoint(0, [], _grow(log, 6))
            client.close()
        witness.store.close()
    assert lines.startswith("\u2014 witness.test ".encode())
    with closing(open_witness_keystore(config)) as machine:
        key = witness_key(machine, create=False)
        assert key.public_key == public
        witness = open_persistent_witness(config, key)
        with serve_in_thread(create_app(witness)) as url:
            client = WitnessClient(url)
            with pytest.raises(WitnessConflictError) as conflict:
                client.add_checkpoint(0, [], _grow(log, 1))
            assert conflict.value.witness_size == 6
            lines = client.add_checkpoint(6, log.consistency_proof(6, 7), log.checkpoint())
            assert lines.count(b"\n") == 1
            client.close()
        witness.store.close()


def test_the_client_maps_refusals_to_errors(served: Served) -> None:
    client = WitnessClient(served.url)
    note = _grow(served.log, 3)
    client.add_checkpoint(0, [], note)
    fork = MemoryLedger.with_test_key(ORIGIN)
    fork.submit([b"f%d" % i for i in range(5)])
    with pytest.raises(WitnessBadProofError):
        client.add_checkpoint(3, fork.consistency_proof(3, 5), fork.checkpoint())
    stranger = MemoryLedger.with_test_key("nobody.test/log")
    with pytest.raises(UnknownLogError):
        client.add_checkpoint(0, [], stranger.checkpoint())
    impostor = _impostor()
    with pytest.raises(WitnessForbiddenError):
        client.add_checkpoint(0, [], impostor.checkpoint())
    client.close()


def test_the_ledger_service_gets_cosignatures_from_the_witness(tmp_path: Path) -> None:
    ledger_config = LedgerConfig(tmp_path)
    with closing(open_local_ledger(ledger_config, create=True)) as ledger:
        vkeys = tuple(ledger.verifier_keys())
    config = WitnessConfig(tmp_path, vkeys, "witness.test")
    with closing(open_witness_keystore(config)) as machine:
        witness = open_persistent_witness(config, witness_key(machine, create=True))
        verifier = Cosigner("witness.test", witness_key(machine, create=False)).verifier
        local = LocalWitness(witness)
        with serve_in_thread(create_app(witness)) as url:
            client = WitnessClient(url)
            with closing(open_local_ledger(ledger_config, witnesses={"w": client})) as ledger:
                submitted = ledger.submit([b"one", b"two"])
            client.close()
        local.close()
    opened = open_note(submitted.checkpoint, [verifier])
    assert [s.name for s in opened.verified] == ["witness.test"]
