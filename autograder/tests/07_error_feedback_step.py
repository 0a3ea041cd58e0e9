"""Hidden tests, Part 3: error_feedback_step(g, e) -> (sent, new_residual). 3 points.

Reference: comms_core.compression.error_feedback_step with the 1-bit compressor:
sent = C(g + e), e_new = g + e − sent. Over a run nothing is lost:
Σ_t sent_t = Σ_t g_t + e_1 − e_{T+1} (the sum telescopes), checked on the student's own run.
"""

import numpy as np
from otter.test_files import test_case

from comms_core import compression as ref
from commslab.grading.checks import expect, expect_close, expect_pair, is_pending

OK_FORMAT = False
name = "error_feedback_step"
points = 3

WHAT = "error_feedback_step(g, e)"


def gradient(rng, d, scale=None):
    scale = float(np.exp(rng.uniform(-6, 2))) if scale is None else scale
    return rng.normal(0.0, scale, d)


@test_case(name="random steps", points=1, hidden=True)
def random_steps(student, cases):
    rng = cases("random")
    for _ in range(6):
        d = int(rng.integers(4, 200))
        g = gradient(rng, d)
        e = gradient(rng, d, 0.3 * float(np.abs(g).mean()))
        sent, residual = expect_pair(student.error_feedback_step(g, e), WHAT)
        want_sent, want_residual = ref.error_feedback_step(g, e)
        where = f"on a random step with d = {d}"
        expect_close(
            sent,
            want_sent,
            rtol=1e-9,
            atol=1e-300,
            what=f"sent of {WHAT}",
            where=where,
            hint="send C(g + e), the compressed corrected gradient",
            known=("one_bit_compress", (g + e,)),  # a wrong compressor inside: say so
        )
        expect_close(
            residual,
            want_residual,
            rtol=1e-9,
            atol=1e-12 * np.abs(g).max(),
            what=f"the new residual of {WHAT}",
            where=where,
            hint="the new residual is g + e − sent",
            known=("error_feedback_step", (g, e)),
        )


@test_case(name="first step (e = 0)", points=1, hidden=True)
def first_step(student, cases):
    rng = cases("first")
    g = gradient(rng, 33)
    sent, residual = expect_pair(student.error_feedback_step(g, np.zeros(33)), WHAT)
    want_sent, want_residual = ref.error_feedback_step(g, np.zeros(33))
    expect_close(
        sent,
        want_sent,
        rtol=1e-9,
        atol=1e-300,
        what=f"sent of {WHAT}",
        where="with a zero residual",
        hint="with e = 0 you send C(g)",
        known=("one_bit_compress", (g,)),
    )
    expect_close(
        residual,
        want_residual,
        rtol=1e-9,
        atol=1e-12 * np.abs(g).max(),
        what=f"the new residual of {WHAT}",
        where="with a zero residual",
    )


@test_case(name="a run of 8 steps: nothing is lost", points=1, hidden=True)
def telescoping(student, cases):
    rng = cases("run")
    T, d = 8, 16
    G = np.array([gradient(rng, d, 1.0) for _ in range(T)])
    e_1 = gradient(rng, d, 0.1)
    outputs = student.iterate(
        "error_feedback_step", [(g, None) for g in G], carry=(1, 1), initial=e_1
    )
    if is_pending(*outputs):
        return
    pairs = [expect_pair(out, WHAT) for out in outputs]
    sent = np.array([p[0] for p in pairs])
    e_last = pairs[-1][1]
    expect(
        np.allclose(sent.sum(axis=0), G.sum(axis=0) + e_1 - e_last, rtol=1e-9, atol=1e-9),
        f"over a run of {T} steps Σ sent ≠ Σ g + e₁ − e_(T+1): the new residual must be "
        "exactly what was not sent (g + e − sent)",
    )
    want_sent, _ = ref.error_feedback_run(G, e_1)
    expect_close(
        sent,
        want_sent,
        rtol=1e-9,
        atol=1e-12,
        what=f"the run of {WHAT}",
        where=f"over {T} steps, each fed the residual of the step before",
    )
