"""Smoke tests of the handshake and record benchmarks: they run and report positive
rates. Speed itself is never asserted."""

from __future__ import annotations

import queue
import threading

import pytest

from meterseal.bench import handshake
from meterseal.bench.handshake import (
    HandshakeBench,
    HandshakeBenchError,
    Window,
    contention_warning,
    least_contended_windows,
    overlap,
    parallel_windows,
    worker,
)
from meterseal.bench.records import layer_factories, open_rate, round_rate, sealed_records
from meterseal.crypto.suites import SUITE_0, SUITE_2, SUITE_GMT, CipherSuite
from meterseal.edhoc.machine import InitiatorState, ResponderState
from meterseal.edhoc.messages import Method


def test_one_bench_handshake_completes_on_both_sides() -> None:
    run = HandshakeBench(SUITE_2, Method.SIGN_SIGN).once()
    assert run.initiator.state is InitiatorState.COMPLETED
    assert run.responder.state is ResponderState.COMPLETED
    assert len(run.messages) == 3  # no message_4


def test_a_worker_reports_a_positive_rate_for_each_case() -> None:
    results: queue.SimpleQueue[tuple[int, object]] = queue.SimpleQueue()
    cases = [(SUITE_0.value, Method.STATIC_STATIC.value), (SUITE_2.value, Method.SIGN_SIGN.value)]
    worker(cases, 0.02, threading.Barrier(1), results)
    reported = [results.get_nowait() for _ in cases]
    assert [index for index, _ in reported] == [0, 1]
    for _, payload in reported:
        assert isinstance(payload, tuple)
        assert Window(*payload).rate > 0


def test_a_failing_worker_reports_the_error_and_breaks_the_barrier() -> None:
    results: queue.SimpleQueue[tuple[int, object]] = queue.SimpleQueue()
    barrier = threading.Barrier(1)
    with pytest.raises(ValueError, match="not a valid Method"):
        worker([(SUITE_0.value, 99)], 0.02, barrier, results)
    index, message = results.get_nowait()
    assert index == -1
    assert "not a valid Method" in str(message)
    assert barrier.broken


def test_two_processes_run_the_same_case_concurrently() -> None:
    (windows,) = parallel_windows([(SUITE_0.value, Method.STATIC_STATIC.value)], 0.2)
    assert len(windows) == 2
    assert all(window.handshakes > 0 and window.rate > 0 for window in windows)


def test_a_failure_in_a_worker_process_is_raised_in_the_parent() -> None:
    with pytest.raises(HandshakeBenchError, match="not a valid Method"):
        parallel_windows([(SUITE_0.value, 99)], 0.05)


def test_overlap_is_the_shared_fraction_of_the_longest_window() -> None:
    assert overlap([Window(1, 0.0, 1.0, 1.0), Window(1, 0.5, 1.5, 1.0)]) == pytest.approx(0.5)
    assert overlap([Window(1, 0.0, 1.0, 1.0), Window(1, 2.0, 3.0, 1.0)]) == 0.0


def test_cpu_share_is_cpu_time_over_wall_time() -> None:
    assert Window(10, 1.0, 3.0, 1.5).cpu_share == pytest.approx(0.75)
    assert Window(10, 1.0, 3.0, 1.5).rate == pytest.approx(5.0)


@pytest.mark.parametrize("suite", [SUITE_2, SUITE_GMT], ids=lambda s: s.record_aead.name)
def test_record_benchmarks_open_what_they_seal(suite: CipherSuite) -> None:
    new_sender, new_receiver = layer_factories(suite)
    records = sealed_records(new_sender, bytes(2 * 1024 * 1024))
    assert len(records) == 8
    assert new_receiver().open(records[0]).payload == bytes(2 * 1024 * 1024)
    assert open_rate(records, new_receiver, 0.01) > 0
    assert round_rate(new_sender(), new_receiver(), b"reading", 0.01) > 0


def test_contention_is_warned_about_in_the_note() -> None:
    side_by_side = [Window(5, 0.0, 1.0, 0.99), Window(5, 0.0, 1.0, 0.98)]
    one_after_the_other = [Window(5, 0.0, 1.0, 1.0), Window(5, 1.0, 2.0, 1.0)]
    sharing_a_core = [Window(5, 0.0, 1.0, 0.5), Window(5, 0.0, 1.0, 0.5)]
    assert contention_warning(side_by_side) == ""
    assert "ran together only 0%" in contention_warning(one_after_the_other)
    assert "only 50% of a core" in contention_warning(sharing_a_core)


def test_a_case_run_on_busy_cores_is_measured_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calm = [Window(9, 0.0, 1.0, 0.99), Window(9, 0.0, 1.0, 0.99)]
    busy = [Window(5, 0.0, 1.0, 0.5), Window(9, 0.0, 1.0, 0.99)]
    busier = [Window(3, 0.0, 1.0, 0.3), Window(9, 0.0, 1.0, 0.99)]
    rounds = iter([[busy, calm], [busier], [calm]])
    asked: list[list[tuple[int, int]]] = []

    def fake(cases: list[tuple[int, int]], _seconds: float) -> list[list[Window]]:
        asked.append(list(cases))
        return next(rounds)

    monkeypatch.setattr(handshake, "parallel_windows", fake)
    windows, again = least_contended_windows([(2, 0), (2, 3)], 1.0)
    assert windows == [calm, calm]
    assert again == {0}
    assert asked == [[(2, 0), (2, 3)], [(2, 0)], [(2, 0)]]
