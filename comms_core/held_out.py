"""Predicting conditions a model was not fitted on: leave one condition out.

A model fitted and scored on the same sweep says little: a two-parameter line fitted to a
sweep beats the NCCL-like model on every system (issue 14). The test that counts is a
prediction of a CONDITION the model never saw: another system, another GPU count, another
number of nodes, another forced algorithm. A condition is one (system, GPUs, nodes,
algorithm) of the published dataset (comms_core.measurements).

Three models are scored on each held-out condition, each calibrated on the others only:

1. α-β ring, pooled: T = 2(N-1)·α + 2(N-1)/N · M/β, one α and one β fitted by least
   squares on relative error (weights 1/T, as comms_core.fitting) over the calibration
   rows (the system's other conditions, else the other systems of the same class: one
   node, or several; calibrate_for), then read at the held-out N: "calibrate on one GPU
   count, predict another" for the lab's model.
2. NCCL-like: NCCL's own tuning model with NVLS/NVLSTree (comms_core.measurements),
   from published constants only; nothing is fitted, so every condition is held out.
3. Calibrated NCCL-like: T = floor + s · T_nccl(M), the launch floor (seconds) and the scale
   of NCCL's times fitted by least squares on relative error (fit_calibrated_nccl) on the
   held-out system's other conditions when it has any (a per-system launch floor and
   scale); else NCCL's own times (s = 1) plus the median launch floor of the other systems
   of the same class (fit_launch_floor; see calibrate_for).

Errors are (predicted - measured)/measured per row; a condition's score is the geometric
mean and the median of |error|. The geometric mean floors |error| at 1e-4 (0.01%), so one
exact row cannot send it to zero. ASTRA-sim's published geometric means are shown beside a
condition only when the condition is the one it validated (ASTRA_SIM_REPORTED).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from comms_core.measurements import (
    SYSTEMS,
    NcclMeasurement,
    SystemModel,
    forced_algorithm,
    load_nccl_measurements,
    nccl_like_allreduce_time,
    nccl_row_arguments,
)

__all__ = [
    "ASTRA_SIM_REPORTED",
    "MODELS",
    "CalibratedNccl",
    "Condition",
    "ConditionScore",
    "calibrate_for",
    "conditions",
    "fit_calibrated_nccl",
    "fit_launch_floor",
    "fit_pooled_ring",
    "geometric_mean_error",
    "leave_one_condition_out",
    "predict",
]

MODELS = ("alpha_beta", "nccl_like", "calibrated")
_GEOMEAN_FLOOR = 1e-4

# ASTRA-sim's NCCL validation on HGX-H100, AllReduce with NCCL_ALGO=Ring forced: geometric
# mean error per GPU count (astra-sim.github.io/astra-sim-docs/validation/hardware/
# gpu-validation-hgx-h100.html). Keys: (GPUs, algorithm) on one H100 node.
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


def _nccl_time(row: NcclMeasurement, system: SystemModel) -> float:
    """The NCCL-like time of one row (its system, forced algorithm and NCCL release)."""
    args = nccl_row_arguments(row, system)
    return float(nccl_like_allreduce_time(row.size_bytes, row.gpus, row.nodes, **args))


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
class CalibratedNccl:
    """T = floor + scale · T_nccl: the launch floor in seconds, the scale of NCCL's times
    (1 = NCCL's own model) and the systems they were fitted on."""

    floor_s: float
    scale: float
    fitted_on: str


def _measured_and_nccl(
    rows: list[NcclMeasurement], systems: dict[str, SystemModel]
) -> tuple[np.ndarray, np.ndarray]:
    """The measured times T_i and NCCL-like times x_i of rows, seconds."""
    T = np.array([r.time_s for r in rows])
    x = np.array([_nccl_time(r, systems[r.system]) for r in rows])
    return T, x


def fit_calibrated_nccl(
    rows: list[NcclMeasurement], systems: dict[str, SystemModel] | None = None
) -> CalibratedNccl:
    """Fit T = floor + scale·T_nccl by least squares on relative residuals,

        minimise Σ ((floor + scale·x_i - T_i) / T_i)²,    x_i = T_nccl(row i),

    as comms_core.fitting does for α and β (every size counts alike; floor >= 0, else the
    scale alone with floor 0: scale = Σ(x/T) / Σ(x²/T²)).
    """
    systems = SYSTEMS if systems is None else systems
    if not rows:
        raise ValueError("rows: need at least one measurement to calibrate on")
    T, x = _measured_and_nccl(rows, systems)
    floor = 0.0
    if len({r.size_bytes for r in rows}) >= 2:
        design = np.column_stack([np.ones_like(T), x]) / T[:, None]
        (floor, scale), *_ = np.linalg.lstsq(design, np.ones_like(T), rcond=None)
    if floor <= 0:
        floor, scale = 0.0, np.sum(x / T) / np.sum((x / T) ** 2)
    names = ", ".join(sorted({r.system for r in rows}))
    return CalibratedNccl(floor_s=float(floor), scale=float(scale), fitted_on=names)


def fit_launch_floor(
    rows: list[NcclMeasurement], systems: dict[str, SystemModel] | None = None
) -> float:
    """The launch floor a system adds to NCCL's own time, seconds: T = floor + T_nccl,

        floor = Σ((T_i - x_i)/T_i²) / Σ(1/T_i²)    (least squares on relative residuals),

    clipped at 0 (a system faster than NCCL's model has no floor to add).
    """
    systems = SYSTEMS if systems is None else systems
    if not rows:
        raise ValueError("rows: need at least one measurement to fit a launch floor")
    T, x = _measured_and_nccl(rows, systems)
    return max(0.0, float(np.sum((T - x) / T**2) / np.sum(1 / T**2)))


def calibrate_for(
    held_out: Condition,
    grouped: dict[Condition, list[NcclMeasurement]],
    systems: dict[str, SystemModel] | None = None,
) -> tuple[list[NcclMeasurement], CalibratedNccl]:
    """Calibration rows and the calibrated NCCL-like model for a held-out condition.

    The held-out system's other conditions, if it has any: its own launch floor and
    bandwidth scale (fit_calibrated_nccl). Else the other systems of the same class (one
    node, or several): NCCL's own bandwidths (scale 1) plus the MEDIAN of their launch
    floors, one vote per condition (fit_launch_floor). The median, because floors belong
    to a fabric and its software stack and one fabric is far from the others (measured on
    their own rows: 0-25 µs on one NVSwitch node; 0, 57, 60 and 115 µs over InfiniBand,
    RoCE and TCPXO). A bandwidth scale borrowed from other systems is not used: it made the
    3x8 A100 prediction 52% off where NCCL's constants are 12% off (docs/calibrate.md).
    """
    systems = SYSTEMS if systems is None else systems
    others = {c: rows for c, rows in grouped.items() if c != held_out}
    same_system = [r for c, rows in others.items() if c.system == held_out.system for r in rows]
    if same_system:
        return same_system, fit_calibrated_nccl(same_system, systems)
    same_class = {
        c: rows for c, rows in others.items() if c.several_nodes == held_out.several_nodes
    }
    if not same_class:
        raise ValueError(f"no other condition of {held_out.label}'s class to calibrate on")
    floors = [fit_launch_floor(rows, systems) for rows in same_class.values()]
    calibration_rows = [r for rows in same_class.values() for r in rows]
    names = ", ".join(sorted({c.system for c in same_class}))
    return calibration_rows, CalibratedNccl(float(np.median(floors)), 1.0, names)


# --- scoring --------------------------------------------------------------------------------


def geometric_mean_error(errors) -> float:
    """exp(mean(log |e|)), |e| floored at 1e-4 (one exact row must not give zero)."""
    e = np.maximum(np.abs(np.asarray(errors, dtype=float)), _GEOMEAN_FLOOR)
    return float(np.exp(np.mean(np.log(e))))


@dataclass(frozen=True)
class ConditionScore:
    """One held-out condition: per model, the errors of its rows and their summaries."""

    condition: Condition
    rows: int
    errors: dict[str, np.ndarray]  # model -> (predicted - measured)/measured per row
    calibration: CalibratedNccl
    astra_sim: float | None  # ASTRA-sim's reported geometric mean here, if it validated it

    def geometric_mean(self, model: str) -> float:
        return geometric_mean_error(self.errors[model])

    def median(self, model: str) -> float:
        return float(np.median(np.abs(self.errors[model])))


def predict(
    rows: list[NcclMeasurement],
    calibration_rows: list[NcclMeasurement],
    calibrated: CalibratedNccl,
    systems: dict[str, SystemModel] | None = None,
) -> dict[str, np.ndarray]:
    """Every model's prediction (seconds) of rows: the α-β ring fitted on calibration_rows,
    the NCCL-like model as published, and the calibrated one."""
    systems = SYSTEMS if systems is None else systems
    alpha, beta = fit_pooled_ring(calibration_rows)
    N = np.array([r.gpus for r in rows], dtype=float)
    M = np.array([r.size_bytes for r in rows], dtype=float)
    nccl = np.array([_nccl_time(r, systems[r.system]) for r in rows])
    return {
        "alpha_beta": 2 * (N - 1) * alpha + 2 * (N - 1) / N * M / beta,
        "nccl_like": nccl,
        "calibrated": calibrated.floor_s + calibrated.scale * nccl,
    }


def _astra_sim_figure(condition: Condition, rows: list[NcclMeasurement]) -> float | None:
    """ASTRA-sim's reported geometric mean if it validated this condition (one H100 node)."""
    if condition.nodes != 1 or not all(r.gpu.startswith("H100") for r in rows):
        return None
    return ASTRA_SIM_REPORTED.get((condition.gpus, condition.algorithm or "default"))


def leave_one_condition_out(
    rows: list[NcclMeasurement] | None = None, systems: dict[str, SystemModel] | None = None
) -> list[ConditionScore]:
    """Hold out each condition in turn, calibrate on the others, predict it."""
    rows = load_nccl_measurements() if rows is None else rows
    systems = SYSTEMS if systems is None else systems
    grouped = conditions(rows)
    scores = []
    for condition, held in grouped.items():
        calibration_rows, calibrated = calibrate_for(condition, grouped, systems)
        predicted = predict(held, calibration_rows, calibrated, systems)
        measured = np.array([r.time_s for r in held])
        scores.append(
            ConditionScore(
                condition=condition,
                rows=len(held),
                errors={m: (p - measured) / measured for m, p in predicted.items()},
                calibration=calibrated,
                astra_sim=_astra_sim_figure(condition, held),
            )
        )
    return scores
