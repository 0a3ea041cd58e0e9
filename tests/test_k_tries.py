"""K_TRIES: the notebook and the grader count tries by one rule (commslab.notebook.rules.tries):
the distinct values, at most 10; a longer list is refused as a whole with what to do, uses no
try, and the honest list that follows works in the same kernel."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

from comms_core.scenarios import scenario_for
from commslab import lab
from commslab.grading.checks import CheckFailed
from commslab.notebook.rules import MAX_TRIES

ROOT = Path(__file__).resolve().parent.parent


def _scenario(student_id: str):
    return scenario_for("edge_guardian", "2026-fall", student_id)


def _hidden_tries_test():
    spec = importlib.util.spec_from_file_location(
        "part2_tries", ROOT / "autograder" / "tests" / "09_part2_tries.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tries_are_the_distinct_listed_k():
    tries, message = lab._tries_allowed(_scenario("ktries-a"), [1, 2, 4, 2])
    assert tries == [1, 2, 4] and message == ""


def test_an_over_long_list_is_refused_whole_and_the_honest_list_then_works():
    """The issue's student: one run with 11 values, then [1, 4, 16, 64, 256]."""
    s = _scenario("ktries-b")
    tries, message = lab._tries_allowed(s, list(range(1, 12)))
    assert tries == []
    assert "11 different values" in message and "remove 1 value" in message
    assert "no try was used" in message and "run the `K_TRIES` cell" in message
    honest, message = lab._tries_allowed(s, [1, 4, 16, 64, 256])
    assert honest == [1, 4, 16, 64, 256] and message == ""
    # repeats count once, by both the notebook and the grader
    assert lab._tries_allowed(s, [*range(1, 11), 3, 3])[0] == list(range(1, 11))


@pytest.mark.parametrize(
    "k_tries",
    [
        [1, 4, 16],
        list(range(1, 11)),
        [*range(1, 11), 5, 5],
        list(range(1, 12)),
        list(range(1, 30)),
        [0],
        [1.5],
        [True],
        "4",
        [],
        None,
    ],
)
def test_the_notebook_and_the_grader_count_tries_the_same_way(k_tries):
    shown, message = lab._tries_allowed(_scenario("ktries-c"), k_tries)
    refused_by_notebook = bool(message) or not shown
    try:
        _hidden_tries_test().tries.test_func(SimpleNamespace(k_tries=k_tries))
        refused_by_grader = False
    except CheckFailed:
        refused_by_grader = True
    assert refused_by_notebook == refused_by_grader
    if not refused_by_grader:
        assert 1 <= len(shown) <= MAX_TRIES


def test_bad_lists_say_what_to_write():
    for bad in ("4", [0], [1.5], [True], 4):
        tries, message = lab._tries_allowed(_scenario("ktries-e"), bad)
        assert tries == [] and "whole numbers" in message
