"""The cost of grading: seconds per submission, a class of 100, and the overhead against
simply executing the same notebook in a Jupyter kernel (what otter or nbgrader would do).

    .venv/bin/python benchmarks/bench_grading.py [--quick] [--class-size 100] [--jobs 2]

1. One submission, graded serially (static read, record pass, probe, replay), median of a
   few runs, with the probe in the bubblewrap sandbox and, same run, as a plain subprocess
   (the previous local engine, now `--unsafe-no-sandbox`): the sandbox's cost per
   submission (aim: at most 1.5 s added). The same notebook executed with nbclient (a fresh
   kernel, every cell, the real `lab` and `otter` in the setup cell); their ratio.
2. A class of --class-size notebooks with different LMS ids (solved and buggy, mixed),
   graded with --jobs workers: wall time, per submission, and against the serial nbclient
   estimate for the same class.
Prints figures only; nothing is asserted. --quick: a smoke run (a class of 6).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the notebook factory the tests use

from adversarial import notebooks as nbs  # noqa: E402

from commslab.grading import isolation  # noqa: E402
from commslab.grading.grade import grade_notebook  # noqa: E402
from commslab.grading.lms import Entry  # noqa: E402
from commslab.grading.report import grade_batch  # noqa: E402

TERM = "2026-fall"
KEY = b"benchmark-key"
AUTOGRADER = ROOT / "autograder"


def _execute(path: Path) -> float:
    """Seconds to run every cell of the notebook in a fresh python3 kernel (nbclient)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    return time.perf_counter() - start


def _grade(path: Path, student_id: str, launcher=None) -> float:
    start = time.perf_counter()
    result = grade_notebook(
        path,
        term=TERM,
        student_id=student_id,
        autograder_dir=AUTOGRADER,
        key=KEY,
        launcher=launcher,
    )
    assert result.status == "graded", result.status
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--class-size", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    size = 6 if args.quick else args.class_size
    repeats = 2 if args.quick else 5

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        one = nbs.write(nbs.solved_notebook("1000001"), folder / "one.ipynb")
        _grade(one, "1000001")  # warm up: imports (otter, comms_core) and the first probe
        graded = [_grade(one, "1000001") for _ in range(repeats)]
        unsafe = [_grade(one, "1000001", isolation.Unsandboxed()) for _ in range(repeats)]
        executed = [_execute(one) for _ in range(repeats)]
        per_grade, per_run = statistics.median(graded), statistics.median(executed)
        per_unsafe = statistics.median(unsafe)
        print("== one submission (median of", repeats, "runs)")
        print(f"   grading, probe in the bubblewrap sandbox:      {per_grade:6.2f} s")
        print(f"   grading, probe unsandboxed (previous engine):  {per_unsafe:6.2f} s")
        print(f"   added by the sandbox:                          {per_grade - per_unsafe:6.2f} s")
        print(f"   nbclient, executing the same notebook:         {per_run:6.2f} s")
        print(f"   ratio grading / executing:                     {per_grade / per_run:6.2f}")

        entries = []
        for i in range(size):
            sid = str(2_000_000 + i)
            maker = nbs.solved_notebook if i % 2 == 0 else nbs.buggy_notebook
            path = nbs.write(maker(sid), folder / "class" / f"student_{sid}.ipynb")
            entries.append(Entry(path, path.name, sid))
        start = time.perf_counter()
        results = grade_batch(
            entries, term=TERM, autograder_dir=AUTOGRADER, jobs=args.jobs, key=KEY
        )
        wall = time.perf_counter() - start
        statuses = {r.status for r in results}
        print(f"== a class of {size}, --jobs {args.jobs} ({', '.join(sorted(statuses))})")
        print(f"   wall time:                                      {wall:6.1f} s")
        print(f"   per submission:                                 {wall / size:6.2f} s")
        estimate = per_run * size / args.jobs
        print(f"   nbclient estimate, {args.jobs} kernels in parallel:       {estimate:6.1f} s")
        print(f"   ratio grading / executing (class):              {wall / estimate:6.2f}")


if __name__ == "__main__":
    main()
