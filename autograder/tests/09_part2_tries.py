"""Hidden tests, Part 2: the aggregation factor k and the 10-iteration rule. 2 points.

K_TRIES holds the values of k the student tried in the workbench: its distinct values are the
tries, at most 10, counted by the rule the notebook applies (commslab.notebook.rules.tries; a
longer list is refused whole by both). The chosen k,
LEDGER["accumulation_steps"], must be one of them and within 5% of the optimal time-to-train
f(k) = (1 + B_noise/(k·b·P))·(k·t_compute + T_hier) of the LMS identity's scenario
(commslab.grading.checks.k_check).
"""

from otter.test_files import test_case

from commslab.grading.checks import expect, k_check
from commslab.notebook.rules import tries as count_tries

OK_FORMAT = False
name = "part2_tries"
points = 2


@test_case(name="K_TRIES: at most 10 tries of a whole k ≥ 1", points=1, hidden=True)
def tries(submission):
    _, problem = count_tries(submission.k_tries)
    expect(not problem, problem)


@test_case(name="the chosen k is within 5% of the best time-to-train", points=1, hidden=True)
def chosen_k(submission, scenario):
    expect(scenario is not None, "TRACK is not one of the four tracks: no scenario to check k")
    k_check(scenario, submission.ledger, submission.k_tries)
