"""PrairieLearn's external grader, run the way PrairieLearn runs it.

PrairieLearn docs/externalGrading.md ("The Grading Process", "Grading results"): the student's
files in /grade/student, the question's data in /grade/data/data.json, results written to
/grade/results/results.json (the folder must be created by the grader): `score` in [0, 1],
`gradable` (false: "invalid, not gradable", with `format_errors`), `tests` with `name`,
`points`, `max_points`, `message`, `output`; 1 MB at most.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from adversarial import notebooks as nbs
from click.testing import CliRunner

from commslab.cli import main

ROOT = Path(__file__).resolve().parents[1]
RESULTS_SCHEMA = {  # written from the documentation's "Grading results"
    "type": "object",
    "properties": {
        "gradable": {"type": "boolean"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "message": {"type": "string"},
        "output": {"type": "string"},
        "format_errors": {
            "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
        },
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "points": {"type": "number"},
                    "max_points": {"type": "number"},
                    "message": {"type": "string"},
                    "output": {"type": "string"},
                },
            },
        },
    },
    "if": {"properties": {"gradable": {"const": False}}, "required": ["gradable"]},
    "then": {"required": ["format_errors"]},
    "else": {"required": ["score"]},
}


def _job(folder: Path, notebook, params: dict) -> Path:
    grade = folder / "grade"
    if notebook is not None:
        nbs.write(notebook, grade / "student" / "collective_comms.ipynb")
    else:
        (grade / "student").mkdir(parents=True)
        (grade / "student" / "collective_comms.ipynb").write_text("{ not json")
    (grade / "data").mkdir(parents=True)
    (grade / "data" / "data.json").write_text(
        json.dumps({"params": params, "correct_answers": {}, "submitted_answers": {}})
    )
    return grade


def _run(grade: Path) -> dict:
    args = ["prairielearn", "--term", "2026-fall", "--grade-dir", str(grade)]
    run = CliRunner().invoke(main, [*args, "--autograder", str(ROOT / "autograder")])
    assert run.exit_code == 0, run.output
    results = json.loads((grade / "results" / "results.json").read_text())
    jsonschema.validate(results, RESULTS_SCHEMA)
    assert len(json.dumps(results)) < 1_000_000
    return results


@pytest.mark.slow
def test_a_solved_notebook_scores_one_and_a_broken_file_is_not_gradable(tmp_path, monkeypatch):
    monkeypatch.setenv("COMMSLAB_GRADING_KEY", "pl-key")
    solved = _run(_job(tmp_path / "a", nbs.solved_notebook("42"), {"student_id": "42"}))
    assert solved["gradable"] and solved["score"] == 1.0
    assert solved["output"].startswith("sandbox: ")  # which protection the code got
    assert sum(t["max_points"] for t in solved["tests"]) == 35
    assert "not verified" not in solved["message"]

    copied = _run(_job(tmp_path / "b", nbs.solved_notebook("42"), {"student_id": "43"}))
    assert copied["score"] < 1.0 and "identity mismatch" in copied["message"]

    unverified = _run(_job(tmp_path / "c", nbs.solved_notebook("42"), {}))
    assert unverified["score"] == 1.0 and "STUDENT_ID was used" in unverified["message"]

    broken = _run(_job(tmp_path / "d", None, {"student_id": "42"}))
    assert broken["gradable"] is False and "corrupt notebook" in broken["format_errors"][0]
