"""``meterseal ledger init / serve / checkpoint / proof``: a ledger made, served over TCP,
fed through the client, and queried from the command line; the printed checkpoint and
proofs verify with the printed verifier keys."""

from __future__ import annotations

import base64
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from meterseal.cli.main import main
from meterseal.ledger.checkpoint import open_checkpoint
from meterseal.ledger.client import LedgerClient
from meterseal.ledger.keys import parse_verifier_key
from meterseal.ledger.leaves import BatchAccepted, leaf_data
from meterseal.ledger.merkle import SHA256_HASHER, verify_consistency, verify_inclusion
from meterseal.ledger.note import NoteVerifier

pytestmark = pytest.mark.timeout(120)

MAIN = [sys.executable, "-m", "meterseal.cli.main"]


def leaves(count: int) -> list[bytes]:
    return [leaf_data(BatchAccepted("M-7", n, bytes(32))) for n in range(count)]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


class LedgerServe:
    """``meterseal ledger serve`` in a subprocess, ready once it printed so."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.process = subprocess.Popen(
            [
                *MAIN,
                "ledger",
                "serve",
                "--data-dir",
                str(data_dir),
                "--listen",
                "127.0.0.1:0",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.lines: list[str] = []
        while not self.lines or not self.lines[-1].startswith("ready"):
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError(f"ledger serve exited: {self.lines}")
            self.lines.append(line.rstrip("\n"))
        self.url = self.lines[0].removeprefix("listening on ")

    def stop(self) -> tuple[int, str]:
        """Stop it with SIGTERM; its exit code and what it logged."""
        self.process.send_signal(signal.SIGTERM)
        _, log = self.process.communicate(timeout=30)
        return self.process.returncode, log


def test_init_serve_add_and_query(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    out = run(capsys, "ledger", "init", "--data-dir", str(data))
    vkeys = [line.removeprefix("verifier key: ") for line in out.splitlines() if "key:" in line]
    assert len(vkeys) == 1
    assert vkeys[0].startswith("meterseal.local/ledger+")
    assert (data / "ledger" / "verifier-keys.txt").read_text().split() == vkeys
    again = run(capsys, "ledger", "init", "--data-dir", str(data))
    assert vkeys[0] in again  # the same key, found again, not a new one
    verifiers: list[NoteVerifier] = [parse_verifier_key(v) for v in vkeys]

    serve = LedgerServe(data)
    try:
        assert f"verifier key: {vkeys[0]}" in serve.lines
        with LedgerClient(serve.url) as client:
            first = client.submit(leaves(10))
            result = client.submit(leaves(300)[10:])
        assert result.tree_size == 300
        by_url = run(capsys, "ledger", "checkpoint", "--url", serve.url)
        by_dir = run(capsys, "ledger", "checkpoint", "--data-dir", str(data))
        assert by_url.encode() == by_dir.encode() == result.checkpoint
        checkpoint = open_checkpoint(by_url.encode(), verifiers, origin="meterseal.local/ledger")
        root = checkpoint.checkpoint.root_hash

        lines = run(capsys, "ledger", "proof", "inclusion", "257", "--url", serve.url)
        proof = [base64.b64decode(line) for line in lines.split()]
        leaf = SHA256_HASHER.hash_leaf(leaves(300)[257])
        verify_inclusion(leaf, 257, 300, proof, root)

        old = open_checkpoint(first.checkpoint, verifiers).checkpoint
        assert old.size == 10
        lines = run(capsys, "ledger", "proof", "consistency", "10", "300", "--data-dir", str(data))
        proof = [base64.b64decode(line) for line in lines.split()]
        verify_consistency(10, 300, proof, old.root_hash, root)
    finally:
        assert serve.stop()[0] == 0


def test_a_witness_that_is_down_does_not_stop_the_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "ledger", "init", "--data-dir", str(tmp_path))
    serve = LedgerServe(tmp_path, "--witness", "w1=http://127.0.0.1:9")
    try:
        assert "witness: w1 at http://127.0.0.1:9" in serve.lines
        with LedgerClient(serve.url) as client:
            result = client.submit(leaves(5))
            assert result.tree_size == 5
            assert client.checkpoint() == result.checkpoint
    finally:
        code, log = serve.stop()
    assert code == 0
    assert "witness w1 did not cosign size 5" in log


def test_serve_without_init_says_what_to_do(tmp_path: Path) -> None:
    done = subprocess.run(
        [*MAIN, "ledger", "serve", "--data-dir", str(tmp_path), "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "meterseal ledger init" in done.stderr


def test_a_gm_ledger_prints_an_ed25519_and_an_sm2_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, "ledger", "init", "--data-dir", str(tmp_path), "--gm")
    assert "tree hash: SM3" in out
    vkeys = [line.removeprefix("verifier key: ") for line in out.splitlines() if "key:" in line]
    assert [base64.b64decode(v.split("+", 2)[2])[0] for v in vkeys] == [0x01, 0xFF]  # Ed25519, SM2
    note = run(capsys, "ledger", "checkpoint", "--data-dir", str(tmp_path)).encode()
    verifiers: list[NoteVerifier] = [parse_verifier_key(v) for v in vkeys]
    opened = open_checkpoint(note, verifiers, origin="meterseal.local/ledger-sm3")
    assert len(opened.note.verified) == 2
