"""Head-end settings and keys: what ``meterseal serve`` (and the tests) hand to the server.

:class:`HeadendConfig` is plain data (it crosses into worker processes). The keys are
not: :class:`HeadendKeys` holds key *handles* from the crypto machine (the EDHOC
identities per suite and method, and the command-signing keys per suite). With
``workers > 1`` each worker process opens its own crypto machine session, so the keys
are given as a picklable zero-argument callable returning :class:`HeadendKeys` (a
module-level function, or a :func:`functools.partial` of one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from meterseal.crypto.interfaces import SigningKey
from meterseal.crypto.suites import CipherSuite, get_suite
from meterseal.edhoc import LocalIdentity, Method
from meterseal.store import Store

IdentityLookup = Callable[[int, Method], LocalIdentity | None]
"""The head-end's EDHOC identity for ``(suite value, method)``, or None if not offered."""

IdentityProvider = Mapping[tuple[int, Method], LocalIdentity] | IdentityLookup
"""A table of identities keyed by (suite value, method), or a function giving them."""

StoreFactory = Callable[[], Store]
"""Opens a new, migrated store connection (each worker and thread opens its own)."""

KIB = 1024


@dataclass(frozen=True, slots=True)
class HeadendKeys:
    """The head-end's key handles: EDHOC identities, and command keys per suite value.

    ``command_kid`` names the command key in each signed command (optional).
    """

    identities: IdentityProvider
    command_keys: Mapping[int, SigningKey] = field(default_factory=dict)
    command_kid: bytes | None = None


KeySource = HeadendKeys | Callable[[], HeadendKeys]
"""Keys, or a (picklable, for workers > 1) function that opens them."""


@dataclass(frozen=True, slots=True)
class HeadendConfig:
    """Where the head-end listens, its limits, its store and its ingest batching.

    Limits follow docs/protocol.md section 5: the handshake must complete within
    ``handshake_timeout`` seconds, a frame body is at most ``max_frame_body`` bytes, a
    session without a record for ``idle_timeout`` seconds is closed. ``batch_max_items``
    and ``batch_max_delay`` (seconds) bound the micro-batches handed to one
    ``store_batches`` transaction.

    ``ledger`` names where the store's ledger outbox is forwarded
    (:mod:`meterseal.headend.ledger_forwarder`): a directory (the in-process ledger over
    its own files there), an ``http(s)://`` URL (the ledger service), or None / ``"none"``
    (no forwarder: leaves stay queued in the store until one runs). The forwarder submits
    up to ``ledger_chunk`` leaves at a time and looks again after ``ledger_idle`` seconds
    when the queue is empty; authentication results are queued every
    ``auth_flush_interval`` seconds.
    """

    store_url: str
    host: str = "127.0.0.1"
    port: int = 7410
    workers: int = 1
    suites: tuple[int, ...] = (2, -24, 0)
    methods: frozenset[Method] = frozenset(Method)
    send_message_4: bool = True
    handshake_timeout: float = 10.0
    idle_timeout: float = 120.0
    max_frame_body: int = 16 * KIB
    max_record_failures: int = 3
    max_inflight_batches: int = 64
    batch_max_items: int = 128
    batch_max_delay: float = 0.005
    registry_cache_size: int = 100_000
    registry_cache_ttl: float = 30.0
    command_ttl: int = 300
    backlog: int = 4096
    shutdown_grace: float = 5.0
    ledger: str | None = None
    ledger_chunk: int = 4096
    ledger_idle: float = 1.0
    auth_flush_interval: float = 0.5

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if not self.suites:
            raise ValueError("the head-end needs at least one cipher suite")
        if min(self.handshake_timeout, self.idle_timeout, self.batch_max_delay) <= 0:
            raise ValueError("timeouts and the batch delay must be positive")
        if self.batch_max_items < 1 or self.max_inflight_batches < 1:
            raise ValueError("batch_max_items and max_inflight_batches must be at least 1")
        if self.ledger_chunk < 1 or min(self.ledger_idle, self.auth_flush_interval) <= 0:
            raise ValueError("ledger_chunk, ledger_idle and auth_flush_interval must be positive")

    @property
    def sweep_interval(self) -> float:
        """How often the timeouts are checked: a quarter of the shortest, at most 1 s."""
        return min(1.0, self.handshake_timeout / 4, self.idle_timeout / 4)


def identity_lookup(provider: IdentityProvider) -> IdentityLookup:
    """The provider as a function of (suite value, method)."""
    if isinstance(provider, Mapping):
        table = dict(provider)
        return lambda suite, method: table.get((suite, method))
    return provider


def offered_suites(config: HeadendConfig, provider: IdentityProvider) -> tuple[CipherSuite, ...]:
    """The configured suites the head-end has an identity for, in the configured order.

    With a table of identities, a suite without one is not offered, so a meter of that
    suite gets ERR_CODE 2 with SUITES_R (RFC 9528 section 6.3) instead of a failure
    after message_1. A function is trusted to cover every configured suite.
    """
    values = config.suites
    if isinstance(provider, Mapping):
        values = tuple(value for value in values if any(key[0] == value for key in provider))
    if not values:
        raise ValueError(f"no head-end identity for any of the suites {config.suites}")
    return tuple(get_suite(value) for value in values)


def open_keys(source: KeySource) -> HeadendKeys:
    """The keys themselves: ``source`` if it is keys, else what calling it returns."""
    return source if isinstance(source, HeadendKeys) else source()
