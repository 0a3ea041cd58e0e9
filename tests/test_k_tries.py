"""K_TRIES is the only way to try a k, and the 10-try rule holds across re-runs of the cell."""

from __future__ import annotations

from comms_core.scenarios import scenario_for
from commslab import lab


def _scenario(student_id: str):
    return scenario_for("cloud_titan", "2026-fall", student_id)


def test_tries_are_shown_for_the_listed_k_only():
    tries, message = lab._tries_allowed(_scenario("ktries-a"), [1, 2, 4, 2])
    assert tries == [1, 2, 4] and message == ""


def test_the_rule_holds_when_the_cell_is_rerun_with_new_lists():
    s = _scenario("ktries-b")
    lab._tries_allowed(s, list(range(1, 9)))  # 8 tries shown
    tries, message = lab._tries_allowed(s, [20, 21, 22, 23])  # a "fresh" list on re-run
    assert tries == [20, 21]  # tries 9 and 10
    assert "10-iteration rule" in message and "22, 23" in message
    assert "keep every k you tried" in message  # the 8 earlier tries left K_TRIES
    again, _ = lab._tries_allowed(s, [*range(1, 9), 20, 21, 99])
    assert again == [*range(1, 9), 20, 21]  # still at most 10, across re-runs


def test_students_have_their_own_record_and_bad_lists_are_refused():
    lab._tries_allowed(_scenario("ktries-c"), list(range(1, 11)))
    assert lab._tries_allowed(_scenario("ktries-d"), [5])[0] == [5]
    for bad in ("4", [0], [1.5], [True], 4):
        tries, message = lab._tries_allowed(_scenario("ktries-e"), bad)
        assert tries == [] and "whole numbers" in message
