"""Jitter Monte Carlo (track Edge Guardian): ring, tree and broadcast under random α.

Cross-checks against comms_core.cost_models (CV → 0), the lognormal moments, the
binomial tree's message count, and properties of quantiles and miss probabilities."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comms_core.cost_models import ring_allreduce_time, tree_allreduce_time
from comms_core.jitter import (
    binomial_tree_messages_per_step,
    deadline_miss_probability,
    jitter_summary,
    lognormal_parameters,
    simulate_allreduce_times,
    within_noise,
)
from comms_core.shared_medium import shared_channel_allreduce_time as shared_medium_allreduce_time

# an Edge-Guardian-like link: 10 SoCs, 200 kB, α = 0.3 ms mean, 50 MB/s (assumptions)
EDGE = {"M": 200e3, "N": 10, "alpha_mean": 0.3e-3, "beta": 50e6}


def test_lognormal_parameters_known_answer():
    # CV² = e − 1 ⇔ σ = 1; mean 1 ⇒ μ = −σ²/2 = −0.5
    mu, sigma = lognormal_parameters(1.0, np.sqrt(np.e - 1))
    assert sigma == pytest.approx(1.0)
    assert mu == pytest.approx(-0.5)
    mu, sigma = lognormal_parameters(2e-3, 0.0)
    assert sigma == 0 and mu == pytest.approx(np.log(2e-3))


@pytest.mark.parametrize(("mean", "cv"), [(1e-3, 0.2), (5e-4, 1.0), (2.0, 3.0)])
def test_lognormal_parameters_give_the_requested_moments(mean, cv):
    mu, sigma = lognormal_parameters(mean, cv)
    # moments of the lognormal in closed form, independent of the inversion
    assert np.exp(mu + sigma**2 / 2) == pytest.approx(mean)
    assert np.sqrt(np.exp(sigma**2) - 1) == pytest.approx(cv)
    sample = np.random.default_rng(0).lognormal(mu, sigma, size=400_000)
    assert sample.mean() == pytest.approx(mean, rel=0.03)


def test_binomial_tree_known_answer_for_ten_ranks():
    np.testing.assert_array_equal(binomial_tree_messages_per_step(10), [5, 2, 1, 1])
    np.testing.assert_array_equal(binomial_tree_messages_per_step(8), [4, 2, 1])
    assert binomial_tree_messages_per_step(1).size == 0


@given(st.integers(1, 3000))
def test_binomial_tree_matches_a_direct_count(N):
    """Step j: the ranks still holding a partial sum are the multiples of 2^j; the odd
    multiples send to their partner. Every rank but the root sends exactly once."""
    counts = binomial_tree_messages_per_step(N)
    alive, direct = list(range(N)), []
    while len(alive) > 1:
        senders = alive[1::2]  # alive = multiples of 2^j; odd multiples are every other
        direct.append(len(senders))
        alive = alive[0::2]
    assert counts.tolist() == direct
    assert counts.sum() == N - 1
    assert counts.size == (int(np.ceil(np.log2(N))) if N > 1 else 0)


@pytest.mark.parametrize("N", [1, 2, 3, 10, 17, 64, 100])
@pytest.mark.parametrize("M", [0.0, 1e3, 4e6])
def test_without_jitter_the_monte_carlo_is_the_alpha_beta_model(N, M):
    alpha, beta = 2e-4, 1e8
    ring = simulate_allreduce_times("ring", M, N, alpha, 0.0, beta, trials=50, medium="full_duplex")
    tree = simulate_allreduce_times("tree", M, N, alpha, 0.0, beta, trials=50, medium="full_duplex")
    np.testing.assert_allclose(ring, ring_allreduce_time(M, N, alpha, beta), rtol=1e-12)
    np.testing.assert_allclose(tree, tree_allreduce_time(M, N, alpha, beta), rtol=1e-12)
    near = simulate_allreduce_times(
        "ring", M, N, alpha, 1e-7, beta, trials=200, medium="full_duplex"
    )
    assert near.mean() == pytest.approx(ring_allreduce_time(M, N, alpha, beta), rel=1e-5)


def test_two_ranks_tree_mean_is_exact_in_expectation():
    # N = 2: one message per step, no maximum, so E[T] = 2(α_mean + M/β)
    times = simulate_allreduce_times(
        "tree", 1e4, 2, 1e-3, 1.5, 1e7, trials=200_000, medium="full_duplex", seed=3
    )
    expected = 2 * (1e-3 + 1e4 / 1e7)
    standard_error = times.std() / np.sqrt(times.size)
    assert abs(times.mean() - expected) < 4 * standard_error


def test_waiting_for_the_slowest_message_costs_time():
    # E[max of n draws] ≥ mean: jitter can only slow a synchronous step down
    for algorithm, formula in (("ring", ring_allreduce_time), ("tree", tree_allreduce_time)):
        times = simulate_allreduce_times(
            algorithm, **EDGE, alpha_cv=1.0, trials=5000, medium="full_duplex"
        )
        assert times.mean() > formula(EDGE["M"], EDGE["N"], EDGE["alpha_mean"], EDGE["beta"])


def test_same_seed_same_numbers():
    a = simulate_allreduce_times(
        "ring", **EDGE, alpha_cv=0.8, trials=1000, medium="full_duplex", seed=11
    )
    b = simulate_allreduce_times(
        "ring", **EDGE, alpha_cv=0.8, trials=1000, medium="full_duplex", seed=11
    )
    c = simulate_allreduce_times(
        "ring", **EDGE, alpha_cv=0.8, trials=1000, medium="full_duplex", seed=12
    )
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    s1 = jitter_summary(
        **EDGE, alpha_cv=0.8, deadline=8e-3, trials=2000, medium="full_duplex", seed=5
    )
    s2 = jitter_summary(
        **EDGE, alpha_cv=0.8, deadline=8e-3, trials=2000, medium="full_duplex", seed=5
    )
    assert s1 == s2


@pytest.mark.parametrize("algorithm", ["ring", "tree"])
def test_p99_grows_with_the_coefficient_of_variation(algorithm):
    p99 = [
        np.percentile(
            simulate_allreduce_times(
                algorithm, **EDGE, alpha_cv=cv, trials=20000, medium="full_duplex", seed=0
            ),
            99,
        )
        for cv in (0.0, 0.25, 0.5, 1.0, 2.0)
    ]
    assert np.all(np.diff(p99) > 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 0.05, allow_nan=False), min_size=2, max_size=8))
def test_miss_probability_is_a_probability_and_falls_with_the_deadline(deadlines):
    times = simulate_allreduce_times(
        "tree", **EDGE, alpha_cv=1.0, trials=2000, medium="full_duplex", seed=1
    )
    deadlines = np.sort(deadlines)
    p = deadline_miss_probability(times, deadlines)
    assert np.all((0 <= p) & (p <= 1))
    assert np.all(np.diff(p) <= 0)


def test_miss_probability_by_hand():
    times = np.array([1.0, 2.0, 3.0, 4.0])
    assert deadline_miss_probability(times, 2.0) == 0.5  # 3 and 4 miss; 2 is on time
    assert deadline_miss_probability(times, 0.0) == 1.0
    assert deadline_miss_probability(times, 4.0) == 0.0
    np.testing.assert_allclose(deadline_miss_probability(times, [0.5, 3.5]), [1.0, 0.25])


def test_summary_statistics_match_the_samples():
    summary = jitter_summary(
        **EDGE, alpha_cv=1.0, deadline=9e-3, trials=5000, medium="full_duplex", seed=2
    )
    for stats in (summary.ring, summary.tree):
        times = simulate_allreduce_times(
            stats.algorithm, **EDGE, alpha_cv=1.0, trials=5000, medium="full_duplex", seed=2
        )
        assert stats.mean == pytest.approx(times.mean())
        assert stats.p50 == pytest.approx(np.median(times))
        assert stats.p50 <= stats.p99
        assert stats.miss_probability == pytest.approx(np.mean(times > 9e-3))
    assert summary.deadline == 9e-3


def test_the_better_algorithm_follows_the_miss_probability():
    # without jitter the times are the α-β formulas; put the deadline between them
    args = {"M": 4e6, "N": 10, "alpha_mean": 1e-4, "alpha_cv": 0.0, "beta": 1e8}
    t_ring = ring_allreduce_time(4e6, 10, 1e-4, 1e8)  # 73.8 ms
    t_tree = tree_allreduce_time(4e6, 10, 1e-4, 1e8)  # 320.8 ms
    summary = jitter_summary(
        **args, deadline=(t_ring + t_tree) / 2, trials=100, medium="full_duplex"
    )
    assert (summary.ring.miss_probability, summary.tree.miss_probability) == (0.0, 1.0)
    assert summary.better_for_deadline == "ring"
    # small message, many ranks, heavy jitter: the tree's few steps win
    summary = jitter_summary(
        M=1e3,
        N=64,
        alpha_mean=1e-4,
        alpha_cv=2.0,
        beta=1e8,
        deadline=0.02,
        trials=4000,
        algorithms=("ring", "tree"),
    )
    assert summary.tree.miss_probability < summary.ring.miss_probability
    assert summary.better_for_deadline == "tree"


def test_tie_on_miss_probability_goes_to_the_lower_mean_and_both_are_accepted():
    # a deadline nobody misses: the noise-free time at the mean α breaks the tie, and both
    # algorithms are accepted (equal miss probabilities are within noise)
    summary = jitter_summary(**EDGE, alpha_cv=0.5, deadline=10.0, trials=2000, medium="full_duplex")
    assert summary.ring.miss_probability == summary.tree.miss_probability == 0.0
    lower = "ring" if summary.ring.model_mean <= summary.tree.model_mean else "tree"
    assert summary.better_for_deadline == lower
    assert set(summary.accepted) == {"ring", "tree"}


def test_within_noise_by_hand():
    # p = 0.10, q = 0.11, n = 10 000: standard error √((0.09 + 0.0979)/10⁴) = 0.00433
    assert within_noise(0.10, 0.11, 10_000)  # 0.01 ≤ 4 · 0.00433
    assert not within_noise(0.10, 0.13, 10_000)  # 0.03 > 4 · 0.00457
    assert within_noise(0.0, 0.0, 100) and within_noise(1.0, 1.0, 100)
    assert not within_noise(0.0, 1.0, 100)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: simulate_allreduce_times("star", 1, 2, 1e-3, 0.5, 1e6), "algorithm"),
        (lambda: simulate_allreduce_times("ring", -1, 2, 1e-3, 0.5, 1e6), "M"),
        (lambda: simulate_allreduce_times("ring", [1, 2], 2, 1e-3, 0.5, 1e6), "M"),
        (lambda: simulate_allreduce_times("ring", 1, 0, 1e-3, 0.5, 1e6), "N"),
        (lambda: simulate_allreduce_times("ring", 1, 2.5, 1e-3, 0.5, 1e6), "N"),
        (lambda: simulate_allreduce_times("ring", 1, 2, 0.0, 0.5, 1e6), "alpha_mean"),
        (lambda: simulate_allreduce_times("ring", 1, 2, 1e-3, -0.5, 1e6), "alpha_cv"),
        (lambda: simulate_allreduce_times("ring", 1, 2, 1e-3, np.nan, 1e6), "alpha_cv"),
        (lambda: simulate_allreduce_times("ring", 1, 2, 1e-3, 0.5, 0), "beta"),
        (
            lambda: simulate_allreduce_times(
                "ring", 1, 2, 1e-3, 0.5, 1e6, trials=0, medium="full_duplex"
            ),
            "trials",
        ),
        (lambda: simulate_allreduce_times("ring", 1, 2, 1e-3, 0.5, 1e6, seed=-3), "seed"),
        (lambda: jitter_summary(1, 2, 1e-3, 0.5, 1e6, deadline=-1.0), "deadline"),
        (lambda: deadline_miss_probability([], 1.0), "times"),
        (lambda: lognormal_parameters(-1.0, 0.5), "mean"),
        (lambda: lognormal_parameters(1.0, np.inf), "cv"),
        (lambda: binomial_tree_messages_per_step(0), "N"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        call()


# ---------------------------------------------------------------- the shared medium


def _turns_by_hand(algorithm, M, N, alpha, beta):
    """Oracle: list every transmission of the schedule and let them take turns on one channel."""
    transmissions = []
    if algorithm == "ring":
        for _step in range(2 * (N - 1)):
            transmissions += [M / N] * N  # every rank sends its chunk
    elif algorithm == "tree":
        for _phase in ("reduce", "broadcast"):
            transmissions += [M] * (N - 1)  # every rank but the root sends once per phase
    elif N > 1:
        transmissions += [M] * N  # every device broadcasts once
    return sum(alpha + size / beta for size in transmissions)


@pytest.mark.parametrize("N", [1, 2, 3, 8, 10, 17])
@pytest.mark.parametrize("algorithm", ["ring", "tree", "broadcast"])
def test_shared_medium_at_zero_variance_is_the_closed_form(algorithm, N):
    """CV = 0: the Monte Carlo equals the schedule listed by hand and the closed forms
    ring 2(N−1)(Nα + M/β), tree 2(N−1)(α + M/β), broadcast N(α + M/β)."""
    M, alpha, beta = 800.0, 2e-4, 1.5e6
    by_hand = _turns_by_hand(algorithm, M, N, alpha, beta)
    closed = {
        "ring": 2 * (N - 1) * (N * alpha + M / beta),
        "tree": 2 * (N - 1) * (alpha + M / beta),
        "broadcast": N * (alpha + M / beta) if N > 1 else 0.0,
    }[algorithm]
    assert by_hand == pytest.approx(closed, rel=1e-12, abs=1e-15)
    times = simulate_allreduce_times(algorithm, M, N, alpha, 0.0, beta, trials=5)
    np.testing.assert_allclose(times, closed, rtol=1e-12, atol=1e-15)
    assert shared_medium_allreduce_time(algorithm, M, N, alpha, beta) == pytest.approx(
        closed, rel=1e-12, abs=1e-15
    )


def test_shared_medium_same_bytes_on_air_and_the_ring_pays_n_times_the_alpha():
    N, M, beta = 10, 1000.0, 2e6
    ring0 = shared_medium_allreduce_time("ring", M, N, 0.0, beta)
    tree0 = shared_medium_allreduce_time("tree", M, N, 0.0, beta)
    assert ring0 == pytest.approx(tree0, rel=1e-12)  # α = 0: the same bytes on the air
    ring_a = shared_medium_allreduce_time("ring", 0.0, N, 1e-4, beta)
    tree_a = shared_medium_allreduce_time("tree", 0.0, N, 1e-4, beta)
    assert ring_a == pytest.approx(N * tree_a, rel=1e-12)


def test_shared_medium_mean_and_spread_match_the_sum_of_lognormals():
    """Sum of n i.i.d. lognormal α's: mean n·mean(α), std √n·CV·mean(α) (n = 18 tree messages
    for N = 10); 200 000 trials put the sample mean within 4 standard errors."""
    N, M, alpha, cv, beta, trials = 10, 500.0, 2e-4, 1.5, 1e6, 200_000
    times = simulate_allreduce_times("tree", M, N, alpha, cv, beta, trials=trials, seed=4)
    n = 2 * (N - 1)
    mean, std = n * (alpha + M / beta), np.sqrt(n) * cv * alpha
    assert abs(times.mean() - mean) < 4 * std / np.sqrt(trials)
    assert times.std() == pytest.approx(std, rel=0.05)


def test_shared_medium_ring_misses_a_deadline_the_tree_meets():
    """Edge Guardian's physics: 10 SoCs, 0.2 ms channel access, 512 B, 1.5 MB/s, 10 ms. The tree
    needs 18·(0.2 + 0.341) ms = 9.7 ms on average, the ring 18·(2 + 0.341) ms = 42 ms; a
    broadcast at 0.4 MB/s needs 10·(0.2 + 1.28) ms = 14.8 ms: the tree is the one to pick."""
    summary = jitter_summary(
        512, 10, 2e-4, 0.5, 1.5e6, 10e-3, trials=4000, seed=1, beta_broadcast=0.4e6
    )
    assert summary.ring.miss_probability == 1.0
    assert summary.tree.miss_probability < 0.5
    assert summary.stats["broadcast"].miss_probability > 0.99
    assert summary.better_for_deadline == "tree" and summary.accepted == ("tree",)
    # at the broadcast rate of 1.2 MB/s: 10·(0.2 + 0.427) ms = 6.3 ms, the broadcast wins
    summary = jitter_summary(
        512, 10, 2e-4, 0.5, 1.5e6, 10e-3, trials=4000, seed=1, beta_broadcast=1.2e6
    )
    assert summary.better_for_deadline == "broadcast" and summary.accepted == ("broadcast",)


def test_a_broadcast_needs_a_shared_medium():
    with pytest.raises(ValueError, match="broadcast"):
        simulate_allreduce_times("broadcast", 1, 4, 1e-3, 0.5, 1e6, medium="full_duplex")


def test_unknown_medium_is_refused():
    with pytest.raises(ValueError, match="medium"):
        simulate_allreduce_times("ring", 1, 2, 1e-3, 0.5, 1e6, medium="ether")
