"""Hidden tests, Part 2: the aggregation factor k and the 10-iteration rule. 2 points.

K_TRIES holds the values of k the student tried in the workbench (at most 10). The chosen k,
LEDGER["accumulation_steps"], must be one of them and within 5% of the optimal time-to-train
f(k) = (1 + B_noise/(k·b·P))·(k·t_compute + T_hier) of the LMS identity's scenario
(comms_core.cost_models.time_to_train, optimal_accumulation_steps).
"""

from otter.test_files import test_case

from comms_core import cost_models as ref
from commslab.grading.checks import expect

OK_FORMAT = False
name = "part2_tries"
points = 2

MAX_TRIES = 10
WITHIN = 0.05


def whole(value) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (float(value).is_integer() and value >= 1)
    )


@test_case(name="K_TRIES: at most 10 tries of a whole k ≥ 1", points=1, hidden=True)
def tries(submission):
    k_tries = submission.k_tries
    expect(isinstance(k_tries, list) and k_tries, "K_TRIES is empty: record the k you tried")
    expect(
        len(k_tries) <= MAX_TRIES,
        f"K_TRIES has {len(k_tries)} tries; the rule allows at most {MAX_TRIES}",
    )
    expect(all(whole(k) for k in k_tries), "every k in K_TRIES must be a whole number ≥ 1")


@test_case(name="the chosen k is within 5% of the best time-to-train", points=1, hidden=True)
def chosen_k(submission, scenario):
    expect(scenario is not None, "TRACK is not one of the four tracks: no scenario to check k")
    ledger = submission.ledger or {}
    k = ledger.get("accumulation_steps")
    expect(whole(k), 'LEDGER["accumulation_steps"] must be your chosen k, a whole number ≥ 1')
    k_tries = submission.k_tries if isinstance(submission.k_tries, list) else []
    expect(k in k_tries[:MAX_TRIES], "your chosen k is not one of your K_TRIES")
    s = scenario
    T_hier = ref.hierarchical_allreduce_time(
        s.M_model, s.G, s.K, s.alpha_intra, s.beta_intra, s.alpha_inter, s.beta_inter
    )
    P = s.G * s.K
    best = ref.optimal_accumulation_steps(T_hier, s.t_compute, s.micro_batch, P, s.B_noise)
    f_best = ref.time_to_train(best, T_hier, s.t_compute, s.micro_batch, P, s.B_noise)
    f_k = ref.time_to_train(int(k), T_hier, s.t_compute, s.micro_batch, P, s.B_noise)
    expect(
        f_k <= (1 + WITHIN) * f_best,
        f"with k = {int(k)} the time to train is {100 * (f_k / f_best - 1):.0f}% above the "
        "best k for your scenario (allowed: 5%)",
    )
