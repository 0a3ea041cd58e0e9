"""The fairness rule for the ledger, on every track and several students.

A k whose time to train is within 5% of the optimum gets the k points, and the numbers that
depend on k are graded at the student's k; a k further away, or a ratio computed at another
k, does not. The oracle for T_hier is the hierarchical formula written out here (docs/LAB_SPEC.md
Part 2), not the grader's function.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from comms_core.scenarios import TRACKS, scenario_for
from commslab.grading.checks import CheckFailed, ledger_test_cases, mission_answers_for

STUDENTS = ("1001", "2718", "31415", "demo")


def t_hier(s) -> float:
    """T_hier by the track's links, seconds, written out by hand (docs/science.md):

    cloud_titan    2(G−1)(α_f + M/(Gβ_f)) + 2(K−1)(α_s + M/(GKβ_s))      (full duplex)
    edge_guardian  2(G−1)(α_f + M/(Gβ_f)) + 2(K−1)·GK·(α_s + M/(GKβ_s))  (one shared channel)
    mobile_nomad   2(G−1)·G·(α_f + M/(Gβ_f)) + 2(K−1)(α_s + M/(Kβ_s))    (Wi-Fi, one modem)
    tiny_pioneer   2(G−1)(α_f + 2M/(Gβ_f)) + 2(K−1)(α_s + 2M/(GKβ_s))    (half-duplex BLE)
    """
    G, K, M = s.G, s.K, s.M_model
    a_f, b_f, a_s, b_s = s.alpha_intra, s.beta_intra, s.alpha_inter, s.beta_inter
    return {
        "cloud_titan": 2 * (G - 1) * (a_f + M / (G * b_f))
        + 2 * (K - 1) * (a_s + M / (G * K * b_s)),
        "edge_guardian": 2 * (G - 1) * (a_f + M / (G * b_f))
        + 2 * (K - 1) * G * K * (a_s + M / (G * K * b_s)),
        "mobile_nomad": 2 * (G - 1) * G * (a_f + M / (G * b_f))
        + 2 * (K - 1) * (a_s + M / (K * b_s)),
        "tiny_pioneer": 2 * (G - 1) * (a_f + 2 * M / (G * b_f))
        + 2 * (K - 1) * (a_s + 2 * M / (G * K * b_s)),
    }[s.track.key]


def time_to_train(s, k: int) -> float:
    """(1 + B_noise/(k·b·P))·(k·t_compute + T_hier) (McCandlish et al. 2018)."""
    P = s.G * s.K
    return (1 + s.B_noise / (k * s.micro_batch * P)) * (k * s.t_compute + t_hier(s))


def best_k(s) -> int:
    return min(range(1, 100_000), key=lambda k: time_to_train(s, k))  # brute force


def grade(s, ledger: dict, k_tries: list) -> dict[str, str | None]:
    """{field: None (passed) or the failure message}, by the hidden ledger test cases."""
    submission = SimpleNamespace(ledger=ledger, k_tries=k_tries)
    results = {}
    for name, case in ledger_test_cases(s.track.key).items():
        try:
            case.test_func(submission, s)
            results[name] = None
        except CheckFailed as err:
            results[name] = str(err)
    return results


def full_ledger(s, k: int) -> dict:
    answers = dict(mission_answers_for(s))
    answers["accumulation_steps"] = k
    answers["comm_to_compute_ratio"] = t_hier(s) / (k * s.t_compute)
    answers.update(compression="on", strategy="rigor (sync + compression)")
    return answers


@pytest.mark.parametrize("track", sorted(TRACKS))
@pytest.mark.parametrize("student", STUDENTS)
def test_a_k_within_five_percent_gets_full_marks(track, student):
    s = scenario_for(track, "2026-fall", student)
    k_star = best_k(s)
    f_star = time_to_train(s, k_star)
    near = [k for k in range(1, 4 * k_star + 10) if time_to_train(s, k) <= 1.05 * f_star]
    k = max(near)  # the farthest k the rule allows
    assert grade(s, full_ledger(s, k), [1, k]) == dict.fromkeys(grade(s, {}, []), None)
    if k != k_star:  # the ratio at the optimum is not the ratio at the student's k
        ledger = full_ledger(s, k) | {"comm_to_compute_ratio": t_hier(s) / (k_star * s.t_compute)}
        if abs(k / k_star - 1) > 0.01:
            assert grade(s, ledger, [k])["ledger_comm_to_compute_ratio"] is not None
    far = max(near) + 1
    while time_to_train(s, far) <= 1.05 * f_star:
        far += 1
    verdicts = grade(s, full_ledger(s, far), [far])
    assert "5%" in verdicts["ledger_accumulation_steps"]
    assert verdicts["ledger_comm_to_compute_ratio"] is None  # graded at the student's own k
    assert (
        "not one of your K_TRIES"
        in grade(s, full_ledger(s, k), [k + 1])["ledger_accumulation_steps"]
    )


def test_edge_guardians_choice_is_not_decided_by_noise():
    """Over many students: an algorithm whose miss probability is within 4 standard errors of
    the lowest one passes; one further away fails. The ring (always missing) is checked from
    its own Monte Carlo: p = 1. Students of both clear kinds exist."""
    from comms_core.jitter import edge_jitter_summary

    seen = {"noise": 0, "clear": 0}
    for i in range(40):
        s = scenario_for("edge_guardian", "2026-fall", f"noise-{i}")
        answers = mission_answers_for(s)
        p = {
            "ring": edge_jitter_summary(s).stats["ring"].miss_probability,
            "tree": answers["tree_miss_probability"],
            "broadcast": answers["broadcast_miss_probability"],
        }
        low = min(p.values())

        def near(a, p=p, low=low):
            se = ((p[a] * (1 - p[a]) + low * (1 - low)) / 20000) ** 0.5
            return p[a] - low <= 4 * se

        verdicts = {
            choice: grade(
                s,
                full_ledger(s, answers["accumulation_steps"]) | {"deadline_algorithm": choice},
                [answers["accumulation_steps"]],
            )["ledger_deadline_algorithm"]
            for choice in p
        }
        for choice in p:
            assert (verdicts[choice] is None) == near(choice), (choice, p, verdicts)
        seen["noise" if sum(map(near, p)) > 1 else "clear"] += 1
    assert seen["clear"] > 0
