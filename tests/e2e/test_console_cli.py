"""``meterseal user ...`` and ``meterseal console``'s flag checks, as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from meterseal.store import open_store, sqlite_url

MAIN = [sys.executable, "-m", "meterseal.cli.main"]
PASSWORD = "correct horse battery staple"  # noqa: S105 - the test account's password


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAIN, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_user_add_list_token_disable(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    added = run(
        "user",
        "add",
        "alice",
        "--role",
        "operator",
        "--password-stdin",
        *data,
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added alice (operator)"
    token = run("user", "token", "alice", "--label", "scada", *data)
    assert token.returncode == 0, token.stderr
    secret = token.stdout.strip()
    assert secret.startswith("mst_")
    assert "shown once" in token.stderr
    assert run("user", "disable", "alice", *data).stdout.strip() == "alice is disabled"
    listing = run("user", "list", *data).stdout
    assert "alice" in listing
    assert "disabled" in listing
    assert secret[:12] in listing
    assert secret not in listing
    store = open_store(sqlite_url(tmp_path))
    try:
        audit = store.list_audit()  # type: ignore[attr-defined]
        user = store.get_user("alice")  # type: ignore[attr-defined]
    finally:
        store.close()
    assert [(row.actor, row.action) for row in reversed(audit)] == [
        ("cli", "user.add"),
        ("cli", "token.issue"),
        ("cli", "user.update"),
    ]
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_user_add_refuses_a_short_password_and_a_taken_name(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    short = run("user", "add", "bob", "--role", "admin", "--password-stdin", *data, stdin="short\n")
    assert short.returncode == 2
    assert "12 to 1024 characters" in short.stderr
    first = run("user", "add", "bob", "--role", "admin", "--password-stdin", *data, stdin=PASSWORD)
    assert first.returncode == 0
    again = run("user", "add", "bob", "--role", "admin", "--password-stdin", *data, stdin=PASSWORD)
    assert again.returncode == 2
    assert "already exists" in again.stderr


def test_console_refuses_insecure_http_off_loopback(tmp_path: Path) -> None:
    refused = run(
        "console", "--data-dir", str(tmp_path), "--listen", "0.0.0.0:0", "--insecure-http"
    )
    assert refused.returncode == 2
    assert "only for a loopback address" in refused.stderr
    half = run("console", "--data-dir", str(tmp_path), "--tls-cert", "cert.pem")
    assert half.returncode == 2
    assert "--tls-cert and --tls-key go together" in half.stderr
