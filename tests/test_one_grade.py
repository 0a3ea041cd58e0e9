"""One grade, every output: a batch with the MPI bonus, written answers scored by the TA, a
late file under a late policy, a partly wrong notebook and a broken file is graded once and
published once (pipeline.publish); then every output is read back and must say the same per
student and per question: grades.csv, the Canvas and nbgrader gradebooks, every results.json
(its score is the sum of its tests), every feedback table (its rows add up to its score line,
the bonus never among them), the review page and the class report.

The bonus is a real MPI run (commslab.grading.bonus_step) where mpi4py and mpiexec are here,
else a records.Bonus put on the row before publishing (what bonus_step would make).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from adversarial import notebooks as nbs
from mpi_support import mpi_available

from commslab.grading import gradebook, pipeline
from commslab.grading.lms import Entry
from commslab.grading.notebook import WRITTEN_IDS
from commslab.grading.outputs import BONUS_TEST, LATE_TEST
from commslab.grading.records import Bonus, BonusRun, Status

ROOT = Path(__file__).resolve().parents[1]
AUTOGRADER = ROOT / "autograder"
TERM = nbs.TERM
KEY = b"one-grade-key"
RING = nbs.HONEST_BONUS_RING
# student id -> (track, what is special about the file)
CLASS = {
    "b-1": ("cloud_titan", "solved, with the MPI bonus"),
    "t-2": ("edge_guardian", "solved; the TA scores its written answers"),
    "l-3": ("mobile_nomad", "solved, submitted late (10% per day, 2 days)"),
    "p-4": ("tiny_pioneer", "partly wrong"),
    "x-5": ("", "broken: not JSON"),
}
TA_POINTS = 0.5  # per written answer of t-2


def _number(text: str) -> float:
    return float(text) if text else 0.0


def _table(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    folder = tmp_path_factory.mktemp("one_grade")
    bonus = mpi_available()
    entries = []
    for sid, (track, _) in CLASS.items():
        path = folder / f"{sid}.ipynb"
        if sid == "x-5":
            path.write_text("{ this is not a notebook", encoding="utf-8")
        elif sid == "p-4":
            nbs.write(nbs.buggy_notebook(sid, track), path)
        else:
            extra = {"bonus_ring": RING} if sid == "b-1" and bonus else {}
            nbs.write(nbs.solved_notebook(sid, track, replace=extra), path)
        entries.append(Entry(path, path.name, sid, late=sid == "l-3"))
    rows = pipeline.grade(entries, term=TERM, autograder_dir=AUTOGRADER, jobs=2, key=KEY)
    if not bonus:  # what bonus_step makes for a ring right on 2 ranks and half right on 3
        runs = [BonusRun(2, 4.0, 4.0, "ok"), BonusRun(3, 2.0, 4.0, "partial", ["bytes off"])]
        rows[0].bonus_run, rows[0].bonus, rows[0].bonus_max = Bonus(3.0, 4.0, runs), 3.0, 4.0
    out = folder / "out"
    policy = folder / "late.toml"
    policy.write_text('[late]\nkind = "per_day"\npercent = 10\n[late.days]\n"l-3" = 2\n')
    meta = {
        "term": TERM,
        "assignment": "Lab",
        "late_policy_file": str(policy),
        "nbgrader_assignment": "lab",
    }
    gradebook.save(out, rows, meta)
    gradebook.add_overrides(
        out, [gradebook.Override("t-2", f"written:{g}", TA_POINTS, "ok") for g in WRITTEN_IDS]
    )
    final = pipeline.publish(out)
    return out, {r.student_id: r for r in final}


def test_the_batch_has_each_case(published) -> None:
    _, final = published
    assert final["b-1"].bonus_max > 0 and final["b-1"].bonus_run is not None
    assert final["l-3"].late and final["l-3"].late_penalty > 0
    assert final["x-5"].status.kind is Status.CORRUPT
    assert final["p-4"].failures and final["p-4"].score < final["p-4"].max_score
    assert final["t-2"].points["written"] == TA_POINTS * len(WRITTEN_IDS)
    for r in final.values():  # the typed records: the score is the sum of the questions
        penalty = r.late_penalty
        assert r.score == pytest.approx(sum(q.points for q in r.questions()) - penalty)


def test_every_output_says_the_same(published) -> None:
    out, final = published
    grades = {row["student_id"]: row for row in _table(out / "grades.csv")}
    canvas = {row["ID"]: row for row in _table(out / "gradebook_canvas.csv")[1:]}
    nbgrader = {row["student_id"]: row for row in _table(out / "grades_nbgrader.csv")}
    assert set(grades) == set(canvas) == set(nbgrader) == set(CLASS)
    questions = list(final["b-1"].max_points)
    for sid, r in final.items():
        row = grades[sid]
        score, points = _number(row["score"]), {q: _number(row[q]) for q in questions}
        penalty = _number(row["late_penalty"])
        assert score == pytest.approx(r.score) and row["status"] == str(r.status)
        assert score == pytest.approx(sum(points.values()) - penalty), sid
        bonus = _number(row["bonus"])
        assert bonus == pytest.approx(r.bonus)

        # the gradebooks: the same score, the bonus a column of its own (Canvas)
        assert _number(canvas[sid]["Lab"]) == pytest.approx(score)
        assert _number(canvas[sid].get("Lab bonus", "")) == pytest.approx(bonus)
        assert _number(nbgrader[sid]["score"]) == pytest.approx(score)
        raw = _number(nbgrader[sid]["raw_score"]) - _number(
            nbgrader[sid]["late_submission_penalty"]
        )
        assert raw == pytest.approx(score)

        # results.json: its score is the sum of its tests; each question as in grades.csv
        results = json.loads((out / "results" / f"{sid}.json").read_text())
        tests = {t["name"]: t for t in results["tests"]}
        assert results["score"] == pytest.approx(sum(t.get("score", 0) for t in tests.values()))
        assert results["score"] == pytest.approx(score + bonus)
        for q in questions:
            assert tests[q]["score"] == pytest.approx(points[q]), (sid, q)
            assert tests[q]["max_score"] == r.max_points[q]
            assert tests[q]["output"].startswith(f"{q}: {points[q]:g} / ")
        assert (BONUS_TEST in tests) == (r.bonus_run is not None)
        assert (LATE_TEST in tests) == bool(penalty)

        # the feedback: its table adds up to its score line; the bonus is not in the table
        md = (out / "feedback" / f"{sid}.md").read_text()
        line = re.search(r"\*\*Score:\*\* ([\d.]+) / ([\d.]+)", md)
        assert float(line[1]) == pytest.approx(score) and float(line[2]) == r.max_score
        cells = re.findall(r"^\| ([^|*]+) \| (−?[\d.]+)(?: / [\d.]+)? \|$", md, re.M)
        table = {name: float(value.replace("−", "-")) for name, value in cells}
        assert set(table) - {"late penalty"} == set(questions), sid
        assert not any("bonus" in name for name in table)
        assert sum(table.values()) == pytest.approx(score), sid
        for q in questions:
            assert table[q] == pytest.approx(points[q])
        assert ("## Extra credit" in md) == (r.bonus_run is not None)
        assert "bonus, 2 ranks" not in md.split("## Extra credit")[0]


def test_the_written_answers_scored_by_the_ta_agree_everywhere(published) -> None:
    """The seen bug: results.json said `written 4/4` while grades.csv said the TA's score."""
    out, final = published
    written = _number({r["student_id"]: r for r in _table(out / "grades.csv")}["t-2"]["written"])
    assert written == TA_POINTS * len(WRITTEN_IDS)
    results = json.loads((out / "results" / "t-2.json").read_text())
    test = next(t for t in results["tests"] if t["name"] == "written")
    assert test["score"] == written and "All test cases passed" not in test["output"]
    page = (out / "review.html").read_text()
    data = json.loads(re.search(r"const DATA = (.*?);\n", page)[1])
    for sid, r in final.items():
        shown = [
            a["points"] for q in data["questions"] for a in q["answers"] if a["student_id"] == sid
        ]
        if r.written:
            assert sum(shown) == pytest.approx(r.points["written"]), sid


def test_the_class_report_agrees_per_question(published) -> None:
    """One student per track: the track's mean is that student's points, per question and in
    total (the broken file has no track and no points)."""
    out, final = published
    grades = {row["student_id"]: row for row in _table(out / "grades.csv")}
    report = _table(out / "class_report" / "scores.csv")
    for sid, (track, _) in CLASS.items():
        if not track:
            continue
        mine = {r["question"]: float(r["mean"]) for r in report if r["track"] == track}
        for q in final[sid].max_points:
            assert mine[q] == pytest.approx(_number(grades[sid][q]), abs=1e-3), (sid, q)
        assert mine["total"] == pytest.approx(_number(grades[sid]["score"]), abs=1e-3)


def test_a_gradebook_of_format_1_is_still_read(tmp_path) -> None:
    """gradebook.json before the typed records: a status string with its flags, feedback lines
    ("Status:", per question, "note: ..."); the status becomes a Verdict, the notes stay."""
    row = {
        "student_id": "s-1",
        "score": 30.0,
        "max_score": 35.0,
        "status": "timed out (identity mismatch)",
        "points": {"q": 30.0},
        "max_points": {"q": 35.0},
        "feedback": ["Status: timed out", "Score: 30 / 35", "q: 30 / 35", "note: cell 3: slow"],
        "results": {"score": 30.0},
    }
    (tmp_path / "gradebook.json").write_text(json.dumps({"meta": {}, "rows": [row]}))
    (loaded,), _ = gradebook.load(tmp_path)
    assert loaded.status.kind is Status.TIMED_OUT and loaded.status.identity_mismatch
    assert str(loaded.status) == row["status"] and loaded.feedback == ["cell 3: slow"]
    gradebook.save(tmp_path, [loaded], {})
    assert json.loads((tmp_path / "gradebook.json").read_text())["format"] == gradebook.FORMAT
    (again,), _ = gradebook.load(tmp_path)
    assert again.row() == loaded.row()


def test_a_hosted_upload_without_a_notebook_is_one_row_and_runs_nothing(tmp_path) -> None:
    """The hosted graders' steps (pipeline.grade_upload): an upload with no notebook gives the
    row "no notebook submitted" for the id `identify` gives, each file keeps its typed status,
    and no probe starts (no sandbox lines); results.json's score is still the sum of its tests."""
    from commslab.grading.lms import Platform
    from commslab.grading.outputs import gradescope_results, prairielearn_results
    from commslab.grading.sandbox import Limits

    (tmp_path / "upload").mkdir()
    (tmp_path / "upload" / "answers.txt").write_text("my answers", encoding="utf-8")
    asked: list[str] = []
    upload = pipeline.grade_upload(
        tmp_path / "upload",
        platform=Platform.GRADESCOPE,
        term=TERM,
        identify=lambda claimed: asked.append(claimed) or "s-9",
        autograder_dir=AUTOGRADER,
        results_dir=tmp_path / "results",
        limits=Limits(),
    )
    assert upload.result.status.kind is Status.NO_NOTEBOOK and upload.sandbox == []
    assert (upload.result.student_id, upload.result.score, asked) == ("s-9", 0.0, [""])
    assert upload.result.max_score > 0  # the row still counts the points possible
    (entry,) = upload.entries
    assert entry.status is not None and entry.status.kind is Status.NOT_A_NOTEBOOK
    shown = gradescope_results(upload.result)
    assert shown["score"] == sum(t.get("score", 0.0) for t in shown["tests"]) == 0.0
    assert prairielearn_results(upload.result, verified=True)["gradable"] is False
