"""The head-end's configuration file: a TOML file (``tomllib``) read into typed settings.

``meterseal serve --config FILE`` reads it; command-line flags override it; everything
has a default, so no file is needed for one machine. The file format, every key shown
with its default (the store and crypto machine defaults live in the data directory)::

    data_dir = "meterseal-data"   # relative paths are relative to the file's directory
    workers = 1                   # > 1 needs a crypto machine several processes can open
    suites = [2, -24, 0]          # EDHOC cipher suites offered (-24: the GM/T suite)
    log_level = "warning"         # debug, info, warning, error
    ledger = "meterseal-data"     # default: the data directory, whose ledger/ holds the
                                  # in-process ledger; "http://host:port" for the ledger
                                  # service; "none" for no ledger (leaves stay queued)
    console = "127.0.0.1:7480"    # the web console and REST API beside the head-end;
                                  # "none": no console (see docs/console.md)

    [listen]
    host = "127.0.0.1"
    port = 7410                   # 0: any free port (printed at start)

    [store]
    # default: SQLite in the data directory, sqlite:///DATA_DIR/meterseal-store.db
    url = "postgresql://meterseal@db.example/meterseal"

    [crypto_machine]
    # default: the encrypted software keystore DATA_DIR/headend-keys.mskeys, its KEK in
    # DATA_DIR/headend-keys.kek (see meterseal.demo.open_keystore)
    url = "pkcs11:///usr/lib/softhsm/libsofthsm2.so?token=meterseal&pin-env=METERSEAL_PIN"

    [limits]                      # docs/protocol.md section 5, "Limits at the head-end"
    handshake_timeout = 10.0      # seconds from connect to a completed EDHOC handshake
    idle_timeout = 120.0          # seconds without a record before a session is closed
    max_frame_body = 16384        # bytes; a larger frame header closes the connection
    max_record_failures = 3       # records failing to authenticate before closing
    max_inflight_batches = 64     # batches awaiting their ack before reading pauses
    shutdown_grace = 5.0          # seconds to store and ack what arrived, on SIGTERM

Crypto machine URLs are those of :func:`meterseal.hsm.parse_url` (``software:///...`` or
``pkcs11:///...``); secrets are never in the file, only where to read them. Store URLs are
those of :func:`meterseal.store.open_store`. An unknown key, a value of the wrong type or
out of range is a :class:`ConfigError` naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from meterseal.crypto.suites import get_suite
from meterseal.errors import MeterSealError
from meterseal.headend.config import HeadendConfig
from meterseal.hsm import parse_url
from meterseal.store import sqlite_url

DEFAULT_DATA_DIR: Final = Path("meterseal-data")
DEFAULT_PORT: Final = 7410
MAX_FRAME_BODY: Final = 65534
"""The largest body a frame can announce (a uint16 length counts the kind byte too)."""
LOG_LEVELS: Final = ("debug", "info", "warning", "error")


class ConfigError(MeterSealError):
    """The configuration file (or a flag) is unreadable, unknown or out of range."""


@dataclass(frozen=True, slots=True)
class Limits:
    """The head-end's per-connection limits (docs/protocol.md section 5)."""

    handshake_timeout: float = 10.0
    idle_timeout: float = 120.0
    max_frame_body: int = 16 * 1024
    max_record_failures: int = 3
    max_inflight_batches: int = 64
    shutdown_grace: float = 5.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything ``meterseal serve`` needs to know, after defaults, file and flags.

    ``store_url`` and ``crypto_machine_url`` are None for the embedded defaults in
    ``data_dir`` (see the module docstring).
    """

    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = 1
    suites: tuple[int, ...] = (2, -24, 0)
    log_level: str = "warning"
    store_url: str | None = None
    crypto_machine_url: str | None = None
    ledger: str | None = None
    console: str = "127.0.0.1:7480"
    limits: Limits = field(default_factory=Limits)
    source: Path | None = None  # the file these settings came from, if any

    @property
    def store(self) -> str:
        """The store URL: the configured one, or SQLite in the data directory."""
        return self.store_url or sqlite_url(self.data_dir)

    @property
    def ledger_spec(self) -> str:
        """Where the store's ledger outbox goes (:func:`meterseal.headend.ledger_forwarder.
        open_ledger`): the configured ledger, or the in-process one of the data directory."""
        return self.ledger if self.ledger is not None else str(self.data_dir)

    def override(self, **flags: Any) -> Settings:
        """These settings with the flags that were given (None means not given)."""
        given = {name: value for name, value in flags.items() if value is not None}
        if "data_dir" in given:
            given["data_dir"] = Path(given["data_dir"]).resolve()
        settings = dataclasses.replace(self, **given)
        _check(settings, "command line")
        return settings

    def headend_config(self) -> HeadendConfig:
        """The head-end's settings (``meterseal.headend``)."""
        return HeadendConfig(
            store_url=self.store,
            host=self.host,
            port=self.port,
            workers=self.workers,
            suites=self.suites,
            ledger=self.ledger_spec,
            **dataclasses.asdict(self.limits),
        )

    @property
    def log_level_number(self) -> int:
        """The ``logging`` level named by ``log_level``."""
        level: int = getattr(logging, self.log_level.upper())
        return level


# --- reading the file -------------------------------------------------------------------

Checker = Callable[[object], object]


def _int(value: object) -> object:
    if type(value) is not int:
        raise TypeError("an integer")
    return value


def _float(value: object) -> object:
    if type(value) not in (int, float):
        raise TypeError("a number")
    return float(value)  # type: ignore[arg-type]  # int or float, checked above


def _str(value: object) -> object:
    if type(value) is not str:
        raise TypeError("a string")
    return value


def _suites(value: object) -> object:
    if type(value) is not list or not all(type(item) is int for item in value):
        raise TypeError("a list of integers")
    return tuple(value)


_TOP: Final[dict[str, tuple[str, Checker]]] = {
    "data_dir": ("data_dir", _str),
    "workers": ("workers", _int),
    "suites": ("suites", _suites),
    "log_level": ("log_level", _str),
    "ledger": ("ledger", _str),
    "console": ("console", _str),
}
_TABLES: Final[dict[str, dict[str, tuple[str, Checker]]]] = {
    "listen": {"host": ("host", _str), "port": ("port", _int)},
    "store": {"url": ("store_url", _str)},
    "crypto_machine": {"url": ("crypto_machine_url", _str)},
}
_LIMITS: Final[dict[str, Checker]] = {
    item.name: _float if item.type in ("float", float) else _int
    for item in dataclasses.fields(Limits)
}


def load_settings(path: str | Path | None = None) -> Settings:
    """The settings in the TOML file at ``path`` (defaults for what it leaves out), or
    the defaults alone if ``path`` is None. Raises :class:`ConfigError`."""
    if path is None:
        return _finish(Settings(), {}, {}, None)
    source = Path(path).resolve()
    document = _read(source)
    values, limits = _parse(document, source)
    return _finish(Settings(), values, limits, source)


def _read(source: Path) -> dict[str, Any]:
    try:
        with source.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration {source}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc


def _parse(document: Mapping[str, Any], source: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings fields, limits fields) from the document; unknown keys are errors."""
    values: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for key, value in document.items():
        if key in _TOP:
            name, checker = _TOP[key]
            values[name] = _checked(source, key, value, checker)
        elif key == "limits":
            limits = _table(source, key, value, {k: (k, c) for k, c in _LIMITS.items()})
        elif key in _TABLES:
            values |= _table(source, key, value, _TABLES[key])
        else:
            known = ", ".join([*_TOP, *(f"[{t}]" for t in (*_TABLES, "limits"))])
            raise ConfigError(f"{source}: unknown key {key!r} (known: {known})")
    return values, limits


def _table(
    source: Path, table: str, value: object, schema: Mapping[str, tuple[str, Checker]]
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {table} must be a table ([{table}])")
    parsed: dict[str, Any] = {}
    for key, item in value.items():
        if key not in schema:
            known = ", ".join(schema)
            raise ConfigError(f"{source}: unknown key {table}.{key} (known in [{table}]: {known})")
        name, checker = schema[key]
        parsed[name] = _checked(source, f"{table}.{key}", item, checker)
    return parsed


def _checked(source: Path, key: str, value: object, checker: Checker) -> object:
    try:
        return checker(value)
    except TypeError as exc:
        raise ConfigError(f"{source}: {key} must be {exc}, not {value!r}") from None


def _finish(
    base: Settings, values: dict[str, Any], limits: dict[str, Any], source: Path | None
) -> Settings:
    data_dir = Path(values.pop("data_dir", base.data_dir))
    if not data_dir.is_absolute():
        data_dir = (source.parent if source else Path.cwd()) / data_dir
    if "ledger" in values:
        values["ledger"] = _ledger_path(values["ledger"], source)
    settings = dataclasses.replace(
        base,
        data_dir=data_dir.resolve(),
        limits=Limits(**limits),
        source=source,
        **values,
    )
    _check(settings, str(source) if source else "defaults")
    return settings


def _ledger_path(ledger: str, source: Path | None) -> str:
    """A ledger directory relative to the file's directory made absolute; a URL or
    ``none`` as given."""
    if ledger == "none" or ledger.startswith(("http://", "https://")):
        return ledger
    path = Path(ledger)
    if not path.is_absolute():
        path = (source.parent if source else Path.cwd()) / path
    return str(path.resolve())


# --- ranges -----------------------------------------------------------------------------


def _check(settings: Settings, where: str) -> None:
    """Raise ConfigError if a value is out of range (``where`` names the origin)."""
    problem = _problem(settings)
    if problem is not None:
        raise ConfigError(f"{where}: {problem}")


def _problem(settings: Settings) -> str | None:
    limits = settings.limits
    checks = (
        (0 <= settings.port <= 65535, "listen.port must be 0 to 65535"),
        (settings.workers >= 1, "workers must be at least 1"),
        (bool(settings.suites), "suites must name at least one cipher suite"),
        (settings.log_level in LOG_LEVELS, f"log_level must be one of {', '.join(LOG_LEVELS)}"),
        (limits.handshake_timeout > 0, "limits.handshake_timeout must be positive"),
        (limits.idle_timeout > 0, "limits.idle_timeout must be positive"),
        (limits.shutdown_grace >= 0, "limits.shutdown_grace must not be negative"),
        (1 <= limits.max_frame_body <= MAX_FRAME_BODY, "limits.max_frame_body out of range"),
        (limits.max_record_failures >= 1, "limits.max_record_failures must be at least 1"),
        (limits.max_inflight_batches >= 1, "limits.max_inflight_batches must be at least 1"),
        (_console_ok(settings.console), 'console must be "HOST:PORT" or "none"'),
    )
    failed = next((message for ok, message in checks if not ok), None)
    return failed or _suite_problem(settings.suites) or _machine_problem(settings)


def _console_ok(console: str) -> bool:
    host, sep, port = console.rpartition(":")
    return console == "none" or (bool(sep and host) and port.isdigit() and int(port) <= 65535)


def _suite_problem(suites: tuple[int, ...]) -> str | None:
    try:
        for value in suites:
            get_suite(value)
    except MeterSealError as exc:
        return f"suites: {exc}"
    return None


def _machine_problem(settings: Settings) -> str | None:
    if settings.crypto_machine_url is None:
        return None
    try:
        parse_url(settings.crypto_machine_url)
    except MeterSealError as exc:
        return f"crypto_machine.url: {exc}"
    return None


# --- printing ---------------------------------------------------------------------------

_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def redact(url: str) -> str:
    """``url`` fit to print: a password in a URL or a libpq DSN becomes ``***``."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        netloc = f"{parts.username}:***@{host}"
        url = urlunsplit(parts._replace(netloc=netloc))
    return _DSN_PASSWORD.sub(r"\1***", url)
