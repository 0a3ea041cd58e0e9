"""The rules the notebook's public checks and the grader's hidden tests both apply, in one place.

Student-side (it ships with the notebook) and free of the answer key: each rule judges a value
against an expected value it is given. The grader passes the key's value
(commslab.grading.checks); the public ledger check passes what the notebook itself shows
(`shown_values`), or nothing, and then only the form is checked. So "ledger passed!" and the
grader agree on form and rounding (tests/test_ledger_fairness.py).

- The 10-iteration rule (docs/LAB_SPEC.md Part 2): the tries are the distinct values of
  K_TRIES, at most MAX_TRIES; a longer list is refused whole, by both.
- The fairness rule (docs/LAB_SPEC.md "Predictions, reflections and the ledger"): a number shown
  to 3 significant digits is accepted when it rounds to the same 3 digits as the answer or lies
  within 0.5% (SHOWN_REL_TOL); a whole number the notebook shows exactly (rel_tol 0: bytes,
  frames, rounds) must be exact.
"""

from __future__ import annotations

import math

from comms_core.scenarios import SHOWN_REL_TOL

MAX_TRIES = 10  # the 10-iteration rule


def whole_k(value: object) -> bool:
    """A k the tries rule can judge: a whole number ≥ 1 (bool is not a number)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and float(value).is_integer()
        and value >= 1
    )


def tries(k_tries: object) -> tuple[list[int], str]:
    """The tries a K_TRIES list makes (its distinct whole k ≥ 1, in order) and "", or no tries
    and what to do. A list of more than MAX_TRIES distinct values is refused as a whole."""
    if k_tries is None or (isinstance(k_tries, list | tuple) and not k_tries):
        return [], "K_TRIES is empty: list the k you try, e.g. `K_TRIES = [1, 4, 16]`."
    if not isinstance(k_tries, list | tuple) or not all(whole_k(k) for k in k_tries):
        return [], "`K_TRIES` must be a list of whole numbers ≥ 1, e.g. `[1, 4, 16]`."
    distinct = list(dict.fromkeys(int(k) for k in k_tries))
    if len(distinct) > MAX_TRIES:
        extra = len(distinct) - MAX_TRIES
        return [], (
            f"`K_TRIES` has {len(distinct)} different values of k; the 10-iteration rule "
            f"allows at most {MAX_TRIES}. Nothing was shown and no try was used: remove {extra} "
            f"value{'s' if extra > 1 else ''}, run the `K_TRIES` cell, then this one again."
        )
    return distinct, ""


def shown_match(got: float, expected: float, rel_tol: float) -> bool:
    """The fairness rule for a number shown to 3 significant digits: the same 3 significant
    digits as the answer, or within rel_tol (at least SHOWN_REL_TOL) of it."""
    if f"{got:.3g}" == f"{expected:.3g}":
        return True
    return math.isclose(got, expected, rel_tol=max(rel_tol, SHOWN_REL_TOL), abs_tol=1e-300)


def how_far(got: float, expected: float) -> str:
    """How far got is from expected, in words ("is 1.2% too large"), never the value."""
    if expected == 0:
        return "should be 0 but is not"
    ratio = got / expected
    if ratio <= 0:
        return "has the wrong sign"
    if ratio > 10 or ratio < 0.1:
        return "is off by more than a factor of 10"
    percent = abs(ratio - 1) * 100
    if percent >= 10:
        amount = f"{percent:.0f}%"
    elif percent >= 0.01:
        amount = f"{percent:.2g}%"
    else:
        amount = "a tiny amount"
    return f"is {amount} too {'large' if ratio > 1 else 'small'}"


def _rounded(got: float, expected: float) -> bool:
    """got looks like expected rounded to 2-4 significant digits (17200 for 17,192)."""
    return any(got == float(f"{expected:.{n}g}") for n in (2, 3, 4)) and got != expected


def number_problem(field, got: object, expected: float | None = None) -> str:
    """Why a ledger number is refused ("" if accepted), by the field's kind and rel_tol.

    expected None: the form only (a finite number; a whole number where rel_tol is 0). The
    messages never state the expected value."""
    label = f'LEDGER["{field.key}"]'
    if not isinstance(got, int | float) or isinstance(got, bool):
        return f"{label} must be a number ({field.unit or 'no unit'})"
    if not math.isfinite(got):
        return f"{label} must be a finite number"
    exact = field.kind == "int" and field.rel_tol == 0
    if exact and not float(got).is_integer():
        return f"{label} must be a whole number"
    if expected is None:
        return ""
    if exact:
        if int(got) == int(expected):
            return ""
        if _rounded(float(got), float(expected)):
            return (
                f"{label} looks rounded: it is graded exactly, so write the exact whole number "
                "the notebook shows (e.g. 17,192 B, not the 17.2 KB beside it)"
            )
        return f"{label} is not right for your scenario"
    if shown_match(float(got), float(expected), field.rel_tol):
        return ""
    return (
        f"{label} {how_far(float(got), float(expected))} for your scenario (accepted: the "
        f"same 3 significant digits, or within {max(field.rel_tol, SHOWN_REL_TOL):.1%})"
    )


def shown_values(scenario) -> dict[str, float]:
    """The ledger numbers the notebook shows exactly as they are graded, for this scenario:
    Mobile Nomad's bytes per device per sync, which the crisis (float32) and Part 3's
    workbench (1-bit) print as exact bytes (comms_core.compression.allreduce_bytes, the count
    both screens call). The public ledger check compares these with the grader's rule."""
    if scenario is None or scenario.track.key != "mobile_nomad":
        return {}
    from comms_core import compression

    d, N = int(scenario.d), int(scenario.N)
    return {
        "bytes_dense": compression.allreduce_bytes(d, N, "none"),
        "bytes_one_bit": compression.allreduce_bytes(d, N, "1-bit (scaled sign)"),
    }


__all__ = [
    "MAX_TRIES",
    "how_far",
    "number_problem",
    "shown_match",
    "shown_values",
    "tries",
    "whole_k",
]
