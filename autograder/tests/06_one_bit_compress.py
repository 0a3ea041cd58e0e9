"""Hidden tests, Part 3: one_bit_compress(v). 3 points.

Reference: comms_core.compression.one_bit_compress, C(v) = (‖v‖₁/d)·sign(v) with sign(0) = +1.
Properties checked on the student's own output: ‖C(v)‖₁ = ‖v‖₁, one magnitude for all entries.
"""

import numpy as np
from otter.test_files import test_case

from comms_core import compression as ref
from commslab.grading.checks import expect, expect_close, is_pending, numbers

OK_FORMAT = False
name = "one_bit_compress"
points = 3

WHAT = "one_bit_compress(v)"


def vector(rng, d=None):
    d = int(rng.integers(5, 400)) if d is None else d
    return rng.normal(0.0, float(np.exp(rng.uniform(-8, 4))), d)


@test_case(name="random vectors", points=1, hidden=True)
def random_vectors(student, cases):
    rng = cases("random")
    for _ in range(8):
        v = vector(rng)
        expect_close(
            student.one_bit_compress(v),
            ref.one_bit_compress(v),
            known=("one_bit_compress", (v,)),
            rtol=1e-9,
            atol=1e-300,
            what=WHAT,
            where=f"on a random vector of d = {v.size}",
            hint="the scale is ‖v‖₁/d, the mean of |v|",
        )


@test_case(name="sign(0) = +1", points=1, hidden=True)
def zeros(student, cases):
    rng = cases("zeros")
    v = vector(rng, 40)
    v[rng.choice(40, 7, replace=False)] = 0.0
    got = student.one_bit_compress(v)
    expect_close(
        got,
        ref.one_bit_compress(v),
        rtol=1e-9,
        atol=1e-300,
        what=WHAT,
        where="on a vector with zeros in it",
        hint="a zero is sent as +1 (a bit has only two values), so it gets +scale",
        known=("one_bit_compress", (v,)),
    )
    expect_close(
        student.one_bit_compress(np.zeros(5)),
        np.zeros(5),
        known=("one_bit_compress", (np.zeros(5),)),
        atol=1e-300,
        what=WHAT,
        where="on a vector of zeros",
    )


@test_case(name="keeps the L1 norm, one magnitude per tensor", points=1, hidden=True)
def properties(student, cases):
    rng = cases("properties")
    for d in (1, 2, 7, 256):
        v = vector(rng, d)
        got = student.one_bit_compress(v)
        if is_pending(got):
            continue
        out = numbers(got, WHAT)
        expect(
            out.shape == v.shape,
            f"{WHAT} must return an array of the same shape as v (d = {d}), got shape {out.shape}",
        )
        l1 = np.abs(v).sum()
        expect(
            abs(np.abs(out).sum() - l1) <= 1e-9 * l1,
            f"‖C(v)‖₁ must equal ‖v‖₁ (d = {d}): the scale is ‖v‖₁/d",
        )
        expect(
            np.ptp(np.abs(out)) <= 1e-9 * np.abs(out).max(),
            f"every entry of C(v) must have the same magnitude ‖v‖₁/d (d = {d})",
        )
