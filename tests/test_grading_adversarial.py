"""The adversarial corpus (tests/adversarial/corpus.py), graded in parallel batches.

For every case: one row, the expected status, and a score not above its honest baseline
(the same notebook without the tampering); cases built on the untouched release score 0 on
the questions they attack. The slow batch holds the cases that need a time-out or a restart.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from adversarial.corpus import CASES, STUDENT, write_corpus

import comms_core
from commslab.grading import pipeline
from commslab.grading.lms import Entry
from commslab.grading.outputs import feedback_lines
from commslab.grading.sandbox import Limits

ROOT = Path(__file__).resolve().parents[1]
AUTOGRADER = ROOT / "autograder"
TERM = "2026-fall"
KEY = b"adversarial-corpus-key"
LIMITS = Limits(total_seconds=60, cell_seconds=3, call_seconds=1.5, grace_seconds=1.5)
FAST = [c.name for c in CASES if not c.slow]
SLOW = [c.name for c in CASES if c.slow]


def _grade(paths: list[Path], launcher=None) -> dict[str, object]:
    entries = [Entry(p, p.name, STUDENT) for p in paths]
    results = pipeline.grade(
        entries,
        term=TERM,
        autograder_dir=AUTOGRADER,
        jobs=2,
        key=KEY,
        limits=LIMITS,
        launcher=launcher,
    )
    assert len(results) == len(paths)  # n files in, n rows out
    return {Path(r.file).stem: r for r in results}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    outside = tmp_path_factory.mktemp("outside") / "pwned.txt"
    context = {
        "comms_core": str(Path(comms_core.__file__).parent),
        "repo": str(ROOT),
        "autograder": str(AUTOGRADER),
        "other": str(folder / "baseline_solved.ipynb"),
        "outside": str(outside),
    }
    return write_corpus(folder, context), outside


@pytest.fixture(scope="module")
def fast_rows(corpus):
    cases, _ = corpus
    folder = next(iter(cases.values())).path.parent
    paths = [cases[n].path for n in FAST]
    paths += [folder / f"baseline_{b}.ipynb" for b in ("buggy", "untouched", "solved")]
    return _grade(paths)


@pytest.fixture(scope="module")
def slow_rows(corpus):
    cases, _ = corpus
    return _grade([cases[n].path for n in SLOW])


def _check(case, row, baseline) -> None:
    assert case.status_ok(row.status), (case.name, row.status, row.notes)
    assert row.max_score == baseline.max_score > 0
    assert row.score <= baseline.score + 1e-9, (case.name, row.score, baseline.score, row.points)
    for question in case.zero:
        assert row.points[question] == 0, (case.name, question, row.feedback)


def test_the_baselines_are_what_they_claim(fast_rows) -> None:
    assert fast_rows["baseline_solved"].score == fast_rows["baseline_solved"].max_score
    assert fast_rows["baseline_untouched"].score == 0
    buggy = fast_rows["baseline_buggy"]
    assert 0 < buggy.score < buggy.max_score  # a real middle: tampering would show


@pytest.mark.parametrize("name", FAST)
def test_fast_case(name, corpus, fast_rows) -> None:
    cases, outside = corpus
    case = cases[name]
    _check(case, fast_rows[name], fast_rows[f"baseline_{case.base}"])
    assert not outside.exists(), "a submission wrote outside its sandbox"


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_slow_case(name, corpus, fast_rows, slow_rows) -> None:
    cases, _ = corpus
    case = cases[name]
    _check(case, slow_rows[name], fast_rows[f"baseline_{case.base}"])


def test_the_refusals_are_named_in_the_feedback(fast_rows) -> None:
    """The student (and the TA) see why: the sandbox names what it refused."""
    said = "\n".join(feedback_lines(fast_rows["delegate_from_import"]))
    assert "implement it yourself" in said
    said = "\n".join(feedback_lines(fast_rows["read_hidden_tests"]))
    assert "does not allow" in said
    said = "\n".join(feedback_lines(fast_rows["equals_anything"]))
    assert "not a number" in said


def test_the_precomputed_bonus_earns_at_most_the_byte_points(fast_rows) -> None:
    row = fast_rows["bonus_precompute"]
    if row.bonus_max:  # MPI ran here ("not graded here" otherwise)
        assert row.bonus <= 2.0, row.feedback


def test_rows_are_bounded(fast_rows) -> None:
    """1.5 million numbers in `cells` make one note, not 1.5 million (issue 20: 54 MB)."""
    row = fast_rows["numbers_in_cells"]
    assert sum("are not cells" in n for n in row.notes) == 1 and len(row.notes) <= 40
    assert len(row.to_json()) < 2_000_000


def test_every_field_of_a_row_is_bounded() -> None:
    """What a crafted notebook controls (notes, feedback, answers, code, TRACK, STUDENT_ID,
    LEDGER values, predictions) is capped in the row, saying how much was cut."""
    from commslab.grading.grade import GradeResult

    huge = "x" * 10**6
    row = GradeResult(
        "1",
        0.0,
        35.0,
        "graded",
        notes=[huge] * 1000,
        feedback=["line"] * 10**5,
        written={"strategy": huge},
        code={f"cell {i}": huge for i in range(1000)},
        track=huge,
        notebook_student_id=huge,
        ledger={"strategy": huge, "k": 4},
        predictions={"PREDICTION_PART1": huge},
    ).bound()
    assert len(row.to_json()) < 150_000_000 // 100  # 1.5 MB: 1000 x 1 MB went in
    assert row.notes[-1].endswith("more notes cut") and row.feedback[-1].endswith("lines cut")
    assert "characters cut" in row.written["strategy"] and row.ledger["k"] == 4


def _as_a_class(rows: dict) -> list:
    """The corpus's rows as a class: one student per file (the corpus is one student's), the
    huge answers twice (two students), hostile ids and names."""
    import dataclasses

    names = {"formula_identity_and_answers": ("=1+2", '=HYPERLINK("http://x","y")')}
    names["mathtext_track"] = ("$\\rtthree$", "$\\rtthree$ <script>alert(1)</script>")
    out = []
    for n, (name, row) in enumerate(sorted(rows.items())):
        sid, lms_name = names.get(name, (f"s{n:03d}", f"Student {n}"))
        out.append(dataclasses.replace(row, student_id=sid, lms_name=lms_name))
        if name == "huge_answers":
            out.append(dataclasses.replace(row, student_id="s999", lms_name="Second huge"))
    return out


def test_the_batch_and_every_page_finish(fast_rows, tmp_path, monkeypatch) -> None:
    """The corpus's rows published as `commslab grade` does (gradebook.json, then every
    output): every page is written, n rows in = n rows out, no CSV cell starts a formula or
    exceeds a spreadsheet's cell, no student text reaches a page unescaped; `commslab
    report` then reads the stored similarity instead of comparing again."""
    import csv
    import time

    from commslab.grading import gradebook, written

    rows = _as_a_class(fast_rows)
    out = tmp_path / "out"
    gradebook.save(out, rows, {"term": TERM})
    started = time.perf_counter()
    pipeline.publish(out)
    assert time.perf_counter() - started < 120
    for page in ("review.html", "similarity.html", "class_report.html", "similarity.json"):
        assert (out / page).stat().st_size > 0, page
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == len(rows)
    for path in out.rglob("*.csv"):
        with open(path, newline="", encoding="utf-8") as f:
            for cell in (c for row in csv.reader(f) for c in row):
                assert len(cell) < 32_767, path
                if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and cell != "-":
                    float(cell)  # only a plain number may start so
    for page in ("review.html", "similarity.html", "class_report.html"):
        assert "<script>alert(1)" not in (out / page).read_text(encoding="utf-8"), page
    assert (out / "gradebook.json").stat().st_size < 20_000_000
    groups = (out / "similarity.csv").read_text(encoding="utf-8")
    assert "s999" in groups  # the two huge answers, found

    def compared_again(*args):
        raise AssertionError("similarity computed again")

    monkeypatch.setattr(written, "_compare", compared_again)
    pipeline.publish(out)  # `commslab report`, `review import`


def test_a_student_string_in_a_figure_is_plain_text() -> None:
    """matplotlib parses "$...$" as mathtext; "$\\rtthree$" (an unknown command) stopped
    the class report with ParseFatalException. _png draws every text plain."""
    from matplotlib.figure import Figure

    from commslab.grading.classreport import _png

    for label in ("$\\rtthree$", "$x^{", "a $ b $$ c"):
        fig = Figure()
        ax = fig.add_subplot()
        ax.hist([[1.0], [2.0]], label=[label, "cloud_titan"])
        ax.legend()
        ax.set_title(label)
        assert _png(fig)


@pytest.mark.slow
@pytest.mark.container
def test_the_fast_cases_with_the_probe_in_podman(corpus, fast_rows, grader_image) -> None:
    """The same corpus with every probe in a podman container: the same guarantees."""
    from commslab.grading.container import ContainerLauncher

    cases, outside = corpus
    launcher = ContainerLauncher("podman", image=grader_image)
    rows = _grade([cases[n].path for n in FAST], launcher)
    for name in FAST:
        case = cases[name]
        _check(case, rows[name], fast_rows[f"baseline_{case.base}"])
        assert rows[name].score == fast_rows[name].score, name
    assert not outside.exists()


def _orphaned_probes() -> list[str]:
    """Probe processes (or their bubblewrap) whose grader is gone: reparented to init.
    Probes of tests running in parallel still have their grader as an ancestor."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ("/sandbox/probe.py" in cmdline or "grading/probe.py" in cmdline) and ppid == 1:
            found.append(f"{entry.name}: {cmdline[:120]}")
    return found


@pytest.mark.slow
def test_no_probe_is_left_running_after_the_batches(fast_rows, slow_rows) -> None:
    """The slow batch holds loops, forks, hangs and memory bombs: every probe was killed and
    reaped when its batch returned; none lives on without its grader. (A probe that is being
    killed right now is an orphan for a moment: only one that stays counts.)"""
    import time

    left = _orphaned_probes()
    for _ in range(10):
        if not left:
            break
        time.sleep(1)
        left = [p for p in _orphaned_probes() if p in left]
    assert not left, left
