"""Time MPI_Allreduce (float32, SUM) over message sizes. Run under mpiexec, not by hand.

    mpiexec -n 2 python allreduce_timing.py --sizes 4,1024,1048576 --out t.json \
        --status-dir DIR

First a warm-up of the whole run (connections are set up lazily by the first calls).
For every size: warm-up calls, then R timed calls. Each timed call starts after a
barrier, and its time is the SLOWEST rank's (the collective is done when the last rank
is done). R is fixed (--repeats) or adaptive: as many calls as fit in --budget seconds,
between --min-repeats and --max-repeats, decided by rank 0 so every rank agrees. The
result is checked: every rank contributes rank+1, so every element must equal N(N+1)/2.

Rank 0 writes the samples to --out as JSON. Every rank writes its progress to
DIR/rank<r>.status, and a problem it can name to DIR/error.txt (see launch.py).
Imports only numpy and mpi4py, so it runs from any directory.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", required=True, help="comma-separated sizes in bytes")
    parser.add_argument("--repeats", type=int, default=0, help="0: adaptive")
    parser.add_argument("--budget", type=float, default=0.25, help="seconds per size")
    parser.add_argument("--min-repeats", type=int, default=5)
    parser.add_argument("--max-repeats", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--expected-ranks", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--status-dir", required=True)
    args = parser.parse_args()

    comm = MPI.COMM_WORLD
    rank, n_ranks = comm.Get_rank(), comm.Get_size()
    status_dir = Path(args.status_dir)

    def report(phase: str) -> None:
        (status_dir / f"rank{rank}.status").write_text(phase)

    def fail(message: str) -> None:
        (status_dir / "error.txt").write_text(message)
        report(f"failed: {message}")
        comm.Abort(3)

    report("started")
    if args.expected_ranks and n_ranks != args.expected_ranks:
        fail(
            f"mpiexec started {n_ranks} rank(s) per MPI world instead of "
            f"{args.expected_ranks}: mpiexec and mpi4py use different MPI libraries"
        )
    sizes = [int(s) for s in args.sizes.split(",")]
    expected_sum = n_ranks * (n_ranks + 1) / 2
    # Connections and buffers are set up lazily by the first calls: pay that before timing.
    report("warming up")
    for size in (min(sizes), max(sizes)):
        buffer = np.ones(size // 4, dtype=np.float32)
        for _ in range(20 if size == min(sizes) else 2):
            comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
    results = []
    for size in sizes:
        report(f"timing {size} B")
        send = np.full(size // 4, rank + 1, dtype=np.float32)
        recv = np.empty_like(send)
        for _ in range(args.warmup):
            comm.Allreduce(send, recv, op=MPI.SUM)
        if recv.size and not np.all(recv == expected_sum):
            fail(f"MPI_Allreduce returned a wrong sum at {size} B")
        if args.repeats > 0:
            repeats = args.repeats
        else:
            comm.Barrier()
            t0 = time.perf_counter()
            comm.Allreduce(send, recv, op=MPI.SUM)
            one_call = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
            wanted = int(args.budget / max(one_call, 1e-9))
            repeats = comm.bcast(min(max(wanted, args.min_repeats), args.max_repeats))
        local = np.empty(repeats)
        for i in range(repeats):
            comm.Barrier()
            t0 = time.perf_counter()
            comm.Allreduce(send, recv, op=MPI.SUM)
            local[i] = time.perf_counter() - t0
        slowest = np.empty_like(local) if rank == 0 else None
        comm.Reduce(local, slowest, op=MPI.MAX, root=0)
        if rank == 0:
            results.append({"size_bytes": size, "samples_s": slowest.tolist()})

    if rank == 0:
        report_json = {
            "ranks": n_ranks,
            "mpi_library": MPI.Get_library_version().strip().splitlines()[0],
            "timings": results,
        }
        Path(args.out).write_text(json.dumps(report_json))
    comm.Barrier()
    report("done")


if __name__ == "__main__":
    main()
