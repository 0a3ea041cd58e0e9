"""comms_core.fitting: α-β fits on synthetic data whose answer we know."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comms_core.cost_models import ring_allreduce_time
from comms_core.fitting import (
    LineFit,
    PiecewiseFit,
    fit_alpha_beta,
    fit_piecewise,
    least_squares_line,
    relative_error,
    ring_alpha_beta,
)

SIZES = 2.0 ** np.arange(2, 26)  # 4 B .. 32 MiB by octaves
FIT_SIZES = 2.0 ** np.arange(2, 25)  # 23 sizes, as many as the calibration fits on


@settings(max_examples=60, deadline=None)
@given(alpha=st.floats(1e-7, 1e-3), beta=st.floats(1e6, 1e12))
def test_noiseless_line_gives_back_alpha_and_beta(alpha, beta):
    T = alpha + SIZES / beta
    line = fit_alpha_beta(SIZES, T)
    assert line.alpha == pytest.approx(alpha, rel=1e-7)
    assert line.beta == pytest.approx(beta, rel=1e-7)
    model = fit_piecewise(SIZES, T)
    assert model.knees == () and len(model.lines) == 1, "a straight line needs no knee"


@pytest.mark.parametrize("N", [2, 3, 8, 64])
def test_ring_alpha_beta_inverts_the_ring_model(N):
    """Times made by comms_core.ring_allreduce_time, fitted as a line, give α and β back."""
    alpha, beta = 7e-6, 3e9
    T = ring_allreduce_time(SIZES, N, alpha, beta)
    fitted_alpha, fitted_beta = ring_alpha_beta(fit_alpha_beta(SIZES, T), N)
    assert fitted_alpha == pytest.approx(alpha, rel=1e-7)
    assert fitted_beta == pytest.approx(beta, rel=1e-7)


def test_relative_weights_keep_alpha_positive_where_plain_least_squares_does_not():
    """The bandwidth drops 30% above 8 MiB (a cache knee). Plain least squares follows
    the big messages and its intercept goes negative; relative weights keep α honest."""
    alpha = 10e-6
    T = np.where(SIZES < 8 * 2**20, alpha + SIZES / 1e9, alpha + SIZES / 0.7e9)
    intercept, _ = least_squares_line(SIZES, T)
    assert intercept < 0, "the phenomenon this test is about"
    line = fit_alpha_beta(SIZES, T)
    assert line.alpha > 0
    assert line.alpha == pytest.approx(alpha, rel=0.05)


def test_alpha_is_clamped_at_zero_not_negative():
    """Times growing faster than linearly: the best line has a < 0; the fit keeps α = 0."""
    T = 1e-9 * SIZES**1.2
    assert least_squares_line(SIZES, T, weights=1 / T)[0] < 0
    line = fit_alpha_beta(SIZES, T)
    assert line.alpha == 0.0 and line.beta > 0
    # On the boundary a = 0, b minimises Σ(b·M/T − 1)²: no b nearby does better.
    cost = lambda b: np.sum((b * SIZES / T - 1) ** 2)  # noqa: E731
    assert cost(line.slope) <= min(cost(line.slope * 1.01), cost(line.slope * 0.99))


def test_two_regimes_are_split_at_the_right_knee():
    knee = 2**20  # 5 µs + M/10 GB/s below 1 MiB, 50 µs + M/2 GB/s from 1 MiB on
    T = np.where(SIZES < knee, 5e-6 + SIZES / 10e9, 50e-6 + SIZES / 2e9)
    model = fit_piecewise(SIZES, T)
    assert len(model.knees) == 1
    assert 2**19 < model.knees[0] <= 2**20, "between the last low and the first high size"
    low, high = model.lines
    assert (low.alpha, low.beta) == pytest.approx((5e-6, 10e9), rel=1e-6)
    assert (high.alpha, high.beta) == pytest.approx((50e-6, 2e9), rel=1e-6)
    assert low.M_max == 2**19 and high.M_min == 2**20
    np.testing.assert_allclose(model.predict(SIZES), T, rtol=1e-9)


def test_knee_survives_noise():
    """5% noise on the calibration's 23 fit sizes must not move the knee far."""
    rng = np.random.default_rng(1)
    T = np.where(FIT_SIZES < 2**20, 5e-6 + FIT_SIZES / 10e9, 50e-6 + FIT_SIZES / 2e9)
    model = fit_piecewise(FIT_SIZES, T * np.exp(rng.normal(0, 0.05, T.size)))
    assert len(model.knees) == 1
    assert 2**18 <= model.knees[0] <= 2**21


def test_pure_noise_rarely_fakes_a_knee():
    """A straight line plus 5% noise on 23 sizes: the knee must cut the RMS error by 4/3.
    Measured: 8 false knees in 200 seeds (4%); here at most 4 in 50 (8%)."""
    T = 10e-6 + FIT_SIZES / 1e9
    false_knees = sum(
        len(
            fit_piecewise(FIT_SIZES, T * np.exp(np.random.default_rng(s).normal(0, 0.05, 23))).knees
        )
        for s in range(50)
    )
    assert false_knees <= 4


def test_piecewise_predict_uses_the_line_of_each_regime():
    low = LineFit(intercept=1.0, slope=0.0, M_min=1, M_max=10)
    high = LineFit(intercept=2.0, slope=0.0, M_min=20, M_max=30)
    model = PiecewiseFit(lines=(low, high), knees=(15.0,))
    np.testing.assert_array_equal(model.predict([1, 14.9, 15, 100]), [1, 1, 2, 2])


def test_relative_error_sign_and_value():
    assert relative_error(1.25, 1.0) == pytest.approx(0.25)
    assert relative_error(0.5, 2.0) == pytest.approx(-0.75)


@pytest.mark.parametrize(
    ("M", "T", "name"),
    [
        ([1, 2, np.nan], [1, 2, 3], "M"),
        ([1, -2, 3], [1, 2, 3], "M"),
        ([1, 2, 3], [1, 0, 3], "T"),
        ([1, 2, 3], [1, 2], "shape"),
        ([[1, 2], [3, 4]], [[1, 2], [3, 4]], "M"),
        ([4, 4, 4], [1, 2, 3], "two different sizes"),
        ("abc", [1, 2, 3], "M"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(M, T, name):
    with pytest.raises(ValueError, match=name):
        fit_alpha_beta(M, T)


def test_times_that_do_not_grow_with_size_are_refused():
    with pytest.raises(ValueError, match="T must grow with M"):
        fit_alpha_beta([4, 64, 1024], [3e-5, 2e-5, 1e-5])


def test_ring_alpha_beta_needs_two_ranks():
    line = LineFit(intercept=1e-5, slope=1e-9, M_min=4, M_max=1e6)
    with pytest.raises(ValueError, match="N"):
        ring_alpha_beta(line, 1)
    with pytest.raises(ValueError, match="min_points"):
        fit_piecewise(SIZES, 1e-5 + SIZES / 1e9, min_points=1)
    with pytest.raises(ValueError, match="min_improvement"):
        fit_piecewise(SIZES, 1e-5 + SIZES / 1e9, min_improvement=0.5)
