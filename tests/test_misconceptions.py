"""A test per typical mistake: the public check fails with its hint, and the hidden tests'
feedback names the misconception (one catalogue: commslab.notebook.misconceptions).

The wrong functions are written the way a student writes them; the hidden tests run through
the real record/replay harness, with the student's calls evaluated in-process as the probe
would (non-finite results are refused as "not a number").
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from comms_core import cost_models as ref
from comms_core.compression import one_bit_compress as C
from commslab.grading.harness import SubmissionView, run_hidden_tests
from commslab.grading.protocol import Kind, Outcome
from commslab.grading.sandbox import CallResult
from commslab.notebook.checker import Checker
from commslab.notebook.misconceptions import CATALOGUE, diagnose

ROOT = Path(__file__).resolve().parent.parent
KEY = b"misconception-test-key"

RIGHT = {
    "ring_allreduce_time": ref.ring_allreduce_time,
    "tree_allreduce_time": ref.tree_allreduce_time,
    "crossover_message_size": ref.crossover_message_size,
    "hierarchical_allreduce_time": ref.hierarchical_allreduce_time,
    "hierarchical_breakdown": ref.hierarchical_breakdown,
    "one_bit_compress": C,
    "error_feedback_step": lambda g, e: (C(np.add(g, e)), np.add(g, e) - C(np.add(g, e))),
}
PART = {
    "ring_allreduce_time": ("part1", "01_ring_allreduce_time"),
    "tree_allreduce_time": ("part1", "02_tree_allreduce_time"),
    "crossover_message_size": ("part1", "03_crossover_message_size"),
    "hierarchical_allreduce_time": ("part2", "04_hierarchical_allreduce_time"),
    "one_bit_compress": ("part3", "06_one_bit_compress"),
    "error_feedback_step": ("part3", "07_error_feedback_step"),
}


def student_function(m):
    """The student's function with the mistake (a pair for error_feedback_step)."""
    if m.function == "error_feedback_step":
        compressed_g_only = "left out" in m.mistake
        unscaled = "unscaled" in m.mistake

        def step(g, e):
            g, e = np.asarray(g, dtype=float), np.asarray(e, dtype=float)
            sent = C(g) if compressed_g_only else C(g + e)
            if unscaled:
                sent = np.where(g + e >= 0, 1.0, -1.0)
            return sent, m.formula(g, e)

        return step
    return m.formula


def public_messages(functions: dict, part: str) -> str:
    namespace = {"np": np, "math": math, **functions}
    return repr(Checker(namespace).check(part))


def hidden_messages(functions: dict, test_file: str) -> str:
    """The hidden test file's failure messages for these student functions."""

    def evaluate(calls):
        results = {}
        for spec in calls:
            if "iterate" in spec:
                results[spec["id"]] = CallResult(Outcome(Kind.ERROR, "not evaluated in this test"))
                continue
            args = [np.array(a["array"]) if isinstance(a, dict) else a for a in spec["args"]]
            try:
                value = functions[spec["function"]](*args)
            except Exception as err:
                results[spec["id"]] = CallResult(
                    Outcome(Kind.ERROR, f"{type(err).__name__}: {err}")
                )
                continue
            if isinstance(value, dict):  # hierarchical_breakdown
                value = {k: float(v) for k, v in value.items()}
                results[spec["id"]] = CallResult(Outcome(Kind.OK), value)
                continue
            value = value if isinstance(value, tuple) else (value,)
            arrays = [np.asarray(v, dtype=float) for v in value]
            if not all(np.isfinite(a).all() for a in arrays):
                why = f"{spec['function']} returned nan or inf"
                results[spec["id"]] = CallResult(Outcome(Kind.NOT_A_NUMBER, why))
                continue
            plain = [a.tolist() for a in arrays]
            value = plain if len(plain) > 1 else plain[0]
            results[spec["id"]] = CallResult(Outcome(Kind.OK), value)
        return results, {}

    folder = ROOT / "autograder" / "tests"
    view = SubmissionView(lms_id="4242", notebook_id="4242", track="cloud_titan", term="2026-fall")
    with_one_file = folder / f"{test_file}.py"
    result = run_hidden_tests(view, tests_dir=folder, key=KEY, scenario=None, evaluate=evaluate)
    files = [f for f in result.test_files if Path(f.path).resolve() == with_one_file.resolve()]
    return "\n".join(str(r.message) for f in files for r in f.test_case_results if not r.passed)


@pytest.mark.parametrize("m", CATALOGUE, ids=lambda m: f"{m.function}:{m.mistake}")
def test_the_public_check_names_the_mistake(m):
    functions = dict(RIGHT) | {m.function: student_function(m)}
    part, _ = PART[m.function]
    shown = public_messages(functions, part)
    assert "failed" in shown.lower()
    if "guard" in m.mistake:  # nan at N = 1: said as the edge case to fix
        assert "N = 1" in shown
    else:
        assert m.mistake in shown, shown


@pytest.mark.parametrize("m", CATALOGUE, ids=lambda m: f"{m.function}:{m.mistake}")
def test_the_hidden_feedback_names_the_mistake(m):
    functions = dict(RIGHT) | {m.function: student_function(m)}
    _, test_file = PART[m.function]
    said = hidden_messages(functions, test_file)
    assert said, "the hidden test did not fail"
    if "guard" in m.mistake:
        assert "nan" in said or "not a number" in said
    elif "unscaled" in m.mistake:  # the sent check speaks first and names the compressor
        assert "compressed vector matches the formula with no scale" in said
    elif "coarse" in m.mistake or m.mistake.startswith("the residual left"):
        assert said  # fails; the sent check speaks first with its own hint
    else:
        assert m.mistake in said, said


def test_math_ceil_on_arrays_is_named():
    def tree(M, N, alpha, beta):
        return 2 * math.ceil(math.log2(N)) * (alpha + M / beta)

    shown = public_messages(dict(RIGHT) | {"tree_allreduce_time": tree}, "part1")
    assert "np.ceil" in shown and "math.ceil" in shown


def test_right_answers_match_no_misconception_and_pass():
    assert diagnose("ring_allreduce_time", (1e6, 64, 1e-5, 1e10), 1456.875e-6) is None
    for part in ("part1", "part2", "part3"):
        assert "failed" not in public_messages(RIGHT, part).lower()


def test_no_public_message_cites_a_worked_example_that_does_not_exist():
    text = "".join(p.read_text() for p in (ROOT / "commslab/notebook/public_tests").glob("*.py"))
    assert "worked example in Part 1" not in text


# --- the four typical mistakes, written the way a student writes them ------------------------


def ring_without_the_factor(M, N, alpha, beta):
    return 2 * (N - 1) * alpha + M / beta  # forgot 2(N−1)/N on the bandwidth term


def crossover_sign_flipped(N, alpha, beta):
    L = np.ceil(np.log2(N))
    M = alpha * beta * (L - (N - 1)) / (L - (N - 1) / N)  # moved the terms, lost a sign
    return np.where(N > 3, M, 0.0)


def hierarchical_inter_without_2(M, G, K, alpha_intra, beta_intra, alpha_inter, beta_inter):
    intra = 2 * (G - 1) * (alpha_intra + M / (G * beta_intra))
    return intra + (K - 1) * (alpha_inter + M / (G * K * beta_inter))


def unscaled_compress(v):
    return np.where(np.asarray(v) >= 0, 1.0, -1.0)


def error_feedback_with_my_compressor(g, e):  # right, but calls the unscaled compressor above
    corrected = np.asarray(g, dtype=float) + np.asarray(e, dtype=float)
    sent = unscaled_compress(corrected)
    return sent, corrected - sent


@pytest.mark.parametrize(
    "function, mine, said",
    [
        ("ring_allreduce_time", ring_without_the_factor, "without 2(N−1)/N"),
        ("crossover_message_size", crossover_sign_flipped, "the sign flipped"),
        ("hierarchical_allreduce_time", hierarchical_inter_without_2, "without its 2"),
        ("one_bit_compress", unscaled_compress, "no scale"),
    ],
)
def test_the_four_typical_mistakes_get_a_hint_that_names_them(function, mine, said):
    functions = dict(RIGHT) | {function: mine}
    part, test_file = PART[function]
    assert said in public_messages(functions, part)
    assert said in hidden_messages(functions, test_file)


def test_an_unscaled_compressor_is_named_as_the_cause_of_the_error_feedback_failure():
    functions = dict(RIGHT) | {
        "one_bit_compress": unscaled_compress,
        "error_feedback_step": error_feedback_with_my_compressor,
    }
    shown = public_messages(functions, "part3")
    assert "no scale" in shown  # the compressor's own check
    assert "the compressor is the cause" in shown  # and the error-feedback check says why
    hidden = hidden_messages(functions, "07_error_feedback_step")
    assert "compressed vector matches the formula with no scale" in hidden
    # with the compressor fixed, the same error_feedback_step passes
    fixed = dict(RIGHT) | {"error_feedback_step": error_feedback_with_my_compressor}
    fixed["one_bit_compress"] = C

    def right_step(g, e):
        corrected = np.asarray(g, dtype=float) + np.asarray(e, dtype=float)
        return C(corrected), corrected - C(corrected)

    fixed["error_feedback_step"] = right_step
    assert "failed" not in public_messages(fixed, "part3").lower()


def test_a_natural_crossover_solution_prints_no_runtime_warning(capfd):
    def crossover(N, alpha, beta):  # divides by zero at N = 1 before np.where drops it
        L = np.ceil(np.log2(N))
        return np.where(N > 3, alpha * beta * (N - 1 - L) / (L - (N - 1) / N), 0.0)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would fail the check
        shown = public_messages(dict(RIGHT) | {"crossover_message_size": crossover}, "part1")
    assert "failed" not in shown.lower()
    captured = capfd.readouterr()
    assert "RuntimeWarning" not in captured.out + captured.err + shown
