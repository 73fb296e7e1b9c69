"""Which migrations are pending, and which databases are refused."""

from __future__ import annotations

import pytest

from meterseal.store import SchemaVersionError
from meterseal.store.migrations import Migration, pending

STEPS = (Migration(1, "one", ("a",)), Migration(2, "two", ("b",)), Migration(3, "three", ()))


def test_a_fresh_database_needs_every_step_in_order() -> None:
    assert [m.version for m in pending(STEPS, set())] == [1, 2, 3]


def test_applied_steps_are_skipped_and_target_limits() -> None:
    assert [m.version for m in pending(STEPS, {1})] == [2, 3]
    assert [m.version for m in pending(STEPS, {1}, target=2)] == [2]
    assert pending(STEPS, {1, 2, 3}) == []


def test_a_version_unknown_here_is_refused() -> None:
    with pytest.raises(SchemaVersionError, match="newer release"):
        pending(STEPS, {1, 2, 3, 4})


def test_steps_out_of_order_are_refused() -> None:
    with pytest.raises(SchemaVersionError, match="strictly increasing"):
        pending((STEPS[1], STEPS[0]), set())
