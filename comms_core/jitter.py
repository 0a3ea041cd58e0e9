"""Ring vs tree AllReduce when the per-message latency α is random (Edge Guardian).

On a noisy wireless link every message pays its own α, drawn from a lognormal with the
given mean and coefficient of variation (CV = std/mean), independently per message (an
ASSUMPTION: no public jitter data for vehicle wireless; docs/LAB_SPEC.md track Edge Guardian).
β (bytes/s) is deterministic. Two media:

- "shared" (the default; how the air works): all devices share one channel, and in one
  collision domain only one transmission succeeds at a time (IEEE 802.11 DCF / 802.11p
  CSMA/CA, Bianchi 2000, IEEE JSAC 18(3)). Messages take turns, so the time is the sum
  over every message of the AllReduce:

      T = Σ_messages ( α_m + bytes_m / β )

  At zero variance: ring 2(N−1)·(N·α + M/β), tree 2(N−1)·(α + M/β). Both put the same
  2(N−1)·M bytes on the air; the ring pays N times as many channel accesses.
- "full_duplex": N independent point-to-point links (a switched wired network). A
  synchronous step ends when its slowest message arrives:

      T = Σ_steps ( max_{messages in the step} α_m  +  bytes_per_message / β )

  With CV = 0 this is comms_core.cost_models.ring_allreduce_time and tree_allreduce_time.

Schedules (the lab's graded models, docs/LAB_SPEC.md Part 1):
- ring: 2(N−1) steps; in each, all N ranks send one chunk of M/N bytes.
- tree: binomial reduce (⌈log2 N⌉ steps), then the mirror-image broadcast; each
  message carries the whole M bytes; step j has binomial_tree_messages_per_step(N)[j]
  messages (N − 1 per phase).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from comms_core import _validate as v

__all__ = [
    "ALGORITHMS",
    "MEDIA",
    "JitterStats",
    "JitterSummary",
    "binomial_tree_messages_per_step",
    "deadline_miss_probability",
    "jitter_summary",
    "lognormal_parameters",
    "shared_medium_allreduce_time",
    "simulate_allreduce_times",
]

ALGORITHMS = ("ring", "tree")
MEDIA = ("shared", "full_duplex")


def lognormal_parameters(mean: ArrayLike, cv: ArrayLike):
    """(μ, σ) of the underlying normal of a lognormal with the given mean and CV.

        σ² = ln(1 + CV²),     μ = ln(mean) − σ²/2

    from E[X] = exp(μ + σ²/2) and Var[X]/E[X]² = exp(σ²) − 1 (Johnson, Kotz &
    Balakrishnan 1994, "Continuous Univariate Distributions" Vol. 1, ch. 14;
    NIST/SEMATECH e-Handbook of Statistical Methods §1.3.6.6.9). mean > 0 (seconds),
    CV ≥ 0 (dimensionless); CV = 0 gives σ = 0, a constant.
    """
    mean, cv = v.positive("mean", mean), v.nonnegative("cv", cv)
    sigma2 = np.log1p(cv**2)
    return v.scalar_or_array(np.log(mean) - sigma2 / 2), v.scalar_or_array(np.sqrt(sigma2))


def binomial_tree_messages_per_step(N: int) -> NDArray[np.int64]:
    """Concurrent messages in each of the ⌈log2 N⌉ steps of a binomial-tree reduce.

    In step j (j = 0, 1, …) rank r with r mod 2^(j+1) = 2^j sends its partial sum to
    rank r − 2^j (MPICH's binomial reduce, Thakur et al. 2005 §4). The senders are
    2^j, 3·2^j, 5·2^j, … below N, so

        n_j = ⌊(N − 1 − 2^j) / 2^(j+1)⌋ + 1

    N = 10 gives 5, 2, 1, 1: every rank but the root sends once, Σ n_j = N − 1.
    """
    N = v.scalar_count("N", N)
    L = int(np.ceil(np.log2(N) - 1e-12)) if N > 1 else 0
    half = 2 ** np.arange(L, dtype=np.int64)  # 2^j
    return (N - 1 - half) // (2 * half) + 1


def _messages_per_step(algorithm: str, N: int) -> tuple[NDArray[np.int64], float]:
    """(messages in each step, bytes per message as a share of M) of the lab's schedules."""
    if algorithm == "ring":
        return np.full(2 * (N - 1), N), 1.0 / N
    reduce_steps = binomial_tree_messages_per_step(N)
    return np.concatenate([reduce_steps, reduce_steps[::-1]]), 1.0


def shared_medium_allreduce_time(algorithm: str, M: ArrayLike, N: int, alpha, beta):
    """AllReduce time on one shared channel without jitter, seconds: every message in turn.

        ring: 2(N−1)·N messages of M/N bytes   →  T = 2(N−1)·(N·α + M/β)
        tree: 2(N−1) messages of M bytes        →  T = 2(N−1)·(α + M/β)

    The same bytes go on the air; the ring pays N times the per-message α (channel access:
    802.11 DCF/CSMA-CA lets one transmitter in a collision domain send at a time; Bianchi
    2000). Vectorised in M, α, β; N one whole number. Counted from the schedules, so it is
    also the mean of simulate_allreduce_times(..., medium="shared") for any CV.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    N = v.scalar_count("N", N)
    M = v.nonnegative("M", M)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    per_step, share = _messages_per_step(algorithm, N)
    messages = int(per_step.sum())
    return v.scalar_or_array(messages * (alpha + share * M / beta))


def _one_number(name: str, value: ArrayLike, check=v.nonnegative) -> float:
    """One number that passes `check` (an array is refused: this function is not vectorised)."""
    checked = check(name, value)
    if np.ndim(checked) != 0:
        raise ValueError(f"{name} must be a single number, got shape {np.shape(checked)}")
    return float(checked)


def simulate_allreduce_times(
    algorithm: str,
    M: float,
    N: int,
    alpha_mean: float,
    alpha_cv: float,
    beta: float,
    *,
    trials: int = 20000,
    seed: int = 0,
    medium: str = "shared",
) -> NDArray[np.float64]:
    """Monte Carlo AllReduce times under random per-message α, seconds, one per trial.

        shared:       T = Σ_messages ( α_m + bytes/β )               (messages take turns)
        full_duplex:  T = Σ_steps ( max_{m in step} α_m + bytes/β )  (links in parallel)

    α_m ~ LogNormal(μ, σ) i.i.d. ring: 2(N−1) steps of N messages of M/N bytes; tree: the
    binomial reduce steps, then the same steps in reverse for the broadcast, messages of M
    bytes. All trials of a step are drawn at once (numpy, no loop over trials). Seeded: same
    seed, same array. M bytes, α seconds, β bytes/s, N ranks (N = 1 costs 0).
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    if medium not in MEDIA:
        raise ValueError(f"medium must be one of {MEDIA}, got {medium!r}")
    M = _one_number("M", M)
    N = v.scalar_count("N", N)
    alpha_mean = _one_number("alpha_mean", alpha_mean, v.positive)
    alpha_cv = _one_number("alpha_cv", alpha_cv)
    mu, sigma = lognormal_parameters(alpha_mean, alpha_cv)
    beta = _one_number("beta", beta, v.positive)
    trials = v.scalar_count("trials", trials)
    rng = np.random.default_rng(v.scalar_count("seed", seed, minimum=0))

    messages_per_step, share = _messages_per_step(algorithm, N)
    bytes_per_message = share * M
    total = np.zeros(trials)
    for n_messages in messages_per_step:
        alphas = rng.lognormal(mu, sigma, size=(trials, n_messages))
        if medium == "shared":
            total += alphas.sum(axis=1) + n_messages * bytes_per_message / beta
        else:
            total += alphas.max(axis=1) + bytes_per_message / beta
    return total


def deadline_miss_probability(times: ArrayLike, deadline: ArrayLike):
    """Fraction of trials slower than the deadline: P(T > deadline). deadline in seconds.

    Scalars or arrays of deadlines (non-increasing in the deadline).
    """
    times = np.sort(v.vector("times", times))
    deadline = v.nonnegative("deadline", deadline)
    missed = times.size - np.searchsorted(times, deadline, side="right")
    return v.scalar_or_array(missed / times.size)


@dataclass(frozen=True)
class JitterStats:
    """One algorithm's Monte Carlo step-time statistics, seconds (miss probability in [0, 1])."""

    algorithm: str
    mean: float
    p50: float
    p99: float
    miss_probability: float


@dataclass(frozen=True)
class JitterSummary:
    """Ring and tree under the same jitter, and which one better meets the deadline."""

    ring: JitterStats
    tree: JitterStats
    deadline: float
    better_for_deadline: str  # "ring" or "tree"


def jitter_summary(
    M: float,
    N: int,
    alpha_mean: float,
    alpha_cv: float,
    beta: float,
    deadline: float,
    *,
    trials: int = 20000,
    seed: int = 0,
    medium: str = "shared",
) -> JitterSummary:
    """Mean, median, p99 and deadline-miss probability of ring and tree AllReduce.

    The better algorithm for the deadline has the lower miss probability; on a tie, the
    lower p99; on a tie of both, the ring (it sends fewer bytes per rank). Both use the
    same seed and the same medium (simulate_allreduce_times). Percentiles by numpy's
    linear interpolation.
    """
    deadline = _one_number("deadline", deadline)
    stats = {}
    for algorithm in ALGORITHMS:
        T = simulate_allreduce_times(
            algorithm, M, N, alpha_mean, alpha_cv, beta, trials=trials, seed=seed, medium=medium
        )
        p50, p99 = np.percentile(T, [50, 99])
        stats[algorithm] = JitterStats(
            algorithm=algorithm,
            mean=float(T.mean()),
            p50=float(p50),
            p99=float(p99),
            miss_probability=float(deadline_miss_probability(T, deadline)),
        )
    ring, tree = stats["ring"], stats["tree"]
    tree_better = (tree.miss_probability, tree.p99) < (ring.miss_probability, ring.p99)
    better = "tree" if tree_better else "ring"
    return JitterSummary(ring=ring, tree=tree, deadline=deadline, better_for_deadline=better)
