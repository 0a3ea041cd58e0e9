"""Input checks shared by every public function.

Bad input gets a ValueError that names the parameter, never a silent wrong number:
NaN, infinities, negative sizes, non-positive bandwidths, N < 1, wrong shapes.
Numbers come back as float64 arrays so that scalars and arrays broadcast alike.
"""

from __future__ import annotations

import numbers
from typing import TypeVar, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

ScalarT = TypeVar("ScalarT", bound=np.generic)


def _as_float_array(name: str, value: ArrayLike) -> NDArray[np.float64]:
    if isinstance(value, (str, bytes)) or value is None:
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from err
    if arr.size:
        lo, hi = arr.min(), arr.max()  # NaN propagates; no full-size temporaries
        if np.isnan(lo) or np.isnan(hi):
            raise ValueError(f"{name} must not be NaN")
        if np.isinf(lo) or np.isinf(hi):
            raise ValueError(f"{name} must be finite")
    return arr


def nonnegative(name: str, value: ArrayLike) -> NDArray[np.float64]:
    """A size or a time: finite and >= 0 (M in bytes, α in seconds)."""
    arr = _as_float_array(name, value)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return arr


def positive(name: str, value: ArrayLike) -> NDArray[np.float64]:
    """A rate: finite and > 0 (β in bytes/s, compute time in seconds)."""
    arr = _as_float_array(name, value)
    if arr.size and arr.min() <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return arr


def count(name: str, value: ArrayLike, minimum: int = 1) -> NDArray[np.int64]:
    """A whole number of ranks, GPUs or nodes: an integer >= minimum."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    arr = _as_float_array(name, value)
    if arr.size and arr.min() < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    ints = arr.astype(np.int64)
    if (ints != arr).any():
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return ints


def scalar_count(name: str, value: object, minimum: int = 1) -> int:
    """One whole number (for sizes of simulated systems, seeds, trial counts)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral | np.integer):
        if isinstance(value, float | np.floating) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def probability(name: str, value: ArrayLike, *, open_interval: bool = True) -> NDArray[np.float64]:
    """A tolerance or a probability: in (0, 1) (or [0, 1] when open_interval is False)."""
    arr = _as_float_array(name, value)
    bad = ((arr <= 0) | (arr >= 1)) if open_interval else ((arr < 0) | (arr > 1))
    if bad.any():
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return arr


def vector(name: str, value: ArrayLike, *, ndim: int = 1) -> NDArray[np.float64]:
    """A gradient, a residual, a stack of rank buffers: finite floats of the given rank."""
    arr = _as_float_array(name, value)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    return arr


def scalar_or_array(result: NDArray[ScalarT]) -> ScalarT | NDArray[ScalarT]:
    """Return a Python-friendly scalar for 0-d results, the array otherwise.

    The scalar is numpy's (np.float64, np.int64), of the array's dtype: result[()] of a 0-d
    array is its one element (numpy's stubs type any tuple index as an array, hence the cast).
    """
    if np.ndim(result) == 0:
        return cast(ScalarT, result[()])
    return result
