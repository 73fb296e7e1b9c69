"""The mutable state of one EDHOC session, shared by the step functions of both roles.

The state machine (:mod:`meterseal.edhoc.machine`) guarantees that a step only runs in a
state where the values it reads were set; :func:`need` turns a broken guarantee into an
:class:`~meterseal.errors.EdhocError` rather than a crash. When the handshake completes,
everything but PRK_out, PRK_exporter and the result is dropped, so that an idle session
stays small and holds no more secrets than it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from meterseal.crypto.interfaces import DhKey, Rng
from meterseal.crypto.suites import CipherSuite
from meterseal.edhoc.config import InitiatorConfig, KeyLog, ResponderConfig
from meterseal.edhoc.credentials import Credential
from meterseal.edhoc.ead import EadItem
from meterseal.edhoc.events import HandshakeCompleted
from meterseal.edhoc.messages import ErrorMessage, Method, Plaintext2, Plaintext3
from meterseal.errors import EdhocError

T = TypeVar("T")


def need(value: T | None, what: str) -> T:
    """Return ``value``, or raise EdhocError if this state has not produced it."""
    if value is None:
        raise EdhocError(f"{what} is not available in this state")
    return value


@dataclass(slots=True)
class HandshakeContext:
    """Keys, transcript and peer data of one session (RFC 9528 section 5.1)."""

    rng: Rng
    keylog: KeyLog | None = None
    suite: CipherSuite | None = None
    method: Method | None = None
    ephemeral: DhKey | None = None
    peer_ephemeral: bytes = b""
    c_i: bytes | None = None
    c_r: bytes | None = None
    h_message_1: bytes = b""
    th: bytes = b""
    prk_2e: bytes = b""
    prk_3e2m: bytes = b""
    prk_4e3m: bytes = b""
    prk_out: bytes = b""
    prk_exporter: bytes = b""
    plaintext: bytes = b""
    plaintext_2: Plaintext2 | None = None
    plaintext_3: Plaintext3 | None = None
    peer_credential: Credential | None = None
    ead: dict[int, tuple[EadItem, ...]] = field(default_factory=dict)
    last_received: bytes | None = None
    reply: bytes | None = None
    outgoing: bytes = b""
    error_message: bytes | None = None
    result: HandshakeCompleted | None = None

    def log(self, name: str, value: bytes) -> None:
        """Hand an intermediate value to the key log, if one is installed."""
        if self.keylog is not None:
            self.keylog(name, value)

    def send(self, data: bytes) -> None:
        """Queue ``data`` as the reply to the peer's last message."""
        self.outgoing = data
        self.reply = data

    def received(self, data: bytes) -> None:
        """Remember a processed message, for duplicate detection (RFC 9528 appendix G)."""
        self.last_received = data
        self.reply = None

    def take_outgoing(self) -> bytes:
        """Return and clear the bytes the last step queued."""
        data, self.outgoing = self.outgoing, b""
        return data

    def fail_with(self, code: int, info: object) -> None:
        """Queue the EDHOC error message for the peer (RFC 9528 section 6)."""
        self.error_message = ErrorMessage(code, info).encode()

    def complete(self, *, keep_message_4_keys: bool = False) -> HandshakeCompleted:
        """Record the result and drop the handshake's intermediate secrets.

        PRK_4e3m and TH_4 stay until message_4 is sent if ``keep_message_4_keys``.
        """
        self.result = HandshakeCompleted(
            suite=need(self.suite, "suite"),
            method=need(self.method, "method"),
            c_i=need(self.c_i, "C_I"),
            c_r=need(self.c_r, "C_R"),
            peer_credential=need(self.peer_credential, "peer credential"),
            ead=dict(self.ead),
        )
        self.ephemeral = None
        self.prk_2e = self.prk_3e2m = self.plaintext = self.h_message_1 = b""
        self.plaintext_2 = self.plaintext_3 = None
        if not keep_message_4_keys:
            self.forget_message_4_keys()
        return self.result

    def forget_message_4_keys(self) -> None:
        """Drop PRK_4e3m and TH_4 once message_4 is done with."""
        self.prk_4e3m = self.th = b""


@dataclass(slots=True)
class InitiatorContext(HandshakeContext):
    """An Initiator's session: its configuration, the index of the suite it offers, and
    the indexes offered so far (after ERR_CODE 2 refusals)."""

    config: InitiatorConfig = field(kw_only=True)
    suite_index: int = 0
    offered: set[int] = field(default_factory=set)


@dataclass(slots=True)
class ResponderContext(HandshakeContext):
    """A Responder's session: its configuration."""

    config: ResponderConfig = field(kw_only=True)

    def suites_r(self) -> object:
        """SUITES_R for an ERR_CODE 2 message: the supported suites in preference order."""
        values = [suite.value for suite in self.config.suites]
        return values[0] if len(values) == 1 else values
