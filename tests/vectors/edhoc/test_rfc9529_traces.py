"""RFC 9529 traces 1 and 2, byte for byte (vectors: rfc9529.json, see PROVENANCE.md).

Trace 1: method 0, suite 0, X.509 credentials referenced by x5t.
Trace 2: method 3, suite 2, CCS credentials referenced by kid, starting with a message_1
that offers suite 6 only, the Responder's ERR_CODE 2 refusal, and the retry.

The Initiator and Responder run with the traces' ephemeral keys (an rng that returns X
and Y), static keys, connection identifiers and credentials; a key log collects every
intermediate value under its RFC 9529 name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from meterseal.crypto.aead import A128GCM
from meterseal.crypto.hashes import SHA_256
from meterseal.crypto.interfaces import Rng
from meterseal.crypto.international import ES256, P256
from meterseal.crypto.suites import SUITE_0, SUITE_2, CipherSuite
from meterseal.edhoc import (
    Credential,
    IdCred,
    Initiator,
    InitiatorConfig,
    LocalIdentity,
    Method,
    Responder,
    ResponderConfig,
    SuiteRejected,
    make_ccs,
)
from meterseal.errors import EdhocError

VECTORS = Path(__file__).with_name("rfc9529.json")
TRACES = ("trace1", "trace2")

SUITE_6_OF_TRACE_2 = CipherSuite(
    value=6,
    name="suite 6 as trace 2 offers it",
    edhoc_aead=A128GCM,
    edhoc_hash=SHA_256,
    mac_length=16,
    dh=P256,
    signature=ES256,
    app_aead=A128GCM,
    app_hash=SHA_256,
    record_aead=A128GCM,
)
"""Trace 2's first message_1 offers suite 6 with G_X the P-256 public key of its X (the
trace's own choice; RFC 9528 registers suite 6 with X25519). MeterSeal does not support
suite 6; this stand-in only reproduces those bytes and is refused before any other of its
algorithms is used."""

COMMON_VALUES = ("G_XY", "TH_2", "PRK_2e", "PRK_3e2m", "MAC_2", "KEYSTREAM_2", "PLAINTEXT_2")
LATER_VALUES = ("TH_3", "PRK_4e3m", "MAC_3", "K_3", "IV_3", "PLAINTEXT_3", "TH_4")
FINAL_VALUES = ("PRK_out", "PRK_exporter", "K_4", "IV_4")
INITIATOR_VALUES = (
    COMMON_VALUES
    + LATER_VALUES
    + FINAL_VALUES
    + ("Signature_or_MAC_3", "CIPHERTEXT_3", "PLAINTEXT_4")
)
RESPONDER_VALUES = (
    COMMON_VALUES + LATER_VALUES + FINAL_VALUES + ("Signature_or_MAC_2", "CIPHERTEXT_2")
)
STATIC_DH_VALUES = ("SALT_3e2m", "G_RX", "SALT_4e3m", "G_IY")
"""Only trace 2 (method 3) has these: both parties authenticate with static DH keys."""


def load_trace(name: str) -> dict[str, bytes]:
    """Every hex value of one trace, as bytes."""
    raw = json.loads(VECTORS.read_text())[name]
    return {key: bytes.fromhex(value) for key, value in raw.items() if isinstance(value, str)}


def rng_returning(*values: bytes) -> Rng:
    """An rng that hands out the given values in order (the traces' X and Y)."""
    queue = list(values)

    def rng(length: int) -> bytes:
        value = queue.pop(0)
        assert len(value) == length
        return value

    return rng


class KeyLog(dict[str, bytes]):
    """Collects a connection's intermediate values by their RFC 9529 names."""

    def __call__(self, name: str, value: bytes) -> None:
        self[name] = value


@dataclass
class TraceRun:
    """A completed run of one trace: both parties, their key logs, the messages."""

    trace: dict[str, bytes]
    initiator: Initiator
    responder: Responder
    initiator_log: KeyLog
    responder_log: KeyLog
    messages: dict[str, bytes] = field(default_factory=dict)


def identities(name: str, t: dict[str, bytes]) -> tuple[LocalIdentity, LocalIdentity]:
    """The Initiator's and the Responder's identity as the trace defines them."""
    if name == "trace1":
        cred_i, cred_r = Credential.from_x509(t["CRED_I"]), Credential.from_x509(t["CRED_R"])
        sign = SUITE_0.signature.from_private_bytes
        return (
            LocalIdentity.signature(cred_i, IdCred.by_x5t(cred_i), sign(t["SK_I"])),
            LocalIdentity.signature(cred_r, IdCred.by_x5t(cred_r), sign(t["SK_R"])),
        )
    cred_i, cred_r = Credential.from_ccs(t["CRED_I"]), Credential.from_ccs(t["CRED_R"])
    assert cred_i.kid is not None
    assert cred_r.kid is not None
    load = SUITE_2.dh.from_private_bytes
    return (
        LocalIdentity.static_dh(cred_i, IdCred.by_kid(cred_i.kid), load(t["SK_I"])),
        LocalIdentity.static_dh(cred_r, IdCred.by_kid(cred_r.kid), load(t["SK_R"])),
    )


def new_initiator(name: str, t: dict[str, bytes], log: KeyLog) -> Initiator:
    """Trace 1 offers suite 0; trace 2 prefers suite 6 and falls back to suite 2."""
    identity_i, _ = identities(name, t)
    if name == "trace1":
        config = InitiatorConfig(identity_i, Method.SIGN_SIGN, (SUITE_0,), expect_message_4=True)
        return Initiator(config, rng_returning(t["X"]), keylog=log)
    suites = (SUITE_6_OF_TRACE_2, SUITE_2)
    config = InitiatorConfig(identity_i, Method.STATIC_STATIC, suites, expect_message_4=True)
    return Initiator(config, rng_returning(t["X_first_attempt"], t["X"]), keylog=log)


def new_responder(name: str, t: dict[str, bytes], log: KeyLog) -> Responder:
    """A Responder supporting the trace's suite only, sending message_4."""
    suite = SUITE_0 if name == "trace1" else SUITE_2
    return Responder(
        ResponderConfig((suite,), send_message_4=True), rng_returning(t["Y"]), keylog=log
    )


def first_message_1(name: str, initiator: Initiator, t: dict[str, bytes]) -> bytes:
    """message_1 as the trace's successful session sends it (trace 2: after the refusal)."""
    if name == "trace1":
        return initiator.start(t["C_I"])
    refused = Responder(ResponderConfig((SUITE_2,)), rng_returning())
    with pytest.raises(EdhocError):
        refused.receive(initiator.start(t["C_I_first_attempt"]))
    assert refused.error_message == t["error"]
    (rejected,) = initiator.receive(refused.error_message)
    assert isinstance(rejected, SuiteRejected)
    return initiator.retry(t["C_I"])


def run_trace(name: str) -> TraceRun:
    """Drive both parties through the trace, answering events with its credentials."""
    t = load_trace(name)
    initiator_log, responder_log = KeyLog(), KeyLog()
    initiator = new_initiator(name, t, initiator_log)
    responder = new_responder(name, t, responder_log)
    run = TraceRun(t, initiator, responder, initiator_log, responder_log)
    identity_i, identity_r = identities(name, t)
    run.messages["message_1"] = first_message_1(name, run.initiator, t)
    run.responder.receive(run.messages["message_1"])
    run.messages["message_2"] = run.responder.send_message_2(identity_r, t["C_R"])
    run.initiator.receive(run.messages["message_2"])
    run.initiator.provide_credential(identity_r.credential)
    run.messages["message_3"] = run.initiator.send_message_3()
    run.responder.receive(run.messages["message_3"])
    run.responder.provide_credential(identity_i.credential)
    run.messages["message_4"] = run.responder.send_message_4()
    run.initiator.receive(run.messages["message_4"])
    return run


completed = cache(run_trace)
"""One completed run per trace, shared by the read-only tests below."""


@pytest.mark.parametrize("name", TRACES)
@pytest.mark.parametrize("message", ["message_1", "message_2", "message_3", "message_4"])
def test_message_equals_trace(name: str, message: str) -> None:
    run = completed(name)
    assert run.messages[message].hex() == run.trace[message].hex()


def _values(side: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(name, value) for name in TRACES for value in side] + [
        ("trace2", value) for value in STATIC_DH_VALUES
    ]


@pytest.mark.parametrize(("name", "value"), _values(INITIATOR_VALUES))
def test_initiator_intermediate_value_equals_trace(name: str, value: str) -> None:
    run = completed(name)
    assert run.initiator_log[value].hex() == run.trace[value].hex()


@pytest.mark.parametrize(("name", "value"), _values(RESPONDER_VALUES))
def test_responder_intermediate_value_equals_trace(name: str, value: str) -> None:
    run = completed(name)
    assert run.responder_log[value].hex() == run.trace[value].hex()


@pytest.mark.parametrize("name", TRACES)
@pytest.mark.parametrize(
    ("label", "length", "value"),
    [(0, 16, "OSCORE_Master_Secret"), (1, 8, "OSCORE_Master_Salt")],
)
def test_exporter_gives_trace_oscore_parameters(
    name: str, label: int, length: int, value: str
) -> None:
    run = completed(name)
    assert run.initiator.exporter(label, b"", length) == run.trace[value]
    assert run.responder.exporter(label, b"", length) == run.trace[value]


@pytest.mark.parametrize("name", TRACES)
def test_key_update_gives_trace_values(name: str) -> None:
    run = run_trace(name)
    t = run.trace
    for party, log in ((run.initiator, run.initiator_log), (run.responder, run.responder_log)):
        party.key_update(t["context_for_KeyUpdate"])
        assert log["PRK_out"] == t["PRK_out_after_KeyUpdate"]
        assert log["PRK_exporter"] == t["PRK_exporter_after_KeyUpdate"]
        assert party.exporter(0, b"", 16) == t["OSCORE_Master_Secret_after_KeyUpdate"]
        assert party.exporter(1, b"", 8) == t["OSCORE_Master_Salt_after_KeyUpdate"]


@pytest.mark.parametrize("name", TRACES)
def test_results_name_the_trace_peers_and_identifiers(name: str) -> None:
    run = completed(name)
    t = run.trace
    assert run.initiator.result is not None
    assert run.responder.result is not None
    assert run.initiator.result.peer_credential.value in (t["CRED_R"], t["CRED_R_cbor"])
    assert run.responder.result.peer_credential.value in (t["CRED_I"], t["CRED_I_cbor"])
    for result in (run.initiator.result, run.responder.result):
        assert (result.c_i, result.c_r) == (t["C_I"], t["C_R"])
        assert result.method == t["METHOD"][0]


def test_trace2_first_message_1_offers_suite_6() -> None:
    t = load_trace("trace2")
    initiator = new_initiator("trace2", t, KeyLog())
    assert initiator.start(t["C_I_first_attempt"]) == t["message_1_first_attempt"]


def test_trace2_responder_refuses_suite_6_with_the_trace_error() -> None:
    t = load_trace("trace2")
    responder = new_responder("trace2", t, KeyLog())
    with pytest.raises(EdhocError) as refusal:
        responder.receive(t["message_1_first_attempt"])
    assert refusal.value.wire_code == 2
    assert responder.error_message == t["error"]


def test_trace2_initiator_retries_with_suites_6_then_2() -> None:
    t = load_trace("trace2")
    initiator = new_initiator("trace2", t, KeyLog())
    initiator.start(t["C_I_first_attempt"])
    (event,) = initiator.receive(t["error"])
    assert isinstance(event, SuiteRejected)
    assert (event.suites_r, event.retry_suite) == ((2,), SUITE_2)
    assert initiator.retry(t["C_I"]) == t["message_1"]


@pytest.mark.parametrize(
    ("cred", "subject"), [("CRED_R", "example.edu"), ("CRED_I", "42-50-31-FF-EF-37-32-39")]
)
def test_trace2_ccs_builder_gives_the_trace_credentials(cred: str, subject: str) -> None:
    t = load_trace("trace2")
    party = cred[-1]
    point = b"\x04" + t[f"PK_{party}_x"] + t[f"PK_{party}_y"]
    kid = Credential.from_ccs(t[cred]).kid
    assert kid is not None
    assert make_ccs(point, crv=1, subject=subject, kid=kid) == t[cred]


@pytest.mark.parametrize("party", ["I", "R"])
def test_trace1_certificates_give_the_trace_keys_and_x5t(party: str) -> None:
    t = load_trace("trace1")
    credential = Credential.from_x509(t[f"CRED_{party}"])
    assert credential.value == t[f"CRED_{party}_cbor"]
    assert credential.key.x == t[f"PK_{party}"]
    assert IdCred.by_x5t(credential).encoded == t[f"ID_CRED_{party}"]
