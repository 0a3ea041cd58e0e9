OK_FORMAT = False
name = "part3"
points = None

from otter.test_files import test_case  # noqa: E402


@test_case(name="one_bit_compress: a small vector")
def test_one_bit(one_bit_compress):
    import numpy as np

    v = np.array([0.5, -1.5, 0.0, 2.0])
    got = np.asarray(one_bit_compress(v), dtype=float)
    assert got.shape == v.shape, (
        f"one_bit_compress must return a vector of the same shape; got {got.shape}."
    )
    assert np.allclose(got, [1.0, -1.0, 1.0, 1.0]), (
        f"one_bit_compress([0.5, -1.5, 0, 2]) gives {got}; "
        "the scale is ||v||_1/d = 1 and sign(0) = +1."
    )


@test_case(name="error_feedback_step: one step by hand")
def test_error_feedback(error_feedback_step):
    import numpy as np

    out = error_feedback_step(np.array([0.5, -1.5]), np.array([0.5, 0.5]))
    assert isinstance(out, tuple) and len(out) == 2, (
        "error_feedback_step must return (sent, new_residual)."
    )
    sent, residual = (np.asarray(x, dtype=float) for x in out)
    assert np.allclose(sent, [1.0, -1.0]), f"sent should be C(g + e) = [1, -1]; got {sent}."
    assert np.allclose(residual, [0.0, 0.0]), (
        f"new_residual should be g + e - sent = [0, 0]; got {residual}."
    )
