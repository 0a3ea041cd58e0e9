OK_FORMAT = False
name = "part1"
points = None

from commslab.notebook.checkfile import test_case  # noqa: E402

# Public inputs: docs/LAB_SPEC.md's worked example (N = 64, α = 10 µs, β = 10 GB/s, M = 1 MB),
# a non-power-of-two N = 48, N = 1, and arrays of M and N.
EXAMPLE = (1e6, 64, 10e-6, 10e9)
ODD_N = (3e6, 48, 5e-6, 25e9)


def _cases():
    import numpy as np

    return [
        (EXAMPLE, "in the worked example (N = 64, α = 10 µs, β = 10 GB/s, M = 1 MB)"),
        (ODD_N, "with N = 48 (not a power of two)"),
        ((1e6, 1, 10e-6, 10e9), "with N = 1 (one rank: no communication)"),
        ((np.array([1e3, 1e6, 1e9]), 48, 5e-6, 25e9), "with an array of message sizes M"),
        ((1e6, np.array([1, 2, 3, 48, 100]), 5e-6, 25e9), "with an array of rank counts N"),
    ]


@test_case(name="ring_allreduce_time: worked example, N = 48, N = 1, arrays")
def test_ring(ring_allreduce_time):
    from comms_core import cost_models as ref
    from commslab.notebook.public_checks import close

    for args, where in _cases():
        close(
            ring_allreduce_time, "ring_allreduce_time", args, ref.ring_allreduce_time(*args), where
        )


@test_case(name="tree_allreduce_time: worked example, N = 48, N = 1, arrays")
def test_tree(tree_allreduce_time):
    from comms_core import cost_models as ref
    from commslab.notebook.public_checks import close

    for args, where in _cases():
        close(
            tree_allreduce_time, "tree_allreduce_time", args, ref.tree_allreduce_time(*args), where
        )


@test_case(name="crossover_message_size: worked examples, N = 48, N ≤ 3, arrays")
def test_crossover(crossover_message_size):
    import numpy as np

    from comms_core import cost_models as ref
    from commslab.notebook.public_checks import close

    for args, where in (
        ((64, 10e-6, 10e9), "in the worked example (N = 64: about 1.136 MB)"),
        ((100, 5e-6, 50e9), "with N = 100, α = 5 µs, β = 50 GB/s (about 3.83 MB)"),
        ((48, 5e-6, 25e9), "with N = 48 (not a power of two)"),
        ((1, 5e-6, 25e9), "with N = 1 (the ring is never slower: 0)"),
        ((2, 5e-6, 25e9), "with N = 2 (the ring is never slower: 0)"),
        ((np.array([1, 2, 3, 48, 64, 100]), 5e-6, 25e9), "with an array of rank counts N"),
    ):
        want = ref.crossover_message_size(*args)
        close(crossover_message_size, "crossover_message_size", args, want, where)
