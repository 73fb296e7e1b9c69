"""Per-deployment settings of the EDHOC Initiator and Responder.

A configuration is immutable and shared by every session of one party; what changes per
session (C_I, C_R, EAD items, the Responder's identity for the chosen suite) is passed
to the connection's methods instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from meterseal.crypto.suites import CipherSuite
from meterseal.edhoc.authentication import LocalIdentity
from meterseal.edhoc.messages import Method

KeyLog = Callable[[str, bytes], None]
"""Receives every intermediate value by its RFC 9529 name (TH_2, PRK_2e, ...).

For test vectors and debugging only: it sees session secrets.
"""


@dataclass(frozen=True, slots=True)
class InitiatorConfig:
    """The Initiator's method, identity and suites (most preferred first).

    The first session offers ``suites[0]``; after an ERR_CODE 2 the retry offers the
    preference list truncated after the suite chosen from SUITES_R (RFC 9528 section
    5.2.2). ``expect_message_4`` must match the Responder's ``send_message_4``.
    ``understood_ead`` lists the absolute EAD labels the application processes; a
    critical item with any other label ends the session (RFC 9528 section 3.8).
    """

    identity: LocalIdentity
    method: Method
    suites: tuple[CipherSuite, ...]
    expect_message_4: bool = False
    understood_ead: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.suites:
            raise ValueError("the Initiator needs at least one cipher suite")
        if self.identity.signs != self.method.initiator_signs:
            raise ValueError(f"method {self.method.name} does not fit the identity's key")


@dataclass(frozen=True, slots=True)
class ResponderConfig:
    """The Responder's suites (SUITES_R order), accepted methods and message_4 choice."""

    suites: tuple[CipherSuite, ...]
    methods: frozenset[Method] = frozenset(Method)
    send_message_4: bool = False
    understood_ead: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.suites:
            raise ValueError("the Responder needs at least one cipher suite")

    def suite(self, value: int) -> CipherSuite | None:
        """The supported suite with this value, if any."""
        for suite in self.suites:
            if suite.value == value:
                return suite
        return None
