"""Time MPI_Allreduce (float32, SUM) over message sizes. Run under mpiexec, not by hand.

    mpiexec -n 2 python allreduce_timing.py --sizes 4,1024,1048576 --out t.json \
        --status-dir DIR

1. Warm-up: connections and buffers are set up lazily by the first calls, so every size
   is called a few times untimed; the result is checked (every rank contributes rank+1,
   so every element must equal N(N+1)/2).
2. Rounds: each round times every size once, in a shuffled order (the same on every
   rank), small sizes a few calls in a row (about 1 ms worth, at most 20). Interleaving
   is what makes the medians trustworthy on a shared machine: a burst of load from
   another process hits a few samples of every size instead of all samples of one size.
   The number of rounds is fixed (--repeats: one call per size per round) or chosen so
   that the timing takes about --budget seconds (between --min-rounds and --max-rounds).
3. Each timed call starts after a barrier; its time is the SLOWEST rank's (the
   collective is done when the last rank is done).

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

from commslab.mpi.rank_status import RankStatus

CALL_TARGET_S = 1e-3  # consecutive calls of one size per round: about 1 ms worth ...
MAX_CALLS = 20  # ... and at most this many


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", required=True, help="comma-separated sizes in bytes")
    parser.add_argument("--repeats", type=int, default=0, help="rounds; 0: adaptive")
    parser.add_argument("--budget", type=float, default=4.0, help="seconds of timing")
    parser.add_argument("--min-rounds", type=int, default=7)
    parser.add_argument("--max-rounds", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--expected-ranks", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--status-dir", required=True)
    args = parser.parse_args()

    comm = MPI.COMM_WORLD
    rank, n_ranks = comm.Get_rank(), comm.Get_size()
    status = RankStatus(args.status_dir, comm, abort_code=3)
    report, fail = status.report, status.fail

    report("started")
    if args.expected_ranks and n_ranks != args.expected_ranks:
        fail(
            f"mpiexec started {n_ranks} rank(s) per MPI world instead of "
            f"{args.expected_ranks}: mpiexec and mpi4py use different MPI libraries"
        )
    sizes = [int(s) for s in args.sizes.split(",")]
    expected_sum = n_ranks * (n_ranks + 1) / 2
    # One pair of buffers of the largest size; each size uses a prefix (a contiguous view).
    send_buffer = np.full(max(sizes) // 4, rank + 1, dtype=np.float32)
    recv_buffer = np.empty_like(send_buffer)
    send = {s: send_buffer[: s // 4] for s in sizes}
    recv = {s: recv_buffer[: s // 4] for s in sizes}

    def timed_call(size: int) -> float:
        comm.Barrier()
        t0 = time.perf_counter()
        comm.Allreduce(send[size], recv[size], op=MPI.SUM)
        return time.perf_counter() - t0

    # 1. Warm-up, check, and a first estimate of each size's time (slowest rank).
    estimate = {}
    for size in sizes:
        report(f"warming up {size} B")
        for _ in range(args.warmup):
            comm.Allreduce(send[size], recv[size], op=MPI.SUM)
        if recv[size].size and not np.all(recv[size] == expected_sum):
            fail(f"MPI_Allreduce returned a wrong sum at {size} B")
        estimate[size] = comm.allreduce(timed_call(size), op=MPI.MAX)

    # 2. Rounds: rank 0 decides the plan, every rank follows it.
    if args.repeats > 0:
        calls = {s: 1 for s in sizes}
        rounds = args.repeats
    else:
        calls = {s: int(min(MAX_CALLS, max(1, CALL_TARGET_S // estimate[s]))) for s in sizes}
        round_time = sum(calls[s] * estimate[s] for s in sizes)
        rounds = int(min(args.max_rounds, max(args.min_rounds, args.budget // round_time)))
    calls, rounds = comm.bcast((calls, rounds))
    order_rng = np.random.default_rng(comm.bcast(int(time.time_ns() % 2**32)))
    samples: dict[int, list[float]] = {s: [] for s in sizes}
    for k in range(rounds):
        report(f"timing round {k + 1} of {rounds}")
        for i in order_rng.permutation(len(sizes)):
            size = sizes[i]
            samples[size] += [timed_call(size) for _ in range(calls[size])]

    # 3. Per call, the slowest rank's time.
    results = []
    for size in sizes:
        local = np.array(samples[size])
        if rank == 0:  # only the root receives
            slowest = np.empty_like(local)
            comm.Reduce(local, slowest, op=MPI.MAX, root=0)
            results.append({"size_bytes": size, "samples_s": slowest.tolist()})
        else:
            comm.Reduce(local, None, op=MPI.MAX, root=0)

    rank_hosts = comm.gather(MPI.Get_processor_name(), root=0)
    if rank == 0:
        report_json = {
            "ranks": n_ranks,
            "rank_hosts": rank_hosts,
            "rounds": rounds,
            "mpi_library": " ".join(MPI.Get_library_version().splitlines()[0].split()),
            "timings": results,
        }
        Path(args.out).write_text(json.dumps(report_json))
    comm.Barrier()
    report("done")


if __name__ == "__main__":
    main()
