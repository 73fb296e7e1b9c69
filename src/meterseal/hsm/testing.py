"""Test helpers for crypto machines: EDHOC identities on machine keys, and a leak walker.

For tests and benchmarks only, like :mod:`meterseal.edhoc.testing`:

* :func:`dh_identity` / :func:`signature_identity` wrap a crypto machine's handle in an
  EDHOC :class:`~meterseal.edhoc.LocalIdentity` with a CCS (RFC 9528 section 3.5.2), and
  :func:`handshake` runs a whole handshake against it with a fresh software Initiator.
* :func:`exposed_bytes` collects every byte string reachable from an object's public
  surface (attributes, properties, zero-argument query methods, ``repr``), so a test can
  assert that no private key ever appears there.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import os
from collections.abc import Iterable

from meterseal.crypto.interfaces import DhKey, SigningKey
from meterseal.crypto.suites import CipherSuite
from meterseal.edhoc import (
    Credential,
    IdCred,
    Initiator,
    InitiatorConfig,
    LocalIdentity,
    Method,
    Responder,
    ResponderConfig,
    make_ccs,
)
from meterseal.edhoc.testing import HandshakeRun, lookup_from, make_identity, run_handshake

RESPONDER_KID = b"\x2b"
QUERY_METHODS = frozenset({"labels"})
"""Zero-argument methods that only read; others (close, ...) are not called."""


def dh_identity(suite: CipherSuite, key: DhKey, kid: bytes = RESPONDER_KID) -> LocalIdentity:
    """A static-DH identity (methods 1-3): a CCS carrying the handle's whole public key."""
    ccs = make_ccs(key.public_point, crv=suite.dh.cose_crv, subject="head-end", kid=kid)
    return LocalIdentity.static_dh(Credential.from_ccs(ccs), IdCred.by_kid(kid), key)


def signature_identity(
    suite: CipherSuite, key: SigningKey, kid: bytes = RESPONDER_KID
) -> LocalIdentity:
    """A signature identity (methods 0 and 2) for the handle's public key."""
    crv = suite.credential_crv(signs=True)
    ccs = make_ccs(key.public_key, crv=crv, subject="head-end", kid=kid)
    return LocalIdentity.signature(Credential.from_ccs(ccs), IdCred.by_kid(kid), key)


def handshake(suite: CipherSuite, method: Method, responder: LocalIdentity) -> HandshakeRun:
    """A whole handshake: a fresh software Initiator against ``responder``'s identity."""
    initiator_identity = make_identity(
        suite, signs=method.initiator_signs, rng=os.urandom, kid=b"\x0a"
    )
    initiator = Initiator(InitiatorConfig(initiator_identity, method, (suite,)), os.urandom)
    return run_handshake(
        initiator,
        lambda: Responder(ResponderConfig((suite,)), os.urandom),
        responder_identity=lambda _: responder,
        lookup=lookup_from([initiator_identity.credential, responder.credential]),
    )


def _flatten(value: object, depth: int) -> Iterable[bytes]:
    """Every byte string inside ``value``: bytes, text, containers, dataclasses, repr."""
    if isinstance(value, bytes | bytearray | memoryview):
        yield bytes(value)
    elif isinstance(value, str | enum.Enum):
        yield str(value).encode("utf-8", "replace")
    elif isinstance(value, dict):
        for item in value.items():
            yield from _flatten(item, depth)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _flatten(item, depth)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield from _flatten(dataclasses.astuple(value), depth)
    elif depth > 0 and value is not None and not isinstance(value, int | float):
        yield from exposed_bytes(value, depth - 1)


def exposed_bytes(obj: object, depth: int = 2) -> list[bytes]:
    """Everything ``obj`` shows without being asked an argument: its ``repr``, each public
    attribute or property, each query method's result, recursively to ``depth``."""
    found = [repr(obj).encode("utf-8", "replace")]
    for name in dir(obj):
        if name.startswith("_"):
            continue
        value = getattr(obj, name)
        if inspect.ismethod(value) or inspect.isfunction(value):
            if name not in QUERY_METHODS:
                continue
            value = value()
        found.extend(_flatten(value, depth))
    return found


def leaks(secrets: Iterable[bytes], surfaces: Iterable[bytes]) -> list[bytes]:
    """The secrets (and their hex) that occur in any of ``surfaces``."""
    haystack = list(surfaces)
    found = []
    for secret in secrets:
        needles = (secret, secret.hex().encode(), secret.hex().upper().encode())
        if any(needle in hay for needle in needles for hay in haystack):
            found.append(secret)
    return found
