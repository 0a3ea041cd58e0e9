"""Gossip averaging (track Tiny Pioneer): topologies, Metropolis weights, SLEM, rounds,
radio energy. Known answers from research notes §5.3 (the lazy ring), properties from
Xiao & Boyd 2004, and cross-checks against direct simulation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comms_core.gossip import (
    gossip_energy_joules,
    gossip_rounds,
    grid_topology,
    is_connected,
    metropolis_weights,
    random_peer_topology,
    random_regular_topology,
    ring_allreduce_energy_joules,
    ring_topology,
    simulate_gossip,
    slem,
)

TOPOLOGIES = {
    "ring 50": lambda: ring_topology(50),
    "ring 2": lambda: ring_topology(2),
    "grid 5x10": lambda: grid_topology(5, 10),
    "grid 1x7": lambda: grid_topology(1, 7),
    "random 4-regular 50": lambda: random_regular_topology(50, 4, seed=0),
    "random 7-regular 20": lambda: random_regular_topology(20, 7, seed=3),
    "random peer 50": lambda: random_peer_topology(50, seed=0),
    "random peer 30, p=0.3": lambda: random_peer_topology(30, seed=1, p=0.3),
}


@pytest.fixture(params=sorted(TOPOLOGIES))
def adjacency(request):
    return TOPOLOGIES[request.param]()


def test_topology_is_a_simple_connected_graph(adjacency):
    assert adjacency.shape[0] == adjacency.shape[1] >= 2
    assert np.isin(adjacency, (0, 1)).all()
    assert (adjacency == adjacency.T).all()
    assert not np.diag(adjacency).any()
    assert is_connected(adjacency)


def test_metropolis_weights_are_symmetric_and_doubly_stochastic(adjacency):
    W = metropolis_weights(adjacency)
    np.testing.assert_allclose(W, W.T, atol=0)
    np.testing.assert_allclose(W.sum(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-12)
    assert (W >= 0).all()
    off_diagonal = ~np.eye(len(W), dtype=bool)
    assert ((W > 0) == (adjacency == 1))[off_diagonal].all()  # mixes only with neighbours
    assert (np.diag(W) > 0).all()
    assert 0 <= slem(W) < 1


def test_degrees_by_construction():
    assert (ring_topology(9).sum(axis=1) == 2).all()
    grid = grid_topology(3, 4)
    assert grid.sum() // 2 == 3 * (4 - 1) + 4 * (3 - 1)  # r(c-1) + c(r-1) links
    degrees = grid.sum(axis=1).reshape(3, 4)
    assert degrees[0, 0] == degrees[-1, -1] == 2 and degrees[1, 1] == 4 and degrees[0, 1] == 3
    assert (random_regular_topology(40, 5, seed=2).sum(axis=1) == 5).all()


def test_random_topologies_are_seeded():
    a = random_regular_topology(30, 3, seed=5)
    np.testing.assert_array_equal(a, random_regular_topology(30, 3, seed=5))
    assert not np.array_equal(a, random_regular_topology(30, 3, seed=6))
    b = random_peer_topology(30, seed=5)
    np.testing.assert_array_equal(b, random_peer_topology(30, seed=5))


def test_metropolis_known_answer_on_a_path():
    # path 0-1-2: degrees 1, 2, 1 → W_01 = W_12 = 1/3, W_00 = W_22 = 2/3, W_11 = 1/3
    W = metropolis_weights(grid_topology(1, 3))
    expected = np.array([[2, 1, 0], [1, 1, 1], [0, 1, 2]]) / 3
    np.testing.assert_allclose(W, expected)


# --- SLEM and rounds: the lazy ring -------------------------------------------------------


@pytest.mark.parametrize("n", [4, 5, 8, 17, 32, 64])
def test_slem_of_the_lazy_ring(n):
    """Degree 2 everywhere → Metropolis weights are 1/3, 1/3, 1/3; the eigenvalues are
    1/3 + (2/3)cos(2πk/n), so SLEM = 1/3 + (2/3)cos(2π/n) (research notes §5.3)."""
    W = metropolis_weights(ring_topology(n))
    np.testing.assert_allclose(W[0, [n - 1, 0, 1]], [1 / 3, 1 / 3, 1 / 3])
    assert slem(W) == pytest.approx(1 / 3 + 2 / 3 * np.cos(2 * np.pi / n), abs=1e-12)


def test_spectral_gap_known_answer_n32():
    # research notes §5.3: 1 − SLEM = 1.281e-2 for n = 32
    assert 1 - slem(metropolis_weights(ring_topology(32))) == pytest.approx(1.281e-2, abs=1e-5)


@pytest.mark.parametrize(("n", "rounds"), [(8, 32), (32, 536), (128, 8599)])
def test_rounds_to_1e_3_on_the_lazy_ring(n, rounds):
    # research notes §5.3, "Steps to ε = 1e-3: n = 8 → 32, n = 32 → 536, n = 128 → 8,599"
    assert gossip_rounds(metropolis_weights(ring_topology(n)), 1e-3) == rounds


def test_complete_graph_with_uniform_weights_needs_one_round():
    n = 6
    W = np.full((n, n), 1 / n)
    assert slem(W) == pytest.approx(0, abs=1e-12)
    assert gossip_rounds(W, 1e-9) == 1
    errors = simulate_gossip(np.arange(n, dtype=float), W, 1)
    assert errors[1] == pytest.approx(0, abs=1e-12)
    # the ring of 3 is the complete graph K3: Metropolis weights are all 1/3
    assert gossip_rounds(metropolis_weights(ring_topology(3)), 1e-6) == 1


def test_rounds_formula_and_vectorisation():
    W = metropolis_weights(ring_topology(10))
    s = slem(W)
    eps = np.array([0.5, 1e-2, 1e-4, 1e-8])
    rounds = gossip_rounds(W, eps)
    assert rounds.shape == eps.shape
    assert np.all(np.diff(rounds) >= 0)  # stricter quality needs more rounds
    assert np.all(s**rounds <= eps * (1 + 1e-9))  # enough rounds ...
    assert np.all(s ** (rounds - 1) > eps)  # ... and not one more than needed


def test_exact_powers_do_not_round_up():
    # W = [[3/4, 1/4], [1/4, 3/4]] has SLEM 1/2: ε = 1/8 needs exactly 3 rounds
    W = np.array([[0.75, 0.25], [0.25, 0.75]])
    assert slem(W) == pytest.approx(0.5)
    assert gossip_rounds(W, 0.125) == 3


# --- simulation against the bound ---------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(TOPOLOGIES)), st.integers(0, 2**32 - 1))
def test_consensus_error_respects_the_slem_bound(name, seed):
    """‖x_t − x̄‖ ≤ SLEM^t ‖x_0 − x̄‖ for symmetric doubly stochastic W (Xiao & Boyd 2004)."""
    W = metropolis_weights(TOPOLOGIES[name]())
    x0 = np.random.default_rng(seed).normal(size=len(W))
    errors = simulate_gossip(x0, W, 40)
    assert errors[0] == 1
    assert np.all(errors <= slem(W) ** np.arange(41) * (1 + 1e-9) + 1e-12)


@pytest.mark.parametrize("eps", [1e-3, 1e-6])
def test_predicted_rounds_match_simulated_rounds(adjacency, eps):
    W = metropolis_weights(adjacency)
    predicted = gossip_rounds(W, eps)
    x0 = np.random.default_rng(0).normal(size=len(W))
    errors = simulate_gossip(x0, W, predicted)
    simulated = int(np.argmax(errors <= eps))
    assert errors[-1] <= eps  # the prediction is a guarantee
    assert predicted <= 2 * simulated + 1  # and not a wild overestimate


def test_simulate_gossip_matches_matrix_powers():
    W = metropolis_weights(random_peer_topology(20, seed=4))
    x0 = np.random.default_rng(4).normal(size=20)
    x30 = np.linalg.matrix_power(W, 30) @ x0
    assert x30.mean() == pytest.approx(x0.mean())  # doubly stochastic: the average stays
    expected = np.linalg.norm(x30 - x0.mean()) / np.linalg.norm(x0 - x0.mean())
    assert simulate_gossip(x0, W, 30)[-1] == pytest.approx(expected)


# --- radio energy -------------------------------------------------------------------------


def test_gossip_energy_counts_two_messages_per_link_per_round(adjacency):
    rounds, message, e_tx, e_rx = 7, 128.0, 2e-7, 1e-7
    energy = gossip_energy_joules(adjacency, rounds, message, e_tx, e_rx)
    links = adjacency.sum() // 2
    # each link carries one message each way per round; each message costs tx + rx
    assert energy.total_joules == pytest.approx(2 * links * rounds * message * (e_tx + e_rx))
    assert energy.per_device_joules.shape == (len(adjacency),)
    assert energy.per_device_joules.sum() == pytest.approx(energy.total_joules)


def test_ring_allreduce_energy_known_answer():
    # N = 50, M = 1000 B, 1 µJ/B each way: per device 2·49/50·1000·2e-6 = 3.92 mJ
    energy = ring_allreduce_energy_joules(50, 1000, 1e-6, 1e-6)
    assert energy.per_device_joules == pytest.approx(3.92e-3)
    assert energy.total_joules == pytest.approx(50 * 3.92e-3)
    # cross-check: a ring AllReduce moves 2(N-1) steps × N messages × M/N bytes in total
    N, M = 50, 1000
    assert energy.total_joules == pytest.approx(2 * (N - 1) * N * (M / N) * 2e-6)
    many = ring_allreduce_energy_joules(np.array([1, 2, 50]), 1000, 1e-6, 1e-6)
    np.testing.assert_allclose(many.per_device_joules, [0, 2e-3, 3.92e-3])


def test_gossip_vs_allreduce_on_a_ring_of_50():
    """The Tiny Pioneer trade-off in one line: one ring AllReduce moves ~2M per device,
    gossip to ε = 1e-3 on the ring moves 2·rounds·M per device (hundreds of times more)."""
    A = ring_topology(50)
    rounds = gossip_rounds(metropolis_weights(A), 1e-3)
    gossip = gossip_energy_joules(A, rounds, 1000, 1e-6, 1e-6).total_joules
    allreduce = ring_allreduce_energy_joules(50, 1000, 1e-6, 1e-6).total_joules
    assert gossip / allreduce == pytest.approx(rounds * 50 / 49)


# --- bad input ----------------------------------------------------------------------------

RING4 = ring_topology(4)
DISCONNECTED = np.kron(np.eye(2, dtype=int), 1 - np.eye(3, dtype=int))  # two triangles


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: ring_topology(1), "n"),
        (lambda: ring_topology(4.5), "n"),
        (lambda: grid_topology(1, 1), "rows"),
        (lambda: grid_topology(0, 3), "rows"),
        (lambda: random_regular_topology(9, 3), "degree"),  # n·d odd
        (lambda: random_regular_topology(10, 10), "degree"),
        (lambda: random_regular_topology(10, 1), "degree"),
        (lambda: random_regular_topology(10, 2), "degree"),  # a ring, not an expander
        (lambda: random_regular_topology(3, 2), "degree"),
        (lambda: random_regular_topology(10, 4, seed=-1), "seed"),
        (lambda: random_peer_topology(10, p=0.0), "p"),
        (lambda: random_peer_topology(10, p=1.5), "p"),
        (lambda: metropolis_weights(np.ones((2, 3))), "adjacency"),
        (lambda: metropolis_weights([[0, 1], [0, 0]]), "adjacency"),
        (lambda: metropolis_weights([[1, 1], [1, 0]]), "adjacency"),
        (lambda: metropolis_weights([[0, 2], [2, 0]]), "adjacency"),
        (lambda: metropolis_weights(DISCONNECTED), "adjacency"),
        (lambda: metropolis_weights([[np.nan, 1], [1, 0]]), "adjacency"),
        (lambda: slem([[0.5, 0.5], [0.2, 0.8]]), "W"),
        (lambda: slem([[0.9, 0.2], [0.2, 0.9]]), "W"),
        (lambda: slem(np.ones(3)), "W"),
        (lambda: gossip_rounds(np.eye(2), 0.1), "W"),  # no mixing: SLEM = 1
        (lambda: gossip_rounds(np.full((2, 2), 0.5), 0.0), "eps"),
        (lambda: gossip_rounds(np.full((2, 2), 0.5), 1.0), "eps"),
        (lambda: simulate_gossip([1.0, 1.0], np.full((2, 2), 0.5), 3), "x0"),
        (lambda: simulate_gossip([1.0, 2.0, 3.0], np.full((2, 2), 0.5), 3), "x0"),
        (lambda: simulate_gossip([1.0, 2.0], np.full((2, 2), 0.5), -1), "rounds"),
        (lambda: gossip_energy_joules(RING4, 3, -1, 1e-6, 1e-6), "message_bytes"),
        (lambda: gossip_energy_joules(RING4, 3, 1, [1e-6, 2e-6], 0), "energy_per_byte_tx"),
        (lambda: gossip_energy_joules(RING4, 3, 1, 0, np.nan), "energy_per_byte_rx"),
        (lambda: gossip_energy_joules(DISCONNECTED, 3, 1, 0, 0), "adjacency"),
        (lambda: ring_allreduce_energy_joules(0, 1, 1e-6, 1e-6), "N"),
        (lambda: ring_allreduce_energy_joules(4, -1, 1e-6, 1e-6), "M"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name}"):
        call()


def test_one_radio_model_counts_every_message_of_both_schemes():
    """Count the messages of each schedule one by one (each costs e_msg at both ends, and its
    bytes at e_tx + e_rx), then compare with the closed forms."""
    from comms_core.gossip import (
        expected_ring_energy_joules,
        gossip_energy_joules,
        ring_allreduce_energy_joules,
        ring_completion_probability,
        ring_topology,
    )

    N, M, e_tx, e_rx, e_msg, rounds = 6, 600.0, 1.3e-7, 1.4e-7, 8e-6, 7
    ring_energy = np.zeros(N)
    for _step in range(2 * (N - 1)):
        for sender in range(N):
            receiver = (sender + 1) % N
            ring_energy[sender] += M / N * e_tx + e_msg
            ring_energy[receiver] += M / N * e_rx + e_msg
    got = ring_allreduce_energy_joules(N, M, e_tx, e_rx, e_msg)
    np.testing.assert_allclose(got.per_device_joules, ring_energy[0], rtol=1e-12)
    A = ring_topology(N)
    gossip_energy = np.zeros(N)
    for _round in range(rounds):
        for i in range(N):
            for j in np.flatnonzero(A[i]):
                gossip_energy[i] += M * e_tx + e_msg
                gossip_energy[j] += M * e_rx + e_msg
    got = gossip_energy_joules(A, rounds, M, e_tx, e_rx, e_msg)
    np.testing.assert_allclose(got.per_device_joules, gossip_energy, rtol=1e-12)
    # a ring of 50 lasting one whole period completes when no one leaves: 0.98^50
    assert ring_completion_probability(50, 60.0, 0.98, 60.0) == pytest.approx(0.98**50, rel=1e-12)
    # lasting 1.2 s of a 60 s period, each stays with 0.98^(1/50): all 50 with 0.98
    assert ring_completion_probability(50, 1.2, 0.98, 60.0) == pytest.approx(0.98, rel=1e-12)
    assert ring_completion_probability(3, 5.0, 1.0, 60.0) == 1.0
    with pytest.raises(ValueError, match="presence"):
        ring_completion_probability(3, 1.0, 1.5, 60.0)
    # a completed ring takes 1/P attempts on average (geometric): P = 0.9^(6·3/30)
    expected = expected_ring_energy_joules(N, M, e_tx, e_rx, e_msg, 0.9, 3.0, 30.0)
    assert expected == pytest.approx(ring_energy[0] / 0.9 ** (6 * 3 / 30), rel=1e-12)


def test_departures_are_memoryless_by_simulation():
    """A seeded simulation of exponential departures at the rate −ln(presence)/period: the
    fraction of rings in which nobody leaves within the duration matches the closed form."""
    from comms_core.gossip import ring_completion_probability

    rng = np.random.default_rng(7)
    N, presence, period, duration, trials = 20, 0.95, 60.0, 4.0, 200_000
    leave = rng.exponential(period / -np.log(presence), size=(trials, N))
    completed = np.mean(leave.min(axis=1) > duration)
    want = ring_completion_probability(N, duration, presence, period)
    assert abs(completed - want) < 4 * np.sqrt(want * (1 - want) / trials)
    # and a device present for a whole period: presence, by construction
    assert np.mean(leave[:, 0] > period) == pytest.approx(presence, abs=0.003)


def test_expected_ring_energy_by_simulated_retries_small_n():
    """Brute force for 3 hearables: run syncs one by one; an attempt is lost when one of the
    hearables present leaves during it (exponential departures), and is retried; the mean
    energy per completed ring matches attempt / P. Gossip's energy has no retries."""
    from comms_core.gossip import expected_ring_energy_joules, ring_allreduce_energy_joules

    rng = np.random.default_rng(11)
    N, M, e_tx, e_rx, e_msg = 3, 900.0, 1.5e-7, 1.6e-7, 1e-5
    presence, period, duration = 0.6, 10.0, 4.0  # extreme on purpose: many lost attempts
    attempt = ring_allreduce_energy_joules(N, M, e_tx, e_rx, e_msg).per_device_joules
    rate = -np.log(presence) / period
    syncs, spent = 20_000, 0.0
    for _ in range(syncs):
        while True:
            spent += attempt
            if rng.exponential(1 / rate, size=N).min() > duration:
                break
    want = expected_ring_energy_joules(N, M, e_tx, e_rx, e_msg, presence, duration, period)
    assert spent / syncs == pytest.approx(want, rel=0.02)
