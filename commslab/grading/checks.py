"""What the hidden tests use to judge the student's results: checks with honest messages.

A failed check raises CheckFailed with a message that says what was wrong and where, never the
expected value: "ring_allreduce_time(M, N, α, β) is 12% too large on a random input with
N = 37; check the bandwidth term". Values from the student arrive as plain JSON numbers
(commslab.grading.probe), so every comparison here runs on floats the grader made itself.

During the record pass (commslab.grading.harness) the student's results are `Pending`
placeholders: every check returns at once, so a test records all its calls.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import cast

import numpy as np

from commslab.grading.written import filler_problem, own_words
from commslab.notebook.rules import MAX_TRIES, number_problem, shown_match, whole_k
from commslab.notebook.rules import how_far as _how_far

__all__ = [
    "LEDGER_POINTS",
    "MAX_TRIES",
    "CheckFailed",
    "Pending",
    "expect",
    "expect_close",
    "expect_pair",
    "is_pending",
    "k_check",
    "ledger_check",
    "ledger_test_cases",
    "mission_answers_for",
    "numbers",
    "shown_match",
    "whole_k",
    "written_problem",
]


class CheckFailed(AssertionError):
    """A check on the student's work failed; the message is shown to the student."""


class Pending:
    """A student's result before the probe ran (record pass): any use gives more Pending."""

    def __getitem__(self, key) -> Pending:
        return Pending()

    def __iter__(self):
        return iter((Pending(), Pending()))  # tuple unpacking of a pair (sent, residual)

    def __repr__(self) -> str:
        return "<pending>"


def is_pending(*values) -> bool:
    return any(isinstance(v, Pending) for v in values)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def numbers(got, what: str) -> np.ndarray:
    """The student's result as a float array, or CheckFailed saying what it was instead."""
    if isinstance(got, dict):
        raise CheckFailed(f"{what} returned a dict; expected a number or an array of numbers")
    try:
        arr = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} returned something that is not an array of numbers") from None
    return arr


def expect_close(
    got,
    expected,
    *,
    what: str,
    where: str = "",
    hint: str = "",
    rtol: float = 1e-6,
    atol: float = 0.0,
    known: tuple[str, tuple] | None = None,
) -> None:
    """got ≈ expected elementwise (|got − expected| ≤ atol + rtol·|expected|), same shape.

    what: the call in words, e.g. "ring_allreduce_time(M, N, α, β)"; where: the input in
    words (no hidden values); hint: what to check when it is off. known = (function, args):
    a miss that equals a known wrong formula on args is named from the misconception
    catalogue (commslab.notebook.misconceptions) instead of the hint.
    """
    if is_pending(got):
        return
    arr = numbers(got, what)
    want = np.asarray(expected, dtype=float)
    at = f" {where}" if where else ""
    tail = f"; {hint}" if hint else ""
    if arr.shape != want.shape and not (arr.size == 1 and want.size == 1):
        if want.ndim > 0 and arr.ndim == 0:
            raise CheckFailed(
                f"{what} returned one number{at} where an array of "
                f"{want.size} was expected: does it work on numpy arrays?"
            )
        raise CheckFailed(f"{what} returned shape {arr.shape}{at}; expected shape {want.shape}")
    arr, want = arr.reshape(want.shape), want
    excess = np.abs(arr - want) - (atol + rtol * np.abs(want))
    if not (excess > 0).any():
        return
    i = tuple(int(j) for j in np.unravel_index(int(np.argmax(excess)), want.shape))
    place = f" (element {list(i) if len(i) > 1 else i[0]})" if want.ndim else ""
    if known is not None:
        from commslab.notebook.misconceptions import diagnose

        mistake = diagnose(known[0], known[1], arr)
        if mistake is not None:
            tail = "; " + mistake.message()
    raise CheckFailed(f"{what} {_how_far(float(arr[i]), float(want[i]))}{at}{place}{tail}")


def expect_pair(got, what: str):
    """A pair (first, second) of equal-length arrays, as a (2, d) float array."""
    if is_pending(got):
        return Pending(), Pending()
    if isinstance(got, list) and len(got) == 2:
        first, second = numbers(got[0], what), numbers(got[1], what)
        expect(first.shape == second.shape, f"{what} must return two arrays of the same shape")
        return first, second
    arr = numbers(got, what)
    expect(
        arr.ndim >= 1 and arr.shape[0] == 2,
        f"{what} must return a pair (sent, new_residual), got shape {arr.shape}",
    )
    return arr[0], arr[1]


# --- the ledger ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _answers(track: str, term: str, student_id: str) -> dict:
    from comms_core.scenarios import scenario_for
    from commslab.grading.answers import mission_answers

    return mission_answers(scenario_for(track, term, student_id))


def mission_answers_for(scenario) -> dict:
    """mission_answers(scenario), computed once per (track, term, id) in this process."""
    return _answers(scenario.track.key, scenario.term, scenario.student_id)


def _as_bool(value):
    return value if isinstance(value, bool) else None


def _sync_time(s) -> float:
    """T_hier of the scenario's model gradient (the AllReduce of Part 2's k), seconds, by the
    track's physical model (comms_core.shared_medium.part2_allreduce_time)."""
    from comms_core.shared_medium import part2_allreduce_time

    return float(part2_allreduce_time(s, s.M_model))


TRIES_WITHIN = 0.05  # the tries rule: a k whose time to train is within 5% of the optimum


def time_to_train_excess(s, k: int) -> float:
    """f(k)/f(k*) − 1 for the scenario's Part 2 (comms_core.time_to_train): 0 at the optimum."""
    from comms_core import cost_models as ref

    T_hier, P = _sync_time(s), s.G * s.K
    best = ref.optimal_accumulation_steps(T_hier, s.t_compute, s.micro_batch, P, s.B_noise)
    f_best = ref.time_to_train(best, T_hier, s.t_compute, s.micro_batch, P, s.B_noise)
    f_k = ref.time_to_train(int(k), T_hier, s.t_compute, s.micro_batch, P, s.B_noise)
    return float(f_k / f_best - 1)


def student_k(s, ledger: dict | None) -> int:
    """The k the student's numbers are graded at: LEDGER["accumulation_steps"] when it is a
    whole number ≥ 1, else the optimum (the k field itself then fails on its own)."""
    k = (ledger or {}).get("accumulation_steps")
    if isinstance(k, int | float) and whole_k(k):
        return int(k)
    return int(mission_answers_for(s)["accumulation_steps"])


def expected_at_k(s, key: str, k: int) -> float:
    """A number that depends on the student's k, computed at that k."""
    if key == "comm_to_compute_ratio":
        return _sync_time(s) / (k * s.t_compute)
    raise KeyError(f"no rule for {key!r} at the student's k")


@functools.lru_cache(maxsize=64)
def _deadline_choices(track: str, term: str, student_id: str) -> tuple[str, ...]:
    from comms_core.jitter import edge_jitter_summary
    from comms_core.scenarios import scenario_for

    return edge_jitter_summary(scenario_for(track, term, student_id)).accepted


def deadline_choices_accepted(s) -> tuple[str, ...]:
    """Edge Guardian: every algorithm whose miss probability is within Monte-Carlo noise of the
    best one's (comms_core.jitter.within_noise: 4 standard errors, JITTER_TRIALS syncs each).
    Each of them is accepted, so no graded choice is decided by noise."""
    return _deadline_choices(s.track.key, s.term, s.student_id)


def ledger_check(field, ledger: dict | None, expected) -> None:
    """One LEDGER entry against the reference, with the fairness rule (shown_match).

    expected is None for a choice that is not graded (or that noise cannot decide)."""
    key = field.key
    if ledger is None:
        raise CheckFailed("LEDGER is missing or could not be read")
    if "invalid" in ledger and len(ledger) == 1:
        raise CheckFailed(f"LEDGER could not be read: {ledger['invalid']}")
    if key not in ledger or ledger[key] is None:
        raise CheckFailed(f'LEDGER["{key}"] is missing')
    got = ledger[key]
    if isinstance(got, dict):
        raise CheckFailed(f'LEDGER["{key}"] is {got.get("invalid", "not readable")}')
    label = f'LEDGER["{key}"]'
    if field.kind == "choice":
        expect(
            isinstance(got, str) and got in field.choices,
            f"{label} must be one of {', '.join(map(repr, field.choices))}",
        )
        if expected is not None:
            expect(got == expected, f"{label} is not the right choice for your scenario")
        return
    if field.kind == "bool":
        expect(_as_bool(got) is not None, f"{label} must be True or False")
        expect(got == expected, f"{label} is not right for your scenario")
        return
    problem = number_problem(field, got, float(expected))  # the rule the public check applies
    expect(not problem, problem)


def k_check(s, ledger: dict | None, k_tries) -> None:
    """The tries rule: the chosen k is one of the (at most 10) K_TRIES and its time to train
    is within TRIES_WITHIN of the optimum of the student's scenario."""
    k = (ledger or {}).get("accumulation_steps")
    expect(whole_k(k), 'LEDGER["accumulation_steps"] must be your chosen k, a whole number ≥ 1')
    listed = k_tries if isinstance(k_tries, list) else []  # an over-long list: its own test
    expect(k in listed, "your chosen k is not one of your K_TRIES")
    k = int(cast(float, k))  # a whole number ≥ 1 (checked above)
    excess = time_to_train_excess(s, k)
    expect(
        excess <= TRIES_WITHIN,
        f"with k = {k} the time to train is {100 * excess:.0f}% above the best k for "
        f"your scenario (allowed: {TRIES_WITHIN:.0%})",
    )


LEDGER_POINTS = 6  # per track, shared by its graded fields, so every track has the same total


def ledger_test_cases(track: str) -> dict:
    """otter test cases for a track's LEDGER: one per field (comms_core ledger_fields).

    Graded fields share LEDGER_POINTS (the file's `points`); decision fields (graded=False)
    are worth 0 and only say whether the value is a valid choice.
    """
    from otter.test_files import test_case

    from comms_core.scenarios import ledger_fields

    def case_for(field):
        def check(submission, scenario):  # otter passes env entries by parameter name
            expect(
                scenario is not None,
                "TRACK is not one of the four tracks: the ledger cannot be checked",
            )
            if field.kind == "k":
                k_check(scenario, submission.ledger, submission.k_tries)
                return
            expected = mission_answers_for(scenario)[field.key] if field.graded else None
            if field.at_your_k:
                k = student_k(scenario, submission.ledger)
                expected = expected_at_k(scenario, field.key, k)
            if field.key == "deadline_algorithm" and (submission.ledger or {}).get(
                field.key
            ) in deadline_choices_accepted(scenario):
                expected = None  # within noise of the best: accepted
            ledger_check(field, submission.ledger, expected)

        points = None if field.graded else 0
        return test_case(name=field.key, points=points, hidden=True)(check)

    return {f"ledger_{field.key}": case_for(field) for field in ledger_fields(track)}


# --- written answers -------------------------------------------------------------------------

MIN_WORDS = 25
LATENCY = re.compile(r"latenc|2\s*\(\s*N\s*[-−–]\s*1\s*\)\s*(α|alpha|\\alpha|a\b)", re.I)


def written_problem(grade_id: str, text: str | None, templates: Sequence[str] = ()) -> str:
    """Why a written answer earns no point ("" if it has substance).

    Substance: not filler (commslab.grading.written: the question, the placeholder, lorem
    ipsum, repeated text, each also in look-alike letters), at least MIN_WORDS words of the
    student's own (not the question's, not lorem ipsum), and for reflect_part1 the latency
    term.
    """
    problem = filler_problem(text, templates)
    if problem:
        return problem
    count = len(own_words(str(text), templates))
    if count < MIN_WORDS:
        return f"too short ({count} words; write at least {MIN_WORDS})"
    if grade_id == "reflect_part1" and not LATENCY.search(str(text)):
        return "does not discuss the latency term 2(N−1)α"
    return ""


# --- random inputs for the hidden tests (ranges cover the four tracks' scenarios) ----------


def log_uniform(rng, low: float, high: float, size=None):
    """Draws spread evenly over orders of magnitude, from low to high."""
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def draw_link(rng) -> tuple[float, int, float, float]:
    """(M bytes, N ranks, α seconds, β bytes/s) for the ring and tree cost functions."""
    return (
        float(log_uniform(rng, 1e3, 2e11)),
        int(rng.integers(4, 4097)),
        float(log_uniform(rng, 1e-7, 3e-2)),
        float(log_uniform(rng, 5e4, 1e12)),
    )


def draw_hierarchy(rng, smallest: int = 2) -> tuple:
    """(M, G, K, α_intra, β_intra, α_inter, β_inter) with β_intra ≥ β_inter (the fast link)."""
    beta_inter = float(log_uniform(rng, 5e4, 5e10))
    return (
        float(log_uniform(rng, 1e4, 2e11)),
        int(rng.integers(smallest, 17)),
        int(rng.integers(smallest, 257)),
        float(log_uniform(rng, 1e-7, 5e-3)),
        beta_inter * float(log_uniform(rng, 1, 100)),
        float(log_uniform(rng, 1e-6, 3e-2)),
        beta_inter,
    )
