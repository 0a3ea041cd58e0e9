"""The MPI bonus's data is the instructor's secret (issue 20): drawn per student, term and run
from the instructor key, so no student can compute the exact sum ahead, and never 0 (the open
seed of the notebook's own check). The seed reaches the ranks in a file, not on a command
line (which /proc shows to every process, a hosted grader's sandbox user included)."""

from __future__ import annotations

import sys

import pytest

from commslab.grading.bonus_step import bonus_seed


def test_the_seed_depends_on_key_term_student_and_run() -> None:
    base = bonus_seed(b"key", "2026-fall", "1234567", 2)
    assert base == bonus_seed(b"key", "2026-fall", "1234567", 2)  # regrading gives the same
    others = {
        bonus_seed(b"other key", "2026-fall", "1234567", 2),
        bonus_seed(b"key", "2027-spring", "1234567", 2),
        bonus_seed(b"key", "2026-fall", "7654321", 2),
        bonus_seed(b"key", "2026-fall", "1234567", 3),  # the two runs: different data
    }
    assert base not in others and len(others) == 4
    assert 0 not in others | {base}


def test_the_ranks_read_the_seed_from_a_file(tmp_path, monkeypatch) -> None:
    from commslab.mpi.bonus_runner import arguments

    seed_file = tmp_path / "seed"
    seed_file.write_text("987654321")
    argv = ["x", "--student", "s.py", "--d", "10", "--status-dir", "d"]
    monkeypatch.setattr(sys, "argv", [*argv, "--seed-file", str(seed_file)])
    assert arguments().seed == 987654321
    monkeypatch.setattr(sys, "argv", argv)
    assert arguments().seed == 0  # the notebook's own check


@pytest.mark.parametrize("ranks", [2, 3])
def test_the_grader_passes_no_seed_on_the_command_line(ranks, monkeypatch) -> None:
    from commslab.mpi import bonus, launch

    seen = {}

    def fake_run(args, n, **kwargs):
        seen["args"] = list(args)
        seen["seed"] = open(args[args.index("--seed-file") + 1]).read()
        raise launch.MPIUnavailable("stop here")

    monkeypatch.setattr(launch, "run_mpi", fake_run)
    code = "def my_ring_allreduce(comm, buffer):\n    return buffer\n"
    with pytest.raises(launch.MPIUnavailable):
        bonus.grade_bonus_ring(code, ranks=ranks, d=100, seed=424242, sandbox="bubblewrap")
    assert seen["seed"] == "424242"
    assert "424242" not in " ".join(seen["args"]) and "--seed" not in seen["args"]
