"""Which term a hosted grader grades: the term stored with what the students got.

Gradescope's bundle carries its TERM file (commslab/bundle.py); a PrairieLearn course folder
carries release/TERM, which `commslab release` writes. A course whose commslab.toml moved on to
the next term must still grade this term's notebooks by the term they were released for.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from commslab.course import Course
from commslab.grading import prairielearn


def _course(tmp_path: Path, released: str | None) -> Path:
    root = tmp_path / "course"
    (root / "release").mkdir(parents=True)
    (root / "commslab.toml").write_text('[course]\nterm = "2027-spring"\n')
    if released:
        (root / "release" / "TERM").write_text(f"{released}\n")
    return root


def test_the_released_term_is_read_from_release_TERM(tmp_path) -> None:
    assert Course.at(_course(tmp_path, "2026-fall")).released_term() == "2026-fall"
    assert Course.at(_course(tmp_path / "b", None)).released_term() is None


def _grade(tmp_path: Path, root: Path, monkeypatch, *args: str) -> tuple[str, dict]:
    seen: list[str] = []

    def fake_grade(grade_dir, term, given, autograder_dir):
        seen.append(term)
        raise RuntimeError("no grader here")  # a grader error is a result, still written

    monkeypatch.setattr(prairielearn, "_grade_student", fake_grade)
    grade = tmp_path / "grade"
    (grade / "data").mkdir(parents=True)
    (grade / "data" / "data.json").write_text(json.dumps({"params": {"student_id": "s1"}}))
    run = CliRunner().invoke(
        prairielearn.prairielearn_command,
        ["--grade-dir", str(grade), "--course-dir", str(root), *args],
    )
    assert run.exit_code == 0, run.output
    return seen[0], json.loads((grade / "results" / "results.json").read_text())


def test_prairielearn_grades_the_released_term_not_the_next_one(tmp_path, monkeypatch) -> None:
    term, results = _grade(tmp_path, _course(tmp_path, "2026-fall"), monkeypatch)
    assert term == "2026-fall"  # not commslab.toml's 2027-spring
    assert "score" in results  # results.json written although the grader failed


def test_prairielearn_falls_back_to_commslab_toml_and_obeys_term(tmp_path, monkeypatch) -> None:
    term, _ = _grade(tmp_path, _course(tmp_path, None), monkeypatch)
    assert term == "2027-spring"
    term, _ = _grade(
        tmp_path / "x", _course(tmp_path / "x", "2026-fall"), monkeypatch, "--term", "t9"
    )
    assert term == "t9"
