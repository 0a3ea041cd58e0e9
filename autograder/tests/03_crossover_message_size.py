"""Hidden tests, Part 1: crossover_message_size(N, alpha, beta). 3 points.

Reference: comms_core.cost_models.crossover_message_size,
M* = α·β·(N−1−L)/(L − (N−1)/N) with L = ⌈log2 N⌉, and 0 when the ring is never slower (N ≤ 3).
"""

import numpy as np
from otter.test_files import test_case

from comms_core import cost_models as ref
from commslab.grading.checks import expect_close, log_uniform

OK_FORMAT = False
name = "crossover_message_size"
points = 3

WHAT = "crossover_message_size(N, α, β)"
HINT = "set T_ring = T_tree and solve for M, with L = ⌈log2 N⌉"


def draw(rng):
    return (
        int(rng.integers(4, 4097)),
        float(log_uniform(rng, 1e-7, 3e-2)),
        float(log_uniform(rng, 5e4, 1e12)),
    )


@test_case(name="random inputs", points=1, hidden=True)
def random_inputs(student, cases):
    rng = cases("random")
    for _ in range(12):
        N, alpha, beta = draw(rng)
        expect_close(
            student.crossover_message_size(N, alpha, beta),
            ref.crossover_message_size(N, alpha, beta),
            known=("crossover_message_size", (N, alpha, beta)),
            what=WHAT,
            where=f"on a random input with N = {N}",
            hint=HINT,
        )


@test_case(name="edge cases: N = 1, 2, 3 and powers of two", points=1, hidden=True)
def small_n(student, cases):
    rng = cases("small")
    for N in (1, 2, 3, 4, 64, 1024):
        _, alpha, beta = draw(rng)
        expect_close(
            student.crossover_message_size(N, alpha, beta),
            ref.crossover_message_size(N, alpha, beta),
            known=("crossover_message_size", (N, alpha, beta)),
            atol=1e-9,
            what=WHAT,
            where=f"with N = {N}",
            hint="for N ≤ 3 the ring is never slower: return 0 (not nan)",
        )


@test_case(name="numpy arrays (broadcasting)", points=1, hidden=True)
def arrays(student, cases):
    rng = cases("arrays")
    _, alpha, beta = draw(rng)
    ranks = np.concatenate([[1, 2, 3], rng.integers(4, 4097, 4)])
    expect_close(
        student.crossover_message_size(ranks, alpha, beta),
        ref.crossover_message_size(ranks, alpha, beta),
        known=("crossover_message_size", (ranks, alpha, beta)),
        atol=1e-9,
        what=WHAT,
        where="with an array of 7 rank counts N (including 1, 2, 3)",
        hint="use np.where so that N ≤ 3 gives 0 element by element",
    )
