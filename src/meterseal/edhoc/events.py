"""What an EDHOC connection reports to the application (sans-IO events).

``receive()`` and ``provide_credential()`` return lists of these. Bytes to send come back
from the sending methods (``start``, ``send_message_2`` ...) instead, except a
:class:`Retransmission`, which answers a duplicate of the peer's last message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from meterseal.crypto.suites import CipherSuite
from meterseal.edhoc.credentials import Credential
from meterseal.edhoc.ead import EadItem
from meterseal.edhoc.id_cred import IdCred
from meterseal.edhoc.messages import Method


@dataclass(frozen=True, slots=True)
class Message1Received:
    """The Responder accepted message_1; choose an identity for ``suite`` and ``method``
    and call ``send_message_2`` (RFC 9528 section 5.2.3)."""

    method: Method
    suite: CipherSuite
    c_i: bytes
    ead: tuple[EadItem, ...]


@dataclass(frozen=True, slots=True)
class CredentialNeeded:
    """The peer's ID_CRED_x arrived: look up (or validate, if carried by value) its
    credential, then call ``provide_credential`` or ``unknown_credential``
    (RFC 9528 sections 5.3.3 and 5.4.3). ``ead`` is the same message's EAD field."""

    id_cred: IdCred
    ead: tuple[EadItem, ...]


@dataclass(frozen=True, slots=True)
class SuiteRejected:
    """The Responder refused the selected suite (ERR_CODE 2, RFC 9528 section 6.3).

    ``retry_suite`` is the Initiator's most preferred suite among ``suites_r``; call
    ``retry`` to start a new session with it. Error messages are unauthenticated, so the
    Initiator's own preference order is never changed by them.
    """

    suites_r: tuple[int, ...]
    retry_suite: CipherSuite


@dataclass(frozen=True, slots=True)
class Retransmission:
    """A duplicate of the peer's last message arrived; resend ``data`` (our reply).

    RFC 9528 section 5.1 and appendix G: a duplicate is never processed twice.
    """

    data: bytes


@dataclass(frozen=True, slots=True)
class HandshakeCompleted:
    """Both parties are authenticated; keys can be exported (RFC 9528 section 4.2).

    ``ead`` maps a message number (1-4) to the EAD items the peer sent in it.
    """

    suite: CipherSuite
    method: Method
    c_i: bytes
    c_r: bytes
    peer_credential: Credential
    ead: Mapping[int, tuple[EadItem, ...]] = field(default_factory=dict)


Event = Message1Received | CredentialNeeded | SuiteRejected | Retransmission | HandshakeCompleted
"""Every event an EDHOC connection can report."""
