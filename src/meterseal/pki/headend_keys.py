"""Head-end identity credentials from the CA, and rotating them without dropping the fleet.

The head-end's EDHOC identity keys live in its crypto machine; the CA issues each one a
credential: a CWT (RFC 8392) over a CCS whose COSE_Key (RFC 8747) is the key's public
half (a signature key for methods 0 and 2, a static DH key for methods 1 and 3), with the
``kid`` that message_2 names (RFC 9528 section 3.5.3) and a serial in its cti. The
credential is filed in the store (subject kind ``headend``) with a generation and an
issuance key event, and can be revoked like a meter's (:mod:`meterseal.pki.revocation`).

Rotation without dropping the fleet (docs/operations.md, "Rotating keys"):

1. generate the new key in the crypto machine and issue its credential under a NEW kid
   (:func:`generation_kid`: ``HE-2-sig-g2`` after ``HE-2-sig``);
2. add it to every meter's trust beside the old one (:func:`trust_with`; a meter looks a
   head-end credential up by kid, :class:`~meterseal.meter.trust.HeadendTrust`, so it
   accepts either);
3. restart the head-end workers one at a time with the new identity: sessions running on
   the old key are not touched (an established session depends on its session keys, not
   on the static key that authenticated it), new handshakes use the new key;
4. when every meter has the new credential, drop the old one from the trust
   (:func:`trust_without`) and revoke it.

The trust update travels by function call in this increment (a signed head-end command
is a later step).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from meterseal.crypto.interfaces import Rng
from meterseal.crypto.suites import CipherSuite
from meterseal.edhoc.credentials import Credential, make_ccs
from meterseal.meter.provisioning import headend_kid
from meterseal.meter.trust import HeadendTrust
from meterseal.pki import events
from meterseal.pki.ca import CertificateAuthority
from meterseal.pki.serials import new_serial
from meterseal.store.security import (
    CREDENTIAL_ACTIVE,
    SUBJECT_HEADEND,
    CredentialRow,
    SecurityStore,
)


def generation_kid(suite: CipherSuite, role: str, generation: int) -> bytes:
    """The kid of the head-end's ``generation``-th key of ``role`` (``dh`` or ``sig``):
    ``HE-2-sig`` for the first, ``HE-2-sig-g2`` for the second, and so on."""
    if generation < 1:
        raise ValueError("generations count from 1")
    base = headend_kid(suite, role)
    return base if generation == 1 else base + f"-g{generation}".encode("ascii")


@dataclass(frozen=True, slots=True)
class HeadendCredential:
    """A head-end identity credential the CA issued: the CWT, and the EDHOC credential
    (CRED_R, the CWT's CCS) with its serial."""

    serial: int
    cwt: bytes
    credential: Credential


@dataclass(frozen=True, slots=True)
class HeadendKeyRequest:
    """Which head-end key to certify: its public key, suite, kind and kid."""

    name: str  # the head-end's name: the credential's subject
    suite: CipherSuite
    public_key: bytes  # a signature public key, or a DH public point (x for EC2 curves)
    signs: bool
    kid: bytes


def issue_headend_credential(
    request: HeadendKeyRequest,
    *,
    ca: CertificateAuthority,
    store: SecurityStore,
    now: int,
    rng: Rng,
    valid_for: int,
) -> HeadendCredential:
    """Certify a head-end key made in the crypto machine; file it with its key events."""
    suite = request.suite
    ccs = make_ccs(
        request.public_key,
        crv=suite.credential_crv(signs=request.signs),
        subject=request.name,
        kid=request.kid,
    )
    serial = new_serial(rng)
    cwt = ca.issue(ccs, suite, serial=serial, not_before=now, not_after=now + valid_for)
    verified = ca.verify(cwt, suite, now=now)
    row = CredentialRow(
        serial=serial,
        subject_kind=SUBJECT_HEADEND,
        subject=request.name,
        suite=suite.value,
        credential=cwt,
        credential_hash=events.credential_hash(cwt),
        not_before=verified.not_before,
        not_after=verified.not_after,
        state=CREDENTIAL_ACTIVE,
        issued_at=now,
    )
    purpose = "edhoc-" + request.kid.decode("ascii", "replace")
    generated = events.generated(
        request.name, request.public_key, at=now, where="crypto-machine", purpose=purpose
    )
    store.add_credential(row, [generated, events.issued(row)])
    return HeadendCredential(serial, cwt, verified.credential)


def trust_with(trust: HeadendTrust, credentials: Iterable[Credential]) -> HeadendTrust:
    """``trust`` plus ``credentials`` (a new head-end key beside the old ones). A kid
    already trusted for a different credential is refused: kids name one key."""
    added = list(credentials)
    for credential in added:
        known = trust.credentials.get(credential.kid or b"")
        if known is not None and known != credential:
            raise ValueError(f"kid {credential.kid!r} already names another credential")
    return HeadendTrust.of([*trust.credentials.values(), *added], trust.command_key)


def trust_without(trust: HeadendTrust, kids: Iterable[bytes]) -> HeadendTrust:
    """``trust`` without the credentials of ``kids`` (a retired head-end key)."""
    retired = set(kids)
    kept = [c for kid, c in trust.credentials.items() if kid not in retired]
    if not kept:
        raise ValueError("a meter must keep trusting at least one head-end credential")
    return HeadendTrust.of(kept, trust.command_key)
