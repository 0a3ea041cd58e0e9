"""The catalogue of known misconceptions: each is the wrong formula a student typically
writes, with its name and what to fix.

One catalogue serves the public checks (commslab/notebook/public_tests) and the hidden tests'
feedback (commslab.grading.checks.expect_close): when a wrong answer equals a known wrong
formula on the same input, the message names the mistake ("your ring time matches the
formula with N in place of N−1"), never the expected value.

Sources of the right formulas: docs/LAB_SPEC.md Parts 1-3 (Patarasuk & Yuan 2009 for the ring,
the binomial tree's 2⌈log₂N⌉ steps, the scaled sign of Karimireddy et al. 2019).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Misconception:
    function: str  # the student's function it shows up in
    mistake: str  # "N in place of N−1": what the wrong formula does
    fix: str  # what to change, in one short sentence
    formula: Callable  # the wrong formula, same arguments as the student's function

    def message(self) -> str:
        what = LABELS[self.function]
        return f"your {what} matches the formula with {self.mistake}: {self.fix}"


LABELS = {
    "ring_allreduce_time": "ring time",
    "tree_allreduce_time": "tree time",
    "crossover_message_size": "crossover",
    "hierarchical_allreduce_time": "hierarchical time",
    "one_bit_compress": "compressed vector",
    "error_feedback_step": "new residual",
}


def _L(N):
    return np.ceil(np.log2(N))


def _crossover(N, alpha, beta, L):
    """M where 2(N−1)α + 2(N−1)/N·M/β = 2L(α + M/β) (no N ≤ 3 guard)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return alpha * beta * (N - 1 - L) / (L - (N - 1) / N)


def _sign_plus(v):
    return np.where(v >= 0, 1.0, -1.0)


def _one_bit(v):
    v = np.asarray(v, dtype=float)
    return np.abs(v).mean() * _sign_plus(v)


_HIER_PHASES = "three phases: reduce-scatter inside the node, the inter-node ring, all-gather"

CATALOGUE: tuple[Misconception, ...] = (
    # --- ring_allreduce_time(M, N, alpha, beta) ----------------------------------------------
    Misconception(
        "ring_allreduce_time",
        "N in place of N−1",
        "a ring of N ranks takes 2(N−1) steps (each rank already holds its own chunk)",
        lambda M, N, a, b: 2 * N * a + 2 * M / b,
    ),
    Misconception(
        "ring_allreduce_time",
        "β as seconds per byte (M·β)",
        "β is a bandwidth in bytes/s, so moving n bytes takes n/β seconds",
        lambda M, N, a, b: 2 * (N - 1) * a + 2 * (N - 1) / N * M * b,
    ),
    Misconception(
        "ring_allreduce_time",
        "one phase only",
        "AllReduce is reduce-scatter then all-gather: count both phases (the factor 2)",
        lambda M, N, a, b: (N - 1) * a + (N - 1) / N * M / b,
    ),
    Misconception(
        "ring_allreduce_time",
        "the whole message M in each step",
        "each ring step moves one chunk of M/N bytes",
        lambda M, N, a, b: 2 * (N - 1) * (a + M / b),
    ),
    Misconception(
        "ring_allreduce_time",
        "no latency term",
        "each of the 2(N−1) steps also costs α",
        lambda M, N, a, b: 2 * (N - 1) / N * M / b,
    ),
    Misconception(
        "ring_allreduce_time",
        "the bandwidth term M/β, without 2(N−1)/N",
        "each rank sends 2(N−1) chunks of M/N bytes: the bandwidth term is 2(N−1)/N·M/β",
        lambda M, N, a, b: 2 * (N - 1) * a + M / b,
    ),
    Misconception(
        "ring_allreduce_time",
        "the bandwidth term 2·M/β, without (N−1)/N",
        "each rank sends 2(N−1) chunks of M/N bytes: the bandwidth term is 2(N−1)/N·M/β",
        lambda M, N, a, b: 2 * (N - 1) * a + 2 * M / b,
    ),
    # --- tree_allreduce_time(M, N, alpha, beta) ----------------------------------------------
    Misconception(
        "tree_allreduce_time",
        "log₂N without ceil",
        "a tree has a whole number of levels: use np.ceil(np.log2(N)) (try N = 48)",
        lambda M, N, a, b: 2 * np.log2(N) * (a + M / b),
    ),
    Misconception(
        "tree_allreduce_time",
        "β as seconds per byte (M·β)",
        "β is a bandwidth in bytes/s, so moving n bytes takes n/β seconds",
        lambda M, N, a, b: 2 * _L(N) * (a + M * b),
    ),
    Misconception(
        "tree_allreduce_time",
        "one phase only",
        "the tree reduces to the root, then broadcasts back: 2⌈log₂N⌉ steps",
        lambda M, N, a, b: _L(N) * (a + M / b),
    ),
    # --- crossover_message_size(N, alpha, beta) ----------------------------------------------
    Misconception(
        "crossover_message_size",
        "no guard for small N",
        "where the ring is never slower (N ≤ 3, including N = 1) return 0",
        lambda N, a, b: _crossover(N, a, b, _L(N)),
    ),
    Misconception(
        "crossover_message_size",
        "log₂N without ceil",
        "the tree's step count is ⌈log₂N⌉: use np.ceil(np.log2(N))",
        lambda N, a, b: np.where(
            np.asarray(N) > 3, _crossover(N, a, b, np.log2(np.maximum(N, 1))), 0.0
        ),
    ),
    Misconception(
        "crossover_message_size",
        "β as seconds per byte (α/β)",
        "with β in bytes/s the crossover scales with α·β",
        lambda N, a, b: np.where(np.asarray(N) > 3, _crossover(N, a, 1 / b, _L(N)), 0.0),
    ),
    Misconception(
        "crossover_message_size",
        "the coarse estimate N·α·β",
        "solve the two times for M exactly; the coarse estimate is off by about log₂N "
        "(9.1× too large at N = 1024)",
        lambda N, a, b: N * a * b,
    ),
    Misconception(
        "crossover_message_size",
        "the sign flipped (a negative size)",
        "a message size is positive: recheck the sign when you move the M terms to one side "
        "(M* = α·β·(N−1−L)/(L − (N−1)/N))",
        lambda N, a, b: np.where(np.asarray(N) > 3, -_crossover(N, a, b, _L(N)), 0.0),
    ),
    Misconception(
        "crossover_message_size",
        "the sign flipped (a negative size), and no guard for small N",
        "a message size is positive: recheck the sign when you move the M terms to one side; "
        "where the ring is never slower (N ≤ 3, including N = 1) return 0",
        lambda N, a, b: -_crossover(N, a, b, _L(N)),
    ),
    # --- hierarchical_allreduce_time(M, G, K, a_f, b_f, a_s, b_s) ------------------------
    Misconception(
        "hierarchical_allreduce_time",
        "one intra-node phase",
        f"count all {_HIER_PHASES}",
        lambda M, G, K, af, bf, a_s, bs: (
            (G - 1) * (af + M / (G * bf)) + 2 * (K - 1) * (a_s + M / (G * K * bs))
        ),
    ),
    Misconception(
        "hierarchical_allreduce_time",
        "the whole message on the slow link",
        "after the intra-node reduce-scatter each device holds an M/G shard",
        lambda M, G, K, af, bf, a_s, bs: (
            2 * (G - 1) * (af + M / (G * bf)) + 2 * (K - 1) * (a_s + M / (K * bs))
        ),
    ),
    Misconception(
        "hierarchical_allreduce_time",
        "β as seconds per byte (M·β)",
        "β is a bandwidth in bytes/s, so moving n bytes takes n/β seconds",
        lambda M, G, K, af, bf, a_s, bs: (
            2 * (G - 1) * (af + M * bf / G) + 2 * (K - 1) * (a_s + M * bs / (G * K))
        ),
    ),
    Misconception(
        "hierarchical_allreduce_time",
        "the inter-node phase without its 2",
        "the ring across nodes is a whole AllReduce (reduce-scatter, then all-gather): "
        "2(K−1) steps, so 2(K−1)·(α_inter + M/(G·K·β_inter))",
        lambda M, G, K, af, bf, a_s, bs: (
            2 * (G - 1) * (af + M / (G * bf)) + (K - 1) * (a_s + M / (G * K * bs))
        ),
    ),
    # --- one_bit_compress(v) -----------------------------------------------------------------
    Misconception(
        "one_bit_compress",
        "no scale (the signs alone)",
        "multiply the signs by the mean magnitude ‖v‖₁/d",
        lambda v: _sign_plus(np.asarray(v, dtype=float)),
    ),
    Misconception(
        "one_bit_compress",
        "sign(0) = 0 (np.sign)",
        "np.sign(0) is 0; the 1-bit code has no zero, so sign(0) = +1",
        lambda v: np.abs(np.asarray(v, dtype=float)).mean() * np.sign(v),
    ),
    Misconception(
        "one_bit_compress",
        "‖v‖₁ without dividing by d",
        "the scale is the mean magnitude ‖v‖₁/d",
        lambda v: np.abs(np.asarray(v, dtype=float)).sum() * _sign_plus(np.asarray(v, float)),
    ),
    Misconception(
        "one_bit_compress",
        "the mean of v (not of |v|) as the scale",
        "the scale is the mean magnitude ‖v‖₁/d = mean(|v|)",
        lambda v: np.asarray(v, dtype=float).mean() * _sign_plus(np.asarray(v, float)),
    ),
    # --- error_feedback_step(g, e) -> (sent, residual), checked on the residual -------------
    Misconception(
        "error_feedback_step",
        "the residual left out of what is compressed",
        "compress the corrected gradient g + e, not g",
        lambda g, e: g + e - _one_bit(g),
    ),
    Misconception(
        "error_feedback_step",
        "an unscaled compressor inside (the signs alone)",
        "the cause is one_bit_compress, not error feedback: multiply its signs by ‖v‖₁/d, "
        "then run this check again",
        lambda g, e: np.asarray(g) + e - _sign_plus(np.asarray(g, dtype=float) + e),
    ),
    Misconception(
        "error_feedback_step",
        "the residual's sign flipped",
        "the new residual is what was not sent: g + e − sent",
        lambda g, e: _one_bit(np.asarray(g) + e) - (np.asarray(g) + e),
    ),
    Misconception(
        "error_feedback_step",
        "the old residual forgotten",
        "the new residual is g + e − sent (the old residual e stays in it)",
        lambda g, e: np.asarray(g) - _one_bit(np.asarray(g) + e),
    ),
)


def diagnose(function: str, args: tuple, got, rtol: float = 1e-6) -> Misconception | None:
    """The known misconception whose formula gives exactly `got` on `args`, if any.

    For error_feedback_step, `got` is the new residual. None when no wrong formula matches
    (or the result is not numbers)."""
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return None
    for m in CATALOGUE:
        if m.function != function:
            continue
        try:
            with np.errstate(all="ignore"):
                wrong = np.asarray(m.formula(*args), dtype=float)
        except Exception:  # a wrong formula may not apply to this input
            continue
        if wrong.shape != got.shape and wrong.size != got.size:
            continue
        wrong = wrong.reshape(got.shape)
        same_nan = np.isnan(wrong) & np.isnan(got)
        close = np.isclose(got, wrong, rtol=rtol, atol=1e-300) | same_nan
        if close.all():
            return m
    return None


__all__ = ["CATALOGUE", "Misconception", "diagnose"]
