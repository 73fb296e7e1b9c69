"""The Initiator's steps (RFC 9528 sections 5.2.2, 5.3.3, 5.4.2, 5.5.3 and 6.3).

Each step reads and updates an :class:`InitiatorContext`; the table in
:mod:`meterseal.edhoc.machine` decides which step runs in which state.
"""

from __future__ import annotations

from dataclasses import dataclass

from meterseal.edhoc.authentication import Covered, signature_or_mac, verify_signature_or_mac
from meterseal.edhoc.common_steps import (
    Received,
    compute_mac,
    derive_static_prk,
    finish_transcript,
    open_ciphertext,
    own_static_secret,
    peer_static_secret,
    seal,
)
from meterseal.edhoc.context import InitiatorContext, need
from meterseal.edhoc.credentials import Credential
from meterseal.edhoc.ead import EadItem, check_critical, encode_ead
from meterseal.edhoc.encoding import Item, encode_identifier
from meterseal.edhoc.events import CredentialNeeded, Event, SuiteRejected
from meterseal.edhoc.key_schedule import KdfLabel, keystream_2, prk_2e, th_2, transcript_hash, xor
from meterseal.edhoc.messages import (
    ErrorCode,
    ErrorMessage,
    Message1,
    Message2,
    Plaintext2,
    Plaintext3,
    ciphertext_from_items,
    decode_plaintext_4,
    encode_ciphertext,
)
from meterseal.errors import PeerReportedError


@dataclass(frozen=True, slots=True)
class Start:
    """Per-session input of message_1: C_I (None on a retry keeps the old one), EAD_1."""

    c_i: bytes | None
    ead: tuple[EadItem, ...] = ()


def send_message_1(context: InitiatorContext, start: Start) -> list[Event]:
    """Compose message_1 with a fresh ephemeral key (RFC 9528 section 5.2.2)."""
    config = context.config
    suite = config.suites[context.suite_index]
    context.suite, context.method = suite, config.method
    context.offered.add(context.suite_index)
    context.c_i = start.c_i if start.c_i is not None else need(context.c_i, "C_I")
    context.ephemeral = suite.dh.generate(context.rng)
    suites_i = tuple(s.value for s in config.suites[: context.suite_index + 1])
    g_x = context.ephemeral.public_key
    message = Message1(config.method, suites_i, g_x, context.c_i, start.ead).encode()
    context.h_message_1 = suite.edhoc_hash.digest(message)
    context.log("message_1", message)
    context.send(message)
    return []


def receive_wrong_suite(context: InitiatorContext, received: Received) -> list[Event]:
    """ERR_CODE 2: choose the most preferred own suite in SUITES_R not offered yet in
    this chain of sessions, so that refusals cannot loop (RFC 9528 section 6.3.2)."""
    error = ErrorMessage.from_items(received.items)
    suites = context.config.suites
    choices = [
        index
        for index, suite in enumerate(suites)
        if suite.value in error.suites_r and index not in context.offered
    ]
    if not choices:
        raise PeerReportedError(
            f"responder supports none of our suites: {error.suites_r}",
            wire_code=ErrorCode.WRONG_SELECTED_SUITE,
            err_info=error.info,
        )
    context.suite_index = choices[0]
    return [SuiteRejected(error.suites_r, suites[choices[0]])]


def retry(context: InitiatorContext, start: Start) -> list[Event]:
    """A new session after ERR_CODE 2, with a new ephemeral key (section 6.3.2)."""
    context.last_received = context.reply = None
    context.ead.clear()
    return send_message_1(context, start)


def receive_message_2(context: InitiatorContext, received: Received) -> list[Event]:
    """Decrypt message_2 and ask for CRED_R (RFC 9528 section 5.3.3, steps 1-3)."""
    plaintext = _decrypt_message_2(context, received.items)
    parsed = Plaintext2.decode(plaintext)
    check_critical(parsed.ead, context.config.understood_ead)
    context.plaintext, context.plaintext_2 = plaintext, parsed
    context.c_r, context.ead[2] = parsed.c_r, parsed.ead
    context.received(received.data)
    return [CredentialNeeded(parsed.id_cred, parsed.ead)]


def _decrypt_message_2(context: InitiatorContext, items: tuple[Item, ...]) -> bytes:
    suite = need(context.suite, "suite")
    hash_alg = suite.edhoc_hash
    message = Message2.from_items(items, suite.dh.public_key_length)
    suite.dh.validate_public_key(message.g_y)
    g_xy = need(context.ephemeral, "ephemeral key").exchange(message.g_y)
    context.peer_ephemeral = message.g_y
    context.th = th_2(hash_alg, message.g_y, context.h_message_1)
    context.prk_2e = prk_2e(hash_alg, context.th, g_xy)
    keystream = keystream_2(hash_alg, context.prk_2e, context.th, len(message.ciphertext))
    for name, value in (("G_XY", g_xy), ("TH_2", context.th), ("PRK_2e", context.prk_2e)):
        context.log(name, value)
    context.log("KEYSTREAM_2", keystream)
    plaintext = xor(message.ciphertext, keystream)
    context.log("PLAINTEXT_2", plaintext)
    return plaintext


def verify_message_2(context: InitiatorContext, credential: Credential) -> list[Event]:
    """Check Signature_or_MAC_2 against CRED_R (RFC 9528 section 5.3.3, step 4)."""
    signs = need(context.method, "method").responder_signs
    parsed = need(context.plaintext_2, "PLAINTEXT_2")
    secret = peer_static_secret(context, credential, signs)
    context.prk_3e2m = derive_static_prk(context, context.prk_2e, KdfLabel.SALT_3E2M, secret)
    prefix = encode_identifier(parsed.c_r)
    covered = Covered(prefix, parsed.id_cred, context.th, credential.value, parsed.ead_raw)
    mac_2 = compute_mac(context, context.prk_3e2m, KdfLabel.MAC_2, covered, signs)
    suite = need(context.suite, "suite")
    received = parsed.signature_or_mac
    verify_signature_or_mac(suite, credential, covered, signs=signs, mac=mac_2, received=received)
    context.th = transcript_hash(suite.edhoc_hash, context.th, context.plaintext, credential.value)
    context.log("TH_3", context.th)
    context.peer_credential = credential
    return []


def send_message_3(context: InitiatorContext, ead: tuple[EadItem, ...]) -> list[Event]:
    """Compose message_3 and derive PRK_out (RFC 9528 section 5.4.2); await message_4."""
    identity = context.config.identity
    secret = own_static_secret(context, identity)
    context.prk_4e3m = derive_static_prk(context, context.prk_3e2m, KdfLabel.SALT_4E3M, secret)
    ead_raw, cred_i = encode_ead(ead), identity.credential.value
    covered = Covered(b"", identity.id_cred, context.th, cred_i, ead_raw)
    mac_3 = compute_mac(context, context.prk_4e3m, KdfLabel.MAC_3, covered, identity.signs)
    proof = signature_or_mac(identity, covered, mac_3)
    plaintext = Plaintext3(identity.id_cred, proof, ead, ead_raw).encode()
    context.log("Signature_or_MAC_3", proof)
    context.log("PLAINTEXT_3", plaintext)
    ciphertext = seal(context, context.prk_3e2m, 3, plaintext)
    finish_transcript(context, plaintext, cred_i)
    context.send(encode_ciphertext(ciphertext))
    return []


def send_last_message_3(context: InitiatorContext, ead: tuple[EadItem, ...]) -> list[Event]:
    """Compose message_3 and complete: no message_4 is expected (section 5.4.2)."""
    send_message_3(context, ead)
    context.complete()
    return []


def receive_message_4(context: InitiatorContext, received: Received) -> list[Event]:
    """Decrypt message_4, take EAD_4, complete (RFC 9528 section 5.5.3)."""
    ciphertext = ciphertext_from_items(received.items, "message_4")
    plaintext = open_ciphertext(context, context.prk_4e3m, 4, ciphertext)
    context.ead[4] = decode_plaintext_4(plaintext)
    check_critical(context.ead[4], context.config.understood_ead)
    context.received(received.data)
    return [context.complete()]
