"""Run a student's my_ring_allreduce on every rank. Run under mpiexec by grade_bonus_ring.

    mpiexec -n N python -m commslab.mpi.bonus_runner --student FILE --d D --seed S \
        --status-dir DIR

Each rank gets its own seeded float64 vector of d values (rank_data), calls
my_ring_allreduce(ByteCountingComm(COMM_WORLD), vector), and writes DIR/rank<r>.json:
whether the result equals the exact sum (recomputed locally from the seeds, so no MPI
is needed to know the answer), the bytes it sent, and any problem. A problem that stops
the ring (an exception, a refused collective) is written to DIR/error.txt and the whole
run is aborted at once, so the other ranks do not wait forever.
"""

from __future__ import annotations

import argparse
import importlib.util
import json

import numpy as np
from mpi4py import MPI

from commslab.mpi.counting_comm import ByteCountingComm, CollectiveRefused
from commslab.mpi.rank_status import RankStatus

RTOL = ATOL = 1e-12  # float64 sums of N normal values in any order agree to ~1e-15


def rank_data(seed: int, rank: int, d: int) -> np.ndarray:
    """Rank r's input: d standard normal float64 values from the seed (seed, r)."""
    return np.random.default_rng([seed, rank]).standard_normal(d)


def sum_problem(result, seed: int, n_ranks: int, d: int) -> tuple[str | None, float | None]:
    """(what is wrong with a rank's result, its largest error): None if it is the exact sum
    of every rank's rank_data, to RTOL/ATOL. Shared by this runner and bonus_relay."""
    expected = np.zeros(d)  # summed rank by rank, in rank order
    for r in range(n_ranks):
        expected += rank_data(seed, r, d)
    try:
        got = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        got = None
    if got is None or got.shape != expected.shape:
        shape = None if got is None else got.shape
        return f"returned {type(result).__name__} of shape {shape}, expected ({d},)", None
    max_error = float(np.max(np.abs(got - expected)))
    if not np.allclose(got, expected, rtol=RTOL, atol=ATOL):
        return f"result differs from the exact sum by up to {max_error:.3g}", max_error
    return None, max_error


def arguments() -> argparse.Namespace:
    """The rank's command line (the same for this runner and bonus_relay)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--student", required=True)
    parser.add_argument("--d", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    # the grader's way: the seed in a file only the grader can read (never on a command line,
    # which /proc shows to every process of the machine, a hosted grader's sandbox included)
    parser.add_argument("--seed-file", default=None)
    parser.add_argument("--status-dir", required=True)
    # bonus_relay only: the sandbox each rank's student code runs in (launchers.launcher_from_spec)
    parser.add_argument("--sandbox", default="bubblewrap")
    args = parser.parse_args()
    if args.seed_file:
        with open(args.seed_file, encoding="utf-8") as f:
            args.seed = int(f.read().strip())
    return args


def main() -> None:
    args = arguments()

    world = MPI.COMM_WORLD
    rank, n_ranks = world.Get_rank(), world.Get_size()
    status = RankStatus(args.status_dir, world, abort_code=4)
    report, fail = status.report, status.fail

    report("started")
    try:
        spec = importlib.util.spec_from_file_location("student_ring", args.student)
        if spec is None or spec.loader is None:
            raise ImportError(f"{args.student} is not a Python file")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        ring = module.my_ring_allreduce
    except Exception as err:  # the student's module may raise anything at import
        fail(f"loading your code raised {type(err).__name__}: {err}")

    comm = ByteCountingComm(world)
    report("running my_ring_allreduce")
    try:
        result = ring(comm, rank_data(args.seed, rank, args.d))
    except CollectiveRefused as err:
        fail(str(err))
    except Exception as err:  # report the student's error, whatever it is
        fail(f"my_ring_allreduce raised {type(err).__name__} on rank {rank}: {err}")

    problem, max_error = sum_problem(result, args.seed, n_ranks, args.d)
    (status.dir / f"rank{rank}.json").write_text(
        json.dumps(
            {
                "rank": rank,
                "bytes_sent": comm.bytes_sent,
                "messages_sent": comm.messages_sent,
                "sum_ok": problem is None,
                "max_abs_error": max_error,
                "problem": problem,
            }
        )
    )
    report("done")


if __name__ == "__main__":
    main()
