"""Hidden tests, Part 2: hierarchical_allreduce_time(M, G, K, α_intra, β_intra, α_inter, β_inter).
3 points.

Reference: comms_core.cost_models.hierarchical_allreduce_time,
T = 2(G−1)·(α_intra + M/(G·β_intra)) + 2(K−1)·(α_inter + M/(G·K·β_inter)).
"""

from otter.test_files import test_case

from comms_core import cost_models as ref
from commslab.grading.checks import draw_hierarchy, expect_close, log_uniform

OK_FORMAT = False
name = "hierarchical_allreduce_time"
points = 3

WHAT = "hierarchical_allreduce_time(M, G, K, ...)"
HINT = (
    "intra-node reduce-scatter and all-gather each cost (G−1)(α_intra + M/(G·β_intra)); "
    "the inter-node ring on the M/G shard costs 2(K−1)(α_inter + M/(G·K·β_inter))"
)


draw = draw_hierarchy


@test_case(name="random inputs", points=1, hidden=True)
def random_inputs(student, cases):
    rng = cases("random")
    for _ in range(12):
        args = draw(rng)
        expect_close(
            student.hierarchical_allreduce_time(*args),
            ref.hierarchical_allreduce_time(*args),
            known=("hierarchical_allreduce_time", tuple(args)),
            what=WHAT,
            where=f"on a random input with G = {args[1]}, K = {args[2]}",
            hint=HINT,
        )


@test_case(name="edge cases: one GPU per node (G = 1), one node (K = 1)", points=1, hidden=True)
def one_level(student, cases):
    rng = cases("edges")
    for G, K in ((1, 16), (8, 1), (1, 1)):
        M, _, _, a_f, b_f, a_s, b_s = draw(rng)
        args = (M, G, K, a_f, b_f, a_s, b_s)
        expect_close(
            student.hierarchical_allreduce_time(*args),
            ref.hierarchical_allreduce_time(*args),
            known=("hierarchical_allreduce_time", tuple(args)),
            atol=1e-15,
            what=WHAT,
            where=f"with G = {G}, K = {K}",
            hint=HINT,
        )


@test_case(name="numpy arrays (broadcasting)", points=1, hidden=True)
def arrays(student, cases):
    rng = cases("arrays")
    _, G, K, a_f, b_f, a_s, b_s = draw(rng)
    sizes = log_uniform(rng, 1e4, 2e11, 6)
    expect_close(
        student.hierarchical_allreduce_time(sizes, G, K, a_f, b_f, a_s, b_s),
        ref.hierarchical_allreduce_time(sizes, G, K, a_f, b_f, a_s, b_s),
        known=("hierarchical_allreduce_time", (sizes, G, K, a_f, b_f, a_s, b_s)),
        what=WHAT,
        where="with an array of 6 message sizes M",
    )
