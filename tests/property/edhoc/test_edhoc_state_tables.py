"""Every input kind thrown at every state of both EDHOC state machines.

The connection's steps are replaced by spies, so that the test checks the dispatcher
and the tables themselves: a pair in the table runs its step and moves to the table's
next state; any other pair fails closed (FAILED, an EdhocError, and an error message for
the peer unless the input was itself an error message or the session had already
failed) without running any step.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterseal.crypto.suites import SUITE_2
from meterseal.edhoc import (
    Initiator,
    InitiatorConfig,
    InitiatorState,
    Method,
    Responder,
    ResponderConfig,
    ResponderState,
)
from meterseal.edhoc.events import Event, Retransmission
from meterseal.edhoc.machine import INITIATOR, RESPONDER, Input, Role
from meterseal.edhoc.testing import make_identity
from meterseal.errors import EdhocError

IDENTITY = make_identity(SUITE_2, signs=False, rng=os.urandom, kid=b"\x01")
NO_REPLY_INPUTS = (Input.ERROR, Input.WRONG_SUITE)


class Spy:
    """A step that records its calls and returns a recognisable event."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def __call__(self, context: object, payload: object) -> list[Event]:
        del context
        self.calls.append(payload)
        return [Retransmission(b"spy")]


def spied(role: Role[Any, Any], spy: Spy) -> Role[Any, Any]:
    table = {pair: (spy, next_state) for pair, (_, next_state) in role.table.items()}
    return Role(table, role.start, role.failed, role.keyed)


def connection(role_name: str, state: Any, spy: Spy) -> Initiator | Responder:
    party: Initiator | Responder
    if role_name == "initiator":
        party = Initiator(InitiatorConfig(IDENTITY, Method.STATIC_STATIC, (SUITE_2,)), os.urandom)
        party._role = spied(INITIATOR, spy)
    else:
        party = Responder(ResponderConfig((SUITE_2,)), os.urandom)
        party._role = spied(RESPONDER, spy)
    party._state = state
    return party


PAIRS = [("initiator", state, kind) for state in InitiatorState for kind in Input] + [
    ("responder", state, kind) for state in ResponderState for kind in Input
]


def test_tables_only_name_their_own_states() -> None:
    for role, states in ((INITIATOR, InitiatorState), (RESPONDER, ResponderState)):
        for (state, kind), (_, next_state) in role.table.items():
            assert isinstance(state, states)
            assert isinstance(next_state, states)
            assert isinstance(kind, Input)


def test_only_failed_has_no_way_out() -> None:
    for role, states in ((INITIATOR, InitiatorState), (RESPONDER, ResponderState)):
        sources = {state for state, _ in role.table}
        assert set(states) - sources == {role.failed}


@pytest.mark.parametrize(("role_name", "state", "kind"), PAIRS)
@settings(max_examples=5, deadline=None)
@given(payload=st.one_of(st.none(), st.binary(max_size=64), st.text(max_size=8)))
def test_every_input_in_every_state(
    role_name: str, state: Any, kind: Input, payload: object
) -> None:
    spy = Spy()
    party = connection(role_name, state, spy)
    role = INITIATOR if role_name == "initiator" else RESPONDER
    entry = role.table.get((state, kind))
    if entry is not None:
        assert party._dispatch(kind, payload) == [Retransmission(b"spy")]
        assert spy.calls == [payload]
        assert party.state is entry[1]
        return
    with pytest.raises(EdhocError, match=f"unexpected {kind.name} in state {state.name}"):
        party._dispatch(kind, payload)
    assert spy.calls == []
    assert party.state is role.failed
    replies = state is not role.failed and kind not in NO_REPLY_INPUTS
    assert (party.error_message is not None) == replies
