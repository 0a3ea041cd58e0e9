"""Compressors, error feedback and byte counts (docs/LAB_SPEC.md Part 3).

Known answers from the spec, properties from the papers (Karimireddy et al. 2019,
Stich et al. 2018), and byte counts recomputed by hand.
"""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from comms_core.compression import (
    COMPRESSORS,
    compression_ratio,
    dense_wire_bytes,
    error_feedback_run,
    error_feedback_step,
    one_bit_compress,
    one_bit_wire_bytes,
    quantize,
    quantized_wire_bytes,
    round_to_nearest,
    top_k_compress,
    top_k_count,
    top_k_wire_bytes,
)

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
vectors = arrays(np.float64, st.integers(1, 40), elements=finite)


# --- the spec's known answer -------------------------------------------------------------


def test_round_to_nearest_error_feedback_known_answer():
    # docs/LAB_SPEC.md: gradients 0.4, 0.3, 0.2, 0.4, 0.3 with e_1 = 0 transmit 0,1,0,0,1.
    sent, residuals = error_feedback_run([0.4, 0.3, 0.2, 0.4, 0.3], compress=round_to_nearest)
    assert sent.tolist() == [0, 1, 0, 0, 1]
    assert sent.sum() == 2
    assert residuals[-1] == pytest.approx(-0.4)
    # the hand trace: e = 0.4, -0.3, -0.1, 0.3, -0.4 after each step
    assert residuals[1:] == pytest.approx([0.4, -0.3, -0.1, 0.3, -0.4])


def test_error_feedback_step_by_step_matches_the_run():
    e = np.zeros(1)
    total = 0.0
    for g in (0.4, 0.3, 0.2, 0.4, 0.3):
        sent, e = error_feedback_step(np.array([g]), e, round_to_nearest)
        total += sent[0]
    assert total == 2.0
    assert e[0] == pytest.approx(-0.4)


# --- error feedback loses nothing: the telescoping sum ------------------------------------

compressor_choices = st.sampled_from([*COMPRESSORS.values()]).map(lambda c: c.compress) | st.just(
    round_to_nearest
)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda d: st.tuples(
            arrays(np.float64, st.tuples(st.integers(1, 15), st.just(d)), elements=finite),
            arrays(np.float64, d, elements=finite),
        )
    ),
    compressor_choices,
)
def test_telescoping_identity(gradients_and_e1, compress):
    """Σ_t sent_t = Σ_t g_t + e_1 − e_{T+1}, for any compressor and any sequence."""
    g, e_1 = gradients_and_e1
    sent, residuals = error_feedback_run(g, e_1, compress)
    assert residuals.shape == (g.shape[0] + 1, g.shape[1])
    np.testing.assert_allclose(
        sent.sum(axis=0), g.sum(axis=0) + e_1 - residuals[-1], rtol=1e-9, atol=1e-6
    )


def test_identity_compressor_leaves_no_residual():
    g = np.random.default_rng(1).normal(size=(10, 7))
    sent, residuals = error_feedback_run(g, compress=COMPRESSORS["none"].compress)
    np.testing.assert_allclose(sent, g)
    assert not residuals.any()


# --- the scaled sign ----------------------------------------------------------------------


@given(vectors)
@example(np.array([5e-324, 0.0]))  # the scale underflows to 0: nothing to check the signs of
def test_one_bit_keeps_l1_norm_and_signs(x):
    c = one_bit_compress(x)
    assert np.abs(c).sum() == pytest.approx(np.abs(x).sum(), rel=1e-12, abs=1e-12)
    expected_sign = np.where(x >= 0, 1.0, -1.0)  # sign(0) = +1
    if np.abs(x).sum() / x.size > 0:  # the scale ‖x‖₁/d is a float > 0 (5e-324/2 underflows)
        assert (np.sign(c) == expected_sign).all()
        assert np.allclose(np.abs(c), np.abs(c[0]))  # one scale for the whole tensor


@given(vectors)
def test_one_bit_error_identity(x):
    """‖C(v) − v‖² = ‖v‖² − ‖v‖₁²/d (research notes §4.2): a δ-compressor, δ ≥ 1/d."""
    d = x.size
    err = np.sum((one_bit_compress(x) - x) ** 2)
    assert err == pytest.approx(np.sum(x**2) - np.abs(x).sum() ** 2 / d, rel=1e-9, abs=1e-6)
    assert err <= (1 - 1 / d) * np.sum(x**2) * (1 + 1e-12) + 1e-9  # δ ≥ 1/d


def test_one_bit_matches_epfml_scaled_sign_without_zeros():
    x = np.array([0.5, -2.0, 1.5, -0.25])
    epfml = np.linalg.norm(x, ord=1) / len(x) * np.sign(x)  # utils scaled_sign
    np.testing.assert_allclose(one_bit_compress(x), epfml)


def test_one_bit_sends_plus_one_for_zero():
    np.testing.assert_allclose(one_bit_compress([0.0, -3.0, 3.0]), [2.0, -2.0, 2.0])
    np.testing.assert_allclose(one_bit_compress([0.0, 0.0]), [0.0, 0.0])


# --- byte counts ---------------------------------------------------------------------------


@given(st.integers(1, 10**7))
def test_one_bit_ratio_for_multiples_of_eight(k):
    d = 8 * k
    assert compression_ratio("1-bit (scaled sign)", d) == pytest.approx(32 * d / (d + 32))


def test_one_bit_bytes_by_hand():
    assert one_bit_wire_bytes(1) == 1 + 4  # one bit still takes a byte
    assert one_bit_wire_bytes(9) == 2 + 4
    assert one_bit_wire_bytes(1024) == 128 + 4
    np.testing.assert_array_equal(one_bit_wire_bytes([8, 16]), [5, 6])
    assert dense_wire_bytes(1024) == 4096
    assert dense_wire_bytes(10, bytes_per_value=2) == 20  # bf16


def test_one_bit_ratio_tends_to_32():
    ratios = compression_ratio("1-bit (scaled sign)", np.array([64, 10**4, 70_600_000_000]))
    assert np.all(np.diff(ratios) > 0)
    assert 31.99 < ratios[-1] < 32


def test_top_k_bytes_count_the_indices():
    assert top_k_wire_bytes(10) == 80  # 10 float32 values + 10 int32 indices
    assert top_k_count(30, 10) == 3  # exact, no floating-point ceiling
    assert top_k_count(1000, 1) == 10
    assert top_k_count(1001, 1) == 11
    assert top_k_count(50, 1) == 1  # at least one value
    # keeping 1 % costs 2 × 1 % of the dense bytes: ratio 50, not 100
    assert compression_ratio("top-k 1%", 10**6) == pytest.approx(50)
    assert compression_ratio("top-k 10%", 10**6) == pytest.approx(5)


def test_quantized_bytes():
    assert quantized_wire_bytes(1000, 8) == 1000 + 8
    assert quantized_wire_bytes(3, 2) == 1 + 8  # 6 bits round up to one byte
    for bits in (2, 4, 8):
        assert compression_ratio(f"{bits}-bit", 10**8) == pytest.approx(32 / bits, rel=1e-6)


def test_registry_names_and_order_of_ratios():
    assert set(COMPRESSORS) == {
        "none",
        "1-bit (scaled sign)",
        "top-k 1%",
        "top-k 10%",
        "8-bit",
        "4-bit",
        "2-bit",
    }
    d = 10**6
    order = ["none", "8-bit", "top-k 10%", "4-bit", "2-bit", "1-bit (scaled sign)", "top-k 1%"]
    ratios = [compression_ratio(name, d) for name in order]
    assert ratios[0] == 1
    assert ratios == sorted(ratios)
    assert compression_ratio(COMPRESSORS["8-bit"], d) == compression_ratio("8-bit", d)


@pytest.mark.parametrize("name", sorted(COMPRESSORS))
def test_every_compressor_keeps_the_shape(name):
    x = np.random.default_rng(0).normal(size=123)
    assert COMPRESSORS[name].compress(x).shape == x.shape


small_ints = st.integers(-3, 3).map(float)  # ties and constant rows are likely
matrices = arrays(
    np.float64,
    st.tuples(st.integers(1, 6), st.integers(1, 40)),
    elements=st.one_of(finite, small_ints),
)


@pytest.mark.parametrize("name", sorted(COMPRESSORS))
@given(rows=matrices)
@example(rows=np.array([[2.0, -2.0, 2.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]))
def test_the_row_wise_form_is_the_compressor_on_each_row(name, rows):
    """compress_rows (one numpy call for the compressed AllReduce's chunks) gives exactly
    compress on every row: ties, constant rows and zeros included."""
    c = COMPRESSORS[name]
    assert c.compress_rows is not None
    expected = np.stack([c.compress(row) for row in rows])
    np.testing.assert_array_equal(c.compress_rows(rows.copy()), expected)


# --- top-k and quantization ---------------------------------------------------------------


@given(vectors.flatmap(lambda x: st.tuples(st.just(x), st.integers(1, x.size))))
def test_top_k_is_a_contraction(x_and_k):
    """‖x − top_k(x)‖² ≤ (1 − k/d)‖x‖² (Stich et al. 2018, Def. 2.1)."""
    x, k = x_and_k
    kept = top_k_compress(x, k)
    bound = (1 - k / x.size) * np.sum(x**2)  # equality when all |x_i| are equal
    assert np.sum((x - kept) ** 2) <= bound * (1 + 1e-12) + 1e-9
    chosen = kept != 0
    assert chosen.sum() <= k
    if chosen.any() and (~chosen).any():
        assert np.abs(x[chosen]).min() >= np.abs(x[~chosen]).max()


def test_top_k_known_answer():
    np.testing.assert_array_equal(top_k_compress([1.0, -5.0, 3.0, 0.5], 2), [0, -5, 3, 0])


@given(vectors, st.integers(1, 12))
def test_quantize_error_is_at_most_half_a_step(x, bits):
    q = quantize(x, bits)
    step = (x.max() - x.min()) / (2**bits - 1)
    assert np.all(np.abs(q - x) <= step / 2 + 1e-9 * (1 + np.abs(x).max()))
    levels = np.unique(q)
    assert levels.size <= 2**bits


def test_quantize_known_answer():
    # 1 bit: two levels, the min and the max
    np.testing.assert_allclose(quantize([0.0, 0.2, 0.9, 1.0], 1), [0, 0, 1, 1])
    # 2 bits on [0, 3]: levels 0, 1, 2, 3
    np.testing.assert_allclose(quantize([0.0, 1.4, 1.6, 3.0], 2), [0, 1, 2, 3])
    np.testing.assert_allclose(quantize([2.5, 2.5], 4), [2.5, 2.5])


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: one_bit_compress([]), "v"),
        (lambda: one_bit_compress([[1.0, 2.0]]), "v"),
        (lambda: one_bit_compress([1.0, np.nan]), "v"),
        (lambda: one_bit_compress("abc"), "v"),
        (lambda: round_to_nearest([np.inf]), "v"),
        (lambda: top_k_compress([1.0, 2.0], 0), "k"),
        (lambda: top_k_compress([1.0, 2.0], 3), "k"),
        (lambda: top_k_compress([1.0, 2.0], 1.5), "k"),
        (lambda: quantize([1.0, 2.0], 0), "bits"),
        (lambda: quantize([1.0, 2.0], 33), "bits"),
        (lambda: one_bit_wire_bytes(0), "d"),
        (lambda: one_bit_wire_bytes(-8), "d"),
        (lambda: one_bit_wire_bytes(2.5), "d"),
        (lambda: dense_wire_bytes(10, bytes_per_value=0), "bytes_per_value"),
        (lambda: top_k_wire_bytes(-1), "k"),
        (lambda: top_k_count(100, 101), "percent"),
        (lambda: quantized_wire_bytes(10, 0), "bits"),
        (lambda: error_feedback_step([1.0, 2.0], [0.0]), "e"),
        (lambda: error_feedback_step([1.0], [0.0], compress="sign"), "compress"),
        (lambda: error_feedback_step([1.0, 2.0], [0.0, 0.0], lambda x: x[:1]), "compress"),
        (lambda: error_feedback_run(np.zeros((2, 2, 2))), "gradients"),
        (lambda: error_feedback_run(np.zeros((3, 2)), e_1=[1.0, 2.0, 3.0]), "e_1"),
        (lambda: compression_ratio("1-bit", 8), "compressor"),
        (lambda: compression_ratio(42, 8), "compressor"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        call()
