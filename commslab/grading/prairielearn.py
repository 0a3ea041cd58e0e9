"""PrairieLearn's external grader: `commslab prairielearn --course-dir DIR` as the entrypoint.

PrairieLearn (docs/externalGrading.md, github.com/PrairieLearn/PrairieLearn) runs the
question's `externalGradingOptions.image` with its `entrypoint`; the student's files are in
/grade/student, the question's `data` dict in /grade/data/data.json, and the entrypoint must
write /grade/results/results.json (the folder is not created for it, 1 MB at most):

    {"gradable": true, "score": 0.8, "message": "...", "output": "...",
     "tests": [{"name": "...", "points": 3, "max_points": 3, "message": "...", "output": "..."}]}

`score` is in [0, 1]. A file that is not a gradable notebook gives `"gradable": false` with
`format_errors`: no points are lost and no attempt is used.

Identity: PrairieLearn does not tell an external grader who the student is; its variants are
per student instead. The question's `server.py` puts an id in `data["params"]["student_id"]`
(docs/platforms.md: derived from `data["variant_seed"]`, shown in the question for the student
to type as STUDENT_ID), and that id binds the scenario. Without it the notebook's own
STUDENT_ID binds the variant, and the result says it was not verified.

Plug-in (a question's info.json)::

    "externalGradingOptions": {
        "enabled": true,
        "image": "<registry>/comms-lab-grader",
        "entrypoint": "/opt/venv/bin/commslab prairielearn --course-dir /course",
        "timeout": 300
    }

The image must hold this package (installed into /opt/venv) and the course folder made by
`commslab init` at /course (its release/TERM, written by `commslab release`, gives the term, else
commslab.toml; its autograder/ the hidden tests
and the instructor key), like every other command, which reads the course folder given by
`--course-dir` or the working directory. This project builds no such image yet
(autograder/Dockerfile is the probe's image, with nothing of the grader). The timeout must stay
under PrairieLearn's maximum of 600 s.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from commslab.course import Course, course_dir_option
from commslab.grading.records import Status, Verdict
from commslab.options import autograder_option, term_option

PROBE_SECONDS = 240.0  # PrairieLearn kills the job at `timeout` (at most 600 s)


@click.command("prairielearn", hidden=True)
@term_option
@click.option(
    "--grade-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/grade"),
    show_default=True,
    help="PrairieLearn's job folder: student/, data/data.json, results/",
)
@autograder_option
@course_dir_option
def prairielearn_command(
    term: str | None, grade_dir: Path, autograder_dir: Path | None, course: Course
) -> None:
    """PrairieLearn's external-grader entrypoint: grade /grade/student, write results.json."""
    from commslab.grading.grade import GradeResult
    from commslab.grading.outputs import prairielearn_results

    if term:
        source = "--term"
    elif course.released_term():
        term, source = course.released_term(), "the course's release/TERM"
    else:
        term, source = course.term_or(None), "the course folder's commslab.toml"
    assert term is not None
    autograder_dir = autograder_dir or course.autograder
    try:
        data = json.loads((grade_dir / "data" / "data.json").read_text(encoding="utf-8"))
        params = data.get("params") if isinstance(data, dict) else None
        given = str((params or {}).get("student_id") or "").strip()
    except (OSError, ValueError, AttributeError):
        given = ""
    results_dir = grade_dir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    try:
        result, sandbox = _grade_student(grade_dir, term, given, autograder_dir)
    except Exception as err:  # a grader error is a result (PrairieLearn shows it), never silence
        result = GradeResult.failed(
            path=None,
            term=term,
            student_id=given,
            status=Verdict(Status.GRADER_ERROR, f"{type(err).__name__}: {err}"[:300]),
            autograder_dir=autograder_dir,
        )
        sandbox = []
    results = prairielearn_results(result, verified=bool(given))
    if sandbox and results.get("gradable"):
        results["output"] = "\n".join([*sandbox, results["output"]])
    if results.get("gradable"):  # never silent about which term's variant was graded
        results["message"] += f" (term {term}, from {source})"
    out = grade_dir / "results" / "results.json"
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    click.echo(f"{result.student_id}: {result.score:g}/{result.max_score:g} ({result.status})")


def _grade_student(grade_dir: Path, term: str, given: str, autograder_dir: Path):
    """(GradeResult, sandbox lines) of /grade/student (pipeline.grade_upload: the same rule as
    every batch), graded for `given` (the question's id) or its STUDENT_ID."""
    from commslab.grading import lms
    from commslab.grading.pipeline import grade_upload
    from commslab.grading.sandbox import Limits

    upload = grade_upload(
        grade_dir / "student",
        platform=lms.Platform.PRAIRIELEARN,
        term=term,
        identify=lambda claimed: given or claimed,
        autograder_dir=autograder_dir,
        results_dir=grade_dir / "results",
        limits=Limits(total_seconds=PROBE_SECONDS),
    )
    return upload.result, upload.sandbox
