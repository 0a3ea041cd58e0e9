"""A bad bonus solution (tests only): the right ring, but it overwrites instead of adding."""

import numpy as np


def my_ring_allreduce(comm, buffer: np.ndarray) -> np.ndarray:
    N, r = comm.Get_size(), comm.Get_rank()
    result = np.array(buffer, dtype=np.float64)
    sizes = [len(c) for c in np.array_split(result, N)]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    right, left = (r + 1) % N, (r - 1) % N
    for phase in range(2):
        for s in range(N - 1):
            send_chunk = (r - s + phase) % N
            recv_chunk = (r - s - 1 + phase) % N
            received = np.empty(sizes[recv_chunk])
            send = result[starts[send_chunk] : starts[send_chunk + 1]]
            comm.Sendrecv(send, dest=right, recvbuf=received, source=left)
            result[starts[recv_chunk] : starts[recv_chunk + 1]] = received  # BUG: not +=
    return result
