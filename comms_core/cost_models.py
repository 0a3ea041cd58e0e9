"""The α-β (Hockney) cost of AllReduce: ring, tree, their crossover, the hierarchy.

Units everywhere: M in bytes, α in seconds per message, β = link bandwidth in bytes/s,
so one message of n bytes costs α + n/β seconds (Hockney 1994; the convention of the
MLSysBook chapter "Collective Communication", Vol. 2, and of docs/LAB_SPEC.md).

Every function takes scalars or numpy arrays (they broadcast) and returns float64.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from comms_core import _validate as v

__all__ = [
    "allreduce_time_from_bytes",
    "crossover_message_size",
    "double_binary_tree_allreduce_time",
    "flat_ring_allreduce_time",
    "hierarchical_allreduce_time",
    "hierarchical_breakdown",
    "optimal_accumulation_steps",
    "recursive_halving_doubling_time",
    "ring_allreduce_time",
    "time_to_train",
    "tree_allreduce_time",
]


def _ceil_log2(N: np.ndarray) -> np.ndarray:
    """L = ⌈log2 N⌉ for whole N >= 1, exact: the bit length of N-1 (0 for N = 1).

    frexp writes N-1 = m·2^e with 0.5 <= m < 1, so e is that bit length (exact up to 2^53;
    a float log2 with a tolerance is wrong from N = 2^41 + 1 on).
    """
    _, exponent = np.frexp(np.asarray(N, dtype=np.float64) - 1)
    return exponent.astype(np.float64)


def _ranks(N: ArrayLike) -> np.ndarray:
    """N checked as a whole number >= 1 (_validate.count), as float64 so that every
    formula runs in one dtype (int64 mixed with float64 costs ~2x on large sweeps;
    benchmarks/bench_core.py)."""
    return v.count("N", N).astype(np.float64)


def ring_allreduce_time(M: ArrayLike, N: ArrayLike, alpha: ArrayLike, beta: ArrayLike):
    """Ring AllReduce (reduce-scatter then all-gather), seconds.

        T_ring = 2(N-1)·α + 2(N-1)/N · M/β

    2(N-1) steps, each sends one M/N chunk. The bandwidth term meets the lower bound
    2(N-1)/N·M/β of algorithms built from point-to-point messages (Patarasuk & Yuan 2009,
    JPDC 69(2):117-124); reduction inside the switch (NVLink SHARP / NVLS, InfiniBand SHARP)
    is not bound by it. The latency term grows linearly in N, where any AllReduce needs only
    ⌈log2 N⌉·α (Chan et al. 2007, CCPE 19(13)). Source: Thakur, Rabenseifner & Gropp 2005,
    IJHPCA 19(1) §5.3.
    M bytes, N ranks, α s, β bytes/s. N = 1 costs 0.
    """
    M, N = v.nonnegative("M", M), _ranks(N)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    T = 2 * (N - 1) * alpha + 2 * (N - 1) / N * M / beta
    return v.scalar_or_array(T)


def allreduce_time_from_bytes(
    bytes_per_rank: ArrayLike, N: ArrayLike, alpha: ArrayLike, beta: ArrayLike
):
    """An AllReduce that sends its 2(N-1) messages one after another, seconds.

        T = 2(N-1)·α + bytes_per_rank/β

    The ring's pattern (ring_allreduce_time is this with bytes_per_rank = 2(N-1)/N·M), and the
    compressed AllReduce's (2(N-1) compressed chunks: compression.allreduce_bytes), counted
    in whole bytes sent per rank. Bytes, N ranks, α s, β bytes/s. N = 1 costs 0.
    """
    sent, N = v.nonnegative("bytes_per_rank", bytes_per_rank), _ranks(N)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    return v.scalar_or_array(2 * (N - 1) * alpha + sent / beta)


def tree_allreduce_time(M: ArrayLike, N: ArrayLike, alpha: ArrayLike, beta: ArrayLike):
    """Tree AllReduce (binomial reduce, then binomial broadcast, unpipelined), seconds.

        T_tree = 2·⌈log2 N⌉·(α + M/β)

    Each of the 2⌈log2 N⌉ steps carries the whole message. This is the chapter's model
    (MLSysBook Vol. 2 "Collective Communication", eq. tree-allreduce; mlsysim
    calc_tree_allreduce_time uses ⌈log2 N⌉). N = 1 costs 0.
    """
    M, N = v.nonnegative("M", M), _ranks(N)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    T = 2 * _ceil_log2(N) * (alpha + M / beta)
    return v.scalar_or_array(T)


def crossover_message_size(N: ArrayLike, alpha: ArrayLike, beta: ArrayLike):
    """The message size M* in bytes where ring and tree take the same time.

    Setting T_ring = T_tree and solving for M, with L = ⌈log2 N⌉:

        M* = α·β · (N-1-L) / (L - (N-1)/N)

    Below M* the tree is faster, above it the ring. For N ≤ 3 the ring is never slower
    and M* = 0 (N = 1: both cost 0). The seed's "M ≈ Nα/β" treats β as seconds per
    byte; with β as bandwidth the coarse estimate is N·α·β and a better one N·α·β/log2 N
    (MLSysBook Vol. 2 §algorithm-crossover). Units: α s, β bytes/s, M* bytes.
    """
    N = _ranks(N)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    L = _ceil_log2(N)
    numerator = N - 1 - L
    denominator = L - (N - 1) / N
    with np.errstate(divide="ignore", invalid="ignore"):
        M_star = np.where(numerator > 0, alpha * beta * numerator / denominator, 0.0)
    return v.scalar_or_array(M_star)


def _floor_log2(N: np.ndarray) -> np.ndarray:
    """⌊log2 N⌋ for whole N >= 1, exact (frexp: N = m·2^e with 0.5 <= m < 1)."""
    _, exponent = np.frexp(np.asarray(N, dtype=np.float64))
    return exponent.astype(np.float64) - 1


def recursive_halving_doubling_time(M, N, alpha, beta):
    """Rabenseifner's AllReduce (recursive halving, then doubling), seconds; not graded.

        T_rhd = 2·lg N·α + 2(N-1)/N · M/β                          (N a power of two)
        T_rhd = (2⌊lg N⌋ + 2)·α + (2(N-1)/N + 2) · M/β             (otherwise)

    For N not a power of two, MPICH first folds the N − 2^⌊lg N⌋ extra ranks into partners
    (one send of the whole vector) and sends them the result at the end (one more): two more
    steps and 2·M more bytes. Both lines are the cost comments of MPICH
    src/mpi/coll/allreduce/allreduce_intra_reduce_scatter_allgather.c (Thakur, Rabenseifner
    & Gropp 2005, IJHPCA 19(1) §4.4), γ (the reduction) left out as everywhere in the lab.
    In the pure α-β model it beats the ring (2 lg N·α against 2(N−1)·α, same β term); the
    ring and NCCL's double binary tree win in practice because every step of recursive
    halving pairs ranks 2^j apart, which on a real topology crosses shared links at once,
    while a ring's neighbours map onto disjoint links (Patarasuk & Yuan 2009; docs/science.md).
    """
    M, N = v.nonnegative("M", M), _ranks(N)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    lg = _floor_log2(N)
    power_of_two = 2.0**lg == N
    steps = np.where(power_of_two, 2 * lg, 2 * lg + 2)
    volume = np.where(power_of_two, 2 * (N - 1) / N, 2 * (N - 1) / N + 2)
    T = steps * alpha + volume * M / beta
    return v.scalar_or_array(T)


def double_binary_tree_allreduce_time(M, N, alpha, beta):
    """NCCL-style pipelined double binary tree AllReduce, seconds; not graded.

        T_dbt ≈ 2·⌈log2 N⌉·α + 2·M/β

    Pipelining hides the depth for large messages (NVIDIA NCCL 2.4 double binary tree
    post; research notes §1, "ring vs pipelined DBT"). An idealised bound.
    """
    M, N = v.nonnegative("M", M), _ranks(N)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    T = np.where(N > 1, 2 * _ceil_log2(N) * alpha + 2 * M / beta, 0.0)
    return v.scalar_or_array(T)


def hierarchical_breakdown(M, G, K, alpha_intra, beta_intra, alpha_inter, beta_inter):
    """The three phases of hierarchical AllReduce, seconds each, by name.

    P = G·K GPUs: G per node on the fast link (α_intra, β_intra, e.g. NVLink),
    K nodes on the slow link (α_inter, β_inter, e.g. InfiniBand). One NIC per GPU, so the
    G shards cross the network in parallel (Horovod NCCLHierarchicalAllreduce,
    horovod/common/ops/nccl_operations.cc; MLSysBook Vol. 2 §hierarchical-allreduce).

        intra_reduce_scatter = (G-1)·(α_intra + M/(G·β_intra))
        inter_allreduce      = 2(K-1)·(α_inter + M/(G·K·β_inter))   (ring on the M/G shard)
        intra_all_gather     = (G-1)·(α_intra + M/(G·β_intra))
    """
    M = v.nonnegative("M", M)
    G, K = v.count("G", G), v.count("K", K)
    a_f, b_f = v.nonnegative("alpha_intra", alpha_intra), v.positive("beta_intra", beta_intra)
    a_s, b_s = v.nonnegative("alpha_inter", alpha_inter), v.positive("beta_inter", beta_inter)
    intra = (G - 1) * (a_f + M / (G * b_f))
    inter = 2 * (K - 1) * (a_s + M / (G * K * b_s))
    return {
        "intra_reduce_scatter": v.scalar_or_array(intra),
        "inter_allreduce": v.scalar_or_array(inter),
        "intra_all_gather": v.scalar_or_array(intra),
    }


def hierarchical_allreduce_time(M, G, K, alpha_intra, beta_intra, alpha_inter, beta_inter):
    """Hierarchical AllReduce time, seconds: the sum of its three phases.

        T_hier = 2(G-1)·(α_intra + M/(G·β_intra)) + 2(K-1)·(α_inter + M/(G·K·β_inter))

    Against a flat ring on one NIC per node (flat_ring_allreduce_time, rails = 1) the
    inter-node bytes per GPU shrink by G, because the G shards use G NICs at once. Against a
    flat ring with one ring per NIC (rails = G) the inter-node bytes are the same; the
    hierarchy then saves latency steps, 2(K-1) instead of 2(P-1) on the slow link.
    See hierarchical_breakdown for the phases and the source.
    """
    phases = hierarchical_breakdown(M, G, K, alpha_intra, beta_intra, alpha_inter, beta_inter)
    return v.scalar_or_array(np.asarray(sum(np.asarray(t) for t in phases.values())))


def flat_ring_allreduce_time(M, G, K, alpha_inter, beta_inter, rails=1):
    """A flat ring over all P = G·K GPUs, at the slow link's pace, in `rails` parallel rings.

        T_flat = 2(P-1)·α_inter + 2(P-1)/P · M/(rails·β_inter)

    Every ring step waits for its slowest hop, an inter-node one (docs/LAB_SPEC.md Part 2).
    rails = 1 is one ring through one NIC per node (the graded Part 2 baseline). NCCL runs one
    ring (channel) per NIC: with `rails` NICs per node, `rails` rings each carry M/rails bytes
    side by side, so the bandwidth term divides by rails and the latency term stays (NCCL
    src/graph/search.cc builds one channel per NIC; a multi-node DGX-A100 with 8×200G NICs
    reaches ~192 GB/s AllReduce bus bandwidth, NVIDIA/nccl#812). With rails = G each node puts
    G·2(P-1)/P·M/G bytes on its G NICs, as many as hierarchical AllReduce does: what the
    hierarchy saves is 2(P-1) − 2(K-1) inter-node latency steps, and the intra-node part runs
    on the fast link.

    K = 1 has no inter-node link: this model still charges α_inter, β_inter for every hop (use
    ring_allreduce_time with the intra-node α, β for one node). M bytes, α s, β bytes/s.
    """
    G, K = v.count("G", G), v.count("K", K)
    alpha_inter = v.nonnegative("alpha_inter", alpha_inter)
    beta_inter = v.positive("beta_inter", beta_inter)
    rails = v.count("rails", rails)
    return ring_allreduce_time(M, G * K, alpha_inter, rails * beta_inter)


def time_to_train(k, T_sync, t_compute, micro_batch, P, B_noise):
    """Relative time to reach the target with k micro-batches accumulated per AllReduce.

        f(k) = (1 + B_noise/B) · (k·t_compute + T_sync),   B = k·b·P

    Steps to the target S(B) = S_min·(1 + B_noise/B) (McCandlish et al. 2018, "An
    Empirical Model of Large-Batch Training", arXiv 1812.06162, eq. 2.11); S_min cancels
    when comparing k, so f is in seconds per S_min steps. T_sync and t_compute in seconds,
    micro_batch b and B_noise in examples, P GPUs.
    """
    k = v.count("k", k)
    T_sync, t_compute = v.nonnegative("T_sync", T_sync), v.positive("t_compute", t_compute)
    b, P = v.count("micro_batch", micro_batch), v.count("P", P)
    B_noise = v.nonnegative("B_noise", B_noise)
    B = k * b * P
    return v.scalar_or_array((1 + B_noise / B) * (k * t_compute + T_sync))


def optimal_accumulation_steps(T_sync, t_compute, micro_batch, P, B_noise):
    """The integer k >= 1 that minimises time_to_train (the aggregation factor).

    d f/dk = 0 gives k* = sqrt(B_noise·T_sync / (b·P·t_compute)); f is convex in k, so the
    best integer is ⌊k*⌋ or ⌈k*⌉, whichever is faster (ties go to the smaller k).
    Source: docs/LAB_SPEC.md Part 2, after McCandlish et al. 2018.
    """
    T_sync, t_compute = v.nonnegative("T_sync", T_sync), v.positive("t_compute", t_compute)
    b, P = v.count("micro_batch", micro_batch), v.count("P", P)
    B_noise = v.nonnegative("B_noise", B_noise)
    k_star = np.sqrt(B_noise * T_sync / (b * P * t_compute))
    lo = np.maximum(np.floor(k_star), 1.0)
    hi = lo + 1.0

    def f(k):
        return (1 + B_noise / (k * b * P)) * (k * t_compute + T_sync)

    best = np.where(f(hi) < f(lo), hi, lo).astype(np.int64)
    return v.scalar_or_array(best)
