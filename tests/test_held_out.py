"""comms_core.held_out: predictions of conditions the models were not fitted on."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from comms_core.held_out import (
    ASTRA_SIM_REPORTED,
    MODELS,
    VARIANTS,
    ConditionScore,
    calibrate_for,
    conditions,
    fit_launch_floor,
    fit_nvls_bus_bw,
    fit_pooled_ring,
    geometric_mean_error,
    leave_one_condition_out,
    leave_one_row_out,
    predict,
    select_variant,
    summarize,
)
from comms_core.measurements import (
    PROVENANCE,
    RING_BUS_BW_H100_GBS,
    SYSTEMS,
    Provenance,
    load_nccl_measurements,
    nccl_like_allreduce_time,
    nccl_row_arguments,
    nccl_system_arguments,
    time_from_bus_bandwidth,
)

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
ROWS = load_nccl_measurements()
SCORE_LIST = leave_one_condition_out(ROWS)
SCORES = {s.condition.label: s for s in SCORE_LIST}


def test_every_condition_is_held_out_once_and_never_seen_by_its_calibration():
    grouped = conditions(ROWS)
    assert len(SCORES) == len(grouped) >= 9
    assert sum(s.rows for s in SCORES.values()) == len(ROWS)
    for score in SCORES.values():
        # one condition per system: none of the held-out system's rows calibrates anything
        own = score.condition.system
        calibration = score.calibration
        assert own not in calibration.fitted_on
        assert own not in calibration.nvls_fitted_on
        assert own not in calibration.ring_fitted_on
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
    """Measured (benchmarks/bench_calibrate.py): geometric mean 7.5%, median 11.6% over 32
    sizes of DGX H100 1x8, with only the NVLS bus bandwidth fitted (on the other H100
    nodes); NVLS above 2 MiB brings it there (15% median without NVLS). The bound fails if
    NVLS or a latency constant breaks."""
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
    rows, fit_launch_floor); nothing the other multi-node systems give (a median floor of
    28.5 µs, or a bandwidth scale) closes it, so every model stays more than 40% off there
    (geometric mean; measured: α-β 62%, NCCL-like 59%, calibrated 47%)."""
    score = SCORES["gcp_a3mega_2x8_h100 2x8 default"]
    for model in MODELS:
        assert score.geometric_mean(model) > 0.4


# Synthetic systems are built on one A100 node (no NVLS), so the refitted NVLS bandwidth
# plays no part unless a test asks for it.
A100 = SYSTEMS["azure_nd_a100_v4"]
DGX_H100_ROWS = [r for r in ROWS if r.system == "dgx_h100_1x8"]


def _one_node_system_rows(name: str, added_floor_s: float, system=A100, nvls=None):
    """dgx_h100_1x8's sizes relabelled as system `name`, timed as NCCL-like + a floor."""
    rows = []
    for r in DGX_H100_ROWS:
        r = replace(r, system=name, nccl_version="2.20.3")
        args = nccl_row_arguments(r, system)
        if nvls is not None:
            args["nvls_bus_bw_gbs"] = {8: nvls}
        t = added_floor_s + nccl_like_allreduce_time(r.size_bytes, r.gpus, 1, **args)
        rows.append(replace(r, time_us=float(t) * 1e6))
    return rows


def test_launch_floor_fit_recovers_an_added_latency():
    """Oracle by construction: T = T_nccl + 30 µs gives 30 µs; T = T_nccl gives 0."""
    systems = {"x": A100}
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
    systems = {name: A100 for name in "abcd"}
    rows = []
    for name, floor in (("a", 10e-6), ("b", 20e-6), ("c", 100e-6), ("d", 20e-6)):
        rows += _one_node_system_rows(name, floor)
    grouped = conditions(rows)
    held_out = next(c for c in grouped if c.system == "d")
    calibration_rows, calibrated = calibrate_for(held_out, grouped, systems, "median_floor")
    assert {r.system for r in calibration_rows} == {"a", "b", "c"}
    assert calibrated.floor_s == pytest.approx(20e-6, rel=1e-9)
    assert calibrated.scale == 1.0
    predicted = predict(grouped[held_out], calibration_rows, calibrated, systems)["calibrated"]
    measured = np.array([r.time_s for r in grouped[held_out]])
    np.testing.assert_allclose(predicted, measured, rtol=1e-9)


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
    rows = []
    for n in (4, 8):
        for r in DGX_H100_ROWS:
            r = replace(r, system="x", gpus=n)
            t = 30e-6 + 1.2 * nccl_like_allreduce_time(
                r.size_bytes, n, 1, **nccl_system_arguments(A100)
            )
            rows.append(replace(r, time_us=float(t) * 1e6))
    grouped = conditions(rows)
    held_out = next(c for c in grouped if c.gpus == 8)
    calibration_rows, calibrated = calibrate_for(held_out, grouped, {"x": A100})
    assert {r.gpus for r in calibration_rows} == {4}
    assert calibrated.variant == "own system"
    assert calibrated.floor_s == pytest.approx(30e-6, rel=1e-9)
    assert calibrated.scale == pytest.approx(1.2, rel=1e-9)
    predicted = predict(grouped[held_out], calibration_rows, calibrated, {"x": A100})
    measured = np.array([r.time_s for r in grouped[held_out]])
    np.testing.assert_allclose(predicted["calibrated"], measured, rtol=1e-9)


# --- what counts as held out ----------------------------------------------------------------


def _score(errors: list[float], held_out: bool = True) -> ConditionScore:
    score = SCORE_LIST[0]
    errs = np.array(errors)
    return replace(score, rows=errs.size, errors=dict.fromkeys(MODELS, errs), held_out=held_out)


def test_summary_pools_rows_and_conditions_by_hand():
    """Held out: |e| = 0.1, 0.4 (geometric mean 0.2) and 0.8; one more condition is not
    held out and must not count. Rows: (0.1·0.4·0.8)^(1/3) = 0.3175, median 0.4;
    conditions: sqrt(0.2·0.8) = 0.4, median (0.2 + 0.8)/2 = 0.5."""
    scores = [_score([0.1, -0.4]), _score([0.8]), _score([0.0, 0.0], held_out=False)]
    s = summarize(scores, "calibrated")
    assert (s.rows, s.conditions) == (3, 2)
    assert s.geomean_rows == pytest.approx(0.032 ** (1 / 3))
    assert s.median_rows == pytest.approx(0.4)
    assert s.geomean_conditions == pytest.approx(0.4)
    assert s.median_conditions == pytest.approx(0.5)
    with pytest.raises(ValueError, match="held out"):
        summarize(scores[2:], "calibrated")


NVLS_H100 = SYSTEMS["dgx_h100_1x8"]
LEAKY = (Provenance("NVLS_BUS_BW_GBS[8]", "480 GB/s", ("synthetic",), ("c",), "refit", "test"),)


def _nvls_systems():
    """Three one-node 8-GPU NVLS systems: a and b reach 400 GB/s of NVLS, c reaches the
    published 480 GB/s, so the published constant is c's own measurement (LEAKY). Sizes of
    1 GiB and more, where NVLS's bandwidth is the time."""
    rows = _one_node_system_rows("a", 0.0, NVLS_H100, nvls=400.0)
    rows += _one_node_system_rows("b", 0.0, NVLS_H100, nvls=400.0)
    rows += _one_node_system_rows("c", 0.0, NVLS_H100)
    rows = [r for r in rows if r.size_bytes >= 2**30]
    return rows, dict.fromkeys("abc", NVLS_H100)


def test_a_constant_measured_on_the_held_out_system_is_refitted_not_leaked():
    """Leaking would be exact: the published constant predicts c's rows with no error at
    all. Held out, c gets the NVLS bandwidth of a and b (400 GB/s), so its large messages
    are predicted 480/400 - 1 = 20% slow, the honest answer."""
    rows, systems = _nvls_systems()
    c_rows = [r for r in rows if r.system == "c"]
    leaked = [
        nccl_like_allreduce_time(r.size_bytes, 8, 1, **nccl_row_arguments(r, NVLS_H100))
        for r in c_rows
    ]
    np.testing.assert_allclose(leaked, [r.time_s for r in c_rows], rtol=1e-12)

    scores = {
        s.condition.system: s for s in leave_one_condition_out(rows, systems, "median_floor", LEAKY)
    }
    c = scores["c"]
    assert c.held_out
    assert c.calibration.nvls_fitted_on == ("a", "b")
    assert c.calibration.nvls[8] == pytest.approx(400, rel=0.01)
    for model in ("nccl_like", "calibrated"):
        np.testing.assert_allclose(c.errors[model], 480 / 400 - 1, atol=0.01)
        assert c.geometric_mean(model) > 0.15


def test_a_constant_that_cannot_be_refitted_means_not_held_out():
    """c alone with NVLS (the other system has none): nothing to refit the constant on, so c
    is scored but not counted; with "exclude" it is never counted, and the summary leaves
    its rows out."""
    rows = _one_node_system_rows("c", 0.0, NVLS_H100) + _one_node_system_rows("d", 10e-6)
    systems = {"c": NVLS_H100, "d": A100}
    scores = {
        s.condition.system: s for s in leave_one_condition_out(rows, systems, "median_floor", LEAKY)
    }
    assert not scores["c"].held_out and "NVLS_BUS_BW_GBS[8]" in scores["c"].why_not
    assert scores["d"].held_out

    rows, systems = _nvls_systems()
    excluded = (replace(LEAKY[0], held_out="exclude"),)
    scores = leave_one_condition_out(rows, systems, "median_floor", excluded)
    assert [s.condition.system for s in scores if not s.held_out] == ["c"]
    assert summarize(scores, "nccl_like").rows == len([r for r in rows if r.system != "c"])


def test_the_real_dataset_never_counts_a_system_with_its_own_constant():
    """Every system PROVENANCE marks is either refitted (NVLS: the NVLS bandwidth its
    prediction used came from other systems) or not counted."""
    for score in SCORE_LIST:
        for p in PROVENANCE:
            if score.condition.system not in p.measured_on:
                continue
            if p.held_out == "exclude":
                assert not score.held_out
            else:
                assert score.calibration.nvls and score.condition.system not in (
                    score.calibration.nvls_fitted_on
                )
    assert not SCORES["a100_3x8_hdr 3x8 default"].held_out
    assert SCORES["h100_1x8_single 1x8 default"].held_out
    # the published 480 GB/s would predict that single row to 0.1%; refitted it is 0.9% off
    assert SCORES["h100_1x8_single 1x8 default"].geometric_mean("nccl_like") > 0.005


def test_nvls_refit_is_the_median_busbw_of_the_large_one_node_rows():
    """By hand from the dataset's busbw column: the one-node NVLS rows of >= 1 GiB."""
    busbw = sorted(
        r.busbw_gbs
        for r in ROWS
        if r.system in ("dgx_h100_1x8", "azure_nd_h100_v5") and r.size_bytes >= 2**30
    )
    fitted = fit_nvls_bus_bw([r for r in ROWS if r.system != "h100_1x8_single"])
    assert fitted.keys() == {8}
    assert fitted[8] == pytest.approx(np.median(busbw), rel=2e-3)


def test_the_variant_is_chosen_without_the_held_out_system():
    """The choice must not move when the held-out system's times do (×3, then ÷3), and it
    is the variant with the least inner error."""
    grouped = conditions(ROWS)
    for held in list(grouped)[:3]:
        chosen, inner = select_variant(held, grouped)
        for factor in (3.0, 1 / 3):
            changed = dict(grouped)
            changed[held] = [replace(r, time_us=r.time_us * factor) for r in grouped[held]]
            assert select_variant(held, changed) == (chosen, inner)
        assert chosen == min(VARIANTS, key=inner.get)
    for score in SCORE_LIST:
        assert score.calibration.variant == min(VARIANTS, key=score.variant_scores.get)


def test_within_a_system_each_row_is_predicted_from_the_others():
    """Oracle by construction: T = 30 µs + 1.2 × NCCL-like on every size; each row held out
    in turn is predicted exactly from the others; a system of 2 rows is skipped."""
    rows = [replace(r, time_us=30 + 1.2 * r.time_us) for r in _one_node_system_rows("x", 0.0)]
    rows += _one_node_system_rows("y", 0.0)[:2]
    scores = leave_one_row_out(rows, {"x": A100, "y": A100})
    assert [s.condition.system for s in scores] == ["x"]
    assert scores[0].rows == len(DGX_H100_ROWS)
    np.testing.assert_allclose(scores[0].errors["calibrated"], 0.0, atol=1e-9)


def _readme_figures() -> dict[str, str]:
    text = README.read_text()
    match = re.search(
        r"NCCL's tuning model is off by (\d+\.\d)% \(geometric mean \\\|error\\\| pooled over "
        r"(\d+) held-out rows of (\d+) systems\), calibrated (\d+\.\d)%, the α-β ring (\d+\.\d)%",
        text,
    )
    assert match, "README: the fidelity sentence is missing or reworded"
    keys = ("nccl_like", "rows", "systems", "calibrated", "alpha_beta")
    return dict(zip(keys, match.groups(), strict=True))


def test_the_readme_states_the_benchmarks_pooled_figures():
    """The README's fidelity sentence is the held-out evaluation's pooled figure, rounded as
    written (benchmarks/bench_calibrate.py --published prints the same)."""
    written = _readme_figures()
    for model in MODELS:
        assert written[model] == f"{100 * summarize(SCORE_LIST, model).geomean_rows:.1f}"
    nested = summarize(SCORE_LIST, "calibrated")
    assert written["rows"] == str(nested.rows)
    assert written["systems"] == str(nested.conditions)


def test_the_docs_state_the_same_pooled_figures():
    """docs/science.md and docs/calibrate.md repeat the README's figures; they must agree
    with the evaluation too."""
    figures = {m: f"{100 * summarize(SCORE_LIST, m).geomean_rows:.1f}" for m in MODELS}
    science = (REPO / "docs" / "science.md").read_text()
    assert (
        f"α-β ring {figures['alpha_beta']}%, NCCL's constants {figures['nccl_like']}%, "
        f"calibrated on the other systems {figures['calibrated']}%"
    ) in " ".join(science.split())
    calibrate = " ".join((REPO / "docs" / "calibrate.md").read_text().split())
    assert (
        f"NCCL's tuning model {figures['nccl_like']}%, calibrated {figures['calibrated']}%, "
        f"the α-β ring {figures['alpha_beta']}%"
    ) in calibrate
