"""Executable AllReduce: N simulated ranks pass numpy chunks to each other, step by step.

Row r of the (N, d) array `buffers` is rank r's gradient. The simulators really move the
data: every message is read from the sender's row and added to (reduce) or copied into
(gather, broadcast) the receiver's row. Every step is synchronous: all its messages leave
from the state before the step and arrive before the next step starts.

- Ring (Patarasuk & Yuan 2009, JPDC 69(2):117-124; Thakur, Rabenseifner & Gropp 2005
  §5.3; MPICH src/mpi/coll/allreduce/allreduce_intra_ring.c): the vector is cut into N
  chunks with the np.array_split convention (the first d mod N chunks are one element
  longer). Reduce-scatter, N-1 steps: at step s rank r sends chunk (r-s) mod N to rank
  r+1, which adds it to its own copy. Rank r now holds the full sum of chunk (r+1) mod N.
  All-gather, N-1 steps: at step s rank r sends chunk (r+1-s) mod N to rank r+1, which
  overwrites its copy. 2(N-1) steps; when N divides d each rank sends 2(N-1)/N·M bytes.
- Tree (binomial, unpipelined; MPICH reduce/bcast binomial; MLSysBook Vol. 2 "Collective
  Communication"): reduce to rank 0 in L = ⌈log2 N⌉ steps (at step k, rank r ≡ 2^k mod
  2^(k+1) sends its partial sum to rank r - 2^k), then broadcast from rank 0 in L steps
  in reverse order. Every message is the whole vector (M bytes). Works for any N.

Counts come from the real itemsize of the buffer's dtype. The dtype is kept: float32 in,
float32 accumulation out (the order of additions differs between ring and tree, so float
sums agree up to rounding; integers are exact, and wrap on overflow like numpy's).

The α-β time of a run charges each synchronous step α plus its largest message over β:
`T = Σ_steps (α + max message bytes / β)`, which reproduces `ring_allreduce_time` exactly
when N divides d, and `tree_allreduce_time` always (comms_core.cost_models).

Memory: the caller's array is never modified. The ring works on one zero-padded copy
(N ranks, N chunks, ⌈d/N⌉) and two step buffers of one buffer's worth each, reused every
step; the tree on one copy, adding or copying whole rows in place. Peak ≈ 1x the input
(measured in benchmarks/bench_core.py).

The schedule (who sent which element range to whom, step by step) is what the
NetworkTopologyHUD draws. It holds 4 int arrays of N entries per ring step, so it is
recorded by default only for N <= SCHEDULE_MAX_RANKS (64); pass record_schedule=True to
force it (N = 1024 ring: ~2046 steps x 32 KB = 67 MB) or False to skip it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

import comms_core._validate as v
from comms_core._types import AnyArray, FloatOrArray, IntVector

__all__ = [
    "SCHEDULE_MAX_RANKS",
    "AllReduceTrace",
    "Step",
    "simulate_ring_allreduce",
    "simulate_tree_allreduce",
]

SCHEDULE_MAX_RANKS = 64
"""The schedule is recorded by default up to this many ranks (record_schedule=None)."""


@dataclass(frozen=True, eq=False)
class Step:
    """One synchronous step of an AllReduce: message i goes from rank src[i] to rank
    dst[i] and carries the elements start[i]:stop[i] of the vector.

    phase is "reduce-scatter" or "all-gather" (ring), "reduce" or "broadcast" (tree).
    src, dst, start, stop are read-only int64 arrays of equal length (the step's messages).
    """

    phase: str
    src: NDArray[np.int64]
    dst: NDArray[np.int64]
    start: NDArray[np.int64]
    stop: NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class AllReduceTrace:
    """What a simulated AllReduce produced and what it cost.

    result         (N, d) read-only array, the input's dtype; every row is the column sum
                   (a strided view, not C-contiguous, for a ring with N not dividing d).
    steps          number of synchronous steps (the count of α terms).
    bytes_sent     int64 (N,): bytes each rank sent (elements x itemsize).
    messages_sent  int64 (N,): messages each rank sent (an empty chunk, d < N, counts).
    step_bytes     int64 (steps,): the largest message of each step, bytes.
    schedule       tuple of Step, one per step, or None when not recorded.
    """

    algorithm: str
    result: AnyArray
    steps: int
    bytes_sent: NDArray[np.int64]
    messages_sent: NDArray[np.int64]
    step_bytes: NDArray[np.int64]
    schedule: tuple[Step, ...] | None = field(default=None)

    def alpha_beta_time(self, alpha: ArrayLike, beta: ArrayLike) -> FloatOrArray:
        """This run's time in seconds under the α-β model, step by synchronous step:

            T = Σ_steps (α + largest message of the step / β) = steps·α + Σ step_bytes / β

        α in s per message, β in bytes/s (Hockney 1994; docs/LAB_SPEC.md units).
        """
        alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
        return v.scalar_or_array(self.steps * alpha + int(self.step_bytes.sum()) / beta)


def _rank_buffers(buffers: ArrayLike) -> AnyArray:
    """Check the (N, d) stack of rank buffers without converting its dtype or copying it.

    (_validate.vector would make a float64 copy; here the dtype is the point, and a 4 GB
    input must not get a same-sized NaN mask: min and max are NaN/inf iff some entry is.)
    """
    if isinstance(buffers, str | bytes) or buffers is None:
        raise ValueError(f"buffers must be an (N, d) array of numbers, got {buffers!r}")
    try:
        arr = np.asarray(buffers)
    except (TypeError, ValueError) as err:
        raise ValueError(f"buffers must be an (N, d) array of numbers: {err}") from err
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"buffers must hold integers or floats, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"buffers must be a 2-D (N, d) array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"buffers must not be empty, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not (np.isfinite(arr.min()) and np.isfinite(arr.max())):
        raise ValueError("buffers must be finite (no NaN or infinity)")
    return arr


class _Log:
    """Counts bytes, messages and steps as the messages go; records the schedule if asked."""

    def __init__(self, N: int, itemsize: int, record: bool) -> None:
        self.itemsize = itemsize
        self.bytes_sent = np.zeros(N, dtype=np.int64)
        self.messages_sent = np.zeros(N, dtype=np.int64)
        self.step_bytes: list[int] = []
        self.schedule: list[Step] | None = [] if record else None

    def step(
        self, phase: str, src: IntVector, dst: IntVector, start: IntVector, stop: IntVector
    ) -> None:
        """One synchronous step; within a step every sender sends one message."""
        nbytes = (stop - start) * self.itemsize
        self.bytes_sent[src] += nbytes
        self.messages_sent[src] += 1
        self.step_bytes.append(int(nbytes.max()))
        if self.schedule is not None:
            arrays = [np.array(a, dtype=np.int64) for a in (src, dst, start, stop)]
            for a in arrays:
                a.setflags(write=False)
            self.schedule.append(Step(phase, *arrays))

    def trace(self, algorithm: str, result: AnyArray) -> AllReduceTrace:
        arrays = [result, self.bytes_sent, self.messages_sent]
        arrays.append(np.array(self.step_bytes, dtype=np.int64))
        for a in arrays:
            a.setflags(write=False)
        schedule = None if self.schedule is None else tuple(self.schedule)
        return AllReduceTrace(
            algorithm,
            result=arrays[0],
            steps=len(self.step_bytes),
            bytes_sent=arrays[1],
            messages_sent=arrays[2],
            step_bytes=arrays[3],
            schedule=schedule,
        )


def _record(record_schedule: bool | None, N: int) -> bool:
    if record_schedule is None:
        return N <= SCHEDULE_MAX_RANKS
    if not isinstance(record_schedule, bool | np.bool_):
        raise ValueError(f"record_schedule must be True, False or None, got {record_schedule!r}")
    return bool(record_schedule)


def _padded_chunks(arr: AnyArray) -> AnyArray:
    """Copy the (N, d) buffers into P of shape (N ranks, N chunks, c = ⌈d/N⌉ elements).

    P[i, k] is rank i's chunk k (np.array_split convention, d = q·N + r: chunks 0..r-1
    have q+1 elements, the others q), zero-padded at its end. The zeros ride along in the
    additions and change nothing; bytes are counted from the true chunk sizes.
    """
    N, d = arr.shape
    q, r = divmod(d, N)
    c = q + (r > 0)
    P = np.zeros((N, N, c), dtype=arr.dtype)
    P[:, :r, :] = arr[:, : r * c].reshape(N, r, c)  # the long chunks (c = q+1 if r > 0)
    P[:, r:, :q] = arr[:, r * c :].reshape(N, N - r, q)  # the short chunks
    return P


def _unpadded(P: AnyArray, d: int) -> AnyArray:
    """Undo _padded_chunks in place: slide the short chunks left, return the (N, d) view.

    Chunk k > r moves from offset k·c to its array_split offset r·c + (k-r)·q, all ranks at
    once; moving in increasing k never overwrites data that has not moved yet. When N does
    not divide d the result is a strided view (row stride N·c), not a C-contiguous array.
    """
    N, _, c = P.shape
    q, r = divmod(d, N)
    rows = P.reshape(N, N * c)
    if r:
        for k in range(r + 1, N):
            start = r * c + (k - r) * q
            rows[:, start : start + q] = rows[:, k * c : k * c + q]
    return rows[:, :d]


def simulate_ring_allreduce(
    buffers: ArrayLike, *, record_schedule: bool | None = None
) -> AllReduceTrace:
    """Ring AllReduce of the (N, d) rank buffers: reduce-scatter, then all-gather.

    2(N-1) steps; rank r always sends to rank (r+1) mod N. Chunk sizes follow
    np.array_split; bytes per rank = Σ of the chunk sizes it sent x itemsize, which is
    2(N-1)/N·M when N divides d (M = d·itemsize bytes). The input is not modified.

    Memory: one padded working copy (N, N, ⌈d/N⌉) and two (N, ⌈d/N⌉) step buffers, reused
    every step: `wire` holds the N chunks in flight (one buffer's worth), `arrived` the
    receivers' chunks being summed. No step allocates. The padding costs < N² elements:
    negligible when d >> N, but for d < N the copy holds N² elements, not N·d.
    See the module docstring.
    """
    arr = _rank_buffers(buffers)
    N, d = arr.shape
    log = _Log(N, arr.itemsize, _record(record_schedule, N))
    P = _padded_chunks(arr)
    chunks = P.reshape(N * N, P.shape[2])  # row i·N + k is rank i's chunk k (a view of P)
    # np.take(..., out=, mode="clip") gathers into the reused buffer (mode="raise" would
    # buffer through a temporary); every index is valid, so clipping never happens.
    wire, arrived = np.empty((2, N, P.shape[2]), dtype=arr.dtype)
    sizes = np.full(N, d // N, dtype=np.int64)
    sizes[: d % N] += 1
    stops = np.cumsum(sizes)
    starts = stops - sizes
    ranks = np.arange(N, dtype=np.int64)
    right = (ranks + 1) % N
    for s in range(N - 1):
        chunk = (ranks - s) % N  # rank r sends chunk (r-s) mod N to rank r+1, which adds it
        np.take(chunks, ranks * N + chunk, axis=0, out=wire, mode="clip")
        np.take(chunks, right * N + chunk, axis=0, out=arrived, mode="clip")
        np.add(arrived, wire, out=arrived)
        chunks[right * N + chunk] = arrived
        log.step("reduce-scatter", ranks, right, starts[chunk], stops[chunk])
    # Rank r now holds the complete sum of chunk (r+1) mod N.
    for s in range(N - 1):
        chunk = (ranks + 1 - s) % N  # rank r forwards chunk (r+1-s) mod N; rank r+1 keeps it
        np.take(chunks, ranks * N + chunk, axis=0, out=wire, mode="clip")
        chunks[right * N + chunk] = wire
        log.step("all-gather", ranks, right, starts[chunk], stops[chunk])
    return log.trace("ring", _unpadded(P, d))


def simulate_tree_allreduce(
    buffers: ArrayLike, *, record_schedule: bool | None = None
) -> AllReduceTrace:
    """Tree AllReduce of the (N, d) rank buffers: binomial reduce to rank 0, then broadcast.

    L = ⌈log2 N⌉ reduce steps (step k: rank r ≡ 2^k mod 2^(k+1) sends to r - 2^k), then L
    broadcast steps (step k, from k = L-1 down: rank r ≡ 0 mod 2^(k+1) sends to r + 2^k
    when that rank exists). 2⌈log2 N⌉ steps; every message is the whole vector, M bytes.
    Each message is one row added or copied in place, so no step needs extra memory.
    The input is not modified. See the module docstring for the sources.
    """
    arr = _rank_buffers(buffers)
    N, d = arr.shape
    work = np.array(arr, order="C", copy=True)
    log = _Log(N, arr.itemsize, _record(record_schedule, N))
    L = (N - 1).bit_length()  # = ⌈log2 N⌉ for N >= 1, exact in integers
    whole = (np.zeros(N, dtype=np.int64), np.full(N, d, dtype=np.int64))
    for k in range(L):
        mask = 1 << k
        src = np.arange(mask, N, 2 * mask, dtype=np.int64)
        dst = src - mask
        for s, t in zip(src, dst, strict=True):
            work[t] += work[s]
        log.step("reduce", src, dst, whole[0][: src.size], whole[1][: src.size])
    # Rank 0 now holds the complete sum.
    for k in reversed(range(L)):
        mask = 1 << k
        src = np.arange(0, N - mask, 2 * mask, dtype=np.int64)
        dst = src + mask
        for s, t in zip(src, dst, strict=True):
            work[t] = work[s]
        log.step("broadcast", src, dst, whole[0][: src.size], whole[1][: src.size])
    return log.trace("tree", work)
