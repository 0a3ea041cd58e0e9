"""Does 1-bit compression break training, and does error feedback fix it? (docs/LAB_SPEC.md Part 3)

Two seeded experiments, each well under a second:

1. run_data_parallel_training: N workers train one least-squares model on their own
   (non-IID) data; every step they average their steps with an AllReduce. Compressed runs
   use the error-compensated compressed AllReduce of 1-bit Adam (compression.
   compressed_allreduce: compress, all-to-all, average, compress again, all-gather), which
   keeps the saving at any N. Without error feedback the scaled sign stalls above the
   optimum; with it (on both sides) the loss matches the uncompressed run (within
   EF_RELATIVE_TOLERANCE) while each worker sends compressed_allreduce_bytes(d, N) instead
   of the ring's 2(N−1)·4·⌈d/N⌉ bytes.
2. karimireddy_counterexample: the 2-D problem of Karimireddy et al. 2019 where sign
   compression without error feedback cannot move x1 + x2 and never converges.

Sources: Karimireddy, Rebjock, Stich & Jaggi 2019, "Error Feedback Fixes SignSGD and
other Gradient Compression Schemes" (ICML, arXiv 1901.09847; code epfml/error-feedback-SGD
utils/convex_opt.py); Seide et al. 2014; research notes §4
(docs/notes/research_cost_models.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

import comms_core._validate as v
from comms_core._types import Vector
from comms_core.compression import (
    Compressor,
    allreduce_bytes,
    allreduce_chunk_size,
    compressed_allreduce,
    error_feedback_step,
    get_compressor,
    one_bit_compress,
)

__all__ = [
    "EF_RELATIVE_TOLERANCE",
    "METHODS",
    "METHOD_LABELS",
    "CounterexampleRun",
    "TrainingRun",
    "karimireddy_counterexample",
    "run_data_parallel_training",
]

METHODS = ("none", "compressed", "compressed_ef")
METHOD_LABELS = {
    "none": "no compression",
    "compressed": "1-bit, no error feedback",
    "compressed_ef": "1-bit + error feedback",
}

# The stakeholder challenge's claim, checked in tests/test_convergence.py:
# |final loss with EF − final loss without compression| ≤ 5 % of the latter.
EF_RELATIVE_TOLERANCE = 0.05

# The synthetic problem (assumptions chosen to make the lesson visible, not measured):
FEATURE_SCALE_SIGMA = 0.75  # worker k's feature j has scale exp(0.75·z): non-IID features
MODEL_SPREAD = 0.3  # worker k's labels come from w* + 0.3·z_k: non-IID labels
LABEL_NOISE = 0.1  # standard deviation of the label noise
LR_DECAY_STEPS = 30  # γ_t = γ_0 / sqrt(1 + t/30)


@dataclass(frozen=True, eq=False)
class TrainingRun:
    """One training curve: the global loss before step 1 and after every step."""

    method: str
    losses: NDArray[np.float64]  # shape (steps + 1,)
    bytes_per_worker_per_step: int
    final_loss: float
    optimal_loss: float  # the least-squares optimum of the same data (a lower bound)
    compressor: str


def _synthetic_least_squares(
    n_workers: int, dim: int, n_samples: int, rng: np.random.Generator
) -> tuple[Vector, Vector]:
    """Each worker's (X_k, y_k): y_k = X_k·w_k + noise, with w_k = w* + spread·z_k.

    Features are Gaussian with worker-specific per-feature scales, so the workers'
    gradients disagree even at the optimum (non-IID data, as on real devices). That
    disagreement is what a biased compressor cannot average away.
    """
    w_star = rng.standard_normal(dim)
    scales = np.exp(FEATURE_SCALE_SIGMA * rng.standard_normal((n_workers, 1, dim)))
    X = rng.standard_normal((n_workers, n_samples, dim)) * scales
    w_k = w_star + MODEL_SPREAD * rng.standard_normal((n_workers, dim))
    y = np.einsum("knd,kd->kn", X, w_k) + LABEL_NOISE * rng.standard_normal((n_workers, n_samples))
    return X, y


def _loss(X: Vector, y: Vector, w: Vector) -> float:
    """The global least-squares loss f(w) = 1/(2·N·n) Σ_k Σ_i (x_ki·w − y_ki)²."""
    residual = np.einsum("knd,d->kn", X, w) - y
    return float(0.5 * np.mean(residual**2))


def _worker_gradients(X: Vector, y: Vector, w: Vector) -> Vector:
    """Row k is worker k's full-batch gradient ∇f_k(w) = X_kᵀ(X_k·w − y_k)/n; f = mean_k f_k."""
    residual = np.einsum("knd,d->kn", X, w) - y
    gradients: Vector = np.einsum("knd,kn->kd", X, residual) / X.shape[1]
    return gradients


def _one_number(
    name: str, value: ArrayLike, check: Callable[[str, ArrayLike], Vector] = v.positive
) -> float:
    """One number that passes `check` (an array is refused: this function is not vectorised)."""
    checked = check(name, value)
    if np.ndim(checked) != 0:
        raise ValueError(f"{name} must be a single number, got shape {np.shape(checked)}")
    return float(checked)


def _resolve_compressor(method: str, compressor: Compressor | str | None) -> Compressor:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if compressor is None:
        compressor = "none" if method == "none" else "1-bit (scaled sign)"
    compressor = get_compressor(compressor)
    if method == "none" and compressor.name != "none":
        raise ValueError(f"compressor must be None for method 'none', got {compressor.name!r}")
    return compressor


def run_data_parallel_training(
    method: str,
    *,
    n_workers: int = 8,
    dim: int = 50,
    n_samples_per_worker: int | None = None,
    steps: int = 300,
    lr: float | None = None,
    compressor: Compressor | str | None = None,
    seed: int = 0,
) -> TrainingRun:
    """Data-parallel gradient descent where the workers AllReduce compressed steps.

    Every step t each worker k computes its gradient g_k and its step γ_t·g_k; the workers
    AllReduce the steps and every model updates x ← x − (the average they received):

        none:           ring AllReduce of γ_t·g_k (exact; 2(N−1)·4·⌈d/N⌉ bytes per worker)
        compressed:     compressed_allreduce without error feedback (errors are lost)
        compressed_ef:  compressed_allreduce with worker and server errors carried over
                        (Tang et al. 2021, 1-bit Adam, Alg. 1; compression.compressed_allreduce)

    The errors live in parameter units, as in Karimireddy et al. 2019 Alg. 2 (p = γg + e);
    with a constant γ this is the chapter's e_{t+1} = g + e − C(g + e) scaled by γ.
    γ_t = γ_0/sqrt(1 + t/30) and γ_0 = lr, or 0.5/L when lr is None (L = largest eigenvalue
    of the Hessian XᵀX/(N·n), so plain gradient descent is stable). C defaults to the 1-bit
    scaled sign; any Compressor (or its name in COMPRESSORS) works. Each worker holds
    n_samples_per_worker samples (default 2·dim, so that 300 steps converge).

    Returns the global loss curve, the bytes each worker sends per step
    (compression.allreduce_bytes), and the least-squares optimum for reference.

    Defaults (seed 0, dim 50, 8 workers): no compression ends 0.11 % above the optimum;
    1-bit without EF stalls 70 % above it (a biased fixed point, not slowness); 1-bit with
    EF on both sides ends 0.14 % above it. Bytes per worker per step: 392 dense against 70
    compressed (5.6x: chunks of 7 values, each with a 4-byte scale; the ratio 32c/(c + 32)
    for chunks of c values tends to 32x for real models, at any N).
    """
    compressor = _resolve_compressor(method, compressor)
    n_workers = v.scalar_count("n_workers", n_workers)
    dim = v.scalar_count("dim", dim)
    n_samples = 2 * dim if n_samples_per_worker is None else n_samples_per_worker
    n_samples = v.scalar_count("n_samples_per_worker", n_samples)
    steps = v.scalar_count("steps", steps, minimum=0)
    seed = v.scalar_count("seed", seed, minimum=0)
    X, y = _synthetic_least_squares(n_workers, dim, n_samples, np.random.default_rng(seed))

    features, labels = X.reshape(-1, dim), y.reshape(-1)
    smoothness = np.linalg.eigvalsh(features.T @ features / labels.size)[-1]
    lr0 = 0.5 / smoothness if lr is None else _one_number("lr", lr)

    w = np.zeros(dim)
    worker_errors = np.zeros((n_workers, dim))
    server_errors = np.zeros((n_workers, int(allreduce_chunk_size(dim, n_workers))))
    losses = np.empty(steps + 1)
    losses[0] = _loss(X, y, w)
    for t in range(steps):
        step = lr0 / np.sqrt(1 + t / LR_DECAY_STEPS) * _worker_gradients(X, y, w)
        if method == "none":
            update = step.mean(axis=0)
        else:
            sync = compressed_allreduce(
                step, worker_errors, server_errors, compressor, method == "compressed_ef"
            )
            update, worker_errors, server_errors = (
                sync.average,
                sync.worker_errors,
                sync.server_errors,
            )
        if not np.isfinite(update).all():  # a compressor that returned NaN or inf
            losses[t + 1 :] = np.nan
            break
        w = w - update
        losses[t + 1] = _loss(X, y, w)
    losses.setflags(write=False)

    w_opt = np.linalg.solve(features.T @ features, features.T @ labels)  # normal equations
    return TrainingRun(
        method=method,
        losses=losses,
        bytes_per_worker_per_step=int(allreduce_bytes(dim, n_workers, compressor)),
        final_loss=float(losses[-1]),
        optimal_loss=_loss(X, y, w_opt),
        compressor=compressor.name,
    )


@dataclass(frozen=True, eq=False)
class CounterexampleRun:
    """Loss curves f(x_t), t = 0..steps, and final points, keyed by method name."""

    losses: dict[str, NDArray[np.float64]]
    final_points: dict[str, NDArray[np.float64]]
    eps: float
    steps: int


COUNTEREXAMPLE_METHODS = ("SGD", "signSGD", "EF-signSGD")


def karimireddy_counterexample(
    steps: int = 5000, eps: float = 0.5, lr0: float = 0.05, seed: int = 0
) -> CounterexampleRun:
    """SGD, sign-SGD and sign-SGD with error feedback on Karimireddy et al.'s counterexample.

        f(x) = ⟨a1, x⟩² + ⟨a2, x⟩²,   a1 = (1, −1+ε),  a2 = (−1+ε, 1),   x0 = (1, 1)

    The minimum is x* = 0, f* = 0. Each step picks one term i at random (seeded) and uses
    g = 2⟨a_i, x⟩·a_i, with γ_t = lr0/sqrt(t+1):

        SGD:         x ← x − γ_t·g
        signSGD:     x ← x − γ_t·C(g)                     (C = scaled sign, no memory)
        EF-signSGD:  p = γ_t·g + e,  x ← x − C(p),  e ← p − C(p)

    sign(a_i) = ±(1, −1), so signSGD only moves along (1, −1): x1 + x2 = 2 forever and
    f ≥ 0.5 (the minimum of f on that line, at (1, 1)). SGD and EF reach f ≈ 0.015 after
    5000 steps and f ≈ 4.4e-4 after 20 000 (research notes §4.2, which also report
    f ≈ 0.73 for the unscaled sign, a random walk along the same line).
    Source: Karimireddy et al. 2019 §3 (counterexamples); epfml/error-feedback-SGD.
    """
    steps = v.scalar_count("steps", steps, minimum=0)
    eps = _one_number("eps", eps, v.probability)
    lr0 = _one_number("lr0", lr0)
    seed = v.scalar_count("seed", seed, minimum=0)
    a = np.array([[1.0, -1.0 + eps], [-1.0 + eps, 1.0]])
    picks = np.random.default_rng(seed).integers(0, 2, size=steps)  # same draws for all

    def f(x: Vector) -> float:
        return float(np.sum((a @ x) ** 2))

    losses, final_points = {}, {}
    for method in COUNTEREXAMPLE_METHODS:
        x, e = np.array([1.0, 1.0]), np.zeros(2)
        curve = np.empty(steps + 1)
        curve[0] = f(x)
        for t, i in enumerate(picks):
            gamma = lr0 / np.sqrt(t + 1)
            g = 2 * (a[i] @ x) * a[i]
            if method == "SGD":
                x = x - gamma * g
            elif method == "signSGD":
                x = x - gamma * one_bit_compress(g)
            else:
                sent, e = error_feedback_step(gamma * g, e, one_bit_compress)
                x = x - sent
            curve[t + 1] = f(x)
        curve.setflags(write=False)
        losses[method], final_points[method] = curve, x
    return CounterexampleRun(losses=losses, final_points=final_points, eps=eps, steps=steps)
