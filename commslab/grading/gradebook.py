"""The class's grades after grading: TA scores, overrides, regrades and the late policy.

    OUT/gradebook.json    what the grader computed, one GradeResult per file (never edited by
                          hand; `commslab regrade` replaces one student's rows)
    OUT/overrides.csv     the TA's decisions: student_id, question, points, comment. A question
                          is a grades.csv column ("ring_allreduce_time", "ledger", ...) or one
                          written answer ("written:reflect_part1"). The last line for a
                          (student, question) wins.
    commslab.toml         the course's settings; its [late] table is the late policy
                          (LatePolicy; `commslab grade --late-policy FILE` for another file)

The publish step (commslab.grading.pipeline.publish) turns the three into the final rows
(`finalise`) and every output from them: grades.csv, the LMS gradebooks, feedback, written
answers, results.json (commslab.grading.outputs_gradebooks), the TA review page
(commslab.grading.review), the similarity report and the class report
(commslab.grading.classreport). The grader's rows stay as they were graded; every output is
recomputed from them, so a TA score, an override or a regrade of one student changes that
student's rows and nothing else.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from commslab.grading.csvsafe import SafeWriter, spreadsheet_value
from commslab.grading.grade import GradeResult
from commslab.grading.notebook import WRITTEN_IDS, written_share
from commslab.grading.records import Status
from commslab.grading.written import IDENTICAL, class_flags

GRADEBOOK = "gradebook.json"
FORMAT = 2  # gradebook.json's "format": 2 typed rows (records.py); none: version 1, still read
OVERRIDES = "overrides.csv"
WRITTEN_PREFIX = "written:"


# --- the late policy --------------------------------------------------------------------------


@dataclass(frozen=True)
class LatePolicy:
    """How much a late submission loses, as a share of its score.

    kind "none": nothing (the row still says late); "per_day": `percent` per day late, at most
    `cap_percent`; "flat": `percent` once. Days late come from `days` (the instructor's table,
    e.g. from the LMS's submission times), else 1 for a file the LMS marked late (Canvas puts
    LATE in the bulk-download file name; its bulk download carries no submission time).

    In the course's commslab.toml (or the file given to `commslab grade --late-policy`):

        [late]
        kind = "per_day"        # "none", "per_day" or "flat"
        percent = 10            # of the score, per day (per_day) or once (flat)
        cap_percent = 50        # never more than this in total
        [late.days]             # optional: days late per student id
        "1234567" = 3
    """

    kind: str = "none"
    percent: float = 0.0
    cap_percent: float = 100.0
    days: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("none", "per_day", "flat"):
            raise ValueError(f"late policy kind must be none, per_day or flat, not {self.kind!r}")
        for value in (self.percent, self.cap_percent):
            if not (math.isfinite(value) and 0 <= value <= 100):
                raise ValueError(f"late policy percentages must be between 0 and 100: {value}")

    def days_late(self, student_id: str) -> int:
        return dict(self.days).get(student_id, 1)

    def share(self, days: int) -> float:
        """The share of the score taken off for `days` days late."""
        if self.kind == "none" or days <= 0:
            return 0.0
        taken = self.percent * (days if self.kind == "per_day" else 1)
        return min(taken, self.cap_percent) / 100

    def describe(self) -> str:
        if self.kind == "none":
            return "no late penalty"
        if self.kind == "flat":
            return f"{self.percent:g}% off a late submission"
        return f"{self.percent:g}% off per day late, at most {self.cap_percent:g}%"


def load_late_policy(path: str | Path | None) -> LatePolicy:
    """The [late] table of a TOML file; no file or no table: no penalty."""
    if path is None or not Path(path).exists():
        return LatePolicy()
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib
    data = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("late", {})
    days = tuple(sorted((str(k).strip().lower(), int(v)) for k, v in data.get("days", {}).items()))
    return LatePolicy(
        kind=str(data.get("kind", "none")),
        percent=float(data.get("percent", 0.0)),
        cap_percent=float(data.get("cap_percent", 100.0)),
        days=days,
    )


# --- the TA's overrides ----------------------------------------------------------------------


@dataclass(frozen=True)
class Override:
    student_id: str
    question: str
    points: float
    comment: str = ""


def read_overrides(path: str | Path) -> list[Override]:
    """Overrides from a CSV (student_id, question, points[, comment]); blank points skipped."""
    path = Path(path)
    if not path.exists():
        return []
    found = []
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            points = (row.get("points") or "").strip()
            if not points:
                continue
            try:
                value = float(points)
            except ValueError:
                raise ValueError(
                    f"{path}:{line}: points must be a number, got {points!r}"
                ) from None
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{path}:{line}: points must be 0 or more, got {points!r}")
            found.append(
                Override(
                    student_id=spreadsheet_value((row.get("student_id") or "").strip()).lower(),
                    question=spreadsheet_value((row.get("question") or "").strip()),
                    points=value,
                    comment=spreadsheet_value((row.get("comment") or "").strip()),
                )
            )
    return found


def add_overrides(out: str | Path, new: list[Override]) -> Path:
    """Append to OUT/overrides.csv (the last line for a student and question wins)."""
    path = Path(out) / OVERRIDES
    fresh = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as f:
        writer = SafeWriter(f)
        if fresh:
            writer.writerow(["student_id", "question", "points", "comment"])
        for o in new:
            writer.writerow([o.student_id, o.question, f"{o.points:g}", o.comment])
    return path


# --- the stored rows -------------------------------------------------------------------------


def save(out: str | Path, rows: list[GradeResult], meta: dict) -> Path:
    path = Path(out) / GRADEBOOK
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT, "meta": meta, "rows": [r.to_dict() for r in rows]}
    path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    return path


def load(out: str | Path) -> tuple[list[GradeResult], dict]:
    path = Path(out) / GRADEBOOK
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `commslab grade ... --out {out}` first")
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format", 1) > FORMAT:
        raise ValueError(f"{path} is format {data['format']}: upgrade commslab to read it")
    return [GradeResult.from_dict(r) for r in data["rows"]], data.get("meta", {})


def replace_student(rows: list[GradeResult], student_id: str, new: list[GradeResult]):
    """Rows with every row of `student_id` replaced by `new` (in the first one's place)."""
    kept, placed = [], False
    for r in rows:
        if r.student_id != student_id:
            kept.append(r)
        elif not placed:
            kept.extend(new)
            placed = True
    return kept if placed else [*kept, *new]


# --- the final grades ------------------------------------------------------------------------


def flag_identical_written(results: list[GradeResult]) -> None:
    """An answer handed in word for word (or nearly) by two or more students earns no automatic
    point: the point comes off `written`, the row's written_flags and feedback say why, and the TA
    review shows the copies side by side (commslab.grading.written.class_flags)."""
    rows = [r for r in results if r.written and r.status.kind is not Status.SUPERSEDED]
    shared = class_flags([(r.student_id, r.written) for r in rows])
    for r, flags in zip(rows, shared, strict=True):
        total = r.max_points.get("written", 0.0)
        for grade_id, others in sorted(flags.items()):
            earned = r.written_flags.get(grade_id) == ""
            r.written_flags[grade_id] = f"{IDENTICAL} ({', '.join(others)})"
            if earned and "written" in r.points:
                each = written_share(grade_id, total)
                r.points["written"] = round(max(0.0, r.points["written"] - each), 6)
                r.score = round(sum(r.points.values()), 6)
            r.feedback.append(
                f"{grade_id}: the same as another submission's answer, word for word or "
                "nearly: no automatic point; a TA will read it"
            )


def _written_points(r: GradeResult, ta: dict[str, Override]) -> dict[str, float]:
    """Written points per answer: the TA's score where given, else the automatic one."""
    total = r.max_points.get("written", 0.0)
    points = {}
    for grade_id in WRITTEN_IDS:
        each = written_share(grade_id, total)
        if grade_id in ta:
            points[grade_id] = round(min(ta[grade_id].points, each), 6)
        else:
            points[grade_id] = each if r.written_flags.get(grade_id) == "" else 0.0
    return points


def finalise(
    rows: list[GradeResult], overrides: list[Override], policy: LatePolicy
) -> list[GradeResult]:
    """Copies of the grader's rows with the TA's scores, the overrides and the late policy."""
    by_student: dict[str, dict[str, Override]] = {}
    for o in overrides:
        by_student.setdefault(o.student_id, {})[o.question] = o
    final = copy.deepcopy(rows)
    flag_identical_written(final)
    for r in final:
        superseded = r.status.kind is Status.SUPERSEDED
        mine = by_student.get(r.student_id, {}) if not superseded else {}
        written = {
            q.removeprefix(WRITTEN_PREFIX): o
            for q, o in mine.items()
            if q.startswith(WRITTEN_PREFIX)
        }
        if written and "written" in r.max_points and not r.written_flags:
            r.written_flags = dict.fromkeys(WRITTEN_IDS, "not graded automatically")
        if "written" in r.max_points and r.status.kind.ran:
            r.written_points = _written_points(r, written)
        if written and "written" in r.max_points:
            r.points["written"] = round(sum(r.written_points.values()), 6)
            for grade_id, o in sorted(written.items()):
                note = f": {o.comment}" if o.comment else ""
                r.feedback.append(f"{grade_id}: {o.points:g} point(s) from your TA{note}")
        for question, o in sorted(mine.items()):
            if question.startswith(WRITTEN_PREFIX) or question not in r.max_points:
                continue
            r.points[question] = round(min(o.points, r.max_points[question]), 6)
            note = f": {o.comment}" if o.comment else ""
            r.feedback.append(
                f"{question}: set to {r.points[question]:g} / "
                f"{r.max_points[question]:g} by your TA{note}"
            )
        r.score = round(sum(r.points.values()), 6)
        if r.late:
            days = policy.days_late(r.student_id)
            r.late_penalty = round(r.score * policy.share(days), 6)
            r.score = round(r.score - r.late_penalty, 6)
            r.late_note = (
                f"submitted late ({days} day{'s' if days != 1 else ''}): "
                f"−{r.late_penalty:g} points by the course's late policy ({policy.describe()})"
            )
            r.feedback.append(r.late_note)
    return final
