"""The MPI bonus in the TA's batch (`commslab grade`): real MPI ranks, the student's code of
each rank in its own sandbox (the batch's: bubblewrap, a podman container, or uid 65534 as on
a hosted grader), the bytes counted by the grader's relay.

A class of six notebooks, all otherwise solved: a correct ring earns the bonus; too many
bytes, a wrong sum, a collective, a deadlock, a crash, and code that reaches for the grader's
files or the counter earn nothing, and no notebook's main score moves. The expected bytes are
the textbook ring's (Patarasuk & Yuan 2009): every rank sends 2(N-1)/N·M when N divides d.
"""

from __future__ import annotations

import csv
import os
import time

import pytest
from adversarial import notebooks as nbs
from adversarial.corpus import BONUS_PRECOMPUTE as PRECOMPUTE
from mpi_support import needs_mpi

from commslab.grading import outputs_gradebooks, pipeline
from commslab.grading.grade import default_autograder_dir
from commslab.grading.lms import Entry

pytestmark = [pytest.mark.slow, pytest.mark.mpi, needs_mpi]

TERM = nbs.TERM
KEY = b"bonus-batch-key"

RING = nbs.HONEST_BONUS_RING
EVERYONE_SENDS_EVERYTHING = """
def my_ring_allreduce(comm, buffer):
    r, n = comm.Get_rank(), comm.Get_size()
    total = buffer.copy()
    for step in range(1, n):
        incoming = np.empty_like(buffer)
        comm.Sendrecv(buffer, dest=(r + step) % n, recvbuf=incoming, source=(r - step) % n)
        total += incoming
    return total
"""
WRONG_SUM = RING.replace("chunks[j] = chunks[j] + incoming", "chunks[j] = incoming")
COLLECTIVE = """
def my_ring_allreduce(comm, buffer):
    out = np.empty_like(buffer)
    comm.Allreduce(buffer, out)
    return out
"""
DEADLOCK = """
def my_ring_allreduce(comm, buffer):
    r, n = comm.Get_rank(), comm.Get_size()
    incoming = np.empty_like(buffer)
    comm.Recv(incoming, source=(r - 1) % n)
    comm.Send(buffer, dest=(r + 1) % n)
    return buffer + incoming
"""
CRASH = """
import os
def my_ring_allreduce(comm, buffer):
    os._exit(3)
"""
REACH = """
import glob, os
def my_ring_allreduce(comm, buffer):
    leaks = []
    for pattern in ('/tmp/*/status/*', '/tmp/commslab-*/*', '/work/*/autograder/*', '/root/*'):
        leaks += glob.glob(pattern)
    comm.bytes_sent = 0          # the counter is not here to forge
    import mpi4py.MPI as MPI     # the stand-in: no real MPI in the sandbox
    if leaks:
        return buffer * 0        # a leak would show as a wrong sum
    return RING_RESULT(comm, buffer)
""" + RING.replace("def my_ring_allreduce", "def RING_RESULT")

FORGE = """
import glob, json, os
def my_ring_allreduce(comm, buffer):
    n = comm.Get_size()
    forged = {"bytes_sent": 0, "sum_ok": True, "max_abs_error": 0.0, "problem": None}
    for status in glob.glob('/tmp/*/status') + glob.glob('/tmp/commslab-*/status'):
        for r in range(n):
            try:
                with open(os.path.join(status, f'rank{r}.json'), 'w') as f:
                    json.dump({**forged, "rank": r}, f)
            except OSError:
                pass
    comm.bytes_sent = 2 * (n - 1) * buffer.nbytes // n   # the counter is not here to forge
    return buffer * n                                    # a wrong sum, and no message sent
"""

# A ring's messages, but a result that does not come from them.
IGNORES_WHAT_IT_RECEIVED = RING.replace("return np.concatenate(chunks)", "return buffer * n")

CASES = {
    "ring": (RING, 4.0),
    # right sum; (N-1)·M bytes per rank: a ring's at N = 2, too many at N = 3
    "too_many_bytes": (EVERYONE_SENDS_EVERYTHING, 3.0),
    "wrong_sum": (WRONG_SUM, 2.0),  # ring bytes, wrong sum
    "collective": (COLLECTIVE, 0.0),
    "deadlock": (DEADLOCK, 0.0),
    "crash": (CRASH, 0.0),
    "reach": (REACH, 4.0),  # finds nothing, forges nothing: an honest ring underneath
    "forge": (FORGE, 0.0),  # the verdict files are the relay's, out of the sandbox's reach
    "precompute": (PRECOMPUTE, 2.0),  # ring bytes; the sum of seed 0's data is not the sum
    "ignores_received": (IGNORES_WHAT_IT_RECEIVED, 2.0),  # ring bytes, a sum of nothing
}


def test_the_bonus_is_graded_in_the_batch_on_real_ranks(tmp_path) -> None:
    entries = []
    for i, (name, (code, _)) in enumerate(CASES.items()):
        sid = str(5000 + i)
        nb = nbs.solved_notebook(sid, replace={"bonus_ring": code})
        entries.append(Entry(nbs.write(nb, tmp_path / f"{name}.ipynb"), name, sid))
    plain = nbs.write(nbs.solved_notebook("5999"), tmp_path / "no_bonus.ipynb")
    entries.append(Entry(plain, "no_bonus", "5999"))
    results = pipeline.grade(
        entries, term=TERM, autograder_dir=default_autograder_dir(), jobs=2, key=KEY
    )
    assert len(results) == len(entries)  # one row each, the batch finished
    rows = {r.file: r for r in results}
    for name, (_, expected) in CASES.items():
        row = rows[name]
        assert row.score == row.max_score == 35, (name, row.status, row.feedback)
        assert row.bonus_max == 4.0 and row.bonus == expected, (name, row.bonus, row.feedback)
        assert [run.ranks for run in row.bonus_run.runs] == [2, 3], name
    assert rows["no_bonus"].bonus_max == 0 and rows["no_bonus"].score == 35
    assert rows["no_bonus"].bonus_run is None

    def said(row):
        return [m for run in row.bonus_run.runs for m in run.messages]

    assert any("deadlock" in line for line in said(rows["deadlock"]))
    assert any("Allreduce is not allowed" in line for line in said(rows["collective"]))

    outputs_gradebooks.write_outputs(results, tmp_path / "out")
    with open(tmp_path / "out" / "grades.csv", newline="", encoding="utf-8") as f:
        grades = {row["student_id"]: row for row in csv.DictReader(f)}
    assert grades["5000"]["bonus"] == "4" and grades["5000"]["score"] == "35"
    assert grades["5999"]["bonus"] == ""
    with open(tmp_path / "out" / "gradebook_canvas.csv", newline="", encoding="utf-8") as f:
        canvas = list(csv.reader(f))
    assert canvas[0][-1].endswith("bonus") and canvas[1][-1] == "0"  # extra credit in Canvas


def test_where_the_sandbox_cannot_run_the_bonus_is_not_graded_rather_than_zero(
    tmp_path, monkeypatch
) -> None:
    from commslab.grading import bonus_step, isolation
    from commslab.grading.notebook import read_submission

    def unavailable(self):
        raise isolation.SandboxUnavailable("bubblewrap could not create the sandbox. fix it")

    monkeypatch.setattr(isolation.Bubblewrap, "check", unavailable)
    nb = nbs.solved_notebook("6001", replace={"bonus_ring": RING})
    sub = read_submission(nbs.write(nb, tmp_path / "nb.ipynb"))
    grade = bonus_step.grade_bonus(sub, isolation.Bubblewrap())
    assert grade is not None and not grade.graded
    assert grade.note == "bubblewrap could not create the sandbox" and not grade.runs


# The same checks in every engine (issue 15): a correct ring, code reaching for the grader's
# files or forging the verdict and the counter, and a deadlock, with the ranks' code in a podman
# container and as the hosted graders' unprivileged user. (A hosted grader also locks the
# autograder folder and the grader's packages away from that user, hosted.lock_down; this test
# cannot do that to the checkout other tests run from, so there the forger is the adversary.)


def _bonus_in(launcher, tmp_path, cases: tuple[str, ...]) -> dict[str, float]:
    from commslab.grading import bonus_step
    from commslab.grading.notebook import read_submission

    got = {}
    for name in cases:
        nb = nbs.solved_notebook("6100", replace={"bonus_ring": CASES[name][0]})
        sub = read_submission(nbs.write(nb, tmp_path / f"{name}.ipynb"))
        grade = bonus_step.grade_bonus(sub, launcher)
        assert grade is not None and grade.graded, (name, grade)
        got[name] = grade.points
    return got


@pytest.mark.container
def test_the_bonus_ranks_run_in_the_grading_container(grader_image, tmp_path) -> None:
    import subprocess

    from commslab.grading import container

    launcher = container.ContainerLauncher("podman", image=grader_image)
    cases = ("ring", "reach", "forge", "deadlock")
    got = _bonus_in(launcher, tmp_path, cases)
    assert got == {name: CASES[name][1] for name in cases}
    # a deadlocked rank's relay is killed by mpiexec's time limit; its container reads
    # end-of-file on stdin, exits and is removed (--rm) within seconds
    for _ in range(60):
        left = subprocess.run(
            ["podman", "ps", "-a", "--filter", "name=comms-lab-relay-rank-", "--format={{.Names}}"],
            capture_output=True, text=True, env=container.engine_env("podman"), check=True,
        )  # fmt: skip
        if not left.stdout.strip():
            break
        time.sleep(1)
    assert left.stdout.strip() == "", "a rank's container outlived its run by a minute"


@pytest.mark.skipif(os.geteuid() != 0, reason="a hosted grader runs as root")
def test_the_bonus_ranks_run_as_the_hosted_graders_unprivileged_user(tmp_path) -> None:
    from commslab.grading import hosted

    cases = ("ring", "forge", "deadlock")
    got = _bonus_in(hosted.UnprivilegedUser(), tmp_path, cases)
    assert got == {name: CASES[name][1] for name in cases}


def test_the_precomputed_sum_earned_everything_with_the_open_seed() -> None:
    """The cheat is real: with the notebook's open seed 0 (the grader's data before issue 20)
    it earns 4 / 4, like an honest ring; the batch test above shows it earns 2 now."""
    from commslab.mpi.bonus import grade_bonus_ring

    run = grade_bonus_ring(PRECOMPUTE, ranks=2, d=1000, seed=0, timeout=15, sandbox="bubblewrap")
    assert run.score == run.max_score == 4.0, run.messages
    run = grade_bonus_ring(
        PRECOMPUTE, ranks=2, d=1000, seed=12345, timeout=15, sandbox="bubblewrap"
    )
    assert run.score == 2.0 and "differs from the exact sum" in " ".join(run.messages)
