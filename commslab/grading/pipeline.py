"""The grading pipeline, as a list of steps over typed values (as nbgrader lists its
preprocessors):

    step       takes                        gives
    collect    paths (files, folders, zips) lms.Batch: one Entry per file, its platform decided
    identify   (inside lms.intake)          each Entry's student id (the platform's rules,
                                            the roster), or its reason not to be graded
    grade      list[Entry]                  list[GradeResult] (records.py: Verdict, points,
                                            failures, Bonus), one per Entry, never raising
    save       list[GradeResult], meta      OUT/gradebook.json (what regrade and publish read)
    publish    OUT                          the final list[GradeResult] after the TA's scores and
                                            the late policy, every output rendered from it

`grade_class` runs them in order; `commslab demo` calls it. The hosted graders (Gradescope,
PrairieLearn) run collect (lms.collect_upload), grade (hosted.grade_hosted) and render their
one results.json (commslab.grading.outputs) without a gradebook.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from commslab.grading import gradebook, lms, report
from commslab.grading.grade import GradeResult
from commslab.grading.roster import Roster
from commslab.grading.sandbox import Launcher

STEPS = ("collect", "identify", "grade", "save", "publish")


def collect(
    paths: list[str | Path],
    workdir: str | Path,
    *,
    platform: str | None = None,
    roster: Roster | None = None,
) -> lms.Batch:
    """collect and identify: every file under `paths` as an Entry (lms.intake)."""
    return lms.intake(list(paths), workdir, platform=platform, roster=roster)


def grade(
    entries: list[lms.Entry],
    *,
    term: str,
    autograder_dir: Path,
    launcher: Launcher,
    jobs: int = 2,
    timeout: float = 120.0,
    on_done: Callable[[GradeResult], None] | None = None,
) -> list[GradeResult]:
    """One typed row per Entry, in order (report.grade_batch)."""
    return report.grade_batch(
        entries,
        term=term,
        autograder_dir=autograder_dir,
        launcher=launcher,
        jobs=jobs,
        timeout=timeout,
        on_done=on_done,
    )


def save(out: Path, rows: list[GradeResult], meta: dict) -> Path:
    return gradebook.save(out, rows, meta)


def publish(out: Path) -> list[GradeResult]:
    return gradebook.publish(out)


def grade_class(
    paths: list[str | Path],
    *,
    term: str,
    autograder_dir: Path,
    out: Path,
    launcher: Launcher,
    jobs: int = 2,
    timeout: float = 120.0,
    platform: str | None = None,
    roster: Roster | None = None,
    meta: dict | None = None,
) -> list[GradeResult]:
    """collect → identify → grade → save → publish; the final rows."""
    with tempfile.TemporaryDirectory(prefix="commslab-submissions-") as workdir:
        batch = collect(paths, workdir, platform=platform, roster=roster)
        rows = grade(
            batch.entries,
            term=term,
            autograder_dir=autograder_dir,
            launcher=launcher,
            jobs=jobs,
            timeout=timeout,
        )
    stored = {"term": term, "platform": batch.platform.value, **(meta or {})}
    save(out, rows, stored)
    return publish(out)
