OK_FORMAT = False
name = "part3"
points = None

from commslab.notebook.checkfile import test_case  # noqa: E402

# Public inputs: vectors whose scale ‖v‖₁/d is not 1, with a zero (sign(0) = +1).


@test_case(name="one_bit_compress: a scale that is not 1, a zero, a long vector")
def test_one_bit(one_bit_compress):
    import numpy as np

    from comms_core.compression import one_bit_compress as ref
    from commslab.notebook.public_checks import close

    for v, where in (
        (np.array([0.5, -3.0, 0.0, 1.5, -0.25]), "on [0.5, −3, 0, 1.5, −0.25] (scale 1.05)"),
        (np.linspace(-2.0, 7.0, 10), "on np.linspace(−2, 7, 10)"),
        (np.array([0.0, 0.0]), "on [0, 0] (all zeros)"),
    ):
        close(one_bit_compress, "one_bit_compress", (v,), ref(v), where)


@test_case(name="error_feedback_step: sent and residual on a step by hand")
def test_error_feedback(error_feedback_step, one_bit_compress):
    import numpy as np

    from comms_core.compression import one_bit_compress as C
    from commslab.notebook.public_checks import call, close, own_compressor_is_the_cause

    g, e = np.array([0.3, -1.2, 0.0, 2.1]), np.array([0.1, 0.2, -0.3, 0.0])
    out = call(error_feedback_step, "error_feedback_step", g, e)
    assert isinstance(out, tuple) and len(out) == 2, (
        "error_feedback_step must return a pair (sent, new_residual)."
    )
    cause = own_compressor_is_the_cause(one_bit_compress, g + e, out, C(g + e))
    assert not cause, cause
    where = "on g = [0.3, −1.2, 0, 2.1], e = [0.1, 0.2, −0.3, 0]"
    close(error_feedback_step, "error_feedback_step", (g, e), g + e - C(g + e), where, residual=1)
    sent = np.asarray(out[0], dtype=float)
    assert np.allclose(sent, C(g + e)), (
        f"sent should be C(g + e) {where}; got {sent}: compress the corrected gradient g + e."
    )
