"""The α-β (Hockney) cost of AllReduce: ring, tree, their crossover, the hierarchy.

Units everywhere: M in bytes, α in seconds per message, β = link bandwidth in bytes/s,
so one message of n bytes costs α + n/β seconds (Hockney 1994; the convention of the
MLSysBook chapter "Collective Communication", Vol. 2; docs/science.md).

Every function takes scalars or numpy arrays (they broadcast) and returns float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

import comms_core._validate as v
from comms_core._types import FloatOrArray, IntOrArray, Vector

__all__ = [
    "allreduce_time_from_bytes",
    "crossover_message_size",
    "double_binary_tree_allreduce_time",
    "double_binary_tree_chunks",
    "flat_ring_allreduce_time",
    "hierarchical_allreduce_time",
    "hierarchical_breakdown",
    "hierarchy_comparison",
    "optimal_accumulation_steps",
    "pipelined_hierarchical_allreduce_time",
    "recursive_halving_doubling_time",
    "ring_allreduce_time",
    "slow_link_bytes_per_node",
    "time_to_train",
    "tree_allreduce_time",
]


def _ceil_log2(N: Vector) -> Vector:
    """L = ⌈log2 N⌉ for whole N >= 1, exact: the bit length of N-1 (0 for N = 1).

    frexp writes N-1 = m·2^e with 0.5 <= m < 1, so e is that bit length (exact up to 2^53;
    a float log2 with a tolerance is wrong from N = 2^41 + 1 on).
    """
    _, exponent = np.frexp(np.asarray(N, dtype=np.float64) - 1)
    return exponent.astype(np.float64)


def _ranks(N: ArrayLike) -> Vector:
    """N checked as a whole number >= 1 (_validate.count), as float64 so that every
    formula runs in one dtype (int64 mixed with float64 costs ~2x on large sweeps;
    benchmarks/bench_core.py)."""
    return v.count("N", N).astype(np.float64)


def ring_allreduce_time(
    M: ArrayLike, N: ArrayLike, alpha: ArrayLike, beta: ArrayLike
) -> FloatOrArray:
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
) -> FloatOrArray:
    """An AllReduce that sends its 2(N-1) messages one after another, seconds.

        T = 2(N-1)·α + bytes_per_rank/β

    The ring's pattern (ring_allreduce_time is this with bytes_per_rank = 2(N-1)/N·M), and the
    compressed AllReduce's (2(N-1) compressed chunks: compression.allreduce_bytes), counted
    in whole bytes sent per rank. Bytes, N ranks, α s, β bytes/s. N = 1 costs 0.
    """
    sent, N = v.nonnegative("bytes_per_rank", bytes_per_rank), _ranks(N)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    return v.scalar_or_array(2 * (N - 1) * alpha + sent / beta)


def tree_allreduce_time(
    M: ArrayLike, N: ArrayLike, alpha: ArrayLike, beta: ArrayLike
) -> FloatOrArray:
    """Tree AllReduce (binomial reduce, then binomial broadcast, unpipelined), seconds.

        T_tree = 2·⌈log2 N⌉·(α + M/β)

    Each of the 2⌈log2 N⌉ steps carries the whole message. This is the chapter's model
    (MLSysBook Vol. 2 "Collective Communication", eq. tree-allreduce; mlsysim
    calc_tree_allreduce_time uses ⌈log2 N⌉). It is NOT latency-optimal: its 2⌈log2 N⌉·α is
    twice the ⌈log2 N⌉·α bound (Chan et al. 2007), which recursive doubling meets. N = 1
    costs 0.
    """
    M, N = v.nonnegative("M", M), _ranks(N)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    T = 2 * _ceil_log2(N) * (alpha + M / beta)
    return v.scalar_or_array(T)


def crossover_message_size(N: ArrayLike, alpha: ArrayLike, beta: ArrayLike) -> FloatOrArray:
    """The message size M* in bytes where ring and tree take the same time.

    Setting T_ring = T_tree and solving for M, with L = ⌈log2 N⌉:

        M* = α·β · (N-1-L) / (L - (N-1)/N)

    Below M* the tree is faster, above it the ring. For N ≤ 3 the ring is never slower
    and M* = 0 (N = 1: both cost 0). The seed's "M ≈ Nα/β" treats β as seconds per
    byte; with β as bandwidth the coarse estimate is N·α·β, which is off by about log2 N
    (9.1× too large at N = 1024), and a better one N·α·β/log2 N (MLSysBook Vol. 2
    §algorithm-crossover). Units: α s, β bytes/s, M* bytes.
    """
    N = _ranks(N)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    L = _ceil_log2(N)
    numerator = N - 1 - L
    denominator = L - (N - 1) / N
    with np.errstate(divide="ignore", invalid="ignore"):
        M_star = np.where(numerator > 0, alpha * beta * numerator / denominator, 0.0)
    return v.scalar_or_array(M_star)


def _floor_log2(N: Vector) -> Vector:
    """⌊log2 N⌋ for whole N >= 1, exact (frexp: N = m·2^e with 0.5 <= m < 1)."""
    _, exponent = np.frexp(np.asarray(N, dtype=np.float64))
    return exponent.astype(np.float64) - 1


def recursive_halving_doubling_time(
    M: ArrayLike, N: ArrayLike, alpha: ArrayLike, beta: ArrayLike
) -> FloatOrArray:
    """Rabenseifner's AllReduce (recursive halving, then doubling), seconds; not graded.

    With p′ = 2^⌊lg N⌋ (p′ = N when N is a power of two):

        T_rhd = 2·lg N·α + 2(N-1)/N · M/β                           (N = p′)
        T_rhd = (2⌊lg N⌋ + 2)·α + (2(p′-1)/p′ + 2) · M/β             (otherwise)

    For N not a power of two, the N − p′ extra ranks first fold their whole vector into a
    partner (one send of M), the p′ remaining ranks run recursive halving (reduce-scatter)
    and doubling (all-gather) among themselves, each sending 2(p′-1)/p′·M in 2⌊lg N⌋ steps,
    and the partners send the result back (one more M): two more steps and 2·M more bytes
    on the critical path (MPICH src/mpi/coll/allreduce/allreduce_intra_reduce_scatter_
    allgather.c; Thakur, Rabenseifner & Gropp 2005, IJHPCA 19(1) §4.4). γ (the reduction) is
    left out as everywhere in the lab. Checked against a step-by-step run of the algorithm
    (tests/test_science_hierarchy.py). In the pure α-β model it beats the ring (2 lg N·α
    against 2(N−1)·α, same β term); the ring and NCCL's double binary tree win in practice
    because every step of recursive halving pairs ranks 2^j apart, which on a real topology
    crosses shared links at once, while a ring's neighbours map onto disjoint links
    (Patarasuk & Yuan 2009; docs/science.md).
    """
    M, N = v.nonnegative("M", M), _ranks(N)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    lg = _floor_log2(N)
    p = 2.0**lg
    power_of_two = p == N
    steps = np.where(power_of_two, 2 * lg, 2 * lg + 2)
    volume = np.where(power_of_two, 2 * (N - 1) / N, 2 * (p - 1) / p + 2)
    T = steps * alpha + volume * M / beta
    return v.scalar_or_array(T)


def double_binary_tree_chunks(
    M: ArrayLike, N: ArrayLike, alpha: ArrayLike, beta: ArrayLike
) -> FloatOrArray:
    """The number of chunks k per tree that minimises double_binary_tree_allreduce_time.

    T(k) = 4(L + k)·α + 2M/β + 2L·M/(k·β) is convex in k; its real minimum is
    k* = sqrt(L·M/(2·α·β)), and the best whole k is ⌊k*⌋ or ⌈k*⌉ (at least 1). α = 0: one
    chunk per byte would be free, so k is taken as large as the bytes allow (M chunks).
    """
    M, N = v.nonnegative("M", M), _ranks(N)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    L = _ceil_log2(N)
    with np.errstate(divide="ignore", invalid="ignore"):
        k_star = np.sqrt(L * M / (2 * alpha * beta))
    k_star = np.where(np.isfinite(k_star), k_star, np.maximum(M, 1.0))
    lo = np.maximum(np.floor(k_star), 1.0)
    hi = lo + 1.0

    def T(k: Vector) -> Vector:
        return 4 * (L + k) * alpha + 2 * L * M / (k * beta)

    return v.scalar_or_array(np.where(T(hi) < T(lo), hi, lo))


def double_binary_tree_allreduce_time(
    M: ArrayLike,
    N: ArrayLike,
    alpha: ArrayLike,
    beta: ArrayLike,
    chunks: ArrayLike | None = None,
) -> FloatOrArray:
    """Pipelined double binary tree AllReduce (NCCL's "tree"), seconds; not graded in Part 1.

    Two binary trees span the N ranks, each rank a leaf in one and an inner node in the
    other; each tree carries half of M, cut into k chunks of M/(2k) bytes. In the two-tree
    schedule every rank sends and receives one chunk per step, and a two-tree broadcast (or
    reduction) of M takes at most 2⌈log2 N⌉ + 2k steps (Sanders, Speck & Träff 2009,
    "Two-tree algorithms for full bandwidth broadcast, reduction and scan", Parallel
    Computing 35(12):581-594). AllReduce = two-tree reduction, then two-tree broadcast:

        T_dbt(k) = 2·(2L + 2k)·(α + M/(2k·β)) = 4(L + k)·α + 2M/β + 2L·M/(k·β),  L = ⌈log2 N⌉

    chunks=None takes the best k (double_binary_tree_chunks). Limits: an upper bound for the
    algorithm, since NCCL overlaps the reduction and the broadcast (a chunk goes down as soon
    as it reaches the root; NVIDIA NCCL 2.4 blog post "Massively Scale Your Deep Learning
    Training with NCCL 2.4") and picks a fixed chunk size, not the best one; one link per
    rank at bandwidth β, like the ring. Its bandwidth term is 2M/β, (N/(N−1)) times the
    ring's, and its latency term grows like log N instead of N: for mid-size messages on
    many ranks it is the faster one, which is why NCCL added it. N = 1 costs 0.
    """
    M, N = v.nonnegative("M", M), _ranks(N)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    L = _ceil_log2(N)
    if chunks is None:
        k = np.asarray(double_binary_tree_chunks(M, N, alpha, beta), dtype=np.float64)
    else:
        k = v.count("chunks", chunks).astype(np.float64)
    T = np.where(N > 1, 4 * (L + k) * alpha + 2 * M / beta + 2 * L * M / (k * beta), 0.0)
    return v.scalar_or_array(T)


def hierarchical_breakdown(
    M: ArrayLike,
    G: ArrayLike,
    K: ArrayLike,
    alpha_intra: ArrayLike,
    beta_intra: ArrayLike,
    alpha_inter: ArrayLike,
    beta_inter: ArrayLike,
) -> dict[str, FloatOrArray]:
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


def hierarchical_allreduce_time(
    M: ArrayLike,
    G: ArrayLike,
    K: ArrayLike,
    alpha_intra: ArrayLike,
    beta_intra: ArrayLike,
    alpha_inter: ArrayLike,
    beta_inter: ArrayLike,
) -> FloatOrArray:
    """Hierarchical AllReduce time, seconds: the sum of its three phases, one after the other.

        T_hier = 2(G-1)·(α_intra + M/(G·β_intra)) + 2(K-1)·(α_inter + M/(G·K·β_inter))

    The lab's graded Part 2 formula. Running the phases one after the other makes it an
    upper bound: NCCL pipelines them in chunks (pipelined_hierarchical_allreduce_time).
    Per node on the slow links it sends 2(K-1)/K·M (slow_link_bytes_per_node); a flat ring
    through one NIC per node sends 2(P-1)/P·M through that one NIC, and G flat rings, one
    per NIC, send the same 2(P-1)/P·M per node over the G NICs: (P-1)K/(P(K-1)) times the
    hierarchy's (1.875 at 2 nodes × 8 GPUs; NVIDIA/nccl#946: "on 2 nodes ... 2x less
    traffic on the network"), → 1 as K grows. The hierarchy also takes 2(K-1) instead of
    2(P-1) slow-link latency steps, but adds its phases on the fast link: against G flat
    rings it can lose (it does for Cloud Titan's whole gradient; docs/science.md §5). See
    hierarchical_breakdown for the phases and the source.
    """
    phases = hierarchical_breakdown(M, G, K, alpha_intra, beta_intra, alpha_inter, beta_inter)
    return v.scalar_or_array(np.asarray(sum(np.asarray(t) for t in phases.values())))


PIPELINE_MAX_CHUNKS = 4096  # the most chunks pipelined_hierarchical_allreduce_time tries


def pipelined_hierarchical_allreduce_time(
    M: ArrayLike,
    G: ArrayLike,
    K: ArrayLike,
    alpha_intra: ArrayLike,
    beta_intra: ArrayLike,
    alpha_inter: ArrayLike,
    beta_inter: ArrayLike,
    chunks: ArrayLike | None = None,
) -> FloatOrArray:
    """Hierarchical AllReduce with its phases pipelined over c chunks, seconds; not graded.

    Cut M into c chunks of M/c; each chunk runs the three phases, and while the slow link
    carries chunk i the fast link works on other chunks. The two intra-node phases share the
    fast link, so the pipeline has two stages,

        t_fast(m) = intra_reduce_scatter(m) + intra_all_gather(m)    (hierarchical_breakdown)
        t_slow(m) = inter_allreduce(m)

    and, by the usual pipeline count (fill, then one chunk per slowest-stage time),

        T_pipe(c) = t_fast(M/c) + t_slow(M/c) + (c-1)·max(t_fast(M/c), t_slow(M/c))

    c = 1 is the serial sum (hierarchical_allreduce_time), so T_pipe <= T_hier.
    chunks=None takes the best c in 1..PIPELINE_MAX_CHUNKS. Limits: every chunk pays its
    phases' full latency (2(K-1) slow-link α per chunk), and NCCL overlaps the steps inside
    a ring as well (NVIDIA/nccl src/device/all_reduce.h loops over chunks), so this is an
    estimate between NCCL's behaviour and the serial upper bound, not a measurement.
    Scalars or arrays (they broadcast); M bytes, α s, β bytes/s.
    """
    M = v.nonnegative("M", M)
    shape = np.broadcast_shapes(
        *(np.shape(x) for x in (M, G, K, alpha_intra, beta_intra, alpha_inter, beta_inter))
    )
    if chunks is None:
        c = np.arange(1, PIPELINE_MAX_CHUNKS + 1, dtype=np.float64).reshape(
            (-1,) + (1,) * len(shape)
        )
    else:
        c = v.count("chunks", chunks).astype(np.float64)
    phases = hierarchical_breakdown(M / c, G, K, alpha_intra, beta_intra, alpha_inter, beta_inter)
    fast = np.asarray(phases["intra_reduce_scatter"]) + np.asarray(phases["intra_all_gather"])
    slow = np.asarray(phases["inter_allreduce"])
    T = fast + slow + (c - 1) * np.maximum(fast, slow)
    if chunks is None:
        T = T.min(axis=0)
    return v.scalar_or_array(T)


def slow_link_bytes_per_node(M: ArrayLike, G: ArrayLike, K: ArrayLike) -> dict[str, FloatOrArray]:
    """Bytes each node puts on the slow links (all its NICs together), by scheme, bytes.

        "hierarchical": 2(K-1)/K·M   (G shards of M/G, each in its own K-rank ring)
        "flat_rings":   2(P-1)/P·M   (a flat ring over P = G·K ranks: the same per node on
                                      one NIC or in one ring per NIC, only spread or not)

    Their ratio (P-1)K/(P(K-1)) is 1.875 at G = 8, K = 2 (NVIDIA/nccl#946) and → 1 as K
    grows. Why the flat rings' figure is per node: in a ring through the node's G ranks each
    rank sends 2(P-1)/P·M, but only the rank at the node's exit sends over the slow link,
    once per ring (or per rail); the others pass their chunks on over the fast link.
    """
    M = v.nonnegative("M", M)
    G, K = v.count("G", G), v.count("K", K)
    P = (G * K).astype(np.float64)
    return {
        "hierarchical": v.scalar_or_array(2 * (K - 1) / K * M),
        "flat_rings": v.scalar_or_array(2 * (P - 1) / P * M),
    }


def flat_ring_allreduce_time(
    M: ArrayLike,
    G: ArrayLike,
    K: ArrayLike,
    alpha_inter: ArrayLike,
    beta_inter: ArrayLike,
    rails: ArrayLike = 1,
) -> FloatOrArray:
    """A flat ring over all P = G·K GPUs, at the slow link's pace, in `rails` parallel rings.

        T_flat = 2(P-1)·α_inter + 2(P-1)/P · M/(rails·β_inter)

    Every ring step waits for its slowest hop, an inter-node one. rails = 1 is one ring
    through one NIC per node. NCCL runs one ring (channel) per NIC: with `rails` NICs per
    node, `rails` rings each carry M/rails bytes side by side, so the bandwidth term divides
    by rails and the latency term stays (NCCL src/graph/search.cc builds one channel per
    NIC; a multi-node DGX-A100 with 8×200G NICs reaches ~192 GB/s AllReduce bus bandwidth,
    NVIDIA/nccl#812). The fair comparison for the hierarchy, which uses G NICs per node, is
    rails = G. Per node the flat rings send 2(P-1)/P·M on the slow links and the hierarchy
    2(K-1)/K·M (slow_link_bytes_per_node): not the same, the hierarchy sends (P-1)K/(P(K-1))
    times fewer. The hierarchy also saves 2(P-1) − 2(K-1) slow-link latency steps, and adds
    its phases on the fast link.

    K = 1 has no inter-node link: this model still charges α_inter, β_inter for every hop (use
    ring_allreduce_time with the intra-node α, β for one node). M bytes, α s, β bytes/s.
    """
    G, K = v.count("G", G), v.count("K", K)
    alpha_inter = v.nonnegative("alpha_inter", alpha_inter)
    beta_inter = v.positive("beta_inter", beta_inter)
    rails = v.count("rails", rails)
    return ring_allreduce_time(M, G * K, alpha_inter, rails * beta_inter)


def time_to_train(
    k: ArrayLike,
    T_sync: ArrayLike,
    t_compute: ArrayLike,
    micro_batch: ArrayLike,
    P: ArrayLike,
    B_noise: ArrayLike,
) -> FloatOrArray:
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


def optimal_accumulation_steps(
    T_sync: ArrayLike,
    t_compute: ArrayLike,
    micro_batch: ArrayLike,
    P: ArrayLike,
    B_noise: ArrayLike,
) -> IntOrArray:
    """The integer k >= 1 that minimises time_to_train (the aggregation factor).

    d f/dk = 0 gives k* = sqrt(B_noise·T_sync / (b·P·t_compute)); f is convex in k, so the
    best integer is ⌊k*⌋ or ⌈k*⌉, whichever is faster (ties go to the smaller k).
    Source: McCandlish et al. 2018 (see time_to_train); docs/science.md §6.
    """
    T_sync, t_compute = v.nonnegative("T_sync", T_sync), v.positive("t_compute", t_compute)
    b, P = v.count("micro_batch", micro_batch), v.count("P", P)
    B_noise = v.nonnegative("B_noise", B_noise)
    k_star = np.sqrt(B_noise * T_sync / (b * P * t_compute))
    lo = np.maximum(np.floor(k_star), 1.0)
    hi = lo + 1.0

    def f(k: Vector) -> Vector:
        return (1 + B_noise / (k * b * P)) * (k * t_compute + T_sync)

    best = np.where(f(hi) < f(lo), hi, lo).astype(np.int64)
    return v.scalar_or_array(best)


@dataclass(frozen=True)
class HierarchyComparison:
    """Part 2's hierarchy against the flat rings, one setting, seconds and bytes.

    hierarchical: the serial sum (hierarchical_allreduce_time, the graded formula; an upper
    bound); pipelined: the phases pipelined (pipelined_hierarchical_allreduce_time);
    flat_one_port: one flat ring through one slow-link port per node (rails = 1);
    flat_rails: `rails` flat rings side by side, one per port (rails = G: the hierarchy's
    own ports); bytes_*: per node on the slow links (slow_link_bytes_per_node).
    """

    hierarchical: float
    pipelined: float
    flat_one_port: float
    flat_rails: float
    rails: int
    bytes_hierarchical: float
    bytes_flat: float

    @property
    def bytes_ratio(self) -> float:
        """How many times more the flat rings put on the slow links: (P-1)K/(P(K-1))."""
        return self.bytes_flat / self.bytes_hierarchical if self.bytes_hierarchical else np.inf


def hierarchy_comparison(
    M: float,
    G: int,
    K: int,
    alpha_intra: float,
    beta_intra: float,
    alpha_inter: float,
    beta_inter: float,
    rails: int,
) -> HierarchyComparison:
    """The hierarchy (serial and pipelined) and the flat rings (one port, and one ring per
    port) in one setting, by the α-β models above. rails: the slow-link ports per node the
    flat rings may use (G: the hierarchy's own, one per device). Scalars; M B, α s, β B/s."""
    G, K = v.scalar_count("G", G), v.scalar_count("K", K)
    rails = v.scalar_count("rails", rails)
    args = (M, G, K, alpha_intra, beta_intra, alpha_inter, beta_inter)
    sent = slow_link_bytes_per_node(M, G, K)
    return HierarchyComparison(
        hierarchical=float(hierarchical_allreduce_time(*args)),
        pipelined=float(pipelined_hierarchical_allreduce_time(*args)),
        flat_one_port=float(flat_ring_allreduce_time(M, G, K, alpha_inter, beta_inter)),
        flat_rails=float(flat_ring_allreduce_time(M, G, K, alpha_inter, beta_inter, rails)),
        rails=rails,
        bytes_hierarchical=float(sent["hierarchical"]),
        bytes_flat=float(sent["flat_rings"]),
    )
