"""What the public checks (public_tests/*.py) share: call the student's function on a public
input, compare with the reference, and say which term or edge case is wrong.

The inputs are public (the worked examples of docs/LAB_SPEC.md, a non-power-of-two N, vectors whose
scale is not 1, arrays, N = 1); no hidden value is used or shown. A wrong answer that matches
a known wrong formula is named from the misconception catalogue.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from commslab.notebook.misconceptions import diagnose


def call(f: Callable, name: str, *args):
    """f(*args), or an AssertionError that says what went wrong, in the student's words."""
    if not callable(f):
        raise AssertionError(f"{name} is not defined yet: write it and run its cell first.")
    try:
        # a natural solution may divide by zero where np.where then discards it (N = 1 in the
        # crossover): numpy's RuntimeWarning would print inside the check's output
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            got = f(*args)
    except NotImplementedError:
        raise AssertionError(f"write {name} first, then run this check again.") from None
    except TypeError as err:
        if "array" in str(err) or "length-1" in str(err) or "size-1" in str(err):
            raise AssertionError(
                f"{name} fails on numpy arrays ({err}): use np.ceil and np.log2, not "
                "math.ceil or math.log2, which take one number only."
            ) from None
        raise AssertionError(f"{name}{_shown(args)} raised TypeError: {err}") from None
    except Exception as err:  # a student's function may fail in any way
        raise AssertionError(f"{name}{_shown(args)} raised {type(err).__name__}: {err}") from None
    assert got is not None, f"{name} returned None: did you forget `return`?"
    return got


def _shown(args) -> str:
    def one(a):
        if isinstance(a, np.ndarray):
            return f"np.array({np.array2string(a, separator=', ')})"
        return f"{a:g}" if isinstance(a, float) else repr(a)

    return "(" + ", ".join(one(a) for a in args) + ")"


def close(f: Callable, name: str, args: tuple, want, where: str = "", residual=None) -> None:
    """f(*args) ≈ want (relative 1e-6, same shape); on a miss, name the misconception.

    residual: for functions returning a pair, which of the pair to compare (0 or 1)."""
    got = call(f, name, *args)
    if residual is not None:
        assert isinstance(got, tuple) and len(got) == 2, (
            f"{name} must return a pair (sent, residual)."
        )
        got = got[residual]
    try:
        arr = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(f"{name} must return numbers; got {got!r}") from None
    want = np.asarray(want, dtype=float)
    at = f" {where}" if where else f" for {name}{_shown(args)}"
    if arr.shape != want.shape:
        raise AssertionError(
            f"{name} returned shape {arr.shape}{at}; expected shape {want.shape}"
            + (": does it work on numpy arrays?" if arr.ndim == 0 else ".")
        )
    if np.allclose(arr, want, rtol=1e-6, atol=1e-15) and np.isfinite(arr).all():
        return
    known = diagnose(name, args, arr)
    if known is not None:
        raise AssertionError(f"{name}{at}: {known.message()}.")
    raise AssertionError(f"{name}{at} gives {_value(arr)}; expected {_value(want)}.")


def own_compressor_is_the_cause(compress: object, x: np.ndarray, out: tuple, want) -> str:
    """The error-feedback check's diagnosis when error_feedback_step is right but calls the
    student's own one_bit_compress, which is wrong on x: say so ("" otherwise). OUT is what
    error_feedback_step returned, already checked to be a pair (public_tests/part3.py)."""
    if not callable(compress):
        return ""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mine = np.asarray(compress(x), dtype=float)
            sent, residual = (np.asarray(part, dtype=float) for part in out)
    except Exception:  # the compressor's own check reports its failure
        return ""
    if mine.shape != x.shape or np.allclose(mine, want, rtol=1e-6, atol=1e-15):
        return ""
    if np.allclose(sent, mine, rtol=1e-9) and np.allclose(residual, x - mine, rtol=1e-9):
        return (
            "error_feedback_step does the right steps, but the one_bit_compress it calls is "
            "wrong (see the one_bit_compress check above): the compressor is the cause. Fix "
            "one_bit_compress and this check passes too."
        )
    return ""


def _value(x: np.ndarray) -> str:
    if x.ndim == 0:
        return f"{float(x):.6g}"
    return np.array2string(x, precision=6, separator=", ")


__all__ = ["call", "close", "own_compressor_is_the_cause"]
