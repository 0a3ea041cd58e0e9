"""Renderers at the edge: each output of a GradeResult, made from its typed records
(commslab.grading.records), after the late policy and the TA's scores (gradebook.finalise).

    feedback_lines(r)               the plain text: status, score, each question and its failed
                                    checks, the late penalty, the bonus apart, the notes
    feedback_markdown(r, title)     feedback/<id>.md: one table row per question (and the late
                                    penalty), adding up to its score line; the bonus apart
    gradescope_results(r, checks)   Gradescope's results.json: one test per question (and the
                                    late penalty), the bonus a test of max_score 0
    prairielearn_results(r, ...)    PrairieLearn's results.json
    summary(results)                the batch in one line, for the TA's terminal

Every output says the same per question and in total; the bonus is never part of the score
(grades.csv and the gradebooks give it a column of its own). The CSV gradebooks, the review
page and the class report are in commslab.grading.outputs_gradebooks, .review and
.classreport.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from commslab.grading.grade import GradeResult

BONUS_TEST = "Bonus: ring AllReduce on MPI ranks (extra credit)"
LATE_TEST = "Late penalty"
MAX_PRAIRIELEARN_BYTES = 1_000_000  # PrairieLearn: "this file should be limited to 1 MB"


def _n(x: float) -> str:
    return f"{x:g}"


def question_lines(r: GradeResult, question: str) -> list[str]:
    """ "<question>: a / b" and one "  - <check>: <why>" per failed check."""
    lines = [f"{question}: {_n(r.points.get(question, 0.0))} / {_n(r.max_points[question])}"]
    lines += [f"  - {f.check}: {f.message}" for f in r.failures.get(question, [])]
    return lines


def bonus_lines(r: GradeResult) -> list[str]:
    """The bonus's runs (none if it was not tried), apart from the score."""
    bonus = r.bonus_run
    if bonus is None:
        return []
    if not bonus.graded:
        return [f"bonus: not graded here ({bonus.note})"]
    lines = []
    for run in bonus.runs:
        lines.append(
            f"bonus, {run.ranks} ranks: {_n(run.points)} / {_n(run.possible)} ({run.verdict})"
        )
        lines += [f"  - {m}" for m in run.messages]
    return lines


def identity_line(r: GradeResult) -> str:
    if not r.identity_note:
        return ""
    return (
        f"{r.identity_note}; your scenario-bound answers were checked against the LMS "
        "identity's scenario"
    )


def feedback_lines(r: GradeResult) -> list[str]:
    """The whole feedback as plain lines (the CLI, PrairieLearn's output)."""
    lines = [f"Status: {r.status}", f"Score: {_n(r.score)} / {_n(r.max_score)}"]
    if r.identity_note:
        lines.append(f"Identity: {identity_line(r)}")
    for question in r.max_points:
        lines += question_lines(r, question)
    if r.late_penalty:
        lines.append(f"{LATE_TEST}: −{_n(r.late_penalty)}")
    if r.bonus_run is not None:
        lines.append(f"Extra credit (not part of the score): {_n(r.bonus)} / {_n(r.bonus_max)}")
        lines += bonus_lines(r)
    lines += [f"note: {line}" for line in r.feedback]
    return lines


def feedback_markdown(r: GradeResult, assignment: str) -> str:
    """feedback/<id>.md: the rows of its table add up to its score line."""
    lines = [f"# {assignment}: feedback for {r.student_id}", ""]
    lines.append(f"**Status:** {r.status}  ")
    lines.append(f"**Score:** {_n(r.score)} / {_n(r.max_score)}  ")
    if r.identity_note:
        lines.append(f"**Identity:** {identity_line(r)}  ")
    if r.late:
        lines.append("**Submitted late.**")
    if r.max_points:
        lines += ["", "| question | points |", "|---|---|"]
        lines += [
            f"| {q} | {_n(r.points.get(q, 0.0))} / {_n(p)} |" for q, p in r.max_points.items()
        ]
        if r.late_penalty:
            lines.append(f"| {LATE_TEST.lower()} | −{_n(r.late_penalty)} |")
        lines.append(f"| **total** | **{_n(r.score)} / {_n(r.max_score)}** |")
    fixes = [q for q in r.max_points if r.failures.get(q)]
    if fixes:
        lines += ["", "## What to fix"]
        for q in fixes:
            lines.append(f"\n### {q} ({_n(r.points.get(q, 0.0))} / {_n(r.max_points[q])})\n")
            lines += [f"- {f.check}: {f.message}" for f in r.failures[q]]
    if r.bonus_run is not None:
        lines += [
            "",
            "## Extra credit: the MPI bonus (not part of the score above)",
            "",
            f"{_n(r.bonus)} / {_n(r.bonus_max)} extra points",
            "",
        ]
        lines += [f"- {line.strip().removeprefix('- ')}" for line in bonus_lines(r)]
    if r.feedback:
        lines += ["", "## Notes", *(f"- {line}" for line in r.feedback)]
    return "\n".join(lines).rstrip() + "\n"


def gradescope_results(
    r: GradeResult, checks: list[str] | None = None, sandbox: list[str] | tuple = ()
) -> dict:
    """results.json as Gradescope's specification writes it (gradescope-autograders
    .readthedocs.io/en/latest/specs). The top-level score "overrides total of tests" (ibid.);
    here it always equals the sum of the tests: each question, the late penalty (a negative
    test) and the MPI bonus (max_score 0: extra credit above the assignment's total).
    checks: the visible "Submission check" test's lines (the hosted grader's; none locally).
    sandbox: what the code could reach (hosted.protections), repeated in the bonus's test."""
    tests: list[dict] = []
    if checks:
        tests.append(
            {"name": "Submission check", "output": "\n".join(checks), "visibility": "visible"}
        )
    for number, question in enumerate(r.max_points, start=1):
        tests.append(
            {
                "name": question,
                "number": str(number),
                "score": float(r.points.get(question, 0.0)),
                "max_score": float(r.max_points[question]),
                "output": "\n".join(question_lines(r, question)),
                "visibility": "after_published",
            }
        )
    if r.late_penalty:
        tests.append(
            {
                "name": LATE_TEST,
                "score": -float(r.late_penalty),
                "max_score": 0.0,
                "output": r.late_note or "submitted late",
                "visibility": "after_published",
            }
        )
    if r.bonus_run is not None:
        output = bonus_lines(r)
        if r.bonus_max and sandbox:  # graded: the ranks' code ran where the probe ran
            output += [
                "Each rank's code ran in the sandbox of the rest of your code; the MPI calls "
                "and the byte count were made outside it, by the grader:",
                *sandbox,
            ]
        tests.append(
            {
                "name": BONUS_TEST,
                "score": float(r.bonus),
                "max_score": 0.0,
                "output": "\n".join(output),
                "visibility": "after_published",
            }
        )
    total = sum(float(t.get("score", 0.0)) for t in tests)
    return {
        "score": round(total, 6),
        "output": f"Status: {r.status}. Your score appears when grades are published.",
        "visibility": "after_published",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def results_json(r: GradeResult) -> str:
    """results/<id>.json of the TA's batch: the Gradescope format of gradescope_results."""
    return json.dumps(gradescope_results(r), indent=1)


def prairielearn_results(r: GradeResult, *, verified: bool) -> dict:
    """results.json in PrairieLearn's external-grading format (docs/externalGrading.md):
    `score` in [0, 1], one test per question; a file that is not a gradable notebook gives
    "gradable": false (no attempt used)."""
    if r.status.kind.not_a_submission:
        return {
            "gradable": False,
            "format_errors": [f"{r.status}: upload collective_comms.ipynb saved by Jupyter"],
            "message": str(r.status),
        }
    tests = [
        {
            "name": q.name,
            "points": float(q.points),
            "max_points": float(q.possible),
            "message": "" if q.points >= q.possible else "see output",
            "output": "\n".join(question_lines(r, q.name)),
        }
        for q in r.questions()
    ]
    message = f"Status: {r.status}"
    if not verified:
        message += " (the course did not pass a student id: the notebook's STUDENT_ID was used)"
    score = r.score / r.max_score if r.max_score else 0.0
    results = {
        "gradable": True,
        "score": min(1.0, max(0.0, score)),
        "message": message,
        "output": "\n".join(feedback_lines(r)),
        "tests": tests,
    }
    if len(json.dumps(results)) > MAX_PRAIRIELEARN_BYTES:
        results["output"] = "(output too long: see the tests)"
    return results


def summary(results: list[GradeResult]) -> str:
    """'42 files: 40 graded, 1 timed out, 1 not a notebook' (statuses without details)."""
    counts = Counter(r.status.kind.value for r in results)
    return f"{len(results)} files: " + ", ".join(f"{n} {s}" for s, n in counts.most_common())
