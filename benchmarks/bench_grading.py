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
3. Similarity (issue 20), what `commslab grade` adds after grading: near-identical written
   answers for 1,000 students x 4 answers of 300 words (a few planted copies), as finalise
   (written.class_flags) and the similarity page (written.near_pairs) compute them; and two
   answers of 20,000 words (the case that took 220 s with difflib). Beside the grading time
   of the same batch: measured when --class-size is 1000, else estimated from section 2's
   time per submission (aims: similarity under 5% of the batch, two huge answers under 1 s).
   The grader's memory (resident set) is sampled while the class is graded: it should stay
   flat, not grow with the number of submissions.
Prints figures only; nothing is asserted. --quick: a smoke run (a class of 6).
--similarity-only: section 3 alone, with section 2's time taken from --seconds-per-submission.
The machine's 2 cores may be shared with other work: the figures say so when the load is high.
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
from commslab.grading.pipeline import grade  # noqa: E402

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


def _load() -> str:
    """The 1-minute load average against the cores: grading figures on a shared machine."""
    import os

    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    shared = " (CPU shared with other work: figures are pessimistic)" if load > cores else ""
    return f"load {load:.1f} on {cores} cores{shared}"


def _rss_mb() -> float:
    """This process's resident set now, MB (/proc/self/statm)."""
    import os

    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _class_texts(students: int, answers: int, words: int, seed: int = 7):
    """(student id, {answer id: text}) for a class: each answer drawn from a 5,000-word
    vocabulary; every 50th student hands in a classmate's answer with 5% of its words changed
    (the copies the report must find)."""
    import random

    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(5000)]
    rows = []
    for n in range(students):
        texts = {f"q{a}": " ".join(rng.choices(vocabulary, k=words)) for a in range(answers)}
        if n % 50 == 49:
            source = rows[n - 7][1]
            for a in texts:
                copied = source[a].split()
                for i in rng.sample(range(len(copied)), len(copied) // 20):
                    copied[i] = "changed"
                texts[a] = " ".join(copied)
        rows.append((str(3_000_000 + n), texts))
    return rows


def similarity(batch_seconds: float, measured: bool) -> None:
    from commslab.grading import written

    rows = _class_texts(1000, 4, 300)
    start = time.perf_counter()
    flags = written.class_flags(rows)
    flagged = time.perf_counter() - start
    start = time.perf_counter()
    for a in range(4):
        written.near_pairs({sid: written.words(t[f"q{a}"]) for sid, t in rows})
    page = time.perf_counter() - start
    copies = sum(bool(f) for f in flags)
    total = flagged + page
    kind = "measured" if measured else "estimated from section 2"
    print(f"== similarity, 1,000 students x 4 answers of 300 words ({_load()})")
    print(f"   near-copies flagged (class_flags):              {flagged:6.2f} s ({copies} rows)")
    print(f"   similarity page (near_pairs, 4 answers):        {page:6.2f} s")
    print(f"   grading the same batch ({kind}):     {batch_seconds:6.0f} s")
    print(f"   similarity / batch:                             {total / batch_seconds:6.1%}")
    huge = _class_texts(2, 1, 20_000, seed=11)
    a, b = (written.words(t["q0"]) for _, t in huge)
    start = time.perf_counter()
    written.near_pairs({"a": a, "b": b})
    written.near_pairs({"a": a, "b": a[:19_000] + b[:1000]})  # a near copy: verified exactly
    print(
        f"   two answers of 20,000 words (twice):            {time.perf_counter() - start:6.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--class-size", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--similarity-only", action="store_true")
    parser.add_argument("--seconds-per-submission", type=float, default=1.0)
    args = parser.parse_args()
    size = 6 if args.quick else args.class_size
    repeats = 2 if args.quick else 5
    if args.similarity_only:
        similarity(args.seconds_per_submission * 1000 / args.jobs, measured=False)
        return

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
        samples: list[tuple[int, float]] = [(0, _rss_mb())]

        def sample(result) -> None:
            samples.append((len(samples), _rss_mb()))

        start = time.perf_counter()
        results = grade(
            entries, term=TERM, autograder_dir=AUTOGRADER, jobs=args.jobs, key=KEY, on_done=sample
        )
        wall = time.perf_counter() - start
        statuses = {r.status.kind.value for r in results}
        print(f"== a class of {size}, --jobs {args.jobs} ({', '.join(sorted(statuses))})")
        print(f"   ({_load()})")
        print(f"   wall time:                                      {wall:6.1f} s")
        print(f"   per submission:                                 {wall / size:6.2f} s")
        quarters = [samples[min(len(samples) - 1, q * size // 4)] for q in range(5)]
        memory = ", ".join(f"{n}: {mb:.0f}" for n, mb in quarters)
        print(f"   grader's resident memory after n graded (MB):   {memory}")
        estimate = per_run * size / args.jobs
        print(f"   nbclient estimate, {args.jobs} kernels in parallel:       {estimate:6.1f} s")
        print(f"   ratio grading / executing (class):              {wall / estimate:6.2f}")
        if not args.quick:
            similarity(wall * 1000 / size, measured=size == 1000)


if __name__ == "__main__":
    main()
