"""``meterseal ledger verify`` and ``verify-proof`` end to end: the real ledger (its own
SQLite store and keystore under DATA_DIR/ledger), the collection store, the exit codes."""

from __future__ import annotations

import argparse
import base64
import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import pytest

from meterseal.cli.ledger_verify_command import add_verify_subcommands, add_witness_subcommands
from meterseal.ledger.config import LedgerConfig
from meterseal.ledger.local import open_local_ledger
from meterseal.ledger.verify_testing import MemoryLedger, fill_store
from meterseal.ledger.witness_client import WitnessClient
from meterseal.store.factory import DEFAULT_SQLITE_NAME, open_store, sqlite_url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meterseal")
    commands = parser.add_subparsers(dest="command", required=True)
    ledger = commands.add_parser("ledger")
    add_verify_subcommands(ledger.add_subparsers(dest="ledger_command", required=True))
    add_witness_subcommands(commands)
    return parser


def run(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    code: int = args.handler(args)
    return code


@pytest.fixture
def data_dir(tmp_path: Path) -> tuple[Path, list[str]]:
    """A data directory with a collection store of 3 x 5 batches, all logged by the real
    ledger in DATA_DIR/ledger; the ledger's verifier keys."""
    with closing(open_store(sqlite_url(tmp_path))) as store:
        leaves = fill_store(store, 3, 5, intervals=4)
    with closing(open_local_ledger(LedgerConfig(tmp_path), create=True)) as ledger:
        ledger.submit(leaves)
        vkeys = ledger.verifier_keys()
    return tmp_path, vkeys


def _verify(data_dir: Path, vkeys: list[str], *extra: str) -> int:
    keys = [arg for vkey in vkeys for arg in ("--vkey", vkey)]
    argv = ["ledger", "verify", "--data-dir", str(data_dir), *keys, "--workers", "1", *extra]
    return run(argv)


def test_a_clean_data_directory_exits_0_with_a_json_summary(
    data_dir: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify(*data_dir, "--json") == 0
    lines = capsys.readouterr().out.splitlines()
    summary = json.loads(lines[-1])
    assert summary["clean"] is True
    assert summary["batches"] == 15
    assert summary["tree_size"] == 15
    assert lines[-2].startswith("checked 15 stored batches")


def test_a_tampered_reading_exits_1_and_names_it(
    data_dir: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, vkeys = data_dir
    with sqlite3.connect(directory / DEFAULT_SQLITE_NAME) as conn:
        conn.execute(
            "UPDATE interval_readings SET energy_import_wh = energy_import_wh - 100"
            " WHERE batch_seq = 3 AND meter_ref = (SELECT id FROM meters WHERE meter_id = ?)"
            " AND at = (SELECT max(at) FROM interval_readings WHERE batch_seq = 3)",
            ("VM000001",),
        )
    assert _verify(directory, vkeys, "--json", "--max-findings", "5") == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ALTERED_READING VM000001 3 interval end ")
    assert json.loads(lines[-1])["by_kind"] == {"ALTERED_READING": 1}
    with closing(open_store(sqlite_url(directory), migrate=False)) as store:
        [run] = getattr(store, "verification_runs")(limit=5)  # noqa: B009 - the console's
    assert (run.findings, run.batches, run.tree_size) == (1, 15, 15)
    assert run.sample[0]["meter_id"] == "VM000001"


def test_a_wrong_key_is_a_finding_and_no_key_is_an_error(
    data_dir: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, _ = data_dir
    other = MemoryLedger.with_test_key("meterseal.local/ledger").verifiers[0]
    assert _verify(directory, [getattr(other, "verifier_key")]) == 1  # noqa: B009
    out = capsys.readouterr().out
    assert out.startswith("LOG_SIGNATURE - - ")
    assert "the log did not verify, so the store was not compared" in out
    assert _verify(directory, []) == 2
    assert "verifier keys" in capsys.readouterr().err


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _proof_file(path: Path, hashes: Sequence[bytes]) -> Path:
    return _write(path, "".join(base64.b64encode(h).decode() + "\n" for h in hashes).encode())


def test_verify_proof_inclusion_and_consistency_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = MemoryLedger.with_test_key()
    ledger.submit([b"leaf %d" % i for i in range(5)])
    old = _write(tmp_path / "old.note", ledger.checkpoint())
    ledger.submit([b"leaf %d" % i for i in range(5, 13)])
    new = _write(tmp_path / "new.note", ledger.checkpoint())
    vkey = getattr(ledger.verifiers[0], "verifier_key")  # noqa: B009
    common = ["ledger", "verify-proof", "--checkpoint", str(new), "--vkey", vkey]
    inclusion = _proof_file(tmp_path / "incl.txt", ledger.inclusion_proof(7, 13))
    args = ["inclusion", "--index", "7", "--proof", str(inclusion)]
    assert run([*common, *args, "--leaf-data-hex", b"leaf 7".hex()]) == 0
    assert "verified: leaf 7 is in" in capsys.readouterr().out
    assert run([*common, *args, "--leaf-data-hex", b"leaf 8".hex()]) == 1
    assert "NOT VERIFIED" in capsys.readouterr().out
    leaf_file = _write(tmp_path / "leaf.bin", b"leaf 7")
    assert run([*common, *args, "--leaf-file", str(leaf_file)]) == 0
    consistency = _proof_file(tmp_path / "cons.txt", ledger.consistency_proof(5, 13))
    assert (
        run([*common, "consistency", "--old-checkpoint", str(old), "--proof", str(consistency)])
        == 0
    )
    forked = MemoryLedger.with_test_key()
    forked.submit([b"other %d" % i for i in range(5)])
    fork = _write(tmp_path / "fork.note", forked.checkpoint())
    capsys.readouterr()
    assert (
        run([*common, "consistency", "--old-checkpoint", str(fork), "--proof", str(consistency)])
        == 1
    )
    assert "NOT VERIFIED" in capsys.readouterr().out


def test_verify_proof_requires_the_named_witness_cosignature(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from meterseal.crypto.international import ED25519  # noqa: PLC0415
    from meterseal.ledger.checkpoint import Cosigner, parse_checkpoint  # noqa: PLC0415
    from meterseal.ledger.note import parse_note  # noqa: PLC0415

    ledger = MemoryLedger.with_test_key()
    ledger.submit([b"a", b"b", b"c"])
    note = ledger.checkpoint()
    witness = Cosigner("witness.test", ED25519.from_private_bytes(bytes(range(32))))
    text = parse_note(note).text
    assert parse_checkpoint(text).size == 3
    cosigned = note + witness.cosign(text.encode(), 1_700_000_000).line.encode()
    vkey = getattr(ledger.verifiers[0], "verifier_key")  # noqa: B009
    proof = _proof_file(tmp_path / "p.txt", ledger.inclusion_proof(1, 3))
    tail = ["inclusion", "--index", "1", "--proof", str(proof), "--leaf-data-hex", b"b".hex()]
    witness_key = ["--witness-vkey", witness.verifier.verifier_key]
    with_cosig = _write(tmp_path / "cosigned.note", cosigned)
    plain = _write(tmp_path / "plain.note", note)
    head = ["ledger", "verify-proof", "--vkey", vkey, *witness_key]
    assert run([*head, "--checkpoint", str(with_cosig), *tail]) == 0
    assert run([*head, "--checkpoint", str(plain), *tail]) == 1
    assert "not cosigned by witness witness.test" in capsys.readouterr().out


def test_a_missing_store_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vkey = getattr(MemoryLedger.with_test_key().verifiers[0], "verifier_key")  # noqa: B009
    assert _verify(tmp_path / "nowhere", [vkey]) == 2
    assert "no collection store" in capsys.readouterr().err


def test_witness_init_makes_one_key_and_prints_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["witness", "init", "--data-dir", str(tmp_path), "--name", "w.test"]) == 0
    first = capsys.readouterr().out
    assert run(["witness", "init", "--data-dir", str(tmp_path), "--name", "w.test"]) == 0
    again = capsys.readouterr().out
    vkeys = [line for line in first.splitlines() if line.startswith("witness verifier key: ")]
    assert len(vkeys) == 1
    assert vkeys[0] in again.splitlines()
    assert vkeys[0].split(": ")[1].startswith("w.test+")
    assert (tmp_path / "witness" / "witness-keys.mskeys").exists()


_WITNESS_MAIN = (
    "import argparse, sys\n"
    "from meterseal.cli.ledger_verify_command import add_witness_subcommands\n"
    "parser = argparse.ArgumentParser()\n"
    "add_witness_subcommands(parser.add_subparsers(dest='command', required=True))\n"
    "args = parser.parse_args(sys.argv[1:])\n"
    "sys.exit(args.handler(args))\n"
)


def test_witness_serve_cosigns_over_tcp_until_sigterm(tmp_path: Path) -> None:
    assert run(["witness", "init", "--data-dir", str(tmp_path), "--name", "w.test"]) == 0
    log = MemoryLedger.with_test_key()
    log.submit([b"x", b"y"])
    vkey = getattr(log.verifiers[0], "verifier_key")  # noqa: B009
    argv = ["witness", "serve", "--data-dir", str(tmp_path), "--name", "w.test"]
    argv += ["--listen", "127.0.0.1:0", "--log-vkey", vkey]
    with subprocess.Popen(
        [sys.executable, "-c", _WITNESS_MAIN, *argv], stdout=subprocess.PIPE, text=True
    ) as server:
        assert server.stdout is not None
        first = server.stdout.readline()
        url = first.split(" listening on ")[1].strip()
        client = WitnessClient(url)
        lines = client.add_checkpoint(0, [], log.checkpoint())
        client.close()
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0
    assert lines.startswith("\u2014 w.test ".encode())
