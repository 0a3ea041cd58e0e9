"""Renderers at the edge, the files of a batch: grades.csv, each LMS gradebook, the written
answers, and (through commslab.grading.outputs) each student's feedback and results.json, all
made from the final typed rows (GradeResult, after the late policy and the TA's scores:
commslab.grading.gradebook.finalise), by the one publish step (commslab.grading.pipeline).

    write_outputs(results, out_dir)  every file below

Files in OUT (default grading-out/):

    grades.csv              student_id, score, max_score, status, one column per question,
                            then bonus (extra credit; empty if not tried), late, file,
                            notebook_student_id, track, notes; one row per file
    gradebook_d2l.csv       with a D2L grades export as the roster: D2L's grades import
    gradebook_moodle.csv    with a Moodle grading worksheet as the roster: the worksheet, filled
    gradebook_canvas.csv    for Canvas: Grades > Import. Columns Student, ID, SIS User ID,
                            SIS Login ID, Section, then the assignment; the second row is
                            "Points Possible". Canvas matches rows on ID (the Canvas user id of
                            the bulk-download file names) and a column on "Name (assignment id)"
                            (pass --canvas-assignment-id); a header without an id makes Canvas
                            offer to create a new assignment of that name. One row per student:
                            the notebook graded for them (one per student, never the best).
    gradebook_canvas_anonymous.csv   Canvas anonymous ids, for SpeedGrader
    grades_nbgrader.csv     for an nbgrader course: `nbgrader export`'s columns
    feedback/<id>.md        per student: status, score, each failed check and why (no hidden value)
    written_answers.csv/.md the written answers per student, for a TA to read and score
    results/<id>.json       the Gradescope results.json (commslab.grading.outputs)
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING

from commslab.grading.csvsafe import SafeDictWriter, SafeWriter
from commslab.grading.notebook import WRITTEN_IDS
from commslab.grading.outputs import feedback_markdown, results_json
from commslab.grading.records import NOT_THE_GRADED_ROW

if TYPE_CHECKING:
    from commslab.grading.grade import GradeResult
    from commslab.grading.roster import Roster


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:100] or "unknown"


def gradebook_rows(results: list[GradeResult]) -> dict[str, GradeResult]:
    """Per student id, the row the gradebook takes: the notebook intake chose to grade
    (commslab.grading.lms.choose_notebooks: the platform's latest attempt, never the best of
    several), else the student's first row; each member of a group submission gets the
    group's row (unless they have a row of their own)."""
    best: dict[str, GradeResult] = {}
    results = [r for r in results if r.student_id]  # a file no platform named: no student
    for r in results:
        if r.status.kind in NOT_THE_GRADED_ROW:
            continue  # the one graded notebook of the student, never the best of several
        best.setdefault(r.student_id, r)  # intake graded one notebook per student
    for r in results:  # a student with only superseded rows still gets a gradebook row
        best.setdefault(r.student_id, r)
    for r in list(best.values()):
        for member in r.group_members:
            if member not in best:
                best[member] = dataclasses.replace(r, student_id=member, lms_name="")
    return best


def file_names(results: list[GradeResult]) -> list[str]:
    """feedback/<id>.md for the gradebook row, <id>__<file>.md for any other row of that id."""
    chosen = gradebook_rows(results)
    names, used = [], set()
    for r in results:
        name = _safe(r.student_id)
        if chosen.get(r.student_id) is not r:
            name += "__" + _safe(Path(r.file.rsplit(":", 1)[-1]).stem)
        base, n = name, 2
        while name in used:
            name, n = f"{base}__{n}", n + 1
        used.add(name)
        names.append(name)
    return names


def write_outputs(
    results: list[GradeResult],
    out_dir: str | Path,
    *,
    assignment: str = "Collective Communication Lab",
    canvas_assignment_id: str | None = None,
    roster: Roster | None = None,
    nbgrader_assignment: str | None = None,
    nbgrader_timestamps: dict[str, str] | None = None,
) -> Path:
    out = Path(out_dir)
    for sub in ("feedback", "results"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    questions = questions_of(results)
    names = file_names(results)
    grades_csv(results, questions, out / "grades.csv")
    canvas_csv(results, out / "gradebook_canvas.csv", assignment, canvas_assignment_id, roster)
    canvas_anonymous_csv(results, out / "gradebook_canvas_anonymous.csv")
    if roster is not None and roster.source == "moodle":
        moodle_worksheet(results, roster, out / "gradebook_moodle.csv")
    if roster is not None and roster.source == "d2l":
        d2l_import(results, roster, assignment, out / "gradebook_d2l.csv")
    if nbgrader_assignment:  # the timestamps as `commslab grade` stored them with the batch
        timestamps = nbgrader_timestamps or {}
        nbgrader_csv(results, nbgrader_assignment, out / "grades_nbgrader.csv", timestamps)
    for r, name in zip(results, names, strict=True):
        (out / "feedback" / f"{name}.md").write_text(feedback_markdown(r, assignment), "utf-8")
        (out / "results" / f"{name}.json").write_text(results_json(r), "utf-8")
    written_answers(results, out)
    return out


def questions_of(results: list[GradeResult]) -> list[str]:
    questions: list[str] = []
    for r in results:
        for q in r.max_points:
            if q not in questions:
                questions.append(q)
    return questions


def _number(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def grades_csv(results: list[GradeResult], questions: list[str], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = SafeWriter(f)
        writer.writerow(
            [
                "student_id",
                "score",
                "max_score",
                "status",
                *questions,
                "bonus",
                "late",
                "late_penalty",
                "file",
                "notebook_student_id",
                "track",
                "notes",
            ]
        )
        for r in results:
            writer.writerow(
                [
                    r.student_id,
                    _number(r.score),
                    _number(r.max_score),
                    r.status.text(),
                    *(_number(r.points.get(q, 0.0)) for q in questions),
                    _number(r.bonus) if r.bonus_max else "",
                    "yes" if r.late else "",
                    _number(r.late_penalty) if r.late_penalty else "",
                    r.file,
                    r.notebook_student_id,
                    r.track,
                    "; ".join([r.identity_note, *r.notes]).strip("; "),
                ]
            )


def canvas_csv(
    results: list[GradeResult],
    path: Path,
    assignment: str,
    canvas_assignment_id: str | None,
    roster: Roster | None = None,
) -> None:
    """With a Canvas roster (its gradebook export), each row carries the student's Canvas
    ID, SIS ids and section from it, whatever column the student id was taken from."""
    rows = gradebook_rows(results)
    students = roster.students if roster is not None else []
    canvas = roster is not None and roster.source == "canvas"
    known = {s.student_id: s.row for s in students} if canvas else {}
    names = {s.student_id: s.name for s in students}
    column = f"{assignment} ({canvas_assignment_id})" if canvas_assignment_id else assignment
    max_score = max((r.max_score for r in results), default=0.0)
    # the MPI bonus, only if someone tried it: its own assignment with 0 points possible,
    # which Canvas counts as extra credit
    bonus = any(r.bonus_max for r in results)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = SafeWriter(f)
        extra = [f"{assignment} bonus"] if bonus else []
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column, *extra])
        writer.writerow(
            ["    Points Possible", "", "", "", "", _number(max_score), *(["0"] if bonus else [])]
        )
        for student_id in sorted(rows):
            r, row = rows[student_id], known.get(student_id)
            if student_id.startswith(ANONYMOUS_PREFIX):
                continue  # see canvas_anonymous_csv
            points = [_number(r.score)]
            if bonus:
                points.append(_number(r.bonus) if r.bonus_max else "")
            if row is not None:
                columns = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
                writer.writerow([*(row.get(c, "") for c in columns), *points])
            else:
                name = r.lms_name or names.get(student_id, "")
                writer.writerow([name, student_id, "", "", "", *points])


ANONYMOUS_PREFIX = "anon-"  # lms.anonymous_number: a Canvas anonymous id


def canvas_anonymous_csv(results: list[GradeResult], path: Path) -> None:
    """Canvas anonymous grading: the gradebook importer cannot take these rows
    (canvas-lms lib/gradebook_importer.rb: `process_student` looks the student up by
    `row[1].to_i`, and `gradeable?` refuses a submission while the assignment has
    `unposted_anonymous_submissions?`). Their grades go in SpeedGrader, which shows the same
    anonymous ids; this file lists them (anonymous id as Canvas wrote it in the file name,
    score)."""
    rows = gradebook_rows(results)
    anonymous = sorted(s for s in rows if s.startswith(ANONYMOUS_PREFIX))
    if not anonymous:
        path.unlink(missing_ok=True)
        return
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = SafeWriter(f)
        writer.writerow(["anonymous id (file name)", "student_id", "score", "max_score"])
        for student_id in anonymous:
            r = rows[student_id]
            shown = r.file.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
            match = re.search(r"anon_[1-9A-HJ-NP-Za-km-z]{5}", shown)
            writer.writerow(
                [match[0] if match else "", student_id, _number(r.score), _number(r.max_score)]
            )


def moodle_worksheet(results: list[GradeResult], roster: Roster, path: Path) -> None:
    """The TA's Moodle grading worksheet with its Grade column filled, to upload back
    (Assignment > Upload grading worksheet). Every other cell stays as Moodle wrote it, so
    the importer (assignfeedback_offline) finds its Identifier, Grade and Last modified
    (grade) columns; a student without a submission keeps an empty grade (Moodle skips it)."""
    rows = gradebook_rows(results)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = SafeDictWriter(f, roster.header)
        writer.writeheader()
        for student in roster.students:
            row = dict(student.row)
            graded = rows.get(student.student_id)
            if graded is not None:
                # scaled to the worksheet's Maximum grade (roster.py reads it; a scale is
                # refused there)
                scale = (
                    roster.maximum / graded.max_score if roster.maximum and graded.max_score else 1
                )
                row["Grade"] = f"{graded.score * scale:.2f}"
            writer.writerow({k: row.get(k, "") for k in roster.header})


def d2l_import(results: list[GradeResult], roster: Roster, assignment: str, path: Path) -> None:
    """A D2L Brightspace grades import (Grades > Enter Grades > Import): `OrgDefinedId`,
    `Username`, `<item> Points Grade`, `End-of-Line Indicator` (D2L's "Importing grades",
    community.d2l.com/brightspace/kb/articles/3538-importing-grades), with the "#" D2L's own
    export puts before each id and as the end-of-line marker (University of Wisconsin KB 4330).
    One row per roster student with a grade; the item is the assignment's name."""
    rows = gradebook_rows(results)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = SafeWriter(f)
        writer.writerow(
            ["OrgDefinedId", "Username", f"{assignment} Points Grade", "End-of-Line Indicator"]
        )
        for student in roster.students:
            graded = rows.get(student.student_id)
            if graded is None:
                continue
            ids = {k.lower(): v.removeprefix("#") for k, v in student.row.items()}
            org_id, username = ids.get("orgdefinedid", ""), ids.get("username", "")
            writer.writerow(
                [
                    f"#{org_id}" if org_id else "",
                    f"#{username}" if username else "",
                    _number(graded.score),
                    "#",
                ]
            )


NBGRADER_EXPORT_COLUMNS = (  # nbgrader/plugins/export.py, CsvExportPlugin.export
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
)


def nbgrader_csv(
    results: list[GradeResult], assignment: str, path: Path, timestamps: dict[str, str]
) -> None:
    """The grades in the columns `nbgrader export` writes, for a course whose later steps
    read nbgrader's grades.csv (one row per student); raw_score is before the late policy,
    late_submission_penalty what it took off and score what is left, as CsvExportPlugin
    writes them; the `timestamp` is the submission's timestamp.txt, as CsvExportPlugin
    writes submission.timestamp."""
    rows = gradebook_rows(results)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = SafeWriter(f)
        writer.writerow(NBGRADER_EXPORT_COLUMNS)
        for student_id in sorted(rows):
            r = rows[student_id]
            writer.writerow(
                [
                    assignment,
                    "",
                    timestamps.get(student_id, ""),
                    student_id,
                    "",
                    "",
                    "",
                    _number(r.score + r.late_penalty),
                    _number(r.late_penalty) if r.late_penalty else "0.0",
                    _number(r.score),
                    _number(r.max_score),
                ]
            )


def written_answers(results: list[GradeResult], out: Path) -> None:
    with open(out / "written_answers.csv", "w", newline="", encoding="utf-8") as f:
        writer = SafeWriter(f)
        writer.writerow(["student_id", "track", "file", *WRITTEN_IDS, "automatic_points"])
        for r in results:
            writer.writerow(
                [
                    r.student_id,
                    r.track,
                    r.file,
                    *(r.written.get(k, "") for k in WRITTEN_IDS),
                    _number(r.points.get("written", 0.0)),
                ]
            )
    parts = ["# Written answers for TA review", ""]
    for r in results:
        if not r.written:
            continue
        parts += [f"## {r.student_id} ({r.track or 'no track'}, {r.file})", ""]
        for key in WRITTEN_IDS:
            text = r.written.get(key, "").strip() or "*(no answer)*"
            parts += [f"### {key}", "", *("> " + line for line in text.splitlines()), ""]
    (out / "written_answers.md").write_text("\n".join(parts), "utf-8")
