"""Fitting α and β to measured AllReduce times: one straight line, or two with a knee.

The α-β model says a transfer of M bytes takes T = a + b·M: a fixed cost a (seconds)
and a cost per byte b (seconds per byte). Three lessons from real measurements
(docs/LAB_SPEC.md; docs/notes/containers.md, measured on this project's machines):

1. Weight by relative error. Timings span 7 decades (µs to tens of ms). Ordinary least
   squares on absolute times is dominated by the largest messages, where a 1% wobble
   dwarfs the whole latency; its intercept can even come out negative. Minimising the
   sum of squared RELATIVE residuals Σ((a + b·M_i − T_i)/T_i)² (weights 1/T_i²) lets
   every size count alike.
2. One line may not fit. Caches, eager/rendezvous protocol switches and memory
   bandwidth bend the curve; a second line after a "knee" fits better. But a model with
   more knobs always fits better, and searching every split point finds some
   "improvement" even in pure noise. So the knee must cut the root-mean-square relative
   error by a factor (default 4/3) to be kept. Measured on a straight line with 3-10%
   noise: on 23 sizes (the calibration's fit set) pure noise passes that bar in about 4% of
   cases; on 12 sizes in about a third, so use more sizes or a larger factor there.
   Loopback-TCP sweeps on this project's machines had real knees (a latency step near
   256 B, a bandwidth drop near 1-2 MiB) where two lines gave 0.51-0.72 of the RMS error.
3. Fit through the algorithm's model. A ring AllReduce on N ranks costs
   T = 2(N-1)·α + 2(N-1)/N · M/β, so a fitted line T = a + b·M gives the per-step α and
   the link β by α = a / (2(N-1)) and β = 2(N-1) / (N·b) (see ring_alpha_beta).

Units: M in bytes, T in seconds, α in seconds, β in bytes/s. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

import comms_core._validate as v
from comms_core._types import Vector

__all__ = [
    "LineFit",
    "PiecewiseFit",
    "fit_alpha_beta",
    "fit_piecewise",
    "least_squares_line",
    "relative_error",
    "ring_alpha_beta",
]

# Timings are never better than about one part per million: a line that fits to that
# level needs no knee (else two lines through noiseless data "win" on rounding error).
_RELATIVE_NOISE_FLOOR = 1e-6


@dataclass(frozen=True)
class LineFit:
    """T = intercept + slope·M on the sizes [M_min, M_max] it was fitted on.

    For one point-to-point message, intercept = α (s) and slope = 1/β (s/byte).
    For a collective, convert with ring_alpha_beta.
    """

    intercept: float  # a, seconds
    slope: float  # b, seconds per byte
    M_min: float  # bytes
    M_max: float  # bytes

    @property
    def alpha(self) -> float:
        """α = a, seconds (one message of M bytes costs α + M/β)."""
        return self.intercept

    @property
    def beta(self) -> float:
        """β = 1/b, bytes per second."""
        return 1.0 / self.slope

    def predict(self, M: ArrayLike) -> float | NDArray[np.float64]:
        """T(M) = a + b·M, seconds."""
        M = v.nonnegative("M", M)
        return v.scalar_or_array(self.intercept + self.slope * M)


@dataclass(frozen=True)
class PiecewiseFit:
    """One line, or two lines that take over at the knee (bytes).

    lines[0] covers M < knees[0], lines[1] covers M >= knees[0].
    """

    lines: tuple[LineFit, ...]
    knees: tuple[float, ...]

    def predict(self, M: ArrayLike) -> float | NDArray[np.float64]:
        """T(M) from the line of the regime that M falls in, seconds."""
        M = v.nonnegative("M", M)
        regime = np.searchsorted(np.asarray(self.knees, dtype=float), M, side="right")
        intercepts = np.array([line.intercept for line in self.lines])
        slopes = np.array([line.slope for line in self.lines])
        return v.scalar_or_array(intercepts[regime] + slopes[regime] * M)


def _sizes_and_times(M: ArrayLike, T: ArrayLike) -> tuple[Vector, Vector]:
    M, T = v.vector("M", M), v.vector("T", T)
    if M.shape != T.shape:
        raise ValueError(f"M and T must have the same shape, got {M.shape} and {T.shape}")
    if (M < 0).any():
        raise ValueError("M must be >= 0 (bytes)")
    if (T <= 0).any():
        raise ValueError("T must be > 0 (seconds)")
    return M, T


def relative_error(predicted: ArrayLike, measured: ArrayLike) -> float | NDArray[np.float64]:
    """(predicted − measured) / measured: +0.25 means the model is 25% too slow."""
    measured = v.positive("measured", measured)
    predicted = v.nonnegative("predicted", predicted)
    return v.scalar_or_array((predicted - measured) / measured)


def least_squares_line(
    M: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None
) -> tuple[float, float]:
    """The unconstrained (weighted) least-squares line T ≈ a + b·M; returns (a, b).

        minimise Σ w_i² · (a + b·M_i − T_i)²

    weights=None is ordinary least squares on absolute times; weights = 1/T gives the
    relative-error fit. Nothing stops a or b from coming out negative here: this is the
    raw tool, fit_alpha_beta is the one that keeps α >= 0.
    """
    M, T = _sizes_and_times(M, T)
    if M.size < 2 or np.ptp(M) == 0:
        raise ValueError("M must hold at least two different sizes to fit a line")
    w = np.ones_like(T) if weights is None else v.positive("weights", weights)
    if w.shape != T.shape:
        raise ValueError(f"weights must have the shape of T {T.shape}, got {w.shape}")
    design = np.column_stack([np.ones_like(M), M]) * w[:, None]
    (a, b), *_ = np.linalg.lstsq(design, T * w, rcond=None)
    return float(a), float(b)


def fit_alpha_beta(M: ArrayLike, T: ArrayLike) -> LineFit:
    """Fit T = α + M/β by least squares on RELATIVE residuals, with α >= 0 and β > 0.

        minimise Σ ((a + b·M_i − T_i) / T_i)²     subject to a >= 0

    If the unconstrained optimum has a < 0, the constrained optimum lies on a = 0, where
    b = Σ(M_i/T_i) / Σ(M_i²/T_i²). A slope b <= 0 (time not growing with size) has no
    bandwidth to report and raises ValueError: measure larger messages.
    """
    M, T = _sizes_and_times(M, T)
    a, b = least_squares_line(M, T, weights=1.0 / T)
    if a < 0:
        a, b = 0.0, float(np.sum(M / T) / np.sum((M / T) ** 2))
    if not b > 0:
        raise ValueError(
            "T must grow with M: the fitted time per byte is not positive "
            "(measure a wider range of sizes)"
        )
    return LineFit(intercept=a, slope=b, M_min=float(M.min()), M_max=float(M.max()))


def _relative_rss(line: LineFit, M: Vector, T: Vector) -> float:
    """Σ ((T_fit − T)/T)², the cost both fits minimise."""
    return float(np.sum(((line.intercept + line.slope * M - T) / T) ** 2))


def fit_piecewise(
    M: ArrayLike, T: ArrayLike, *, min_points: int = 3, min_improvement: float = 4 / 3
) -> PiecewiseFit:
    """One line, or two lines split at a knee if that cuts the RMS relative error enough.

    Every split of the sorted sizes with at least min_points on each side is tried; each
    side gets its own fit_alpha_beta. The best split (least Σ relative residual²) is kept
    only if it divides the RMS relative error of the single line by min_improvement or
    more, and the single line is worse than the timing noise floor (1 ppm). The knee is
    reported at the geometric mean of the two sizes either side of the split: the size
    where the prediction switches lines. Splits where a side has no positive slope are skipped.
    """
    M, T = _sizes_and_times(M, T)
    min_points = v.scalar_count("min_points", min_points, minimum=2)
    min_improvement = float(v.positive("min_improvement", min_improvement))
    if min_improvement < 1:
        raise ValueError(f"min_improvement must be >= 1, got {min_improvement!r}")
    order = np.argsort(M)
    M, T = M[order], T[order]
    one_line = fit_alpha_beta(M, T)
    one_line_rss = _relative_rss(one_line, M, T)

    split_rss, split = np.inf, None
    for k in range(min_points, M.size - min_points + 1):
        if M[k - 1] == M[k]:
            continue  # a knee must lie between two different sizes
        try:
            low, high = fit_alpha_beta(M[:k], T[:k]), fit_alpha_beta(M[k:], T[k:])
        except ValueError:
            continue
        rss = _relative_rss(low, M[:k], T[:k]) + _relative_rss(high, M[k:], T[k:])
        if rss < split_rss:
            knee = float(np.sqrt(M[k - 1] * M[k]))
            split_rss, split = rss, PiecewiseFit(lines=(low, high), knees=(knee,))
    if (
        split is not None
        and one_line_rss > M.size * _RELATIVE_NOISE_FLOOR**2
        and split_rss * min_improvement**2 <= one_line_rss
    ):
        return split
    return PiecewiseFit(lines=(one_line,), knees=())


def ring_alpha_beta(line: LineFit, N: int) -> tuple[float, float]:
    """Per-step α (s) and link β (bytes/s) of a ring AllReduce from its fitted line.

    T = a + b·M matched term by term with T_ring = 2(N-1)·α + 2(N-1)/N · M/β:

        α = a / (2(N-1)),        β = 2(N-1) / (N·b)

    (Thakur, Rabenseifner & Gropp 2005, §5.3; comms_core.ring_allreduce_time). N >= 2.
    """
    N = v.scalar_count("N", N, minimum=2)
    steps = 2 * (N - 1)
    return line.intercept / steps, steps / (N * line.slope)
