"""Predicting what a model was not fitted on, honestly counted.

A model fitted and scored on the same sweep says little: a two-parameter line fitted to a
sweep beats the NCCL-like model on every system (issue 14). The test that counts is a
prediction of a CONDITION the model never saw. A condition is one (system, GPUs, nodes,
algorithm) of the published dataset (comms_core.measurements). Every system of the dataset
has exactly one condition, so holding out a condition is holding out a whole SYSTEM: its
rows, its fabric, its software stack (leave one system out).

Three models are scored on each held-out system, each calibrated on the other systems only:

1. α-β ring, pooled: T = 2(N-1)·α + 2(N-1)/N · M/β, one α and one β fitted by least
   squares on relative error (weights 1/T, as comms_core.fitting) over the calibration
   rows (the other systems of the same class: one node, or several), read at the held-out
   N.
2. NCCL-like: NCCL's own tuning model with NVLS/NVLSTree (comms_core.measurements). One of
   its constants is a measurement of a system of the dataset: the NVLS bus bandwidth of 8
   H100, 480 GB/s, is what h100_1x8_single's only row measures (measurements.PROVENANCE).
   So the held-out evaluation never uses it: it refits the NVLS bus bandwidth on the
   calibration rows (fit_nvls_bus_bw: the median busbw of the other one-node NVLS rows at
   >= 1 GiB). Nothing else is fitted.
3. Calibrated NCCL-like: T = floor + s · T_nccl(M), the launch floor (seconds) and the
   scale of NCCL's times. With the held-out system's other conditions, if it had any:
   both fitted on them (fit_calibrated_nccl). Else borrowed from the other systems of the
   same class by one of four VARIANTS (median launch floor; a scale pooled on large
   messages; the same on same-GPU systems only; the median scale). Which variant is itself
   chosen on data, so it is chosen INSIDE the loop: for each held-out system, the variant
   with the least pooled error when each of the other systems is held out in turn from
   the remaining ones (nested leave-one-out; select_variant). The held-out system never
   votes.

What is not held out: a system whose own measurement a constant is, when that constant is
not refitted (measurements.PROVENANCE, held_out "exclude": a100_3x8_hdr, whose 24 GB/s per
NIC was stated in its own thread). Such a system is scored and shown, never counted.

Errors are (predicted - measured)/measured per row. Each held-out system gets the geometric
mean and the median of |error|; the headline pools every held-out ROW (geometric mean and
median), so a one-row system weighs one row; summaries over systems are shown beside it.
The geometric mean floors |error| at 1e-4 (0.01%), so one exact row cannot send it to zero.

leave_one_row_out is the weaker, within-system test: each row predicted from its system's
other rows (interpolation across message sizes, not a new system). No system of the dataset
was measured at two GPU counts, so "another GPU count of the same system" cannot be held
out on real data (tests/test_held_out.py shows that it transfers on constructed data).

ASTRA-sim's published validation (one H100 node, NCCL_ALGO=Ring forced) shares no condition
with the dataset, so it is not compared here (ASTRA_SIM_REPORTED keeps its figures for the
tests that compare the Ring model with nccl#1455's Ring bus bandwidth instead).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np
from numpy.typing import ArrayLike

from comms_core._types import Vector
from comms_core.measurements import (
    PROVENANCE,
    SYSTEMS,
    NcclMeasurement,
    Provenance,
    SystemModel,
    bus_bandwidth,
    forced_algorithm,
    load_nccl_measurements,
    nccl_like_allreduce_time,
    nccl_row_arguments,
)

__all__ = [
    "ASTRA_SIM_REPORTED",
    "MODELS",
    "VARIANTS",
    "Calibration",
    "Condition",
    "ConditionScore",
    "Summary",
    "calibrate_for",
    "conditions",
    "fit_calibrated_nccl",
    "fit_launch_floor",
    "fit_nvls_bus_bw",
    "fit_pooled_ring",
    "fit_scale",
    "geometric_mean_error",
    "leave_one_condition_out",
    "leave_one_row_out",
    "predict",
    "select_variant",
    "summarize",
]

MODELS = ("alpha_beta", "nccl_like", "calibrated")
VARIANTS = ("median_floor", "scale", "scale_same_gpu", "median_scale")
LARGE_BYTES = 64 * 2**20  # a borrowed scale is fitted on messages of at least this size
NVLS_FIT_BYTES = 2**30  # NVLS's 23-25 µs latency is < 1% of the time from 1 GiB on
_GEOMEAN_FLOOR = 1e-4
_REFITTED = ("NVLS_BUS_BW_GBS",)  # the constants the evaluation knows how to refit

# ASTRA-sim's NCCL validation on HGX-H100, AllReduce with NCCL_ALGO=Ring forced: geometric
# mean error per GPU count (astra-sim.github.io/astra-sim-docs/validation/hardware/
# gpu-validation-hgx-h100.html). Keys: (GPUs, algorithm) on one H100 node. No row of the
# dataset has this condition, so no held-out score is shown beside it.
ASTRA_SIM_REPORTED = {(2, "ring"): 0.2063, (4, "ring"): 0.1201, (8, "ring"): 0.0969}


@dataclass(frozen=True)
class Condition:
    """One measured condition: a system at a GPU and node count, with NCCL's algorithm
    choice or a forced one (None: NCCL's default)."""

    system: str
    gpus: int
    nodes: int
    algorithm: str | None

    @property
    def label(self) -> str:
        algo = self.algorithm or "default"
        return f"{self.system} {self.nodes}x{self.gpus // self.nodes} {algo}"

    @property
    def several_nodes(self) -> bool:
        return self.nodes > 1


def condition_of(row: NcclMeasurement) -> Condition:
    """The condition a row was measured under."""
    return Condition(row.system, row.gpus, row.nodes, forced_algorithm(row))


def conditions(rows: list[NcclMeasurement]) -> dict[Condition, list[NcclMeasurement]]:
    """The rows grouped by condition, in the dataset's order."""
    grouped: dict[Condition, list[NcclMeasurement]] = {}
    for row in rows:
        grouped.setdefault(condition_of(row), []).append(row)
    return grouped


def _systems_of(rows: list[NcclMeasurement]) -> tuple[str, ...]:
    return tuple(sorted({r.system for r in rows}))


# --- the refitted NVLS bandwidth -----------------------------------------------------------


def _nvls_rows(
    rows: list[NcclMeasurement], systems: dict[str, SystemModel]
) -> list[NcclMeasurement]:
    """Rows that measure the NVLS bus bandwidth of a node: one node with NVLS, NCCL's own
    choice (it picks NVLS there) or NVLS forced, messages of at least 1 GiB."""
    return [
        r
        for r in rows
        if systems[r.system].nvls
        and r.nodes == 1
        and r.size_bytes >= NVLS_FIT_BYTES
        and forced_algorithm(r) in (None, "nvls")
    ]


def fit_nvls_bus_bw(
    rows: list[NcclMeasurement], systems: dict[str, SystemModel] | None = None
) -> dict[int, float]:
    """The NVLS bus bandwidth per GPU count of a node, GB/s, fitted on rows: the median
    busbw (nccl-tests' definition, S/t · 2(n-1)/n) of the rows that measure it
    (one-node NVLS rows of >= 1 GiB). Counts without such rows are absent."""
    systems = SYSTEMS if systems is None else systems
    by_count: dict[int, list[float]] = {}
    for r in _nvls_rows(rows, systems):
        busbw = float(bus_bandwidth(r.size_bytes, r.time_s, r.gpus))
        by_count.setdefault(r.gpus, []).append(busbw)
    return {n: float(np.median(b)) / 1e9 for n, b in sorted(by_count.items())}


@cache
def _nccl_time_cached(
    row: NcclMeasurement, system: SystemModel, nvls: tuple[tuple[int, float], ...]
) -> float:
    args = nccl_row_arguments(row, system)
    if nvls:
        args["nvls_bus_bw_gbs"] = dict(nvls)
    return float(nccl_like_allreduce_time(row.size_bytes, row.gpus, row.nodes, **args))


def _nccl_times(
    rows: list[NcclMeasurement],
    systems: dict[str, SystemModel],
    nvls: dict[int, float] | None = None,
) -> Vector:
    """The NCCL-like time of each row (its system, forced algorithm and NCCL release), with
    the NVLS bus bandwidth replaced by nvls where it names the GPU count, seconds."""
    key = tuple(sorted((nvls or {}).items()))
    return np.array([_nccl_time_cached(r, systems[r.system], key) for r in rows])


# --- model 1: the α-β ring, pooled over GPU counts ----------------------------------------


def fit_pooled_ring(rows: list[NcclMeasurement]) -> tuple[float, float]:
    """One (α, β) for rows of any GPU counts: T_i = 2(N_i-1)·α + 2(N_i-1)/N_i · M_i/β.

    Least squares on relative residuals: minimise Σ((x1_i·α + x2_i·b - T_i)/T_i)² with
    x1 = 2(N-1), x2 = 2(N-1)/N·M, b = 1/β. α < 0 is clipped to 0 (refit b alone), as in
    comms_core.fitting.fit_alpha_beta. Returns α in seconds and β in bytes/s.
    """
    if not rows:
        raise ValueError("rows: need at least one measurement to fit α and β")
    N = np.array([r.gpus for r in rows], dtype=float)
    M = np.array([r.size_bytes for r in rows], dtype=float)
    T = np.array([r.time_s for r in rows])
    x1, x2 = 2 * (N - 1), 2 * (N - 1) / N * M
    design = np.column_stack([x1, x2]) / T[:, None]
    (alpha, b), *_ = np.linalg.lstsq(design, np.ones_like(T), rcond=None)
    if alpha < 0:
        alpha, b = 0.0, float(np.sum(x2 / T) / np.sum((x2 / T) ** 2))
    if not b > 0:
        raise ValueError("rows: the fitted time per byte is not positive (need larger sizes)")
    return float(alpha), float(1 / b)


# --- model 3: the calibrated NCCL-like model ----------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """What was fitted for one prediction, and on which systems' rows.

    T = floor_s + scale · T_nccl, T_nccl with the NVLS bus bandwidth nvls_gbs (GPUs per
    node -> GB/s; empty: none refitted). variant: how floor and scale were borrowed
    (VARIANTS, or "own system": fitted on the system's other conditions or rows)."""

    variant: str
    floor_s: float
    scale: float
    fitted_on: tuple[str, ...]  # systems whose rows gave floor and scale
    nvls_gbs: tuple[tuple[int, float], ...] = ()
    nvls_fitted_on: tuple[str, ...] = ()
    ring_fitted_on: tuple[str, ...] = ()  # systems whose rows gave the α-β ring's α and β
    fitted_rows: int = 0  # how many rows gave floor and scale
    nvls_rows: int = 0  # how many rows (one-node NVLS, >= 1 GiB) gave the NVLS bandwidth
    ring_rows: int = 0

    @property
    def nvls(self) -> dict[int, float]:
        return dict(self.nvls_gbs)

    def describe(self) -> str:
        """One line: what was fitted where."""
        large = " >= 64 MiB" if "scale" in self.variant else ""
        parts = [
            f"{self.variant}: floor {1e6 * self.floor_s:.1f} µs, scale {self.scale:.2f} on "
            f"{self.fitted_rows} rows{large} of {', '.join(self.fitted_on) or 'none'}"
        ]
        for n, bw in self.nvls_gbs:
            parts.append(
                f"NVLS bus bandwidth at {n} GPUs {bw:.1f} GB/s on {self.nvls_rows} rows >= 1 GiB"
                f" of {', '.join(self.nvls_fitted_on)}"
            )
        if self.ring_rows:
            parts.append(
                f"alpha-beta ring on {self.ring_rows} rows of {', '.join(self.ring_fitted_on)}"
            )
        return "; ".join(parts)


def fit_calibrated_nccl(
    rows: list[NcclMeasurement],
    systems: dict[str, SystemModel] | None = None,
    nvls: dict[int, float] | None = None,
) -> tuple[float, float]:
    """Fit T = floor + scale·T_nccl by least squares on relative residuals,

        minimise Σ ((floor + scale·x_i - T_i) / T_i)²,    x_i = T_nccl(row i),

    as comms_core.fitting does for α and β (every size counts alike; floor >= 0, else the
    scale alone with floor 0: scale = Σ(x/T) / Σ(x²/T²)). Returns (floor s, scale).
    """
    systems = SYSTEMS if systems is None else systems
    if not rows:
        raise ValueError("rows: need at least one measurement to calibrate on")
    T, x = np.array([r.time_s for r in rows]), _nccl_times(rows, systems, nvls)
    floor = 0.0
    if len({r.size_bytes for r in rows}) >= 2:
        design = np.column_stack([np.ones_like(T), x]) / T[:, None]
        (floor, scale), *_ = np.linalg.lstsq(design, np.ones_like(T), rcond=None)
    if floor <= 0:
        floor, scale = 0.0, np.sum(x / T) / np.sum((x / T) ** 2)
    return float(floor), float(scale)


def fit_launch_floor(
    rows: list[NcclMeasurement],
    systems: dict[str, SystemModel] | None = None,
    nvls: dict[int, float] | None = None,
) -> float:
    """The launch floor a system adds to NCCL's own time, seconds: T = floor + T_nccl,

        floor = Σ((T_i - x_i)/T_i²) / Σ(1/T_i²)    (least squares on relative residuals),

    clipped at 0 (a system faster than NCCL's model has no floor to add).
    """
    systems = SYSTEMS if systems is None else systems
    if not rows:
        raise ValueError("rows: need at least one measurement to fit a launch floor")
    T, x = np.array([r.time_s for r in rows]), _nccl_times(rows, systems, nvls)
    return max(0.0, float(np.sum((T - x) / T**2) / np.sum(1 / T**2)))


def fit_scale(
    rows: list[NcclMeasurement],
    systems: dict[str, SystemModel] | None = None,
    nvls: dict[int, float] | None = None,
) -> float | None:
    """The scale of NCCL's times on messages >= 64 MiB (a bandwidth efficiency), floor 0:
    scale = Σ(x/T) / Σ(x²/T²) (least squares on relative residuals); None without such rows.
    """
    systems = SYSTEMS if systems is None else systems
    large = [r for r in rows if r.size_bytes >= LARGE_BYTES]
    if not large:
        return None
    T, x = np.array([r.time_s for r in large]), _nccl_times(large, systems, nvls)
    return float(np.sum(x / T) / np.sum((x / T) ** 2))


def _gpu_model(gpu: str) -> str:
    """ "H100 80GB HBM3" -> "H100", "A100-SXM4-40GB" -> "A100", "H20" -> "H20"."""
    match = re.match(r"[A-Z]+\d+", gpu)
    return match.group() if match else gpu


_Rows = list[NcclMeasurement]
_Group = dict[Condition, _Rows]
_Systems = dict[str, SystemModel]
_Nvls = dict[int, float]  # GPUs per node -> NVLS bus bandwidth, GB/s (fit_nvls_bus_bw)
_Fit = tuple[float, float, _Rows]
# A variant returns (floor s, scale, the rows it fitted them on).
_VariantFit = Callable[[_Rows, _Group, _Systems, _Nvls], _Fit]


def _median_floor(held: _Rows, group: _Group, systems: _Systems, nvls: _Nvls) -> _Fit:
    floors = [fit_launch_floor(rows, systems, nvls) for rows in group.values()]
    return float(np.median(floors)), 1.0, [r for g in group.values() for r in g]


def _pooled_scale(held: _Rows, group: _Group, systems: _Systems, nvls: _Nvls) -> _Fit:
    rows = [r for g in group.values() for r in g if r.size_bytes >= LARGE_BYTES]
    scale = fit_scale(rows, systems, nvls)
    return 0.0, (1.0 if scale is None else scale), rows


def _pooled_scale_same_gpu(held: _Rows, group: _Group, systems: _Systems, nvls: _Nvls) -> _Fit:
    gpu = _gpu_model(held[0].gpu)
    same = {c: rows for c, rows in group.items() if _gpu_model(rows[0].gpu) == gpu}
    return _pooled_scale(held, same, systems, nvls)


def _median_scale(held: _Rows, group: _Group, systems: _Systems, nvls: _Nvls) -> _Fit:
    scales = {c: fit_scale(rows, systems, nvls) for c, rows in group.items()}
    kept = {c: s for c, s in scales.items() if s is not None}
    if not kept:
        return 0.0, 1.0, []
    rows = [r for c in kept for r in group[c] if r.size_bytes >= LARGE_BYTES]
    return 0.0, float(np.median(list(kept.values()))), rows


_VARIANT_FITS: dict[str, _VariantFit] = {
    "median_floor": _median_floor,
    "scale": _pooled_scale,
    "scale_same_gpu": _pooled_scale_same_gpu,
    "median_scale": _median_scale,
}


def calibrate_for(
    held_out: Condition,
    grouped: _Group,
    systems: dict[str, SystemModel] | None = None,
    variant: str = "median_floor",
) -> tuple[list[NcclMeasurement], Calibration]:
    """The α-β ring's calibration rows and the calibration of the NCCL-like models for a
    held-out condition, from the OTHER conditions only.

    NVLS bus bandwidth: refitted on every other condition's rows (fit_nvls_bus_bw). Floor
    and scale: on the held-out system's other conditions, if it has any, both fitted
    (fit_calibrated_nccl: a per-system launch floor and bandwidth scale). Else borrowed
    from the other systems of the same class (one node, or several) by the variant:
    "median_floor": NCCL's own bandwidths (scale 1) plus the median of their launch
    floors, one vote per condition; "scale": one scale (floor 0) on their rows of >= 64
    MiB; "scale_same_gpu": the same on the systems with the same GPU; "median_scale": the
    median of their scales.
    """
    systems = SYSTEMS if systems is None else systems
    if variant not in _VARIANT_FITS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    others = {c: rows for c, rows in grouped.items() if c != held_out}
    other_rows = [r for rows in others.values() for r in rows]
    nvls = fit_nvls_bus_bw(other_rows, systems)
    nvls_rows = _nvls_rows(other_rows, systems)
    same_system = [r for c, rows in others.items() if c.system == held_out.system for r in rows]
    if same_system:
        floor, scale = fit_calibrated_nccl(same_system, systems, nvls)
        calibration = _calibration("own system", floor, scale, same_system, nvls, nvls_rows)
        return same_system, _with_ring(calibration, same_system)
    same_class = {
        c: rows for c, rows in others.items() if c.several_nodes == held_out.several_nodes
    }
    if not same_class:
        raise ValueError(f"no other condition of {held_out.label}'s class to calibrate on")
    floor, scale, used = _VARIANT_FITS[variant](grouped[held_out], same_class, systems, nvls)
    rows = [r for g in same_class.values() for r in g]
    calibration = _calibration(variant, floor, scale, used, nvls, nvls_rows)
    return rows, _with_ring(calibration, rows)


def _calibration(
    variant: str, floor: float, scale: float, used: _Rows, nvls: _Nvls, nvls_rows: _Rows
) -> Calibration:
    """A Calibration that records the systems and the number of rows of each fit."""
    return Calibration(
        variant,
        floor,
        scale,
        _systems_of(used),
        tuple(nvls.items()),
        _systems_of(nvls_rows),
        fitted_rows=len(used),
        nvls_rows=len(nvls_rows),
    )


def _with_ring(calibration: Calibration, rows: list[NcclMeasurement]) -> Calibration:
    """The calibration with the rows its α-β ring is fitted on."""
    return replace(calibration, ring_fitted_on=_systems_of(rows), ring_rows=len(rows))


# --- scoring --------------------------------------------------------------------------------


def geometric_mean_error(errors: ArrayLike) -> float:
    """exp(mean(log |e|)), |e| floored at 1e-4 (one exact row must not give zero)."""
    e = np.maximum(np.abs(np.asarray(errors, dtype=float)), _GEOMEAN_FLOOR)
    return float(np.exp(np.mean(np.log(e))))


@dataclass(frozen=True)
class ConditionScore:
    """One condition, predicted by models calibrated without it: per model, the errors of
    its rows. held_out False: a constant of the models is its own measurement and is not
    refitted (why), so it is shown but never counted."""

    condition: Condition
    rows: int
    errors: dict[str, Vector]  # model -> (predicted - measured)/measured per row
    calibration: Calibration
    held_out: bool = True
    why_not: str = ""
    variant_scores: dict[str, float] = field(default_factory=dict)  # the nested selection

    def geometric_mean(self, model: str) -> float:
        return geometric_mean_error(self.errors[model])

    def median(self, model: str) -> float:
        return float(np.median(np.abs(self.errors[model])))


def predict(
    rows: list[NcclMeasurement],
    calibration_rows: list[NcclMeasurement],
    calibration: Calibration,
    systems: dict[str, SystemModel] | None = None,
) -> dict[str, Vector]:
    """Every model's prediction (seconds) of rows: the α-β ring fitted on calibration_rows,
    the NCCL-like model (with the calibration's NVLS bus bandwidth), and the calibrated one."""
    systems = SYSTEMS if systems is None else systems
    alpha, beta = fit_pooled_ring(calibration_rows)
    N = np.array([r.gpus for r in rows], dtype=float)
    M = np.array([r.size_bytes for r in rows], dtype=float)
    nccl = _nccl_times(rows, systems, calibration.nvls)
    return {
        "alpha_beta": 2 * (N - 1) * alpha + 2 * (N - 1) / N * M / beta,
        "nccl_like": nccl,
        "calibrated": calibration.floor_s + calibration.scale * nccl,
    }


def _not_held_out_because(
    condition: Condition,
    calibration: Calibration,
    systems: dict[str, SystemModel],
    provenance: tuple[Provenance, ...],
) -> str:
    """Why the condition cannot count as held out ("" if it can): a constant measured on
    its own system that is excluded, or that should be refitted but was not."""
    gpus_per_node = condition.gpus // condition.nodes
    for p in provenance:
        if condition.system not in p.measured_on:
            continue
        refitted = (
            p.held_out == "refit"
            and p.constant.startswith(_REFITTED)
            and (not systems[condition.system].nvls or gpus_per_node in calibration.nvls)
        )
        if not refitted:
            return f"{p.constant} ({p.value}) is its own measurement: {p.why}"
    return ""


def _score(
    condition: Condition,
    grouped: _Group,
    systems: dict[str, SystemModel],
    variant: str,
    provenance: tuple[Provenance, ...],
) -> ConditionScore:
    """One condition held out with one variant."""
    held = grouped[condition]
    calibration_rows, calibration = calibrate_for(condition, grouped, systems, variant)
    predicted = predict(held, calibration_rows, calibration, systems)
    measured = np.array([r.time_s for r in held])
    why = _not_held_out_because(condition, calibration, systems, provenance)
    return ConditionScore(
        condition=condition,
        rows=len(held),
        errors={m: (p - measured) / measured for m, p in predicted.items()},
        calibration=calibration,
        held_out=not why,
        why_not=why,
    )


def select_variant(
    held_out: Condition,
    grouped: _Group,
    systems: dict[str, SystemModel] | None = None,
    provenance: tuple[Provenance, ...] = PROVENANCE,
) -> tuple[str, dict[str, float]]:
    """The variant chosen WITHOUT the held-out condition: each other condition is held
    out in turn from the remaining ones (the held-out one removed from the data), and the
    variant with the least geometric mean |error| pooled over those rows wins (ties: the
    first of VARIANTS). Returns the variant and every variant's inner score."""
    systems = SYSTEMS if systems is None else systems
    inner = {c: rows for c, rows in grouped.items() if c != held_out}
    scores = {}
    for variant in VARIANTS:
        errors = []
        for condition in inner:
            try:
                score = _score(condition, inner, systems, variant, provenance)
            except ValueError:  # nothing of its class left to calibrate on
                continue
            if score.held_out:
                errors.append(score.errors["calibrated"])
        scores[variant] = geometric_mean_error(np.concatenate(errors)) if errors else np.inf
    return min(VARIANTS, key=lambda v: scores[v]), scores


def leave_one_condition_out(
    rows: list[NcclMeasurement] | None = None,
    systems: dict[str, SystemModel] | None = None,
    variant: str = "nested",
    provenance: tuple[Provenance, ...] = PROVENANCE,
) -> list[ConditionScore]:
    """Hold out each condition in turn (here: each system), calibrate on the others,
    predict it. variant "nested": the calibrated model's variant is chosen without the
    held-out condition (select_variant); else one of VARIANTS for every condition."""
    rows = load_nccl_measurements() if rows is None else rows
    systems = SYSTEMS if systems is None else systems
    grouped = conditions(rows)
    scores = []
    for condition in grouped:
        if variant == "nested":
            chosen, inner = select_variant(condition, grouped, systems, provenance)
        else:
            chosen, inner = variant, {}
        score = _score(condition, grouped, systems, chosen, provenance)
        scores.append(replace(score, variant_scores=inner))
    return scores


def leave_one_row_out(
    rows: list[NcclMeasurement] | None = None,
    systems: dict[str, SystemModel] | None = None,
    provenance: tuple[Provenance, ...] = PROVENANCE,
) -> list[ConditionScore]:
    """Within a system: each row predicted from its system's other rows (the α-β ring and
    the floor and scale fitted on them; the NVLS bus bandwidth on every other row of the
    dataset). A test of sizes not seen on a system already calibrated, weaker than a new
    system. Systems with fewer than 3 rows, or not held out (PROVENANCE), are skipped."""
    rows = load_nccl_measurements() if rows is None else rows
    systems = SYSTEMS if systems is None else systems
    scores = []
    for condition, held in conditions(rows).items():
        if len(held) < 3:
            continue
        errors: dict[str, list[float]] = {m: [] for m in MODELS}
        for i, row in enumerate(held):
            mine = held[:i] + held[i + 1 :]
            everything_else = [r for r in rows if r is not row]
            nvls = fit_nvls_bus_bw(everything_else, systems)
            floor, scale = fit_calibrated_nccl(mine, systems, nvls)
            nvls_rows = _nvls_rows(everything_else, systems)
            calibration = _with_ring(
                _calibration("own system", floor, scale, mine, nvls, nvls_rows), mine
            )
            predicted = predict([row], mine, calibration, systems)
            for m in MODELS:
                errors[m].append(float((predicted[m][0] - row.time_s) / row.time_s))
        why = _not_held_out_because(condition, calibration, systems, provenance)
        scores.append(
            ConditionScore(
                condition,
                len(held),
                {m: np.array(e) for m, e in errors.items()},
                calibration,
                held_out=not why,
                why_not=why,
            )
        )
    return scores


@dataclass(frozen=True)
class Summary:
    """One model's error over the held-out conditions: pooled over their rows (geometric
    mean, median), and over conditions (geometric mean and median of each condition's
    geometric mean)."""

    rows: int
    conditions: int
    geomean_rows: float
    median_rows: float
    geomean_conditions: float
    median_conditions: float


def summarize(scores: list[ConditionScore], model: str) -> Summary:
    """The summary of the scores that count as held out."""
    counted = [s for s in scores if s.held_out]
    if not counted:
        raise ValueError("scores: no condition is held out")
    pooled = np.concatenate([s.errors[model] for s in counted])
    per_condition = [s.geometric_mean(model) for s in counted]
    return Summary(
        rows=pooled.size,
        conditions=len(counted),
        geomean_rows=geometric_mean_error(pooled),
        median_rows=float(np.median(np.abs(pooled))),
        geomean_conditions=geometric_mean_error(per_condition),
        median_conditions=float(np.median(per_condition)),
    )
