"""The checks the hidden tests use, the harness's seeds and proxy, the points of each item."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comms_core.scenarios import TRACKS, LedgerField, ledger_fields
from commslab.grading import checks, harness
from commslab.grading.checks import (
    CheckFailed,
    Pending,
    expect_close,
    ledger_check,
    written_problem,
)
from commslab.grading.grade import question_points
from commslab.grading.protocol import Kind, Outcome
from commslab.grading.sandbox import CallResult

AUTOGRADER = os.path.join(os.path.dirname(__file__), "..", "autograder")


def _message(got, expected, **kw) -> str:
    with pytest.raises(CheckFailed) as failure:
        expect_close(got, expected, what="f(x)", **kw)
    return str(failure.value)


def test_expect_close_passes_within_the_tolerance_and_fails_outside() -> None:
    expect_close(1.0 + 1e-7, 1.0, what="f(x)")
    expect_close([1.0, 2.0], np.array([1.0, 2.0 + 1e-9]), what="f(x)")
    expect_close(Pending(), 3.0, what="f(x)")  # the record pass: nothing to check yet
    assert _message(
        1.12, 1.0, where="on a random input with N = 37", hint="check the bandwidth term"
    ) == ("f(x) is 12% too large on a random input with N = 37; check the bandwidth term")
    assert _message(0.5, 1.0) == "f(x) is 50% too small"
    assert _message(1e-9, 0.0) == "f(x) should be 0 but is not"
    assert _message(-1.0, 1.0) == "f(x) has the wrong sign"
    assert _message(50.0, 1.0) == "f(x) is off by more than a factor of 10"
    assert _message(3.0, np.ones(4)) == (
        "f(x) returned one number where an array of 4 was expected: does it work on numpy arrays?"
    )
    assert _message([1.0, 1.5], [1.0, 1.0]) == "f(x) is 50% too large (element 1)"
    assert _message({"a": 1.0}, 1.0) == (
        "f(x) returned a dict; expected a number or an array of numbers"
    )


@settings(max_examples=200, deadline=None)
@given(expected=st.floats(1e-12, 1e12), ratio=st.floats(1e-3, 1e3), power=st.integers(-30, 30))
def test_a_failure_message_does_not_reveal_the_expected_value(expected, ratio, power) -> None:
    """The message depends on got/expected only: scaling both (by a power of two, which is
    exact in floating point) leaves it unchanged, so it cannot contain the expected value."""
    got = expected * ratio
    if abs(got / expected - 1) <= 1e-5:
        return
    assert _message(got * 2.0**power, expected * 2.0**power) == _message(got, expected)


def _field(kind, rel_tol=0.01, choices=()):
    return LedgerField("x", kind, "a field", rel_tol=rel_tol, choices=choices)


def test_ledger_fields_are_checked_with_their_tolerance() -> None:
    number = _field("number", rel_tol=0.01)
    ledger_check(number, {"x": 100.9}, 100.0)
    with pytest.raises(CheckFailed, match=r'LEDGER\["x"\] is 1.2% too large'):
        ledger_check(number, {"x": 101.2}, 100.0)
    shown = _field("number", rel_tol=0.005)  # the fairness rule: 3 significant digits shown
    ledger_check(shown, {"x": 0.0266}, 0.02655)  # what the notebook shows for 0.02655
    ledger_check(shown, {"x": 0.02655}, 0.02655)
    ledger_check(shown, {"x": 0.02664}, 0.02651)  # both show 0.0265 / within 0.5%
    ledger_check(shown, {"x": 1.004e6}, 1e6)  # within 0.5%
    for bad in (0.0268, 0.0263, 2.655, float("nan"), float("inf")):
        with pytest.raises(CheckFailed):
            ledger_check(shown, {"x": bad}, 0.02655)
    whole = _field("int", rel_tol=0.0)
    ledger_check(whole, {"x": 4.0}, 4)
    for bad in (4.5, 5.0, "4", True):
        with pytest.raises(CheckFailed):
            ledger_check(whole, {"x": bad}, 4)
    choice = _field("choice", choices=("ring", "tree"))
    ledger_check(choice, {"x": "tree"}, "tree")
    ledger_check(choice, {"x": "ring"}, None)  # a decision: any valid choice
    with pytest.raises(CheckFailed, match="must be one of"):
        ledger_check(choice, {"x": "Ring"}, None)
    flag = _field("bool")
    ledger_check(flag, {"x": True}, True)
    for bad in (1.0, "True", False):
        with pytest.raises(CheckFailed):
            ledger_check(flag, {"x": bad}, True)
    for ledger, why in (
        (None, "missing"),
        ({}, "missing"),
        ({"x": None}, "missing"),
        ({"x": {"invalid": "not a number or a choice (A)"}}, "not a number"),
        ({"invalid": "LEDGER is a list, not a dict"}, "could not be read"),
    ):
        with pytest.raises(CheckFailed, match=why):
            ledger_check(number, ledger, 100.0)


def test_written_answers_need_substance() -> None:
    good = (
        "The ring's latency term 2(N−1)α grows linearly with the number of ranks, so for "
        "small messages it dominates, while its bandwidth term meets the lower bound and "
        "makes it the best choice for large gradients in practice."
    )
    assert written_problem("reflect_part1", good) == ""
    assert written_problem("reflect_part1", None) == "no answer"
    assert written_problem("strategy", "YOUR ANSWER HERE") == "still the placeholder text"
    assert written_problem("strategy", "Ring is fast.").startswith("too short (3 words")
    no_latency = good.replace("latency term 2(N−1)α", "first term")
    assert written_problem("reflect_part1", no_latency).startswith("does not discuss")
    assert written_problem("reflect_part2", no_latency) == ""
    assert written_problem("strategy", good, [good + " Explain."]) == (
        "a copy of the question or the template"
    )


def test_the_cases_are_seeded_by_key_term_student_and_test() -> None:
    def draws(key=b"k", term="2026-fall", sid="1", test="t", label="x"):
        return harness.Cases(key, term, sid, test)(label).random(3).tolist()

    assert draws() == draws()  # deterministic: grading twice gives the same inputs
    assert draws(sid=" 1 ") == draws()  # ids are normalised like the scenarios'
    for other in (
        draws(key=b"other"),
        draws(term="2027-spring"),
        draws(sid="2"),
        draws(test="u"),
        draws(label="y"),
    ):
        assert other != draws()


def test_the_proxy_records_then_replays() -> None:
    recorder = harness.StudentProxy()
    first = recorder.ring(1.0, np.array([2, 3]))
    assert isinstance(first, Pending)
    runs = recorder.iterate("step", [(np.ones(2), None)] * 3, carry=(1, 1), initial=np.zeros(2))
    assert len(runs) == 3 and all(isinstance(r, Pending) for r in runs)
    calls = list(recorder.calls.values())
    assert calls[0]["args"] == [1.0, {"array": [2.0, 3.0]}]
    assert calls[1]["iterate"]["carry"] == [1, 1]
    results = {
        calls[0]["id"]: CallResult(Outcome(Kind.OK), [4.0, 5.0]),
        calls[1]["id"]: CallResult(Outcome(Kind.OK), [[[1.0], [2.0]]] * 3),
    }
    replay = harness.StudentProxy(results)
    np.testing.assert_array_equal(replay.ring(1.0, np.array([2, 3])), [4.0, 5.0])
    assert (
        len(replay.iterate("step", [(np.ones(2), None)] * 3, carry=(1, 1), initial=np.zeros(2)))
        == 3
    )
    with pytest.raises(harness.GraderError):
        replay.ring(9.0)  # not recorded: a bug in a test, never the student's fault
    failing = harness.StudentProxy({calls[0]["id"]: CallResult(Outcome(Kind.TIMED_OUT))})
    with pytest.raises(harness.StudentCallError, match="did not finish in time"):
        failing.ring(1.0, np.array([2, 3]))


def test_every_track_is_worth_the_same_and_the_items_have_their_points() -> None:
    points = question_points(AUTOGRADER)
    assert points == {
        "ring_allreduce_time": 3,
        "tree_allreduce_time": 3,
        "crossover_message_size": 3,
        "hierarchical_allreduce_time": 3,
        "hierarchical_breakdown": 2,
        "one_bit_compress": 3,
        "error_feedback_step": 3,
        "predictions": 3,
        "part2_tries": 2,
        "ledger": checks.LEDGER_POINTS,
        "written": 4,
    }
    for track in TRACKS:
        ledger = next(
            f for f in harness.load_test_files(f"{AUTOGRADER}/tests", track) if f.name == "ledger"
        )
        graded = [f for f in ledger_fields(track) if f.graded]
        shares = {tc.name: tc.points for tc in ledger.test_cases}
        assert set(shares) == {f.key for f in ledger_fields(track)}
        for f in ledger_fields(track):
            want = checks.LEDGER_POINTS / len(graded) if f.graded else 0
            assert math.isclose(shares[f.key], want)


def test_the_instructor_key_is_created_once_and_private(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(harness.KEY_ENV, raising=False)
    key = harness.instructor_key(tmp_path)
    assert len(key) == 64 and harness.instructor_key(tmp_path) == key
    assert (tmp_path / "instructor.key").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv(harness.KEY_ENV, "from-the-environment")
    assert harness.instructor_key(tmp_path) == b"from-the-environment"
    monkeypatch.delenv(harness.KEY_ENV)
    with pytest.raises(harness.GraderError):
        harness.instructor_key(tmp_path / "nowhere", create=False)
