"""The bonus exercise: ring AllReduce from point-to-point calls, graded on real MPI ranks.

The student writes

    def my_ring_allreduce(comm, buffer: np.ndarray) -> np.ndarray

where comm is a ByteCountingComm (point-to-point only; collectives are refused) and
buffer is this rank's float64 vector of d values. grade_bonus_ring runs it under
mpiexec on N ranks with seeded random data and awards points for two checks:

    exact sum       every rank returns the element-wise sum over ranks (np.allclose,
                    rtol = atol = 1e-12)                                   2 points
    ring bytes      every rank sends what a ring sends: 2(N-1)/N·M bytes, M = 8·d   2 points

When N does not divide d the chunks (np.array_split) differ by one element, so a rank
sends the N-1 chunks it forwards in each phase: between 2(M - largest chunk) and
2(M - smallest chunk) bytes, and all ranks together exactly 2(N-1)·M (every chunk
travels N-1 hops in the reduce-scatter and N-1 in the all-gather; Patarasuk & Yuan
2009). Code that does not parse, lacks the function, calls a collective, raises,
deadlocks (the run is stopped after `timeout` seconds) or crashes scores 0 with a
message saying which. The grader runs the student's code as it is: it is a teaching
aid for a trusted course setting, not a sandbox.
"""

from __future__ import annotations

import ast
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from commslab.mpi import launch

__all__ = ["BONUS_TEMPLATE", "BonusResult", "grade_bonus_ring", "ring_bytes_per_rank"]

SUM_POINTS = 2.0
BYTES_POINTS = 2.0
ITEMSIZE = 8  # float64

BONUS_TEMPLATE = '''import numpy as np


def my_ring_allreduce(comm, buffer: np.ndarray) -> np.ndarray:
    """Ring AllReduce with point-to-point calls only.

    comm offers comm.Get_rank(), comm.Get_size(), comm.Sendrecv, comm.Send, comm.Recv
    (collectives such as comm.Allreduce are refused). buffer is this rank's float64
    vector. Return the element-wise sum over all ranks. Split the vector into N chunks
    with np.array_split, then: N-1 reduce-scatter steps (send one chunk to the right,
    receive one from the left, add it), then N-1 all-gather steps (pass the finished
    chunks around). Each rank must send 2(N-1)/N of the buffer's bytes in all.
    """
    raise NotImplementedError
'''


@dataclass
class BonusResult:
    """The grade: score out of max_score, a status word and a message per failed check."""

    score: float
    max_score: float
    status: str  # ok, partial, syntax_error, missing_function, error, timeout, crashed
    messages: list[str] = field(default_factory=list)
    bytes_sent: list[int | None] = field(default_factory=list)
    expected_bytes: list[int] = field(default_factory=list)
    ranks: int = 0
    d: int = 0


def _chunk_sizes(d: int, N: int) -> np.ndarray:
    """Elements per chunk under np.array_split(·, N): the first d mod N get one more."""
    return np.array([d // N + (i < d % N) for i in range(N)], dtype=np.int64)


def ring_bytes_per_rank(d: int, N: int, itemsize: int = ITEMSIZE) -> list[int]:
    """Bytes each rank sends in the textbook ring on np.array_split chunks.

    Reduce-scatter step s (s = 0..N-2): rank r sends chunk (r - s) mod N; all-gather
    step s: chunk (r + 1 - s) mod N. When N divides d this is 2(N-1)/N·M for every rank.
    """
    c = _chunk_sizes(d, N)
    return [
        int(itemsize * sum(c[(r - s) % N] + c[(r + 1 - s) % N] for s in range(N - 1)))
        for r in range(N)
    ]


def _read_source(source_code_or_path: str | Path) -> str:
    if isinstance(source_code_or_path, Path):
        return source_code_or_path.read_text()
    text = str(source_code_or_path)
    if "\n" not in text and text.endswith(".py") and Path(text).is_file():
        return Path(text).read_text()
    return text


def _static_problem(source: str) -> tuple[str, str] | None:
    """(status, message) if the code does not parse or lacks the function, else None."""
    try:
        tree = ast.parse(source, filename="my_ring.py")
    except SyntaxError as err:
        return "syntax_error", f"your code does not parse: line {err.lineno}: {err.msg}"
    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    if "my_ring_allreduce" not in names:
        return "missing_function", "define a top-level function my_ring_allreduce(comm, buffer)"
    return None


def grade_bonus_ring(
    source_code_or_path: str | Path,
    ranks: int = 2,
    d: int = 1000,
    *,
    seed: int = 0,
    timeout: float = 60.0,
    sandbox: str | None = None,
) -> BonusResult:
    """Run the student's my_ring_allreduce on `ranks` MPI ranks and grade it.

    source_code_or_path: the code as a string, or a path to a .py file. d: values per rank.
    seed: the ranks' data (bonus_runner.rank_data). The grader draws it per student, term and
    run from the instructor key (commslab.grading.bonus_step.bonus_seed), so the exact sum
    cannot be computed ahead: a rank knows it only from the bytes the others send. It reaches
    the ranks in a file of the grader's private temporary folder, not on a command line.
    sandbox: the grader's way (`commslab grade`), the spec of the batch's sandbox
    (`bubblewrap`, `unprivileged-user`, `podman=IMAGE`, `docker=IMAGE`; grading/sandbox.py):
    each rank's student code runs in its own sandbox and a relay on the grader's side makes
    the MPI calls and counts the bytes (bonus_relay.py). None (the student's own check in the
    notebook): the code runs in the rank with a counting wrapper (bonus_runner.py).
    Raises launch.MPIUnavailable when MPI cannot run on this machine (not the student's
    fault, so not a zero).
    """
    if not isinstance(ranks, int) or isinstance(ranks, bool) or not 2 <= ranks <= 64:
        raise ValueError(f"ranks must be an integer in 2..64, got {ranks!r}")
    if not isinstance(d, int) or isinstance(d, bool) or d < ranks:
        raise ValueError(f"d must be an integer >= ranks ({ranks}), got {d!r}")
    max_score = SUM_POINTS + BYTES_POINTS
    expected = ring_bytes_per_rank(d, ranks)
    result = BonusResult(
        score=0.0, max_score=max_score, status="ok", ranks=ranks, d=d, expected_bytes=expected
    )
    source = _read_source(source_code_or_path)
    static = _static_problem(source)
    if static:
        result.status, message = static
        result.messages.append(message)
        return result

    with tempfile.TemporaryDirectory(prefix="commslab-bonus-") as tmp:
        student = Path(tmp) / "my_ring.py"
        student.write_text(source)
        status_dir = Path(tmp) / "status"
        seed_file = Path(tmp) / "seed"  # in the grader's private folder (mode 0700)
        seed_file.write_text(str(int(seed)), encoding="utf-8")
        run = launch.run_mpi(
            [
                "-m",
                "commslab.mpi.bonus_runner" if sandbox is None else "commslab.mpi.bonus_relay",
                "--student",
                str(student),
                "--d",
                str(d),
                "--seed-file",
                str(seed_file),
                *([] if sandbox is None else ["--sandbox", sandbox]),
            ],
            ranks,
            timeout=timeout,
            transport="shm",
            status_dir=status_dir,
        )
        error_file = status_dir / "error.txt"
        reports = {}
        for r in range(ranks):
            path = status_dir / f"rank{r}.json"
            if path.exists():
                reports[r] = json.loads(path.read_text())
        if run.timed_out:
            result.status = "timeout"
            result.messages.append(
                f"my_ring_allreduce did not finish within {timeout:.0f} s on {ranks} ranks: "
                "a deadlock? (if every rank calls Recv before Send, all wait forever; "
                "use comm.Sendrecv)"
            )
            return result
        if error_file.exists():
            result.status = "error"
            result.messages.append(error_file.read_text().strip())
            return result
        if len(reports) < ranks:
            result.status = "crashed"
            result.messages.append(launch.describe_failure(run, "the ring") or "a rank crashed")
            return result

    sent = [reports[r]["bytes_sent"] for r in range(ranks)]
    result.bytes_sent = sent
    problems = [
        f"rank {r}: {reports[r]['problem']}" for r in range(ranks) if not reports[r]["sum_ok"]
    ]
    if problems:
        result.messages += problems
    else:
        result.score += SUM_POINTS

    M = ITEMSIZE * d
    c = _chunk_sizes(d, ranks) * ITEMSIZE
    low, high = 2 * (M - int(c.max())), 2 * (M - int(c.min()))
    total_ok = sum(sent) == 2 * (ranks - 1) * M
    wrong = [r for r in range(ranks) if not low <= sent[r] <= high]
    if total_ok and not wrong:
        result.score += BYTES_POINTS
    else:
        share = f"2(N-1)/N·M = {2 * (ranks - 1) * M / ranks:g} bytes (M = 8·d = {M} bytes)"
        for r in wrong or range(ranks):
            result.messages.append(
                f"rank {r} sent {sent[r]} bytes; a ring sends {expected[r]} here, {share}"
            )
    if result.score < max_score:
        result.status = "partial"
    return result
