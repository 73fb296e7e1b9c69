"""Where the ledger keeps its own store and its own key, and how it opens them.

The ledger is its own service: by default everything of it lives under ``DATA_DIR/ledger/``
and nothing there is shared with the head-end::

    DATA_DIR/ledger/ledger.db            the log (SQLite, WAL), or a PostgreSQL schema
    DATA_DIR/ledger/ledger-keys.mskeys   its encrypted software keystore
    DATA_DIR/ledger/ledger-keys.kek      the keystore's KEK (mode 0600, as meterseal.demo
                                         does for the head-end; keep it elsewhere in
                                         production, or name a PKCS#11 token instead)

Store URLs: ``sqlite:///absolute/path.db``, or ``postgresql://...`` / a libpq key=value DSN
with an optional ``schema=NAME`` (default ``ledger``) naming the ledger's own schema.
Keystore URLs are the crypto machine's (:func:`meterseal.hsm.parse_url`).

Keys (made inside the keystore by ``meterseal ledger init``, found by label afterwards; the
private halves never leave it): ``ledger-note-ed25519`` always, and ``ledger-note-sm2`` for a
GM log, whose tree hash is SM3. The note key names equal the log's origin.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from meterseal.crypto.interfaces import SigningKey
from meterseal.crypto.international import ED25519
from meterseal.crypto.sm2 import SM2_SIGNATURE
from meterseal.hsm import CryptoMachine, SoftwareKeystore, kek_from_file, open_crypto_machine
from meterseal.hsm.errors import KeyNotFoundError
from meterseal.ledger.errors import LedgerError, LedgerStorageError
from meterseal.ledger.keys import Ed25519NoteSigner, Sm2NoteSigner
from meterseal.ledger.merkle import SHA256_HASHER, SM3_HASHER, TreeHasher
from meterseal.ledger.note import NoteSigner
from meterseal.ledger.storage import LedgerStorage
from meterseal.ledger.storage_postgres import DEFAULT_SCHEMA, PostgresLedgerStorage
from meterseal.ledger.storage_sqlite import SqliteLedgerStorage

DEFAULT_ORIGIN = "meterseal.local/ledger"
DEFAULT_GM_ORIGIN = "meterseal.local/ledger-sm3"
LEDGER_DIR = "ledger"
DB_NAME = "ledger.db"
KEYSTORE_NAME = "ledger-keys.mskeys"
KEK_NAME = "ledger-keys.kek"
ED25519_LABEL = "ledger-note-ed25519"
SM2_LABEL = "ledger-note-sm2"

HASHERS = {SHA256_HASHER.name: SHA256_HASHER, SM3_HASHER.name: SM3_HASHER}

_DSN_SCHEMA = re.compile(r"(?:^|\s)schema=(\S+)")


@dataclass(frozen=True, slots=True)
class LedgerConfig:
    """The ledger's data directory, and optionally another store or keystore."""

    data_dir: Path = Path("meterseal-data")
    store_url: str | None = None
    keystore_url: str | None = None

    @property
    def ledger_dir(self) -> Path:
        return self.data_dir / LEDGER_DIR

    @property
    def store(self) -> str:
        """The store URL: the one given, or the SQLite file in ``DATA_DIR/ledger``."""
        return self.store_url or f"sqlite://{(self.ledger_dir / DB_NAME).resolve()}"


def hasher_named(name: str) -> TreeHasher:
    """The tree hasher a store records (``SHA-256`` or ``SM3``)."""
    try:
        return HASHERS[name]
    except KeyError:
        raise LedgerStorageError(f"unknown tree hash {name!r} recorded in the store") from None


# --- the store ------------------------------------------------------------------------


def open_storage(url: str, *, create: bool = True) -> LedgerStorage:
    """The ledger store ``url`` names (see the module docstring).

    Without ``create`` a SQLite file that does not exist is an error, not a new file.
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        text = urlsplit(url).path
        path = Path("/" + text.lstrip("/") if text.startswith("/") else text)
        if not path.name:
            raise LedgerError(f"SQLite URL names no file: {url!r}")
        if not create and not path.exists():
            raise LedgerStorageError(f"no ledger at {path}: run `meterseal ledger init`")
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteLedgerStorage(path)
    if scheme in ("postgresql", "postgres"):
        return _postgres_url(url)
    if "=" in url and "://" not in url:
        match = _DSN_SCHEMA.search(url)
        schema = match.group(1) if match else DEFAULT_SCHEMA
        return PostgresLedgerStorage(_DSN_SCHEMA.sub(" ", url).strip(), schema=schema)
    raise LedgerError("a ledger store URL is sqlite:///path, postgresql://... or a libpq DSN")


def _postgres_url(url: str) -> LedgerStorage:
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((value for key, value in query if key == "schema"), DEFAULT_SCHEMA)
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return PostgresLedgerStorage(urlunsplit(parts._replace(query=rest)), schema=schema)


# --- the keystore and the note signers ------------------------------------------------


def open_keystore(config: LedgerConfig, *, create: bool = True) -> CryptoMachine:
    """The ledger's own crypto machine: the URL given, or its software keystore (made
    with a new KEK file on first use when ``create``)."""
    if config.keystore_url:
        return open_crypto_machine(config.keystore_url)
    directory = config.ledger_dir
    kek_path, store_path = directory / KEK_NAME, directory / KEYSTORE_NAME
    if not create and not store_path.exists():
        raise LedgerError(f"no ledger keystore at {store_path}: run `meterseal ledger init`")
    directory.mkdir(parents=True, exist_ok=True)
    if not kek_path.exists():
        descriptor = os.open(kek_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as kek_file:
            kek_file.write(secrets.token_hex(32))
    return SoftwareKeystore(store_path, kek_from_file(kek_path), create=not store_path.exists())


def _key(machine: CryptoMachine, label: str, create: bool, sm2: bool) -> SigningKey:
    try:
        return machine.signing_key(label)
    except KeyNotFoundError:
        if not create:
            raise LedgerError(
                f"the ledger key {label!r} is missing: run `meterseal ledger init`"
            ) from None
    return machine.generate_signing_key(label, SM2_SIGNATURE if sm2 else ED25519)


def note_signers(
    machine: CryptoMachine, origin: str, *, gm: bool, create: bool = False
) -> list[Ed25519NoteSigner | Sm2NoteSigner]:
    """The log's note signers, named ``origin``: Ed25519, and SM2 for a GM log.

    With ``create`` a missing key is generated inside the machine.
    """
    signers: list[Ed25519NoteSigner | Sm2NoteSigner] = [
        Ed25519NoteSigner(origin, _key(machine, ED25519_LABEL, create, sm2=False))
    ]
    if gm:
        signers.append(Sm2NoteSigner(origin, _key(machine, SM2_LABEL, create, sm2=True)))
    return signers


def verifier_keys(signers: Sequence[NoteSigner]) -> list[str]:
    """The C2SP verifier key strings of ``signers`` (public data)."""
    return [
        signer.verifier.verifier_key
        for signer in signers
        if isinstance(signer, Ed25519NoteSigner | Sm2NoteSigner)
    ]
