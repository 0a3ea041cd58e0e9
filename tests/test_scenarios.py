"""Scenario variants: deterministic per student, different per term and per student."""

from pathlib import Path

import pytest

from comms_core.scenarios import TRACKS, ledger_fields, scenario_for
from commslab.grading.answers import mission_answers


@pytest.mark.parametrize("track", list(TRACKS))
def test_variant_is_stable_and_depends_on_term_and_student(track):
    a = scenario_for(track, "2026-fall", "s123")
    assert dict(a.values) == dict(scenario_for(track, " 2026-Fall ", "S123 ").values)
    other_term = scenario_for(track, "2027-spring", "s123")
    other_student = scenario_for(track, "2026-fall", "s456")
    varied = [p.name for p in a.track.params if p.high not in (None, p.low) or p.choices]
    assert any(a[n] != other_term[n] for n in varied)
    assert any(a[n] != other_student[n] for n in varied)


@pytest.mark.parametrize("track", list(TRACKS))
def test_values_stay_in_their_ranges(track):
    for sid in ("a", "b", "c", "d", "e"):
        s = scenario_for(track, "2026-fall", sid)
        for p in s.track.params:
            value = s[p.name]
            if p.scale == "choice":
                assert value in p.choices
            elif p.name in s.track.same_as:
                assert value == s[s.track.same_as[p.name]]
            elif p.name not in s.track.bytes_of_d and p.high is not None:
                assert p.low * 0.995 <= value <= p.high * 1.005, p.name


@pytest.mark.parametrize("track", ["cloud_titan"])
def test_mission_answers_cover_the_graded_ledger(track):
    s = scenario_for(track, "2026-fall", "s123")
    answers = mission_answers(s)
    for f in ledger_fields(track):
        if f.graded:
            assert f.key in answers


@pytest.mark.parametrize("bad", [dict(track="moon"), dict(student_id=""), dict(term=" ")])
def test_bad_identity_is_a_clear_error(bad):
    kwargs = dict(track="cloud_titan", term="2026-fall", student_id="s1") | bad
    with pytest.raises(ValueError, match=next(iter(bad))):
        scenario_for(**kwargs)


def test_the_answer_key_is_not_in_comms_core():
    """comms_core ships to students: the graded answers live on the grader's side only."""
    import comms_core
    import comms_core.scenarios

    assert not hasattr(comms_core, "mission_answers")
    assert not hasattr(comms_core.scenarios, "mission_answers")
    for path in Path(comms_core.__file__).parent.glob("*.py"):
        assert "mission_answers" not in path.read_text(), path.name
