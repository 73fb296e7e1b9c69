"""Any bytes, in any state: the session answers with events, never with an exception."""

from __future__ import annotations

from collections.abc import Callable

from headend_unit_support import Drive, make_meter, new_session
from hypothesis import given, settings
from hypothesis import strategies as st

from meterseal.framing import FrameKind, encode_frame
from meterseal.headend import SessionClosed, SessionEvent, SessionState

METER = make_meter("FUZZ-1")


def at_message_1() -> Drive:
    return Drive(METER, new_session())


def at_message_3() -> Drive:
    drive = Drive(METER, new_session())
    drive.start()
    return drive


def at_credential() -> Drive:
    drive = Drive(METER, new_session())
    drive.message_3()
    return drive


def at_open() -> Drive:
    drive = Drive(METER, new_session())
    drive.establish()
    return drive


STATES: dict[SessionState, Callable[[], Drive]] = {
    SessionState.AWAIT_MESSAGE_1: at_message_1,
    SessionState.AWAIT_MESSAGE_3: at_message_3,
    SessionState.AWAIT_CREDENTIAL: at_credential,
    SessionState.OPEN: at_open,
}

frame_bodies = st.tuples(st.sampled_from(list(FrameKind)), st.binary(max_size=200))
inputs = st.one_of(
    st.binary(max_size=300),
    st.lists(frame_bodies, max_size=4).map(
        lambda frames: b"".join(encode_frame(kind, body) for kind, body in frames)
    ),
)


def check(events: list[SessionEvent], drive: Drive) -> None:
    closes = [i for i, event in enumerate(events) if isinstance(event, SessionClosed)]
    assert closes in ([], [len(events) - 1])
    if closes:
        assert drive.session.state is SessionState.CLOSED


@settings(max_examples=60, deadline=None)
@given(state=st.sampled_from(list(STATES)), data=inputs)
def test_every_input_in_every_state_gives_events_and_closes_cleanly(
    state: SessionState, data: bytes
) -> None:
    drive = STATES[state]()
    assert drive.session.state is state
    check(drive.session.receive(data), drive)
    check(drive.session.receive(data), drive)
