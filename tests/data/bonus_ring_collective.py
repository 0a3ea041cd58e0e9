"""A bad bonus solution (tests only): calls the collective the exercise forbids."""

import numpy as np


def my_ring_allreduce(comm, buffer: np.ndarray) -> np.ndarray:
    result = np.empty_like(buffer)
    comm.Allreduce(buffer, result)
    return result
