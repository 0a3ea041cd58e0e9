"""Hidden tests, Part 2: the aggregation factor k and the 10-iteration rule. 2 points.

K_TRIES holds the values of k the student tried in the workbench (at most 10). The chosen k,
LEDGER["accumulation_steps"], must be one of them and within 5% of the optimal time-to-train
f(k) = (1 + B_noise/(k·b·P))·(k·t_compute + T_hier) of the LMS identity's scenario
(commslab.grading.checks.k_check).
"""

from otter.test_files import test_case

from commslab.grading.checks import MAX_TRIES, expect, k_check, whole_k

OK_FORMAT = False
name = "part2_tries"
points = 2


@test_case(name="K_TRIES: at most 10 tries of a whole k ≥ 1", points=1, hidden=True)
def tries(submission):
    k_tries = submission.k_tries
    expect(isinstance(k_tries, list) and k_tries, "K_TRIES is empty: record the k you tried")
    expect(
        len(k_tries) <= MAX_TRIES,
        f"K_TRIES has {len(k_tries)} tries; the rule allows at most {MAX_TRIES}",
    )
    expect(all(whole_k(k) for k in k_tries), "every k in K_TRIES must be a whole number ≥ 1")


@test_case(name="the chosen k is within 5% of the best time-to-train", points=1, hidden=True)
def chosen_k(submission, scenario):
    expect(scenario is not None, "TRACK is not one of the four tracks: no scenario to check k")
    k_check(scenario, submission.ledger, submission.k_tries)
