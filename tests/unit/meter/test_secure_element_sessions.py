"""Record sessions held by the secure element: bounded, released explicitly."""

from __future__ import annotations

import pytest
from se_support import LoggingRng, make_element, session_exporter

from meterseal.crypto.suites import SUITE_2
from meterseal.errors import SecureElementError
from meterseal.meter.se_handles import MAX_SESSIONS
from meterseal.records.wire import RecordType


def test_sessions_are_bounded_and_released() -> None:
    element = make_element([SUITE_2])
    handles = [
        element.install_session(SUITE_2, session_exporter, b"\x37", b"\x27", initiator=True)
        for _ in range(MAX_SESSIONS)
    ]
    with pytest.raises(SecureElementError, match="at most"):
        element.install_session(SUITE_2, session_exporter, b"\x37", b"\x27", initiator=True)
    handles[0].release()
    element.install_session(SUITE_2, session_exporter, b"\x37", b"\x27", initiator=True)


def test_released_session_cannot_be_used() -> None:
    element = make_element([SUITE_2])
    handle = element.install_session(SUITE_2, session_exporter, b"\x37", b"\x27", initiator=True)
    handle.release()
    with pytest.raises(SecureElementError, match="released"):
        handle.seal(b"m")


def test_session_seal_and_open_inside_the_element() -> None:
    meter = make_element([SUITE_2])
    headend = make_element([SUITE_2], LoggingRng(b"head-end"))
    mine = meter.install_session(SUITE_2, session_exporter, b"\x37", b"\x27", initiator=True)
    theirs = headend.install_session(SUITE_2, session_exporter, b"\x37", b"\x27", initiator=False)
    record = theirs.open(mine.seal(b"batch"))
    assert (record.type, record.payload) == (RecordType.APPLICATION_DATA, b"batch")
    assert mine.open(theirs.seal(b"ack")).payload == b"ack"
    assert mine.status.send_seq == 1
