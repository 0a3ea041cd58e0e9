"""Gossip averaging: devices mix values with their neighbours until they agree.

Each round every device replaces its value by a weighted average of its own and its
neighbours' values, x ← W·x. With W symmetric and doubly stochastic on a connected
graph, x converges to the average, and the consensus error shrinks at least like

    ‖x_t − x̄‖ ≤ SLEM(W)^t · ‖x_0 − x̄‖,    SLEM = max_{i ≥ 2} |λ_i(W)| = ρ(W − 11ᵀ/n)

so reaching a relative error ε takes ⌈ln(1/ε) / ln(1/SLEM)⌉ rounds.
Sources: Xiao & Boyd 2004, "Fast linear iterations for distributed averaging", Systems &
Control Letters 53:65-78; Boyd, Ghosh, Prabhakar & Shah 2006, "Randomized Gossip
Algorithms", IEEE Trans. Inf. Theory 52(6):2508-2530; research notes §5
(docs/notes/research_cost_models.md). docs/LAB_SPEC.md, track Tiny Pioneer.

Topologies are symmetric 0/1 adjacency matrices without self loops (n × n numpy arrays).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

import comms_core._validate as v
from comms_core._types import FloatOrArray, IntOrArray, IntVector, Vector

__all__ = [
    "RadioEnergy",
    "expected_ring_energy_joules",
    "gossip_energy_joules",
    "gossip_rounds",
    "grid_topology",
    "is_connected",
    "metropolis_weights",
    "random_peer_topology",
    "random_regular_topology",
    "ring_allreduce_energy_joules",
    "ring_completion_probability",
    "ring_topology",
    "simulate_gossip",
    "slem",
]

MAX_ATTEMPTS = 1000  # random topologies: redraws (seeded) until the graph is connected


def _one_number(
    name: str, value: ArrayLike, check: Callable[[str, ArrayLike], Vector] = v.nonnegative
) -> float:
    """One number that passes `check` (an array is refused: this function is not vectorised)."""
    checked = check(name, value)
    if np.ndim(checked) != 0:
        raise ValueError(f"{name} must be a single number, got shape {np.shape(checked)}")
    return float(checked)


# --- topologies ---------------------------------------------------------------------------


def ring_topology(n: int) -> NDArray[np.int64]:
    """A ring: device i talks to i−1 and i+1 (mod n). n = 2 is a single link."""
    n = v.scalar_count("n", n, minimum=2)
    A = np.zeros((n, n), dtype=np.int64)
    i = np.arange(n)
    A[i, (i + 1) % n] = A[(i + 1) % n, i] = 1
    return A


def grid_topology(rows: int, cols: int) -> NDArray[np.int64]:
    """A rows × cols grid, 4 neighbours (up, down, left, right), no wrap-around.

    Device (r, c) has index r·cols + c.
    """
    rows, cols = v.scalar_count("rows", rows), v.scalar_count("cols", cols)
    if rows * cols < 2:
        raise ValueError(f"rows·cols must be >= 2 devices, got {rows}×{cols}")
    index = np.arange(rows * cols).reshape(rows, cols)
    A = np.zeros((rows * cols, rows * cols), dtype=np.int64)
    for a, b in ((index[:, :-1], index[:, 1:]), (index[:-1, :], index[1:, :])):
        A[a.ravel(), b.ravel()] = A[b.ravel(), a.ravel()] = 1
    return A


def is_connected(adjacency: ArrayLike) -> bool:
    """True when every device can reach every other (breadth-first search)."""
    A = v.vector("adjacency", adjacency, ndim=2) != 0
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"adjacency must be square, got shape {A.shape}")
    reached = np.zeros(len(A), dtype=bool)
    reached[0] = True
    frontier = reached.copy()
    while frontier.any():
        frontier = A[frontier].any(axis=0) & ~reached
        reached |= frontier
    return bool(reached.all())


def _random_regular_once(n: int, degree: int, rng: np.random.Generator) -> IntVector | None:
    """One try of the pairing algorithm (Steger & Wormald 1999; networkx
    generators/random_graphs.py random_regular_graph): pair up the n·degree "stubs" at
    random, keeping pairs that make neither a self loop nor a double edge. None if stuck.
    """
    A = np.zeros((n, n), dtype=np.int64)
    stubs = np.repeat(np.arange(n), degree)
    while stubs.size:
        rng.shuffle(stubs)
        leftover = []
        for a, b in stubs.reshape(-1, 2):
            if a != b and not A[a, b]:
                A[a, b] = A[b, a] = 1
            else:
                leftover += [a, b]
        if len(leftover) == stubs.size:  # no progress this pass: can we still pair any?
            free = np.unique(leftover)
            sub = A[np.ix_(free, free)] + np.eye(free.size, dtype=np.int64)
            if sub.all():
                return None
        stubs = np.array(leftover, dtype=np.int64)
    return A


def random_regular_topology(n: int, degree: int, seed: int = 0) -> NDArray[np.int64]:
    """A connected random graph where every device has exactly `degree` neighbours.

    Random d-regular graphs with d >= 3 are expanders with high probability (Friedman 2008,
    "A proof of Alon's second eigenvalue conjecture", Mem. AMS 195), so their SLEM stays
    bounded away from 1 as n grows (unlike a ring). Degree 2 is refused: a connected
    2-regular graph IS a ring (its SLEM → 1 as n grows), and degree 1 is disconnected.
    Drawn with the seeded pairing algorithm and redrawn until connected (at most
    MAX_ATTEMPTS times). Needs n·degree even and 3 ≤ degree < n.
    """
    n = v.scalar_count("n", n, minimum=2)
    degree = v.scalar_count("degree", degree)
    seed = v.scalar_count("seed", seed, minimum=0)
    if degree < 3 or degree >= n:
        raise ValueError(
            f"degree must be in [3, n) for an expander (degree 2 is a ring: use "
            f"ring_topology), got {degree} (n={n})"
        )
    if n * degree % 2:
        raise ValueError(f"degree·n must be even, got degree={degree}, n={n}")
    rng = np.random.default_rng(seed)
    for _ in range(MAX_ATTEMPTS):
        A = _random_regular_once(n, degree, rng)
        if A is not None and is_connected(A):
            return A
    raise ValueError(f"no connected {degree}-regular graph found with seed {seed}")


def random_peer_topology(n: int, seed: int = 0, p: float | None = None) -> NDArray[np.int64]:
    """A connected Erdős–Rényi graph G(n, p): each pair of devices is linked with prob. p.

    p defaults to min(1, 2·ln n / n), twice the connectivity threshold ln n / n above
    which G(n, p) is connected with high probability (Erdős & Rényi 1960). Redrawn
    (seeded) until connected, at most MAX_ATTEMPTS times; a p far below the threshold
    raises ValueError.
    """
    n = v.scalar_count("n", n, minimum=2)
    seed = v.scalar_count("seed", seed, minimum=0)
    if p is None:
        p = min(1.0, 2 * np.log(n) / n)
    p = _one_number("p", p, lambda name, x: v.probability(name, x, open_interval=False))
    rng = np.random.default_rng(seed)
    for _ in range(MAX_ATTEMPTS):
        upper = np.triu(rng.random((n, n)) < p, k=1)
        A: IntVector = (upper | upper.T).astype(np.int64)
        if is_connected(A):
            return A
    raise ValueError(f"p = {p} is too small: no connected graph in {MAX_ATTEMPTS} draws")


# --- mixing matrix and its spectral gap ---------------------------------------------------


def _adjacency(adjacency: ArrayLike) -> NDArray[np.int64]:
    """Check: square, symmetric, 0/1, no self loops, at least 2 devices, connected."""
    A = v.vector("adjacency", adjacency, ndim=2)
    if A.shape[0] != A.shape[1] or A.shape[0] < 2:
        raise ValueError(f"adjacency must be square with n >= 2, got shape {A.shape}")
    if not np.isin(A, (0, 1)).all():
        raise ValueError("adjacency must contain only 0 and 1")
    if not (A == A.T).all():
        raise ValueError("adjacency must be symmetric (links work both ways)")
    if np.diag(A).any():
        raise ValueError("adjacency must have no self loops (zero diagonal)")
    if not is_connected(A):
        raise ValueError("adjacency must be connected, or the devices never agree")
    return A.astype(np.int64)


def metropolis_weights(adjacency: ArrayLike) -> NDArray[np.float64]:
    """The Metropolis–Hastings mixing matrix of a graph.

        W_ij = 1 / (1 + max(d_i, d_j))   for each link i–j
        W_ii = 1 − Σ_{j≠i} W_ij

    d_i = number of neighbours of i. W is symmetric and doubly stochastic, each device
    needs only its neighbours' degrees, and W_ii ≥ 1/(1 + d_i) > 0 (no oscillation).
    Source: Xiao & Boyd 2004 §4.2 ("Metropolis–Hastings weights"); Xiao, Boyd & Lall 2005.
    """
    A = _adjacency(adjacency)
    d = A.sum(axis=1)
    W: Vector = A / (1.0 + np.maximum(d[:, None], d[None, :]))
    W[np.diag_indices_from(W)] = 1.0 - W.sum(axis=1)
    return W


def _mixing_matrix(W: ArrayLike) -> NDArray[np.float64]:
    """Check: square, symmetric, rows (hence columns) summing to 1."""
    W = v.vector("W", W, ndim=2)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be square, got shape {W.shape}")
    if not np.allclose(W, W.T, atol=1e-12):
        raise ValueError("W must be symmetric")
    if not np.allclose(W.sum(axis=1), 1.0, atol=1e-9):
        raise ValueError("W must be doubly stochastic (rows summing to 1)")
    return W


def slem(W: ArrayLike) -> float:
    """Second-largest eigenvalue modulus of a symmetric doubly stochastic W.

        SLEM(W) = max(|λ_2|, |λ_n|) = ρ(W − 11ᵀ/n)

    (subtracting 11ᵀ/n removes the eigenvalue 1 of the consensus direction). SLEM < 1
    iff the gossip converges to the average (Xiao & Boyd 2004, Theorem 1).
    """
    W = _mixing_matrix(W)
    n = W.shape[0]
    return float(np.abs(np.linalg.eigvalsh(W - 1.0 / n)).max())


def gossip_rounds(W: ArrayLike, eps: ArrayLike) -> IntOrArray:
    """Rounds of gossip that guarantee a relative consensus error ≤ ε.

        t(ε) = ⌈ ln(1/ε) / ln(1/SLEM) ⌉

    from SLEM^t ≤ ε. SLEM = 0 (e.g. the complete graph with uniform weights 1/n) reaches
    the exact average in 1 round. A disconnected graph (SLEM = 1) never does: ValueError.
    ε in (0, 1); scalars or arrays.
    """
    eps = v.probability("eps", eps)
    s = slem(W)
    if s >= 1 - 1e-12:
        raise ValueError("W must mix a connected graph (SLEM = 1: the devices never agree)")
    if s < 1e-12:
        return v.scalar_or_array(np.ones_like(eps, dtype=np.int64))
    rounds = np.ceil(np.log(1 / eps) / np.log(1 / s) - 1e-9)  # 1e-9: exact ratios stay exact
    return v.scalar_or_array(np.maximum(rounds, 1).astype(np.int64))


def simulate_gossip(x0: ArrayLike, W: ArrayLike, rounds: int) -> NDArray[np.float64]:
    """Run x_{t+1} = W·x_t and return the relative consensus error per round.

        error_t = ‖x_t − x̄·1‖ / ‖x_0 − x̄·1‖,   t = 0..rounds   (error_0 = 1)

    x̄ = mean(x_0) stays the same every round because W is doubly stochastic.
    """
    x = v.vector("x0", x0)
    W = _mixing_matrix(W)
    if W.shape[0] != x.size:
        raise ValueError(f"x0 must have one value per device ({W.shape[0]}), got {x.size}")
    rounds = v.scalar_count("rounds", rounds, minimum=0)
    mean = x.mean()
    start = np.linalg.norm(x - mean)
    if start == 0:
        raise ValueError("x0 must not already be at consensus (all values equal)")
    errors = np.empty(rounds + 1)
    for t in range(rounds + 1):
        errors[t] = np.linalg.norm(x - mean) / start
        x = W @ x
    return errors


# --- radio energy -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RadioEnergy:
    """Radio energy of one exchange, joules: all devices together, and each device."""

    total_joules: float | NDArray[np.float64]
    per_device_joules: float | NDArray[np.float64]


def gossip_energy_joules(
    adjacency: ArrayLike,
    rounds: int,
    message_bytes: ArrayLike,
    energy_per_byte_tx: ArrayLike,
    energy_per_byte_rx: ArrayLike,
    energy_per_message: ArrayLike = 0.0,
) -> RadioEnergy:
    """Radio energy of `rounds` rounds of gossip, joules.

        E_i = rounds · d_i · ( message_bytes · (e_tx + e_rx) + 2·e_msg )

    Every round each device sends its value to each of its d_i neighbours (unicast, as
    on point-to-point BLE links) and receives one message from each; every message also
    costs e_msg joules at each end (the radio waking for the connection event that carries
    it, headers and empty packets; 0 leaves it out). e_tx, e_rx (J/byte) and e_msg (J) come
    from the scenario's radio model, the same one ring_allreduce_energy_joules uses.
    per_device_joules has one entry per device.
    """
    A = _adjacency(adjacency)
    rounds = v.scalar_count("rounds", rounds, minimum=0)
    message_bytes = _one_number("message_bytes", message_bytes)
    e_tx = _one_number("energy_per_byte_tx", energy_per_byte_tx)
    e_rx = _one_number("energy_per_byte_rx", energy_per_byte_rx)
    e_msg = _one_number("energy_per_message", energy_per_message)
    per_device = rounds * A.sum(axis=1) * (message_bytes * (e_tx + e_rx) + 2 * e_msg)
    return RadioEnergy(total_joules=float(per_device.sum()), per_device_joules=per_device)


def ring_allreduce_energy_joules(
    N: ArrayLike,
    M: ArrayLike,
    energy_per_byte_tx: ArrayLike,
    energy_per_byte_rx: ArrayLike,
    energy_per_message: ArrayLike = 0.0,
) -> RadioEnergy:
    """Radio energy of one ring AllReduce of M bytes over N devices, joules.

        E_device = 2(N−1)/N · M · (e_tx + e_rx) + 2·2(N−1)·e_msg,    E_total = N · E_device

    Each rank sends and receives 2(N−1)/N·M bytes (reduce-scatter then all-gather; the
    same count as comms_core.cost_models.ring_allreduce_time) in 2(N−1) steps, each one
    message out and one in, each costing e_msg at its end (the same radio model as
    gossip_energy_joules). Scalars or arrays (they broadcast).
    """
    N, M = v.count("N", N), v.nonnegative("M", M)
    e_tx = v.nonnegative("energy_per_byte_tx", energy_per_byte_tx)
    e_rx = v.nonnegative("energy_per_byte_rx", energy_per_byte_rx)
    e_msg = v.nonnegative("energy_per_message", energy_per_message)
    per_device = 2 * (N - 1) / N * M * (e_tx + e_rx) + 4 * (N - 1) * e_msg
    return RadioEnergy(
        total_joules=v.scalar_or_array(N * per_device),
        per_device_joules=v.scalar_or_array(per_device),
    )


def ring_completion_probability(
    N: ArrayLike, duration: ArrayLike, presence: ArrayLike, period: ArrayLike
) -> FloatOrArray:
    """Probability that a ring AllReduce over the N devices present at its start completes.

        P = presence^(N · duration / period)

    The ring is formed over the devices present when the sync starts (as gossip's graph is),
    so an absent device does not stop it; a device that leaves *during* the ring does (its
    chunks cannot pass), and the attempt is lost. Each device stays for a whole period with
    probability `presence`; with memoryless departures (an ASSUMPTION: exponential, at the
    rate −ln(presence)/period) it stays through the ring's `duration` with
    presence^(duration/period), independently of the others. Gossip has no such single
    point of failure: a device that leaves only skips its exchanges. duration and period in
    seconds (the ring's time: shared_medium.half_duplex_ring_allreduce_time on BLE).
    """
    N = v.count("N", N).astype(np.float64)
    duration = v.nonnegative("duration", duration)
    presence = v.probability("presence", presence, open_interval=False)
    period = v.positive("period", period)
    return v.scalar_or_array(presence ** (N * duration / period))


def expected_ring_energy_joules(
    N: ArrayLike,
    M: ArrayLike,
    energy_per_byte_tx: ArrayLike,
    energy_per_byte_rx: ArrayLike,
    energy_per_message: ArrayLike,
    presence: ArrayLike,
    duration: ArrayLike,
    period: ArrayLike,
) -> FloatOrArray:
    """Expected radio energy per device of one *completed* ring AllReduce, joules.

        E = E_attempt / presence^(N · duration / period)

    An attempt costs ring_allreduce_energy_joules' per-device energy (every exchange waits
    for its connection event: e_msg per message at each end, ramp-up, headers and empty
    packets included), and completes with ring_completion_probability, so a completed ring
    takes 1/P attempts on average (geometric). ASSUMPTION: a lost attempt costs as much as a
    whole one (an upper bound: a device may leave halfway).
    """
    attempt = ring_allreduce_energy_joules(
        N, M, energy_per_byte_tx, energy_per_byte_rx, energy_per_message
    ).per_device_joules
    completed = ring_completion_probability(N, duration, presence, period)
    return v.scalar_or_array(np.asarray(attempt / completed))
