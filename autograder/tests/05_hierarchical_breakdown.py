"""Hidden tests, Part 2: hierarchical_breakdown(M, G, K, ...) -> dict of the three phases.
2 points.

Reference: comms_core.cost_models.hierarchical_breakdown, keys "intra_reduce_scatter",
"inter_allreduce", "intra_all_gather" (seconds each).
"""

from otter.test_files import test_case

from comms_core import cost_models as ref
from commslab.grading.checks import draw_hierarchy, expect, expect_close, is_pending

OK_FORMAT = False
name = "hierarchical_breakdown"
points = 2

PHASES = ("intra_reduce_scatter", "inter_allreduce", "intra_all_gather")


def draw(rng):
    return draw_hierarchy(rng, smallest=1)


def expect_phases(got):
    if is_pending(got):
        return
    expect(isinstance(got, dict), "hierarchical_breakdown must return a dict")
    missing = [p for p in PHASES if p not in got]
    expect(
        not missing,
        "hierarchical_breakdown must return a dict with the keys "
        + ", ".join(f'"{p}"' for p in PHASES)
        + f"; missing {', '.join(missing)}",
    )


@test_case(name="a dict with the three phases", points=1, hidden=True)
def the_keys(student, cases):
    args = draw(cases("keys"))
    expect_phases(student.hierarchical_breakdown(*args))


@test_case(name="the time of each phase", points=1, hidden=True)
def the_values(student, cases):
    rng = cases("values")
    for _ in range(8):
        args = draw(rng)
        got, want = student.hierarchical_breakdown(*args), ref.hierarchical_breakdown(*args)
        expect_phases(got)
        for phase in PHASES:
            expect_close(
                got[phase],
                want[phase],
                atol=1e-15,
                what=f'hierarchical_breakdown(...)["{phase}"]',
                where=f"on a random input with G = {args[1]}, K = {args[2]}",
            )
