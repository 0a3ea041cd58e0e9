"""The Part 3 convergence claims (docs/LAB_SPEC.md): 1-bit without error feedback stalls,
with error feedback it matches the uncompressed loss while sending far fewer bytes; and
Karimireddy et al.'s counterexample (research notes §4.2)."""

import numpy as np
import pytest

from comms_core.compression import COMPRESSORS
from comms_core.convergence import (
    EF_RELATIVE_TOLERANCE,
    METHOD_LABELS,
    METHODS,
    karimireddy_counterexample,
    run_data_parallel_training,
)


@pytest.fixture(scope="module")
def default_runs():
    return {method: run_data_parallel_training(method) for method in METHODS}


def test_runs_share_data_and_start(default_runs):
    starts = {run.losses[0] for run in default_runs.values()}
    optima = {run.optimal_loss for run in default_runs.values()}
    assert len(starts) == 1 and len(optima) == 1
    for method, run in default_runs.items():
        assert run.method == method
        assert run.losses.shape == (301,)
        assert run.final_loss == run.losses[-1]
        # the least-squares solution (np.linalg.lstsq) bounds every iterate from below
        assert np.all(run.losses >= run.optimal_loss * (1 - 1e-12))
    assert set(METHOD_LABELS) == set(METHODS)


def test_no_compression_converges(default_runs):
    run = default_runs["none"]
    assert run.final_loss <= 1.01 * run.optimal_loss
    assert run.final_loss < run.losses[0] / 10


def test_one_bit_without_error_feedback_stalls(default_runs):
    none, sign = default_runs["none"], default_runs["compressed"]
    assert sign.final_loss > 1.2 * none.final_loss  # clearly worse ...
    # ... and not merely slower: 1000 steps end no better than 300 (a biased fixed point)
    longer = run_data_parallel_training("compressed", steps=1000)
    assert longer.final_loss > 0.98 * sign.final_loss
    assert longer.final_loss > 1.2 * none.optimal_loss


def test_error_feedback_reaches_the_uncompressed_loss(default_runs):
    none, ef = default_runs["none"], default_runs["compressed_ef"]
    assert abs(ef.final_loss - none.final_loss) <= EF_RELATIVE_TOLERANCE * none.final_loss


def test_the_compressed_allreduce_keeps_its_saving(default_runs):
    """Bytes per worker, by hand: d = 50 over N = 8 is 8 chunks of c = 7 values. Dense ring:
    2·7 steps × 7 values × 4 B = 392 B. Compressed: 2·7 chunks × (1 B signs + 4 B scale) = 70 B."""
    assert default_runs["none"].bytes_per_worker_per_step == 392
    for method in ("compressed", "compressed_ef"):
        assert default_runs[method].bytes_per_worker_per_step == 70


def test_the_baseline_is_converged(default_runs):
    """'EF within 5 %' compares converged runs: the baseline ends within 1 % of the optimum."""
    run = default_runs["none"]
    assert run.final_loss <= 1.01 * run.optimal_loss


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_claims_hold_for_other_seeds(seed):
    runs = {m: run_data_parallel_training(m, seed=seed) for m in METHODS}
    none = runs["none"].final_loss
    assert none <= 1.02 * runs["none"].optimal_loss
    assert runs["compressed"].final_loss > 1.1 * none
    assert abs(runs["compressed_ef"].final_loss - none) <= EF_RELATIVE_TOLERANCE * none


@pytest.mark.parametrize("name", sorted(set(COMPRESSORS) - {"none"}))
def test_error_feedback_rescues_every_compressor(name):
    none = run_data_parallel_training("none").final_loss
    ef = run_data_parallel_training("compressed_ef", compressor=name)
    assert abs(ef.final_loss - none) <= EF_RELATIVE_TOLERANCE * none
    assert ef.bytes_per_worker_per_step == 2 * 7 * COMPRESSORS[name].wire_bytes(7)


def test_identity_compressor_with_error_feedback_is_plain_training():
    plain = run_data_parallel_training("none", steps=50)
    ef = run_data_parallel_training("compressed_ef", compressor="none", steps=50)
    np.testing.assert_allclose(ef.losses, plain.losses, rtol=1e-12)


def test_seeded_and_reproducible():
    a = run_data_parallel_training("compressed_ef", steps=20, seed=7)
    b = run_data_parallel_training("compressed_ef", steps=20, seed=7)
    c = run_data_parallel_training("compressed_ef", steps=20, seed=8)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert not np.array_equal(a.losses, c.losses)


def test_curve_is_read_only():
    run = run_data_parallel_training("none", steps=3)
    with pytest.raises(ValueError):
        run.losses[0] = 0.0


# --- Karimireddy et al. 2019 counterexample -----------------------------------------------


@pytest.fixture(scope="module")
def counterexample():
    return karimireddy_counterexample()


def test_sign_sgd_cannot_leave_the_line(counterexample):
    x = counterexample.final_points["signSGD"]
    assert x.sum() == pytest.approx(2.0, abs=1e-9)  # x1 + x2 stays 2
    # on the line x1 + x2 = 2, f ≥ 0.5 (its minimum, at (1, 1)); f(x0) = 0.5 too
    assert np.all(counterexample.losses["signSGD"] >= 0.5 - 1e-12)


def test_sgd_and_error_feedback_converge(counterexample):
    f_sgd = counterexample.losses["SGD"][-1]
    f_ef = counterexample.losses["EF-signSGD"][-1]
    f_sign = counterexample.losses["signSGD"][-1]
    assert f_sgd < 0.05 and f_ef < 0.05
    assert f_ef < f_sign / 10
    assert f_ef == pytest.approx(f_sgd, rel=0.1)  # EF tracks SGD
    assert np.linalg.norm(counterexample.final_points["EF-signSGD"]) < 0.5


def test_counterexample_matches_research_notes_at_20k_steps():
    # research notes §4.2: SGD and EF + scaled sign both end at f ≈ 4.4e-4 after 20k steps
    run = karimireddy_counterexample(steps=20_000)
    assert run.losses["SGD"][-1] == pytest.approx(4.4e-4, rel=0.1)
    assert run.losses["EF-signSGD"][-1] == pytest.approx(4.4e-4, rel=0.1)
    assert run.losses["signSGD"][-1] >= 0.5


def test_counterexample_starts_at_the_known_value():
    # f(1, 1) = (1 + (−1+ε))² + ((−1+ε) + 1)² = 2ε²
    run = karimireddy_counterexample(steps=0, eps=0.3)
    for curve in run.losses.values():
        assert curve.tolist() == [pytest.approx(2 * 0.3**2)]


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: run_data_parallel_training("1-bit"), "method"),
        (lambda: run_data_parallel_training("compressed", compressor="3-bit"), "compressor"),
        (lambda: run_data_parallel_training("compressed", compressor=42), "compressor"),
        (lambda: run_data_parallel_training("none", compressor="8-bit"), "compressor"),
        (lambda: run_data_parallel_training("none", n_workers=0), "n_workers"),
        (lambda: run_data_parallel_training("none", dim=2.5), "dim"),
        (lambda: run_data_parallel_training("none", n_samples_per_worker=-1), "n_samples"),
        (lambda: run_data_parallel_training("none", steps=-1), "steps"),
        (lambda: run_data_parallel_training("none", lr=0.0), "lr"),
        (lambda: run_data_parallel_training("none", lr=[0.1, 0.2]), "lr"),
        (lambda: run_data_parallel_training("none", seed=-1), "seed"),
        (lambda: karimireddy_counterexample(eps=1.5), "eps"),
        (lambda: karimireddy_counterexample(lr0=float("nan")), "lr0"),
        (lambda: karimireddy_counterexample(steps=-5), "steps"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name}"):
        call()
