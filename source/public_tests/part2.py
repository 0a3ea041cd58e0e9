OK_FORMAT = False
name = "part2"
points = None

from otter.test_files import test_case  # noqa: E402

# One worked example: 8 nodes x 8 GPUs, NVLink 1 µs / 450 GB/s, InfiniBand 5 µs / 50 GB/s, 1 GB.
_ARGS = (1e9, 8, 8, 1e-6, 450e9, 5e-6, 50e9)
_INTRA = 7 * (1e-6 + 1e9 / (8 * 450e9))
_INTER = 2 * 7 * (5e-6 + 1e9 / (64 * 50e9))


@test_case(name="hierarchical_breakdown: the three phases by name")
def test_breakdown(hierarchical_breakdown):
    phases = hierarchical_breakdown(*_ARGS)
    assert isinstance(phases, dict), "hierarchical_breakdown must return a dict."
    assert set(phases) == {"intra_reduce_scatter", "inter_allreduce", "intra_all_gather"}, (
        "the keys must be intra_reduce_scatter, inter_allreduce, intra_all_gather; "
        f"got {sorted(phases)}"
    )
    for key, want in (
        ("intra_reduce_scatter", _INTRA),
        ("inter_allreduce", _INTER),
        ("intra_all_gather", _INTRA),
    ):
        got = float(phases[key])
        assert abs(got - want) <= 1e-6 * want, (
            f"{key} is {got:.6g} s in the worked example; check its formula."
        )


@test_case(name="hierarchical_allreduce_time: worked example and G=1, K=1")
def test_total(hierarchical_allreduce_time):
    got = float(hierarchical_allreduce_time(*_ARGS))
    want = 2 * _INTRA + _INTER
    assert abs(got - want) <= 1e-6 * want, (
        f"hierarchical_allreduce_time gives {got:.6g} s; expected {want:.6g} s."
    )
    assert float(hierarchical_allreduce_time(1e9, 1, 1, 1e-6, 450e9, 5e-6, 50e9)) == 0.0, (
        "one GPU needs no communication: G = K = 1 must give 0."
    )
