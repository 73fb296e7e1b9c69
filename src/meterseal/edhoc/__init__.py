"""EDHOC (RFC 9528): authenticated key exchange between meter and head-end, sans-IO.

The meter is the :class:`Initiator`, the head-end the :class:`Responder`. Both take bytes
and return events and bytes; randomness comes in as ``rng``, private keys stay behind key
handles, and credentials are looked up by the application when a
:class:`CredentialNeeded` event asks for one. See docs/protocol.md section 4.

Modules: ``encoding`` (strict CBOR items), ``ead``, ``credentials``, ``id_cred``,
``messages``, ``key_schedule``, ``authentication``, ``config``, ``events``,
``context``, ``common_steps``, ``initiator_steps``, ``responder_steps``, ``machine``
(the two state tables and the connection objects), ``testing`` (in-memory handshakes).
"""

from meterseal.edhoc.authentication import LocalIdentity
from meterseal.edhoc.config import InitiatorConfig, KeyLog, ResponderConfig
from meterseal.edhoc.credentials import CoseKey, Credential, CredentialFormat, KeyUse, make_ccs
from meterseal.edhoc.ead import EadItem
from meterseal.edhoc.events import (
    CredentialNeeded,
    Event,
    HandshakeCompleted,
    Message1Received,
    Retransmission,
    SuiteRejected,
)
from meterseal.edhoc.id_cred import IdCred, IdCredKind
from meterseal.edhoc.machine import Initiator, InitiatorState, Responder, ResponderState
from meterseal.edhoc.messages import ErrorCode, Method, connection_id

__all__ = [
    "CoseKey",
    "Credential",
    "CredentialFormat",
    "CredentialNeeded",
    "EadItem",
    "ErrorCode",
    "Event",
    "HandshakeCompleted",
    "IdCred",
    "IdCredKind",
    "Initiator",
    "InitiatorConfig",
    "InitiatorState",
    "KeyLog",
    "KeyUse",
    "LocalIdentity",
    "Message1Received",
    "Method",
    "Responder",
    "ResponderConfig",
    "ResponderState",
    "Retransmission",
    "SuiteRejected",
    "connection_id",
    "make_ccs",
]
