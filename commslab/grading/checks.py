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
import math
import re

import numpy as np

from commslab.grading.written import filler_problem, own_words

__all__ = [
    "LEDGER_POINTS",
    "CheckFailed",
    "Pending",
    "expect",
    "expect_close",
    "expect_pair",
    "is_pending",
    "ledger_check",
    "ledger_test_cases",
    "mission_answers_for",
    "numbers",
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


def _how_far(got: float, expected: float) -> str:
    if expected == 0:
        return "should be 0 but is not"
    ratio = got / expected
    if ratio <= 0:
        return "has the wrong sign"
    if ratio > 10 or ratio < 0.1:
        return "is off by more than a factor of 10"
    percent = abs(ratio - 1) * 100
    if percent >= 10:
        amount = f"{percent:.0f}%"
    elif percent >= 0.01:
        amount = f"{percent:.2g}%"
    else:
        amount = "a tiny amount"
    return f"is {amount} too {'large' if ratio > 1 else 'small'}"


def expect_close(
    got,
    expected,
    *,
    what: str,
    where: str = "",
    hint: str = "",
    rtol: float = 1e-6,
    atol: float = 0.0,
) -> None:
    """got ≈ expected elementwise (|got − expected| ≤ atol + rtol·|expected|), same shape.

    what: the call in words, e.g. "ring_allreduce_time(M, N, α, β)"; where: the input in
    words (no hidden values); hint: what to check when it is off.
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


def ledger_check(field, ledger: dict | None, expected) -> None:
    """One LEDGER entry against the reference, with the field's tolerance (LedgerField)."""
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
    expect(isinstance(got, float | int) and not isinstance(got, bool), f"{label} must be a number")
    if field.kind == "int":
        expect(float(got).is_integer(), f"{label} must be a whole number")
        expect(int(got) == int(expected), f"{label} is not right for your scenario")
        return
    tolerance = field.rel_tol if field.rel_tol > 0 else 1e-9
    if not math.isclose(float(got), float(expected), rel_tol=tolerance, abs_tol=1e-300):
        how = _how_far(float(got), float(expected))
        raise CheckFailed(f"{label} {how} for your scenario (tolerance {tolerance:.2g})")


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
            expected = mission_answers_for(scenario)[field.key] if field.graded else None
            ledger_check(field, submission.ledger, expected)

        points = None if field.graded else 0
        return test_case(name=field.key, points=points, hidden=True)(check)

    return {f"ledger_{field.key}": case_for(field) for field in ledger_fields(track)}


# --- written answers -------------------------------------------------------------------------

MIN_WORDS = 25
LATENCY = re.compile(r"latenc|2\s*\(\s*N\s*[-−–]\s*1\s*\)\s*(α|alpha|\\alpha|a\b)", re.I)


def written_problem(grade_id: str, text: str | None, templates: list[str] = ()) -> str:
    """Why a written answer earns no point ("" if it has substance).

    Substance: not filler (commslab.grading.written: the question, the placeholder, lorem
    ipsum, repeated text), at least MIN_WORDS words of the student's own, and for
    reflect_part1 the latency term.
    """
    problem = filler_problem(text, templates)
    if problem:
        return problem
    count = len(own_words(str(text)))
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
