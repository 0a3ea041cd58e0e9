"""A bad bonus solution (tests only): the sum is right, but every one of the 2(N-1)
steps sends the whole buffer instead of one chunk."""

import numpy as np


def my_ring_allreduce(comm, buffer: np.ndarray) -> np.ndarray:
    N, r = comm.Get_size(), comm.Get_rank()
    right, left = (r + 1) % N, (r - 1) % N
    total = np.array(buffer, dtype=np.float64)
    passing = total.copy()
    for _ in range(N - 1):  # pass every rank's whole vector around the ring
        received = np.empty_like(passing)
        comm.Sendrecv(passing, dest=right, recvbuf=received, source=left)
        total += received
        passing = received
    for _ in range(N - 1):  # then "all-gather" the whole result again, for nothing
        received = np.empty_like(total)
        comm.Sendrecv(total, dest=right, recvbuf=received, source=left)
    return total
