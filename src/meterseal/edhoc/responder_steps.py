"""The Responder's steps (RFC 9528 sections 5.2.3, 5.3.2, 5.4.3 and 5.5.2).

Each step reads and updates a :class:`ResponderContext`; the table in
:mod:`meterseal.edhoc.machine` decides which step runs in which state.
"""

from __future__ import annotations

from dataclasses import dataclass

from meterseal.crypto.suites import CipherSuite
from meterseal.edhoc.authentication import (
    Covered,
    LocalIdentity,
    signature_or_mac,
    verify_signature_or_mac,
)
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
from meterseal.edhoc.config import ResponderConfig
from meterseal.edhoc.context import ResponderContext, need
from meterseal.edhoc.credentials import Credential
from meterseal.edhoc.ead import EadItem, check_critical, encode_ead
from meterseal.edhoc.encoding import encode_identifier
from meterseal.edhoc.events import CredentialNeeded, Event, Message1Received
from meterseal.edhoc.key_schedule import KdfLabel, keystream_2, prk_2e, th_2, transcript_hash, xor
from meterseal.edhoc.messages import (
    ErrorCode,
    Message1,
    Message2,
    Plaintext2,
    Plaintext3,
    ciphertext_from_items,
    encode_ciphertext,
)
from meterseal.errors import EdhocError


@dataclass(frozen=True, slots=True)
class Reply2:
    """The application's answer to message_1: identity for the suite, C_R, EAD_2."""

    identity: LocalIdentity
    c_r: bytes
    ead: tuple[EadItem, ...] = ()


def select_suite(config: ResponderConfig, suites_i: tuple[int, ...]) -> CipherSuite:
    """The selected suite (last of SUITES_I) if supported and no earlier one is (5.2.3)."""
    selected = config.suite(suites_i[-1])
    if selected is None or any(config.suite(value) is not None for value in suites_i[:-1]):
        raise EdhocError(
            f"SUITES_I {list(suites_i)} does not select the suite to use",
            wire_code=ErrorCode.WRONG_SELECTED_SUITE,
        )
    return selected


def receive_message_1(context: ResponderContext, received: Received) -> list[Event]:
    """Check message_1 and hand EAD_1 to the application (RFC 9528 section 5.2.3)."""
    message = Message1.from_items(received.items)
    config = context.config
    if message.method not in config.methods:
        raise EdhocError(f"method {message.method.name} is not accepted")
    suite = select_suite(config, message.suites)
    suite.dh.validate_public_key(message.g_x)
    check_critical(message.ead, config.understood_ead)
    context.suite, context.method, context.c_i = suite, message.method, message.c_i
    context.peer_ephemeral, context.ead[1] = message.g_x, message.ead
    context.h_message_1 = suite.edhoc_hash.digest(received.data)
    context.received(received.data)
    return [Message1Received(message.method, suite, message.c_i, message.ead)]


def send_message_2(context: ResponderContext, reply: Reply2) -> list[Event]:
    """Compose message_2 (RFC 9528 section 5.3.2)."""
    method = need(context.method, "method")
    if reply.identity.signs != method.responder_signs:
        raise EdhocError(f"the identity's key does not fit method {method.name}")
    if reply.c_r == context.c_i:
        raise EdhocError("C_R must differ from C_I (RFC 9528 section 3.3.2)")
    _derive_prk_2e(context)
    secret = own_static_secret(context, reply.identity)
    context.prk_3e2m = derive_static_prk(context, context.prk_2e, KdfLabel.SALT_3E2M, secret)
    plaintext = _plaintext_2(context, reply)
    ciphertext = _encrypt_plaintext_2(context, plaintext)
    hash_alg = need(context.suite, "suite").edhoc_hash
    cred_r = reply.identity.credential.value
    context.th = transcript_hash(hash_alg, context.th, plaintext, cred_r)
    context.log("TH_3", context.th)
    context.c_r = reply.c_r
    g_y = need(context.ephemeral, "ephemeral key").public_key
    context.send(Message2(g_y, ciphertext).encode())
    return []


def _derive_prk_2e(context: ResponderContext) -> None:
    """A fresh ephemeral key Y, then G_XY, TH_2 and PRK_2e (RFC 9528 section 5.3.2)."""
    suite = need(context.suite, "suite")
    hash_alg = suite.edhoc_hash
    context.ephemeral = suite.dh.generate(context.rng)
    g_xy = context.ephemeral.exchange(context.peer_ephemeral)
    context.th = th_2(hash_alg, context.ephemeral.public_key, context.h_message_1)
    context.prk_2e = prk_2e(hash_alg, context.th, g_xy)
    for name, value in (("G_XY", g_xy), ("TH_2", context.th), ("PRK_2e", context.prk_2e)):
        context.log(name, value)


def _plaintext_2(context: ResponderContext, reply: Reply2) -> bytes:
    identity, ead_raw = reply.identity, encode_ead(reply.ead)
    prefix = encode_identifier(reply.c_r)
    covered = Covered(prefix, identity.id_cred, context.th, identity.credential.value, ead_raw)
    mac_2 = compute_mac(context, context.prk_3e2m, KdfLabel.MAC_2, covered, identity.signs)
    proof = signature_or_mac(identity, covered, mac_2)
    plaintext = Plaintext2(reply.c_r, identity.id_cred, proof, reply.ead, ead_raw).encode()
    context.log("Signature_or_MAC_2", proof)
    context.log("PLAINTEXT_2", plaintext)
    return plaintext


def _encrypt_plaintext_2(context: ResponderContext, plaintext: bytes) -> bytes:
    hash_alg = need(context.suite, "suite").edhoc_hash
    keystream = keystream_2(hash_alg, context.prk_2e, context.th, len(plaintext))
    ciphertext = xor(plaintext, keystream)
    context.log("KEYSTREAM_2", keystream)
    context.log("CIPHERTEXT_2", ciphertext)
    return ciphertext


def receive_message_3(context: ResponderContext, received: Received) -> list[Event]:
    """Decrypt message_3 and ask for CRED_I (RFC 9528 section 5.4.3, steps 1-3)."""
    ciphertext = ciphertext_from_items(received.items, "message_3")
    plaintext = open_ciphertext(context, context.prk_3e2m, 3, ciphertext)
    parsed = Plaintext3.decode(plaintext)
    check_critical(parsed.ead, context.config.understood_ead)
    context.plaintext, context.plaintext_3, context.ead[3] = plaintext, parsed, parsed.ead
    context.received(received.data)
    return [CredentialNeeded(parsed.id_cred, parsed.ead)]


def verify_message_3(context: ResponderContext, credential: Credential) -> list[Event]:
    """Check Signature_or_MAC_3 against CRED_I and complete (section 5.4.3, step 4)."""
    _verify_message_3(context, credential)
    return [context.complete()]


def verify_message_3_before_message_4(
    context: ResponderContext, credential: Credential
) -> list[Event]:
    """As :func:`verify_message_3`, keeping the keys that message_4 needs."""
    _verify_message_3(context, credential)
    return [context.complete(keep_message_4_keys=True)]


def _verify_message_3(context: ResponderContext, credential: Credential) -> None:
    signs = need(context.method, "method").initiator_signs
    parsed = need(context.plaintext_3, "PLAINTEXT_3")
    secret = peer_static_secret(context, credential, signs)
    context.prk_4e3m = derive_static_prk(context, context.prk_3e2m, KdfLabel.SALT_4E3M, secret)
    covered = Covered(b"", parsed.id_cred, context.th, credential.value, parsed.ead_raw)
    mac_3 = compute_mac(context, context.prk_4e3m, KdfLabel.MAC_3, covered, signs)
    suite, received = need(context.suite, "suite"), parsed.signature_or_mac
    verify_signature_or_mac(suite, credential, covered, signs=signs, mac=mac_3, received=received)
    context.peer_credential = credential
    finish_transcript(context, context.plaintext, credential.value)


def send_message_4(context: ResponderContext, ead: tuple[EadItem, ...]) -> list[Event]:
    """Compose message_4 with EAD_4 (RFC 9528 section 5.5.2)."""
    ciphertext = seal(context, context.prk_4e3m, 4, encode_ead(ead))
    context.forget_message_4_keys()
    context.send(encode_ciphertext(ciphertext))
    return []
