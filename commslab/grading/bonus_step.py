"""The MPI bonus in the TA's batch: a submission's `my_ring_allreduce`, run on 2 and 3 real MPI
ranks with every rank's student code in its own OS sandbox (commslab/mpi/bonus_relay.py).

    grade_bonus(sub, launcher) -> records.Bonus | None     (None: the bonus was not tried)

Points are extra credit, a column of their own (not part of max_score): each run is worth
`BONUS_POINTS` (exact sum on every rank, and 2(N-1)/N·M bytes sent per rank, counted on the
grader's side), and the bonus is the mean over the two runs. Each run's data is drawn from
the instructor key for this student and term (bonus_seed): a precomputed sum is wrong.
A submission that does not define `my_ring_allreduce` in its bonus cell has not tried it.
The ranks' student code runs in the batch's own sandbox (bubblewrap, a podman/docker
container, or uid 65534 on a hosted grader); where MPI or that sandbox cannot run on the
grading machine, the row says "not graded here" instead of giving 0.
"""

from __future__ import annotations

import ast

from commslab.grading import isolation
from commslab.grading.notebook import Submission, parse_python
from commslab.grading.records import Bonus, BonusRun
from commslab.grading.sandbox import Launcher

BONUS_CELL = "bonus_ring"
RANKS = (2, 3)
D = 1000  # values per rank: divisible by 2, not by 3 (uneven chunks are exercised)
TIMEOUT = 15.0  # seconds per run (a ring takes 2-4 s here); a deadlock ends here


def bonus_source(sub: Submission) -> str | None:
    """The bonus cell's code if it defines my_ring_allreduce beyond the released stub
    (else None: not tried)."""
    for cell in sub.cells:
        if cell.grade_id != BONUS_CELL:
            continue
        try:
            tree = parse_python(cell.python)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return cell.python  # tried, but broken: the run says why
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == "my_ring_allreduce":
                return None if _is_stub(node) else cell.python
    return None


def _is_stub(function: ast.FunctionDef) -> bool:
    """The released stub: a docstring (maybe) and `raise NotImplementedError(...)` only."""
    body = [
        node
        for node in function.body
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return not body  # an empty body (docstring only) is not an attempt either
    exc = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def bonus_seed(key: bytes, term: str, student_id: str, ranks: int) -> int:
    """The seed of one run's data: from the instructor key, the term, the LMS id and the
    number of ranks (harness.Cases, as every hidden input), so no student can compute the sum
    ahead (the notebook's own check uses seed 0, in the open), and the two runs have
    different data: a ring whose result does not come from the bytes it received fails both."""
    from commslab.grading.harness import Cases

    rng = Cases(key, term, student_id, "bonus_ring")(f"{ranks} ranks")
    return int(rng.integers(1, 2**62))


def grade_bonus(
    sub: Submission,
    launcher: Launcher,
    *,
    key: bytes | None = None,
    term: str = "",
    student_id: str = "",
) -> Bonus | None:
    """launcher: the batch's sandbox; isolation.Unsandboxed (`--unsafe-no-sandbox`) runs the
    ranks' code unsandboxed too, with the student's own counting wrapper. key, term,
    student_id: what the runs' data is drawn from (bonus_seed); without a key, seed 0."""
    from commslab.grading.container import ContainerEngineError
    from commslab.mpi import bonus, launch

    source = bonus_source(sub) if sub.ok else None
    if source is None:
        return None
    per_run = bonus.SUM_POINTS + bonus.BYTES_POINTS
    sandbox = None
    if not isinstance(launcher, isolation.Unsandboxed):
        try:
            launcher.check()
            sandbox = launcher.spec()
        except (isolation.SandboxUnavailable, ContainerEngineError) as err:
            why = str(err).split(". ")[0]
            return Bonus(0.0, per_run, graded=False, note=why)
    grade = Bonus(points=0.0, possible=per_run)
    total = 0.0
    for ranks in RANKS:
        seed = 0 if key is None else bonus_seed(key, term, student_id, ranks)
        try:
            run = bonus.grade_bonus_ring(
                source, ranks=ranks, d=D, seed=seed, timeout=TIMEOUT, sandbox=sandbox
            )
        except launch.MPIUnavailable as err:
            return Bonus(0.0, per_run, graded=False, note=str(err))
        total += run.score
        verdict = "ok" if run.score == run.max_score else run.status
        grade.runs.append(BonusRun(ranks, run.score, run.max_score, verdict, list(run.messages)))
    grade.points = total / len(RANKS)
    return grade
