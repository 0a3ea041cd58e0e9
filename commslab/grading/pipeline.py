"""The grading pipeline, as a list of steps over typed values (as nbgrader lists its
preprocessors):

    step       function                     takes -> gives
    collect    lms.intake                   paths (files, folders, zips) -> lms.Batch: one Entry
    identify   (inside lms.intake)          per file, its platform decided, its student id (the
                                            platform's rules, the roster) or its typed reason
                                            not to be graded (a records.Verdict)
    grade      grade (here)                 list[Entry] -> list[GradeResult] (records.py:
                                            Verdict, points, failures, Bonus), one per Entry,
                                            never raising; each through grade.grade_entry
    save       gradebook.save               list[GradeResult], meta -> OUT/gradebook.json
    publish    publish (here)               OUT -> the final list[GradeResult] (gradebook.finalise:
                                            the TA's scores and the late policy), every output
                                            rendered from it (outputs_gradebooks.write_outputs,
                                            review, classreport)

`grade_class` runs them in order (`commslab demo`); `commslab grade` runs the same steps with a
progress bar, `regrade` grades one student's entries and publishes again. The hosted graders
(Gradescope, PrairieLearn) run `grade_upload`: collect one upload (lms.collect_upload), pick
its notebook, identify, grade it with `grade_hosted`, then render their one results.json
(commslab.grading.outputs) without a gradebook. Every probe runs where launchers.make_launcher says.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from commslab.grading import classreport, gradebook, hosted, lms, review
from commslab.grading.grade import GradeResult, grade_entry
from commslab.grading.harness import instructor_key
from commslab.grading.launchers import make_launcher
from commslab.grading.notebook import read_submission
from commslab.grading.outputs_gradebooks import write_outputs
from commslab.grading.records import Status, Verdict
from commslab.grading.roster import Roster, read_roster
from commslab.grading.sandbox import Launcher, Limits
from commslab.grading.written import stored_in

STEPS = ("collect", "identify", "grade", "save", "publish")


def grade(
    entries: list[lms.Entry],
    *,
    term: str,
    autograder_dir: str | Path,
    launcher: Launcher | None = None,
    jobs: int = 2,
    timeout: float = 120.0,
    key: bytes | None = None,
    limits: Limits | None = None,
    on_done: Callable[[GradeResult], None] | None = None,
) -> list[GradeResult]:
    """One typed row per Entry, in the entries' order, with `jobs` workers (each runs its own
    sandboxed probe process, where `launcher` says; default make_launcher("local")).

    Threads are enough: the grader's share of the work is small, the student code runs in
    the probe processes (sandboxes or containers)."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    one = functools.partial(
        grade_entry,
        term=term,
        launcher=launcher or make_launcher("local"),
        autograder_dir=Path(autograder_dir),
        timeout=timeout,
        key=key,
        limits=limits,
    )
    results: dict[int, GradeResult] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(one, e): i for i, e in enumerate(entries)}
        for future in as_completed(futures):
            result = results[futures[future]] = future.result()
            if on_done is not None:
                on_done(result)
    return [results[i] for i in range(len(entries))]


def _stored_roster(meta: dict) -> Roster | None:
    if not meta.get("roster"):
        return None
    path, id_column = meta["roster"]
    return read_roster(Path(path), id_column=id_column)


def publish(out: str | Path, *, late_policy_file: str | Path | None = None) -> list[GradeResult]:
    """Every output of OUT from gradebook.json, overrides.csv and the late policy: the final
    rows (gradebook.finalise), then each renderer over them."""
    out = Path(out)
    rows, meta = gradebook.load(out)
    policy = gradebook.load_late_policy(late_policy_file or meta.get("late_policy_file"))
    with stored_in(out):  # the near-copy comparison is made once per batch, then read back
        final = gradebook.finalise(
            rows, gradebook.read_overrides(out / gradebook.OVERRIDES), policy
        )
    write_outputs(
        final,
        out,
        assignment=meta.get("assignment", "Collective Communication Lab"),
        canvas_assignment_id=meta.get("canvas_assignment_id"),
        roster=_stored_roster(meta),
        nbgrader_assignment=meta.get("nbgrader_assignment"),
        nbgrader_timestamps=meta.get("nbgrader_timestamps") or {},
    )
    review.write_review(final, out, term=meta.get("term", ""), course_dir=meta.get("course_dir"))
    review.write_similarity(final, out)
    classreport.write_class_report(final, out, term=meta.get("term", ""))
    return final


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
        batch = lms.intake(list(paths), workdir, platform=platform, roster=roster)
        rows = grade(
            batch.entries,
            term=term,
            autograder_dir=autograder_dir,
            launcher=launcher,
            jobs=jobs,
            timeout=timeout,
        )
    stored = {"term": term, "platform": batch.platform.value, **(meta or {})}
    gradebook.save(out, rows, stored)
    return publish(out)


# --- the hosted graders (Gradescope, PrairieLearn): one upload, one results.json ----------


@dataclass
class Upload:
    """One hosted upload, graded: its row, every file in it (each with its status, for the
    "Submission check"), what the sandbox held, and the notebook's own STUDENT_ID."""

    result: GradeResult
    entries: list[lms.Entry]
    sandbox: list[str]
    claimed: str = ""


def grade_upload(
    folder: Path,
    *,
    platform: lms.Platform,
    term: str,
    identify: Callable[[str], str],
    autograder_dir: Path,
    results_dir: Path,
    limits: Limits,
) -> Upload:
    """The hosted graders' steps for one upload: collect (lms.collect_upload: only files, no
    identity read from their names), pick its one notebook (lms.graded, the rule of every
    batch), identify (`identify` maps the notebook's STUDENT_ID to the student id: the
    platform's metadata, a roster, the question's id) and grade (grade_hosted). No notebook:
    the row "no notebook submitted", nothing run."""
    with tempfile.TemporaryDirectory(prefix="commslab-upload-") as workdir:
        entries = lms.collect_upload(folder, workdir, platform=platform) if folder.is_dir() else []
        chosen = lms.graded(entries)
        if chosen is None or chosen.path is None:
            failed = GradeResult.failed(
                path=None,
                term=term,
                student_id=identify(""),
                status=Verdict(Status.NO_NOTEBOOK),
                autograder_dir=autograder_dir,
            )
            return Upload(failed, entries, [])
        claimed = read_submission(chosen.path).student_id
        result, sandbox = grade_hosted(
            chosen.path,
            term=term,
            student_id=identify(claimed),
            autograder_dir=autograder_dir,
            results_dir=results_dir,
            limits=limits,
        )
    return Upload(result, entries, sandbox, claimed)


def grade_hosted(
    path: Path,
    *,
    term: str,
    student_id: str,
    autograder_dir: Path,
    results_dir: Path,
    limits: Limits,
) -> tuple[GradeResult, list[str]]:
    """Grade one notebook inside a hosted grader's container: the strongest sandbox the
    container allows (make_launcher("hosted")), what must stay hidden locked first (for the
    unprivileged user), and what the submission's code could reach, for the output.
    (GradeResult, lines); never raises: no sandbox or no key in the bundle is the row
    "grader error: ...", and the submission's code is not run."""
    try:
        return _grade_hosted(path, term, student_id, autograder_dir, results_dir, limits)
    except Exception as err:  # SandboxUnavailable, GraderError (no key): say so, run nothing
        failed = GradeResult.failed(
            path=path,
            term=term,
            student_id=student_id,
            status=Verdict(Status.GRADER_ERROR, str(err)[:300]),
            autograder_dir=autograder_dir,
        )
        return failed, []


def _grade_hosted(
    path: Path,
    term: str,
    student_id: str,
    autograder_dir: Path,
    results_dir: Path,
    limits: Limits,
) -> tuple[GradeResult, list[str]]:
    key = instructor_key(autograder_dir, create=False)
    launcher = make_launcher("hosted")
    lines = hosted.protect(launcher, autograder_dir, results_dir)
    result = grade_entry(  # the step every batch grades through
        lms.Entry(path, path.name, student_id),
        term=term,
        autograder_dir=autograder_dir,
        timeout=limits.total_seconds,
        limits=limits,
        key=key,
        launcher=launcher,
    )
    return result, lines
