"""Short names for the array types the science passes around (annotations only).

Every public function takes scalars or arrays (numpy.typing.ArrayLike) and returns what
_validate.scalar_or_array gives back: a numpy scalar for scalar input, an array otherwise.
np.float64 is a subclass of float, so a float64 result is a `float` to the type checker;
np.int64 is not a subclass of int, so whole-number results name it.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

__all__ = ["AnyArray", "FloatOrArray", "IntOrArray", "IntVector", "Vector"]

Vector: TypeAlias = NDArray[np.float64]
"""float64 numbers of any shape: a sweep of message sizes, a gradient, a stack of rows."""

IntVector: TypeAlias = NDArray[np.int64]
"""int64 numbers of any shape: byte counts, ranks, an adjacency matrix."""

AnyArray: TypeAlias = NDArray[Any]
"""An array whose dtype is the caller's (the simulators keep float32, int32, ...)."""

FloatOrArray: TypeAlias = float | Vector
"""A result in seconds, bytes or joules: one number for scalar input, else an array."""

IntOrArray: TypeAlias = int | np.int64 | IntVector
"""A whole-number result (bytes, rounds, steps): one number for scalar input, else an array."""
