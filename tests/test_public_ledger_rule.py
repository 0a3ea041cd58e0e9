"""The public ledger check and the hidden ledger test apply one rule (commslab.notebook.rules),
so "ledger passed!" means the grader agrees on form and rounding.

The issue's case: Mobile Nomad's `bytes_one_bit` is graded exactly; a student who reads "17.2
KB" and writes 17200 must be refused by the public check wherever the grader refuses it. Values
are read the way the notebook shows them: the exact number where one is shown (the crisis' and
Part 3's "11,304 B (11.3 KB)"), and the 3 significant digits of a number shown rounded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from comms_core.scenarios import TRACKS, ledger_fields, scenario_for
from commslab.grading.checks import CheckFailed, ledger_check, mission_answers_for
from commslab.notebook.rules import shown_values

ROOT = Path(__file__).resolve().parent.parent
TERM = "2026-fall"
STUDENTS = ("17192", "a-2", "z9")


def _public_check():
    path = ROOT / "commslab" / "notebook" / "public_tests" / "ledger.py"
    spec = importlib.util.spec_from_file_location("public_ledger", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.test_ledger_format.test_func


def _public(ledger: dict, scenario) -> str:
    """The public check's verdict on a ledger: "" or its message."""
    k = ledger.get("accumulation_steps")
    try:
        _public_check()(ledger, scenario.track.key, [k], scenario)
    except AssertionError as err:
        return str(err)
    return ""


def _grader(field, ledger: dict, expected) -> str:
    try:
        ledger_check(field, ledger, expected)
    except CheckFailed as err:
        return str(err)
    return ""


def _answers(scenario) -> dict:
    """The key's answers, and a valid choice for each decision the key does not grade."""
    answers = dict(mission_answers_for(scenario))
    for field in ledger_fields(scenario.track.key):
        if field.key not in answers and field.kind == "choice":
            answers[field.key] = field.choices[0]
    return answers


def _read_as_shown(value: float) -> list[float]:
    """What a student may type for a number the notebook shows: the exact value and its
    3-significant-digit rounding (how plots.format_* shows a number)."""
    return sorted({value, float(f"{value:.3g}")})


@pytest.mark.parametrize("track", list(TRACKS))
@pytest.mark.parametrize("student", STUDENTS)
def test_the_public_check_refuses_exactly_where_the_grader_does(track, student):
    scenario = scenario_for(track, TERM, student)
    answers = _answers(scenario)
    shown = shown_values(scenario)
    numeric = [f for f in ledger_fields(track) if f.kind in ("number", "int")]
    assert numeric
    for field in numeric:
        for typed in _read_as_shown(answers[field.key]):
            ledger = {**answers, field.key: int(typed) if field.kind == "int" else typed}
            public = _public(ledger, scenario)
            grader = _grader(field, ledger, answers[field.key])
            if field.key in shown:  # shown exactly as graded: the same verdict, both ways
                assert bool(public) == bool(grader), (field.key, typed, public, grader)
            else:  # not shown: the public check refuses only what the grader refuses
                assert not public or grader, (field.key, typed, public)
            if not grader:
                assert not public, (field.key, typed, public)


@pytest.mark.parametrize("student", STUDENTS)
def test_mobile_bytes_read_off_rounded_are_refused_by_both_with_the_reason(student):
    scenario = scenario_for("mobile_nomad", TERM, student)
    answers = _answers(scenario)
    field = next(f for f in ledger_fields("mobile_nomad") if f.key == "bytes_one_bit")
    exact = answers["bytes_one_bit"]
    assert shown_values(scenario)["bytes_one_bit"] == exact  # what Part 3 prints, exactly
    rounded = int(float(f"{exact:.3g}"))
    assert rounded != exact  # these students' byte counts are not round numbers
    ledger = {**answers, "bytes_one_bit": rounded}
    public, grader = _public(ledger, scenario), _grader(field, ledger, exact)
    assert "looks rounded" in public and "looks rounded" in grader
    assert f"{exact:,}" not in public + grader  # the expected value is never stated
    assert _public(answers, scenario) == "" and _grader(field, answers, exact) == ""


def test_the_part3_workbench_prints_the_exact_bytes_the_key_grades():
    """The rule's shown values are what the notebook prints (not the key read back)."""
    pytest.importorskip("matplotlib")
    from commslab.notebook import workbench

    scenario = scenario_for("mobile_nomad", TERM, "17192")
    wb = workbench.compression_workbench(
        d=int(scenario.d), N=int(scenario.N), prediction="worse", static=True, dim=16, steps=5
    )
    text = "\n".join(wb.text)
    shown = shown_values(scenario)
    for key in ("bytes_dense", "bytes_one_bit"):
        assert f"{shown[key]:,} B" in text
