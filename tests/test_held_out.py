"""comms_core.held_out: predictions of conditions the models were not fitted on."""

from __future__ import annotations

import numpy as np
import pytest

from comms_core.held_out import (
    ASTRA_SIM_REPORTED,
    MODELS,
    calibrate_for,
    conditions,
    fit_launch_floor,
    fit_pooled_ring,
    geometric_mean_error,
    leave_one_condition_out,
    predict,
)
from comms_core.measurements import (
    RING_BUS_BW_H100_GBS,
    SYSTEMS,
    load_nccl_measurements,
    nccl_like_allreduce_time,
    nccl_row_arguments,
    nccl_system_arguments,
    time_from_bus_bandwidth,
)

ROWS = load_nccl_measurements()
SCORES = {s.condition.label: s for s in leave_one_condition_out(ROWS)}


def test_every_condition_is_held_out_once_and_never_seen_by_its_calibration():
    grouped = conditions(ROWS)
    assert len(SCORES) == len(grouped) >= 9
    assert sum(s.rows for s in SCORES.values()) == len(ROWS)
    for score in SCORES.values():
        # the held-out system's rows never calibrate its own prediction (one condition each)
        assert score.condition.system not in score.calibration.fitted_on.split(", ")
        for model in MODELS:
            assert score.errors[model].shape == (score.rows,)


def test_scores_are_the_geometric_mean_and_median_of_the_row_errors():
    for score in SCORES.values():
        e = np.abs(score.errors["nccl_like"])
        assert score.median("nccl_like") == pytest.approx(np.median(e))
        expected = np.exp(np.mean(np.log(np.maximum(e, 1e-4))))
        assert score.geometric_mean("nccl_like") == pytest.approx(expected)


def test_geometric_mean_known_answer():
    # |e| = 0.1 and 0.4: sqrt(0.04) = 0.2; a zero error counts as 1e-4, not as zero
    assert geometric_mean_error([0.1, -0.4]) == pytest.approx(0.2)
    assert geometric_mean_error([0.0, 0.01]) == pytest.approx(1e-3)


def test_pooled_ring_fit_recovers_alpha_and_beta_across_gpu_counts():
    """Oracle: times made by hand from T = 2(N-1)α + 2(N-1)/N·M/β at N = 2 and 8; the fit
    on both counts returns α = 5 µs and β = 40 GB/s."""
    alpha, beta = 5e-6, 40e9
    rows = []
    for row in ROWS[:8]:
        for n in (2, 8):
            t = 2 * (n - 1) * alpha + 2 * (n - 1) / n * row.size_bytes / beta
            rows.append(type(row)(**{**row.__dict__, "gpus": n, "time_us": t * 1e6}))
    fitted_alpha, fitted_beta = fit_pooled_ring(rows)
    assert fitted_alpha == pytest.approx(alpha, rel=1e-9)
    assert fitted_beta == pytest.approx(beta, rel=1e-9)
    with pytest.raises(ValueError, match="rows"):
        fit_pooled_ring([])


def test_nccl_like_model_predicts_the_held_out_single_node_h100_within_15_percent():
    """Measured (benchmarks/bench_calibrate.py): geometric mean 6.7%, median 11.8% over 32
    sizes of DGX H100 1x8, with nothing fitted; NVLS above 2 MiB brings it there (15% median
    without NVLS). The bound fails if NVLS or a latency constant breaks."""
    score = SCORES["dgx_h100_1x8 1x8 default"]
    assert score.geometric_mean("nccl_like") < 0.10
    assert score.median("nccl_like") < 0.15


def test_nvlstree_is_what_makes_the_h20_pair_predictable():
    """H20 2x8 with NVLSTree forced: the α-β ring is off by 2-3x (median 161%); the NCCL-like
    model with NVLSTree has median 14%."""
    score = SCORES["h20_2x8_ndr 2x8 nvlstree"]
    assert score.median("alpha_beta") > 1.0
    assert score.median("nccl_like") < 0.2


def test_a_launch_floor_does_not_transfer_between_fabrics():
    """The honest negative result: the TCPXO pair adds ~115 µs to NCCL's own time (its own
    rows, fit_launch_floor); the median floor of the other multi-node systems is 28.5 µs,
    so every model stays more than 40% off there (geometric mean; measured: α-β 62%,
    NCCL-like 59%, calibrated 48%)."""
    score = SCORES["gcp_a3mega_2x8_h100 2x8 default"]
    for model in MODELS:
        assert score.geometric_mean(model) > 0.4


def _one_node_system_rows(name: str, added_floor_s: float):
    """dgx_h100_1x8's sizes relabelled as system `name`, timed as NCCL-like + a floor."""
    from dataclasses import replace

    h100 = SYSTEMS["dgx_h100_1x8"]
    rows = []
    for r in (r for r in ROWS if r.system == "dgx_h100_1x8"):
        r = replace(r, system=name, nccl_version="2.20.3")
        t = added_floor_s + nccl_like_allreduce_time(
            r.size_bytes, r.gpus, 1, **nccl_row_arguments(r, h100)
        )
        rows.append(replace(r, time_us=float(t) * 1e6))
    return rows


def test_launch_floor_fit_recovers_an_added_latency():
    """Oracle by construction: T = T_nccl + 30 µs gives 30 µs; T = T_nccl gives 0."""
    systems = {"x": SYSTEMS["dgx_h100_1x8"]}
    assert fit_launch_floor(_one_node_system_rows("x", 30e-6), systems) == pytest.approx(
        30e-6, rel=1e-9
    )
    assert fit_launch_floor(_one_node_system_rows("x", 0.0), systems) == pytest.approx(
        0.0, abs=1e-12
    )
    with pytest.raises(ValueError, match="rows"):
        fit_launch_floor([], systems)


def test_a_system_seen_once_borrows_the_median_floor_of_its_class():
    """Three one-node systems that add 10, 20 and 100 µs to NCCL's time: a fourth system,
    held out, is predicted with NCCL's own bandwidths (scale 1) plus 20 µs, the median (the
    mean, 43.3 µs, would follow the one outlying fabric)."""
    systems = {name: SYSTEMS["dgx_h100_1x8"] for name in "abcd"}
    rows = []
    for name, floor in (("a", 10e-6), ("b", 20e-6), ("c", 100e-6), ("d", 20e-6)):
        rows += _one_node_system_rows(name, floor)
    grouped = conditions(rows)
    held_out = next(c for c in grouped if c.system == "d")
    calibration_rows, calibrated = calibrate_for(held_out, grouped, systems)
    assert {r.system for r in calibration_rows} == {"a", "b", "c"}
    assert calibrated.floor_s == pytest.approx(20e-6, rel=1e-9)
    assert calibrated.scale == 1.0
    predicted = predict(grouped[held_out], calibration_rows, calibrated, systems)["calibrated"]
    measured = np.array([r.time_s for r in grouped[held_out]])
    np.testing.assert_allclose(predicted, measured, rtol=1e-9)


def test_the_borrowed_floor_beats_nccls_constants_across_held_out_conditions():
    """Measured (benchmarks/bench_calibrate.py --published): geometric mean over the nine
    held-out conditions of each condition's geometric mean |error|: calibrated 9.1%,
    NCCL-like 11.7%, α-β 47.5%; the calibrated model is better than the NCCL-like one on 5
    of 9 conditions, worse on 3 (DGX H100 1x8, the H20 pair, the 3x8 A100). Before this
    change (a bandwidth scale fitted on the other systems' large messages): 24.1%, better
    on 3 of 9. Bounds: the order of the three models, and at least 5 conditions better."""
    overall = {
        m: geometric_mean_error([s.geometric_mean(m) for s in SCORES.values()]) for m in MODELS
    }
    assert overall["calibrated"] < overall["nccl_like"] < overall["alpha_beta"]
    better = [
        s
        for s in SCORES.values()
        if s.geometric_mean("calibrated") < s.geometric_mean("nccl_like") - 1e-3
    ]
    assert len(better) >= 5


def test_forced_ring_h100_error_against_the_published_busbw():
    """ASTRA-sim's condition (one H100 node, NCCL_ALGO=Ring): its sweeps are not in the
    dataset (IBM/pytorch-communication-benchmarks#1's table was not reachable), so the
    comparison is on what nccl#1455 publishes: Ring busbw 365-370 GB/s at 2-4 GiB for 2 to
    8 GPUs. The time that busbw implies at the middle of the range is the measurement.
    Measured: geometric mean 0.6% at 2-8 GPUs (ASTRA-sim: 20.6%, 12.0%, 9.7% at 2, 4, 8,
    over whole sweeps, so not the same rows). Bound: 10%."""
    busbw = np.mean(RING_BUS_BW_H100_GBS) * 1e9
    h100 = nccl_system_arguments(SYSTEMS["dgx_h100_1x8"])
    per_count = {}
    for n in range(2, 9):
        errors = []
        for size in (2**31, 2**32):
            measured = time_from_bus_bandwidth(size, busbw, n)
            predicted = nccl_like_allreduce_time(size, n, 1, algorithm="ring", **h100)
            errors.append((predicted - measured) / measured)
        per_count[n] = geometric_mean_error(errors)
    assert max(per_count.values()) < 0.10
    assert geometric_mean_error(list(per_count.values())) < 0.10
    for n, astra in ((2, 0.2063), (4, 0.1201), (8, 0.0969)):
        assert ASTRA_SIM_REPORTED[(n, "ring")] == astra


def test_forcing_an_algorithm_the_system_lacks_is_a_clear_error():
    a100 = nccl_system_arguments(SYSTEMS["azure_nd_a100_v4"])
    with pytest.raises(ValueError, match="nvls"):
        nccl_like_allreduce_time(2**20, 8, 1, algorithm="nvls", **a100)


def test_a_system_measured_at_two_gpu_counts_brings_its_own_launch_floor_and_scale():
    """Calibrate on one GPU count of a system, predict another: the per-system path.

    Oracle by construction: the rows of dgx_h100_1x8 relabelled at 4 and at 8 GPUs, with
    times made as 30 µs + 1.2 × the NCCL-like time. Held out at 8 GPUs, the calibration
    comes from the 4-GPU rows alone and recovers floor 30 µs and scale 1.2 exactly, so the
    8-GPU prediction is exact: the floor and the scale transfer across the GPU count."""
    from dataclasses import replace

    h100 = SYSTEMS["dgx_h100_1x8"]
    base = [r for r in ROWS if r.system == "dgx_h100_1x8"]
    rows = []
    for n in (4, 8):
        for r in base:
            r = replace(r, gpus=n)
            t = 30e-6 + 1.2 * nccl_like_allreduce_time(
                r.size_bytes, n, 1, **nccl_system_arguments(h100)
            )
            rows.append(replace(r, time_us=float(t) * 1e6))
    grouped = conditions(rows)
    held_out = next(c for c in grouped if c.gpus == 8)
    calibration_rows, calibrated = calibrate_for(held_out, grouped)
    assert {r.gpus for r in calibration_rows} == {4}
    assert calibrated.floor_s == pytest.approx(30e-6, rel=1e-9)
    assert calibrated.scale == pytest.approx(1.2, rel=1e-9)
    predicted = predict(grouped[held_out], calibration_rows, calibrated)["calibrated"]
    measured = np.array([r.time_s for r in grouped[held_out]])
    np.testing.assert_allclose(predicted, measured, rtol=1e-9)
