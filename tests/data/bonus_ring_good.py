"""Reference solution of the bonus exercise (tests only): ring AllReduce by Sendrecv."""

import numpy as np


def my_ring_allreduce(comm, buffer: np.ndarray) -> np.ndarray:
    N, r = comm.Get_size(), comm.Get_rank()
    result = np.array(buffer, dtype=np.float64)
    sizes = [len(c) for c in np.array_split(result, N)]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    right, left = (r + 1) % N, (r - 1) % N
    incoming = np.empty(max(sizes))

    def exchange(send_chunk: int, recv_chunk: int) -> np.ndarray:
        send = result[starts[send_chunk] : starts[send_chunk + 1]]
        received = incoming[: sizes[recv_chunk]]
        comm.Sendrecv(send, dest=right, recvbuf=received, source=left)
        return received

    for s in range(N - 1):  # reduce-scatter: after it, rank r owns chunk r+1 summed
        recv_chunk = (r - s - 1) % N
        result[starts[recv_chunk] : starts[recv_chunk + 1]] += exchange((r - s) % N, recv_chunk)
    for s in range(N - 1):  # all-gather: pass the finished chunks around the ring
        recv_chunk = (r - s) % N
        result[starts[recv_chunk] : starts[recv_chunk + 1]] = exchange((r + 1 - s) % N, recv_chunk)
    return result
