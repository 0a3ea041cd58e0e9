OK_FORMAT = False
name = "part1"
points = None

from otter.test_files import test_case  # noqa: E402


def _close(got, want, what):
    import numpy as np

    assert got is not None, f"{what} returned None: did you forget `return`?"
    assert np.allclose(np.asarray(got, dtype=float), want, rtol=1e-6, atol=0), (
        f"{what} gives {got!r}; the worked example in Part 1 expects about {want!r}."
    )


@test_case(name="ring_allreduce_time: worked example (N=64, α=10 µs, β=10 GB/s, M=1 MB)")
def test_ring(ring_allreduce_time):
    _close(ring_allreduce_time(1e6, 64, 10e-6, 10e9), 1456.875e-6, "ring_allreduce_time")
    _close(ring_allreduce_time(1e6, 1, 10e-6, 10e9), 0.0, "ring_allreduce_time with N=1")


@test_case(name="tree_allreduce_time: worked example")
def test_tree(tree_allreduce_time):
    _close(tree_allreduce_time(1e6, 64, 10e-6, 10e9), 1320e-6, "tree_allreduce_time")
    _close(tree_allreduce_time(1e6, 1, 10e-6, 10e9), 0.0, "tree_allreduce_time with N=1")


@test_case(name="crossover_message_size: two worked examples and N=2")
def test_crossover(crossover_message_size):
    import numpy as np

    got = float(crossover_message_size(64, 10e-6, 10e9))
    assert abs(got - 1.136e6) / 1.136e6 < 2e-3, (
        f"crossover_message_size(64, 10e-6, 10e9) gives {got:.4g} bytes; expected about 1.136 MB."
    )
    got = float(crossover_message_size(100, 5e-6, 50e9))
    assert abs(got - 3.83e6) / 3.83e6 < 5e-3, (
        "crossover_message_size(100, 5e-6, 50e9) is not ~3.83 MB."
    )
    assert float(crossover_message_size(2, 5e-6, 50e9)) == 0.0, (
        "with N = 2 the ring is never slower: return 0."
    )
    arr = crossover_message_size(np.array([64, 100]), 10e-6, 10e9)
    assert np.shape(arr) == (2,), "crossover_message_size must accept a numpy array of N."
