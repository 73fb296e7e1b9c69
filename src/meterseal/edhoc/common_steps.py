"""Steps both roles take: peer errors, duplicates, refusals and aborts (RFC 9528 section 6).

Every step has the signature ``step(context, payload) -> list[Event]``; the state machine
picks it from its table and moves to the table's next state when it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from meterseal.crypto.interfaces import AeadKey
from meterseal.edhoc.authentication import Covered, LocalIdentity
from meterseal.edhoc.context import HandshakeContext, need
from meterseal.edhoc.credentials import Credential
from meterseal.edhoc.encoding import Item
from meterseal.edhoc.events import Event, Retransmission
from meterseal.edhoc.key_schedule import (
    KdfLabel,
    aead_key_iv,
    encrypt0_aad,
    extract,
    mac,
    mac_length,
    prk_exporter,
    prk_out,
    salt,
    transcript_hash,
)
from meterseal.edhoc.messages import ErrorCode, ErrorMessage
from meterseal.errors import PeerReportedError


@dataclass(frozen=True, slots=True)
class Received:
    """Bytes from the peer, already split into CBOR items by the classifier."""

    data: bytes
    items: tuple[Item, ...]


def raise_peer_error(context: HandshakeContext, received: Received) -> list[Event]:
    """The peer sent an error message: the session ends, and nothing is sent back."""
    del context
    error = ErrorMessage.from_items(received.items)
    raise PeerReportedError(
        f"peer sent EDHOC error {error.code}: {error.info!r}",
        wire_code=error.code,
        err_info=error.info,
    )


def retransmit(context: HandshakeContext, received: Received) -> list[Event]:
    """A duplicate of the last message: resend our reply, if we sent one (appendix G)."""
    del received
    return [] if context.reply is None else [Retransmission(context.reply)]


def reject_credential(context: HandshakeContext, payload: None) -> list[Event]:
    """The application knows no credential for ID_CRED_x: ERR_CODE 3 (section 6.4)."""
    del payload
    context.fail_with(ErrorCode.UNKNOWN_CREDENTIAL, True)
    return []


def abort(context: HandshakeContext, reason: str) -> list[Event]:
    """The application ends the session (e.g. EAD refused): ERR_CODE 1 with ``reason``."""
    context.fail_with(ErrorCode.UNSPECIFIED, reason)
    return []


def derive_static_prk(
    context: HandshakeContext, prk: bytes, salt_label: KdfLabel, secret: bytes | None
) -> bytes:
    """PRK_3e2m / PRK_4e3m (RFC 9528 sections 4.1.1.2-3): carry ``prk`` over for a
    signing party, or extract with SALT_3e2m / SALT_4e3m and the static DH ``secret``."""
    salt_name, secret_name, prk_name = _STATIC_NAMES[salt_label]
    if secret is not None:
        hash_alg = need(context.suite, "suite").edhoc_hash
        salt_value = salt(hash_alg, prk, salt_label, context.th)
        context.log(salt_name, salt_value)
        context.log(secret_name, secret)
        prk = extract(hash_alg, salt_value, secret)
    context.log(prk_name, prk)
    return prk


_STATIC_NAMES = {
    KdfLabel.SALT_3E2M: ("SALT_3e2m", "G_RX", "PRK_3e2m"),
    KdfLabel.SALT_4E3M: ("SALT_4e3m", "G_IY", "PRK_4e3m"),
}


def peer_static_secret(context: HandshakeContext, peer: Credential, signs: bool) -> bytes | None:
    """G_RX at the Initiator, G_IY at the Responder: our ephemeral key with the peer's
    static DH key; None if the peer signs."""
    if signs:
        return None
    public_key = peer.key.dh_public_key(need(context.suite, "suite").dh)
    return need(context.ephemeral, "ephemeral key").exchange(public_key)


def own_static_secret(context: HandshakeContext, identity: LocalIdentity) -> bytes | None:
    """G_RX at the Responder, G_IY at the Initiator: our static DH key with the peer's
    ephemeral key; None if we sign."""
    if identity.dh_key is None:
        return None
    return identity.dh_key.exchange(context.peer_ephemeral)


def compute_mac(
    context: HandshakeContext, prk: bytes, label: KdfLabel, covered: Covered, signs: bool
) -> bytes:
    """MAC_2 / MAC_3 over context_x, as long as the authenticating party needs."""
    suite = need(context.suite, "suite")
    length = mac_length(suite, signs)
    value = mac(suite.edhoc_hash, prk, label, covered.context(), length)
    context.log(_MAC_NAMES[label], value)
    return value


_MAC_NAMES = {KdfLabel.MAC_2: "MAC_2", KdfLabel.MAC_3: "MAC_3"}
_AEAD_LABELS = {3: (KdfLabel.K_3, KdfLabel.IV_3), 4: (KdfLabel.K_4, KdfLabel.IV_4)}
_AEAD_NAMES = {n: (f"K_{n}", f"IV_{n}", f"CIPHERTEXT_{n}", f"PLAINTEXT_{n}") for n in (3, 4)}
"""Key-log names of K_x, IV_x, CIPHERTEXT_x and PLAINTEXT_x for message_3 and message_4."""


def _aead(context: HandshakeContext, prk: bytes, message: int) -> tuple[AeadKey, bytes]:
    suite = need(context.suite, "suite")
    key, iv = aead_key_iv(suite, prk, context.th, _AEAD_LABELS[message])
    names = _AEAD_NAMES[message]
    context.log(names[0], key)
    context.log(names[1], iv)
    return suite.edhoc_aead.key(key), iv


def seal(context: HandshakeContext, prk: bytes, message: int, plaintext: bytes) -> bytes:
    """CIPHERTEXT_3 / CIPHERTEXT_4: COSE_Encrypt0 under K_x, IV_x with AAD A_x."""
    key, iv = _aead(context, prk, message)
    ciphertext = key.seal(iv, plaintext, encrypt0_aad(context.th))
    context.log(_AEAD_NAMES[message][2], ciphertext)
    return ciphertext


def open_ciphertext(context: HandshakeContext, prk: bytes, message: int, data: bytes) -> bytes:
    """Decrypt CIPHERTEXT_3 / CIPHERTEXT_4, raising DecryptionError on a bad tag."""
    key, iv = _aead(context, prk, message)
    plaintext = key.open(iv, data, encrypt0_aad(context.th))
    context.log(_AEAD_NAMES[message][3], plaintext)
    return plaintext


def finish_transcript(context: HandshakeContext, plaintext_3: bytes, cred_i: bytes) -> None:
    """TH_4, PRK_out and PRK_exporter once PLAINTEXT_3 is known (section 4.1.3)."""
    hash_alg = need(context.suite, "suite").edhoc_hash
    context.th = transcript_hash(hash_alg, context.th, plaintext_3, cred_i)
    context.prk_out = prk_out(hash_alg, context.prk_4e3m, context.th)
    context.prk_exporter = prk_exporter(hash_alg, context.prk_out)
    context.log("TH_4", context.th)
    context.log("PRK_out", context.prk_out)
    context.log("PRK_exporter", context.prk_exporter)
