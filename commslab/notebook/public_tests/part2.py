OK_FORMAT = False
name = "part2"
points = None

from commslab.notebook.checkfile import test_case  # noqa: E402

# Public inputs: 8 nodes x 8 devices, fast link 1 µs / 450 GB/s, slow link 5 µs / 50 GB/s,
# 1 GB; an uneven 3 nodes x 4 devices; one device (G = K = 1).
CASES = (
    ((1e9, 8, 8, 1e-6, 450e9, 5e-6, 50e9), "with 8 nodes × 8 devices and M = 1 GB"),
    ((3e8, 4, 3, 2e-6, 20e6, 30e-3, 1e6), "with 3 nodes × 4 devices on slow links"),
    ((1e9, 1, 1, 1e-6, 450e9, 5e-6, 50e9), "with one device (G = K = 1: no communication)"),
)


@test_case(name="hierarchical_breakdown: the three phases by name")
def test_breakdown(hierarchical_breakdown):
    from comms_core import cost_models as ref
    from commslab.notebook.public_checks import call

    keys = {"intra_reduce_scatter", "inter_allreduce", "intra_all_gather"}
    for args, where in CASES:
        phases = call(hierarchical_breakdown, "hierarchical_breakdown", *args)
        assert isinstance(phases, dict), "hierarchical_breakdown must return a dict."
        assert set(phases) == keys, f"the keys must be {sorted(keys)}; got {sorted(phases)}"
        want = ref.hierarchical_breakdown(*args)
        for key in sorted(keys):
            got = float(phases[key])
            half = key == "inter_allreduce" and abs(2 * got - want[key]) <= 1e-6 * want[key]
            assert not half or want[key] == 0, (
                f"inter_allreduce is half of what it should be {where}: the inter-node phase "
                "without its 2. The ring across nodes is a whole AllReduce (reduce-scatter, "
                "then all-gather): 2(K−1) steps."
            )
            assert abs(got - want[key]) <= 1e-6 * abs(want[key]) + 1e-15, (
                f"{key} is {got:.6g} s {where}; expected {want[key]:.6g} s: check that "
                "phase's steps (G−1 inside the node, 2(K−1) across nodes) and its bytes "
                "(M/G per device)."
            )


@test_case(name="hierarchical_allreduce_time: three phases, uneven sizes, one device")
def test_total(hierarchical_allreduce_time):
    from comms_core import cost_models as ref
    from commslab.notebook.public_checks import close

    for args, where in CASES:
        want = ref.hierarchical_allreduce_time(*args)
        close(hierarchical_allreduce_time, "hierarchical_allreduce_time", args, want, where)
