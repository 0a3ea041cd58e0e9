"""The bonus exercise: ByteCountingComm, the expected byte counts, and the grader on real
MPI ranks with a correct ring and broken ones (slow, mpi)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from mpi_support import needs_mpi

from comms_core.simulator import simulate_ring_allreduce
from commslab.mpi.bonus import BONUS_TEMPLATE, grade_bonus_ring, ring_bytes_per_rank
from commslab.mpi.counting_comm import ByteCountingComm, CollectiveRefused, message_bytes

DATA = Path(__file__).parent / "data"


def real_mpi(test):
    """Runs real MPI ranks: slow, mpi, and skipped where MPI is not installed."""
    return needs_mpi(pytest.mark.slow(pytest.mark.mpi(test)))


# --- what a ring sends ---------------------------------------------------------------------


@pytest.mark.parametrize(("N", "d"), [(2, 1000), (3, 1001), (4, 4), (5, 17), (7, 100)])
def test_expected_bytes_agree_with_the_simulator(N, d):
    """Two independent countings: the grader's formula and comms_core's simulated ring."""
    trace = simulate_ring_allreduce(np.zeros((N, d)))
    assert ring_bytes_per_rank(d, N) == trace.bytes_sent.tolist()
    assert sum(ring_bytes_per_rank(d, N)) == 2 * (N - 1) * 8 * d


def test_when_n_divides_d_every_rank_sends_2_n_minus_1_over_n_of_the_buffer():
    for N in (2, 4, 8):
        M = 8 * 64
        assert ring_bytes_per_rank(64, N) == [2 * (N - 1) * M // N] * N


# --- the counting communicator, on a stand-in for mpi4py ----------------------------------


class FakeDatatype:
    def __init__(self, size):
        self.size = size

    def Get_size(self):
        return self.size


class FakeComm:
    """Records what reaches it, like an mpi4py communicator would receive it."""

    def __init__(self):
        self.calls = []

    def Get_rank(self):
        return 3

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))


def test_sends_are_counted_and_forwarded_untouched():
    fake = FakeComm()
    comm = ByteCountingComm(fake)
    a = np.zeros(10)  # 80 bytes
    comm.Send(a, dest=1, tag=5)
    comm.Sendrecv(a[:4], dest=1, recvbuf=np.empty(4), source=0)
    comm.Isend([a, FakeDatatype(8)], 1)
    comm.Send([a, 3, FakeDatatype(8)], 1)  # [buf, count, datatype]: 24 bytes
    comm.send(a, dest=1)
    comm.Sendrecv(sendbuf=a, dest=1)
    assert comm.bytes_sent == 80 + 32 + 80 + 24 + 80 + 80
    assert comm.messages_sent == 6
    assert [c[0] for c in fake.calls] == ["Send", "Sendrecv", "Isend", "Send", "send", "Sendrecv"]
    assert fake.calls[0][2] == {"dest": 1, "tag": 5}
    assert comm.Get_rank() == 3


def test_receives_cost_nothing():
    comm = ByteCountingComm(FakeComm())
    comm.Recv(np.empty(100), source=0)
    assert comm.bytes_sent == 0


@pytest.mark.parametrize(
    "name",
    [
        "Allreduce",
        "allreduce",
        "Reduce",
        "Bcast",
        "bcast",
        "Allgather",
        "Reduce_scatter",
        "Iallreduce",
        "Alltoall",
    ],
)
def test_collectives_are_refused_with_a_pointer_to_point_to_point(name):
    comm = ByteCountingComm(FakeComm())
    with pytest.raises(CollectiveRefused, match=r"use comm\.Sendrecv"):
        getattr(comm, name)


def test_anything_else_is_not_offered():
    with pytest.raises(AttributeError, match="point-to-point"):
        _ = ByteCountingComm(FakeComm()).Put


def test_message_bytes_of_plain_buffers():
    assert message_bytes(np.zeros((3, 4), dtype=np.float32)) == 48
    assert message_bytes(b"abcd") == 4
    assert message_bytes([np.zeros(8), (2, 0), FakeDatatype(8)]) == 16


# --- the grader: what it can say without MPI -----------------------------------------------


def test_code_that_does_not_parse_scores_zero_with_the_line():
    result = grade_bonus_ring("def my_ring_allreduce(comm, buffer)\n    return buffer\n")
    assert result.score == 0 and result.status == "syntax_error"
    assert "line 1" in result.messages[0]


def test_code_without_the_function_scores_zero():
    result = grade_bonus_ring("def my_ring(comm, buffer):\n    return buffer\n")
    assert result.status == "missing_function" and result.score == 0
    assert "my_ring_allreduce" in result.messages[0]


def test_the_template_parses_and_defines_the_function():
    import ast

    tree = ast.parse(BONUS_TEMPLATE)
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef)] == ["my_ring_allreduce"]


@pytest.mark.parametrize(("ranks", "d"), [(1, 10), (2, 1), (True, 10)])
def test_bad_grader_arguments(ranks, d):
    with pytest.raises(ValueError):
        grade_bonus_ring(DATA / "bonus_ring_good.py", ranks=ranks, d=d)


# --- the grader on real MPI ranks ----------------------------------------------------------


@real_mpi
@pytest.mark.parametrize(("ranks", "d"), [(2, 1000), (3, 1001)])
@pytest.mark.parametrize("as_path", [True, False])
def test_a_correct_ring_gets_full_marks(ranks, d, as_path):
    source = DATA / "bonus_ring_good.py"
    result = grade_bonus_ring(source if as_path else source.read_text(), ranks=ranks, d=d)
    assert (result.score, result.status) == (result.max_score, "ok"), result.messages
    assert result.bytes_sent == ring_bytes_per_rank(d, ranks)


@real_mpi
def test_a_ring_that_sends_whole_buffers_loses_the_byte_points():
    result = grade_bonus_ring(DATA / "bonus_ring_too_many_bytes.py", ranks=2, d=1000)
    assert result.score == 2.0 and result.status == "partial"
    assert result.bytes_sent == [16000, 16000]
    assert any("sent 16000 bytes; a ring sends 8000" in m for m in result.messages)


@real_mpi
def test_a_ring_with_a_wrong_sum_loses_the_sum_points():
    result = grade_bonus_ring(DATA / "bonus_ring_wrong_sum.py", ranks=3, d=1001)
    assert result.score == 2.0 and result.status == "partial"
    assert result.bytes_sent == ring_bytes_per_rank(1001, 3), "the bytes are right"
    assert any("differs from the exact sum" in m for m in result.messages)


@real_mpi
def test_a_collective_is_refused_with_a_clear_message():
    result = grade_bonus_ring(DATA / "bonus_ring_collective.py", ranks=2)
    assert result.score == 0 and result.status == "error"
    assert "Allreduce is a collective" in result.messages[0]


@real_mpi
def test_a_deadlock_is_stopped_at_the_timeout():
    result = grade_bonus_ring(DATA / "bonus_ring_deadlock.py", ranks=2, timeout=4)
    assert result.score == 0 and result.status == "timeout"
    assert "deadlock" in result.messages[0]


def _unmapped_new_segments(before: set[Path]) -> set[Path]:
    """MPICH segments in /dev/shm that appeared since `before` and no live process maps: the
    ones a killed or aborted run leaked (they hold RAM until reboot)."""
    mapped = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        try:
            mapped |= {line.split()[-1] for line in maps.read_text().splitlines()}
        except OSError:
            continue
    now = set(Path("/dev/shm").glob("mpich_shm_*"))
    return {p for p in now - before if str(p) not in mapped and _age(p) > 1}


def _age(path: Path) -> float:
    """Seconds since the file last changed (a concurrent run maps a new segment at once)."""
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


@real_mpi
@pytest.mark.parametrize("case", ["bonus_ring_deadlock", "bonus_ring_collective"])
def test_a_killed_or_aborted_run_leaves_no_shared_memory_behind(case):
    """Found leaking: every deadlock (killed at the timeout) and every refused collective
    (MPI_Abort) left a 1-2 MB MPICH segment in /dev/shm for good."""
    before = set(Path("/dev/shm").glob("mpich_shm_*"))
    result = grade_bonus_ring(DATA / f"{case}.py", ranks=3, timeout=4)
    assert result.score == 0
    time.sleep(1.1)  # every segment of this run is now over a second old
    assert _unmapped_new_segments(before) == set()


@real_mpi
def test_an_exception_in_the_ring_is_reported():
    code = "def my_ring_allreduce(comm, buffer):\n    raise KeyError('oops')\n"
    result = grade_bonus_ring(code, ranks=2)
    assert result.status == "error" and "KeyError" in result.messages[0]
