"""The supervisor's restart decisions: backoff doubling to a cap, the crash-loop cap over a
sliding window, and how a worker's end is described in the log."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterseal.headend.supervisor import RestartPolicy, describe_exit

POLICY = RestartPolicy(base=0.5, cap=30.0, max_restarts=5, window=60.0)


def test_headend_supervisor_policy_first_restart_waits_base() -> None:
    assert POLICY.decide([], now=100.0) == 0.5


def test_headend_supervisor_policy_doubles_per_recent_restart() -> None:
    delays = [POLICY.decide([1.0, 2.0, 3.0][:n], now=4.0) for n in range(4)]
    assert delays == [0.5, 1.0, 2.0, 4.0]


def test_headend_supervisor_policy_delay_is_capped() -> None:
    policy = RestartPolicy(base=1.0, cap=3.0, max_restarts=10, window=60.0)
    assert policy.decide([1.0, 2.0, 3.0, 4.0], now=5.0) == 3.0


def test_headend_supervisor_policy_forgets_restarts_older_than_the_window() -> None:
    assert POLICY.decide([0.0, 1.0, 2.0, 3.0, 4.0], now=64.5) == 0.5


def test_headend_supervisor_policy_gives_up_after_max_restarts_in_the_window() -> None:
    assert POLICY.decide([10.0, 11.0, 12.0, 13.0, 14.0], now=15.0) is None


def test_headend_supervisor_policy_with_no_restarts_allowed_never_restarts() -> None:
    assert RestartPolicy(max_restarts=0).decide([], now=0.0) is None


@pytest.mark.parametrize(
    "settings",
    [{"base": 0.0}, {"base": 2.0, "cap": 1.0}, {"window": 0.0}, {"max_restarts": -1}],
)
def test_headend_supervisor_policy_rejects_nonsense(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"restart|max_restarts"):
        RestartPolicy(**settings)  # type: ignore[arg-type]


def crash_loop(policy: RestartPolicy, start_cost: float) -> list[float]:
    """The restart times of a slot whose worker dies ``start_cost`` seconds after each
    start, until the policy gives it up (or 100 restarts: backoff longer than the window
    never hits the cap)."""
    now, restarts = 0.0, list[float]()
    while len(restarts) < 100 and (delay := policy.decide(restarts, now)) is not None:
        now += delay
        restarts.append(now)
        now += start_cost
    return restarts


def test_headend_supervisor_policy_crash_loop_restarts_max_restarts_times() -> None:
    restarts = crash_loop(POLICY, start_cost=0.2)
    assert len(restarts) == 5
    gaps = [b - a for a, b in zip([0.0, *restarts], restarts, strict=False)]
    assert gaps == pytest.approx([0.5, 1.2, 2.2, 4.2, 8.2])


@given(
    base=st.floats(0.01, 5.0),
    factor=st.floats(1.0, 100.0),
    max_restarts=st.integers(0, 8),
    window=st.floats(1.0, 120.0),
    start_cost=st.floats(0.0, 10.0),
)
def test_headend_supervisor_policy_never_exceeds_its_limits(
    base: float, factor: float, max_restarts: int, window: float, start_cost: float
) -> None:
    policy = RestartPolicy(base=base, cap=base * factor, max_restarts=max_restarts, window=window)
    restarts = crash_loop(policy, start_cost)
    for at in restarts:
        in_window = [t for t in restarts if at - window < t <= at]
        assert len(in_window) <= max_restarts
    for previous, current in itertools.pairwise(restarts):
        assert current - previous <= policy.cap + start_cost + 1e-9


@pytest.mark.parametrize(
    ("exitcode", "described"),
    [(-9, "signal SIGKILL"), (-15, "signal SIGTERM"), (3, "exit code 3"), (None, "unknown")],
)
def test_headend_supervisor_describes_how_a_worker_ended(
    exitcode: int | None, described: str
) -> None:
    assert describe_exit(exitcode).startswith(described)
