"""Ring, tree and broadcast AllReduce when the per-message latency α is random (Edge Guardian).

On a noisy wireless link every message pays its own α, drawn from a lognormal with the
given mean and coefficient of variation (CV = std/mean), independently per message (an
ASSUMPTION: no public jitter data for vehicle wireless; docs/LAB_SPEC.md track Edge Guardian).
β (bytes/s) is deterministic. Two media:

- "shared" (the default; how the air works): all devices share one channel, and in one
  collision domain only one transmission succeeds at a time (IEEE 802.11 DCF / 802.11p
  CSMA/CA, Bianchi 2000, IEEE JSAC 18(3)). Messages take turns, so the time is the sum
  over every message of the AllReduce:

      T = Σ_messages ( α_m + bytes_m / β )

  At zero variance this is comms_core.shared_medium.shared_channel_allreduce_time: ring
  2(N−1)·(N·α + M/β), tree 2(N−1)·(α + M/β), broadcast N·(α + M/β_b). The ring and the tree
  put the same 2(N−1)·M bytes on the air; the ring pays N times as many channel accesses.
- "full_duplex": N independent point-to-point links (a switched wired network). A
  synchronous step ends when its slowest message arrives:

      T = Σ_steps ( max_{messages in the step} α_m  +  bytes_per_message / β )

  With CV = 0 this is comms_core.cost_models.ring_allreduce_time and tree_allreduce_time.

Schedules (the lab's graded models, docs/LAB_SPEC.md Part 1):
- ring: 2(N−1) steps; in each, all N ranks send one chunk of M/N bytes.
- tree: binomial reduce (⌈log2 N⌉ steps), then the mirror-image broadcast; each
  message carries the whole M bytes; step j has binomial_tree_messages_per_step(N)[j]
  messages (N − 1 per phase).
- broadcast (shared medium only): each device broadcasts its whole M once, at the
  group-addressed rate β_b, and every device sums what it heard: N messages.

Which algorithm meets the deadline best (jitter_summary): the lowest miss probability; an
algorithm whose miss probability is within 4 standard errors of the best one's is accepted
too, so no choice is decided by Monte-Carlo noise (docs/LAB_SPEC.md fairness rule).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

import comms_core._validate as v
from comms_core._types import FloatOrArray, Vector
from comms_core.shared_medium import shared_channel_allreduce_time

if TYPE_CHECKING:
    from comms_core.scenarios import Scenario

__all__ = [
    "ALGORITHMS",
    "MEDIA",
    "JitterStats",
    "JitterSummary",
    "binomial_tree_messages_per_step",
    "deadline_miss_probability",
    "edge_jitter_summary",
    "jitter_summary",
    "lognormal_parameters",
    "simulate_allreduce_times",
    "within_noise",
]

ALGORITHMS = ("ring", "tree", "broadcast")
MEDIA = ("shared", "full_duplex")
NOISE_STANDARD_ERRORS = 4  # a miss probability this close to the best one's is a tie


def lognormal_parameters(mean: ArrayLike, cv: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
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
    if algorithm == "broadcast":
        return np.ones(N if N > 1 else 0, dtype=np.int64), 1.0
    reduce_steps = binomial_tree_messages_per_step(N)
    return np.concatenate([reduce_steps, reduce_steps[::-1]]), 1.0


def _one_number(
    name: str, value: ArrayLike, check: Callable[[str, ArrayLike], Vector] = v.nonnegative
) -> float:
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
    beta_broadcast: float | None = None,
) -> NDArray[np.float64]:
    """Monte Carlo AllReduce times under random per-message α, seconds, one per trial.

        shared:       T = Σ_messages ( α_m + bytes/β )               (messages take turns)
        full_duplex:  T = Σ_steps ( max_{m in step} α_m + bytes/β )  (links in parallel)

    α_m ~ LogNormal(μ, σ) i.i.d. ring: 2(N−1) steps of N messages of M/N bytes; tree: the
    binomial reduce steps, then the same steps in reverse for the broadcast, messages of M
    bytes; broadcast (shared medium only): N messages of M bytes at β_b = beta_broadcast
    (default β). All trials of a step are drawn at once (numpy, no loop over trials).
    Seeded: same seed, same array. M bytes, α seconds, β bytes/s, N ranks (N = 1 costs 0).
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    if medium not in MEDIA:
        raise ValueError(f"medium must be one of {MEDIA}, got {medium!r}")
    if algorithm == "broadcast" and medium != "shared":
        raise ValueError("the broadcast needs a shared medium (one transmission heard by all)")
    M = _one_number("M", M)
    N = v.scalar_count("N", N)
    alpha_mean = _one_number("alpha_mean", alpha_mean, v.positive)
    alpha_cv = _one_number("alpha_cv", alpha_cv)
    mu, sigma = lognormal_parameters(alpha_mean, alpha_cv)
    beta = _one_number("beta", beta, v.positive)
    if algorithm == "broadcast" and beta_broadcast is not None:
        beta = _one_number("beta_broadcast", beta_broadcast, v.positive)
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


def deadline_miss_probability(times: ArrayLike, deadline: ArrayLike) -> FloatOrArray:
    """Fraction of trials slower than the deadline: P(T > deadline). deadline in seconds.

    Scalars or arrays of deadlines (non-increasing in the deadline).
    """
    times = np.sort(v.vector("times", times))
    deadline = v.nonnegative("deadline", deadline)
    missed = times.size - np.searchsorted(times, deadline, side="right")
    return v.scalar_or_array(missed / times.size)


@dataclass(frozen=True)
class JitterStats:
    """One algorithm's Monte Carlo step-time statistics, seconds (miss probability in [0, 1]).

    model_mean is the closed form at α = its mean (shared medium:
    shared_medium.shared_channel_allreduce_time), which the sample mean estimates."""

    algorithm: str
    mean: float
    p50: float
    p99: float
    miss_probability: float
    model_mean: float


@dataclass(frozen=True)
class JitterSummary:
    """The algorithms under the same jitter, and which of them meet the deadline best.

    better_for_deadline: the lowest miss probability (a tie: the lower model_mean, which has
    no noise). accepted: every algorithm whose miss probability is within
    NOISE_STANDARD_ERRORS standard errors of the best one's (the best included), in order.
    """

    stats: Mapping[str, JitterStats]
    deadline: float
    trials: int
    better_for_deadline: str
    accepted: tuple[str, ...]

    @property
    def ring(self) -> JitterStats:
        return self.stats["ring"]

    @property
    def tree(self) -> JitterStats:
        return self.stats["tree"]


def within_noise(p: float, q: float, trials: int) -> bool:
    """Are two miss probabilities, each from `trials` independent syncs, within
    NOISE_STANDARD_ERRORS standard errors of their difference, √((p(1−p) + q(1−q))/n)?
    Two equal probabilities (0 and 0, 1 and 1) are."""
    standard_error = math.sqrt((p * (1 - p) + q * (1 - q)) / trials)
    return abs(p - q) <= NOISE_STANDARD_ERRORS * standard_error


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
    beta_broadcast: float | None = None,
    algorithms: tuple[str, ...] | None = None,
) -> JitterSummary:
    """Mean, median, p99 and deadline-miss probability of each algorithm, and the choice.

    algorithms defaults to ring, tree and broadcast on the shared medium, ring and tree on
    full_duplex. All use the same seed and medium (simulate_allreduce_times). The better
    algorithm for the deadline has the lowest miss probability, ties broken by the closed-form
    mean (noise-free); `accepted` adds every algorithm within Monte-Carlo noise of it
    (within_noise). Percentiles by numpy's linear interpolation.
    """
    deadline = _one_number("deadline", deadline)
    if algorithms is None:
        algorithms = ALGORITHMS if medium == "shared" else ("ring", "tree")
    trials = v.scalar_count("trials", trials)
    stats = {}
    for algorithm in algorithms:
        T = simulate_allreduce_times(
            algorithm,
            M,
            N,
            alpha_mean,
            alpha_cv,
            beta,
            trials=trials,
            seed=seed,
            medium=medium,
            beta_broadcast=beta_broadcast,
        )
        p50, p99 = np.percentile(T, [50, 99])
        if medium == "shared":
            b = beta_broadcast if algorithm == "broadcast" else None
            model = shared_channel_allreduce_time(algorithm, M, N, alpha_mean, beta, b)
        else:
            model = _full_duplex_time(algorithm, M, N, alpha_mean, beta)
        stats[algorithm] = JitterStats(
            algorithm=algorithm,
            mean=float(T.mean()),
            p50=float(p50),
            p99=float(p99),
            miss_probability=float(deadline_miss_probability(T, deadline)),
            model_mean=float(model),
        )
    best = min(algorithms, key=lambda a: (stats[a].miss_probability, stats[a].model_mean))
    p_best = stats[best].miss_probability
    accepted = tuple(
        a for a in algorithms if within_noise(stats[a].miss_probability, p_best, trials)
    )
    if best not in accepted:  # cannot happen (a probability is within noise of itself)
        accepted = (best, *accepted)
    return JitterSummary(
        stats=stats,
        deadline=deadline,
        trials=trials,
        better_for_deadline=best,
        accepted=accepted,
    )


def _full_duplex_time(algorithm: str, M: float, N: int, alpha: float, beta: float) -> float:
    """Part 1's formulas (cost_models), the full-duplex model at α = its mean."""
    import comms_core.cost_models as cm

    f = cm.ring_allreduce_time if algorithm == "ring" else cm.tree_allreduce_time
    return float(f(M, N, alpha, beta))


def edge_jitter_summary(scenario: Scenario) -> JitterSummary:
    """Edge Guardian's Monte Carlo for a scenario: ring, tree and broadcast on one shared
    channel, JITTER_TRIALS syncs each, seeded by the student's id. The crisis shows it and the
    key grades it (one call, so both see the same numbers)."""
    from comms_core.scenarios import JITTER_TRIALS, variant_seed

    s = scenario
    return jitter_summary(
        s.M_message,
        s.N,
        s.alpha,
        s.alpha_cv,
        s.beta,
        s.deadline,
        trials=JITTER_TRIALS,
        seed=variant_seed("edge_guardian", s.term, s.student_id),
        beta_broadcast=s.beta_broadcast,
    )
