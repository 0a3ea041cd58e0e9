"""Hidden tests, Part 1: tree_allreduce_time(M, N, alpha, beta). 3 points.

Reference: comms_core.cost_models.tree_allreduce_time, T = 2·⌈log2 N⌉·(α + M/β).
"""

import numpy as np
from otter.test_files import test_case

from comms_core import cost_models as ref
from commslab.grading.checks import draw_link, expect_close, log_uniform

OK_FORMAT = False
name = "tree_allreduce_time"
points = 3

WHAT = "tree_allreduce_time(M, N, α, β)"
HINT = "the depth is ⌈log2 N⌉ (rounded up), and every step carries α + M/β"


draw = draw_link


@test_case(name="random inputs", points=1, hidden=True)
def random_inputs(student, cases):
    rng = cases("random")
    for _ in range(12):
        M, N, alpha, beta = draw(rng)
        expect_close(
            student.tree_allreduce_time(M, N, alpha, beta),
            ref.tree_allreduce_time(M, N, alpha, beta),
            known=("tree_allreduce_time", (M, N, alpha, beta)),
            what=WHAT,
            where=f"on a random input with N = {N}",
            hint=HINT,
        )


@test_case(name="edge cases: N = 1, 2, 3 and powers of two", points=1, hidden=True)
def small_n(student, cases):
    rng = cases("small")
    for N in (1, 2, 3, 4, 64, 1024):
        M, _, alpha, beta = draw(rng)
        expect_close(
            student.tree_allreduce_time(M, N, alpha, beta),
            ref.tree_allreduce_time(M, N, alpha, beta),
            known=("tree_allreduce_time", (M, N, alpha, beta)),
            atol=1e-15,
            what=WHAT,
            where=f"with N = {N}",
            hint=HINT,
        )


@test_case(name="numpy arrays (broadcasting)", points=1, hidden=True)
def arrays(student, cases):
    rng = cases("arrays")
    M, N, alpha, beta = draw(rng)
    sizes = log_uniform(rng, 1e3, 2e11, 6)
    expect_close(
        student.tree_allreduce_time(sizes, N, alpha, beta),
        ref.tree_allreduce_time(sizes, N, alpha, beta),
        known=("tree_allreduce_time", (sizes, N, alpha, beta)),
        what=WHAT,
        where="with an array of 6 message sizes M",
    )
    ranks = np.append(rng.integers(1, 4097, 4), 256)
    expect_close(
        student.tree_allreduce_time(M, ranks, alpha, beta),
        ref.tree_allreduce_time(M, ranks, alpha, beta),
        known=("tree_allreduce_time", (M, ranks, alpha, beta)),
        atol=1e-15,
        what=WHAT,
        where="with an array of 5 rank counts N",
        hint="use np.ceil(np.log2(N)), not math, so that arrays work",
    )
