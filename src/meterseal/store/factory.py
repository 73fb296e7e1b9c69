"""Choosing a store by URL, as the configuration names it.

* ``sqlite:///absolute/path/store.db`` or ``sqlite:relative/path/store.db``, with an
  optional ``?synchronous=normal`` (default FULL; see :mod:`meterseal.store.sqlite`);
  the parent directory is created if missing;
* ``postgresql://user@host:5432/dbname?...`` (or ``postgres://``), or a libpq key/value
  DSN such as ``host=127.0.0.1 port=5432 dbname=meterseal user=meterseal``.

:func:`open_store` migrates the schema by default, so a fresh data directory or an empty
database works at once.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from meterseal.store.errors import StoreError
from meterseal.store.interface import Store
from meterseal.store.postgres import PostgresStore
from meterseal.store.sqlite import DEFAULT_SYNCHRONOUS, SqliteStore

DEFAULT_SQLITE_NAME = "meterseal-store.db"


def sqlite_url(data_dir: str | Path, name: str = DEFAULT_SQLITE_NAME) -> str:
    """The store URL of the embedded default: a SQLite file in the data directory."""
    return f"sqlite:///{Path(data_dir).resolve() / name}"


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the store ``url`` names and, unless told not to, bring its schema up to date."""
    store = _open(url)
    if migrate:
        try:
            store.migrate()
        except StoreError:
            store.close()
            raise
    return store


def _open(url: str) -> Store:
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        return _open_sqlite(url)
    if scheme in ("postgresql", "postgres") or ("=" in url and "://" not in url):
        return PostgresStore(url)
    raise StoreError(
        "store URL must be sqlite:///path, postgresql://... or a libpq DSN "
        f"(key=value ...), not {url.rsplit('@', maxsplit=1)[-1]!r}"
    )


def _open_sqlite(url: str) -> SqliteStore:
    parts = urlsplit(url)
    if parts.netloc:
        raise StoreError(f"SQLite URL has a host part; use sqlite:///absolute/path: {url!r}")
    if not parts.path:
        raise StoreError(f"SQLite URL names no file: {url!r}")
    options = parse_qs(parts.query)
    unknown = set(options) - {"synchronous"}
    if unknown:
        raise StoreError(f"unknown SQLite URL options {sorted(unknown)}")
    synchronous = options.get("synchronous", [DEFAULT_SYNCHRONOUS])[-1]
    path = Path(parts.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(path, synchronous=synchronous)
