"""`commslab grade` and `commslab grade-one` (registered in commslab/cli.py).

commslab grade PATH... [--term TERM] [--engine local|docker|podman] [--jobs N] [--out DIR]
                        [--timeout S] [--roster FILE [--roster-id COLUMN]] [--course-dir DIR]
                        [--lms canvas|moodle|d2l|blackboard|gradescope|nbgrader|files]
commslab grade PATH... --term TERM --plan --out DIR      unpack and identify only: DIR/plan.json
commslab grade-one NOTEBOOK --term TERM --student-id ID --out FILE.json
commslab grade-one --plan DIR/plan.json --index I --term TERM --out DIR/results/I.json
commslab grade DIR/plan.json --merge --term TERM --out DIR   one grades.csv from the jobs

Student code always runs in an operating-system sandbox: bubblewrap with the local engine,
a container with docker/podman (commslab/grading/isolation.py). Where the sandbox cannot be
created, grading stops and says how to fix it; `--unsafe-no-sandbox` is the only way past.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from commslab.course import CONFIG, Course, course_dir_option
from commslab.grading import gradebook, harness, lms, pipeline
from commslab.grading.grade import grade_entry
from commslab.grading.launchers import ENGINES, make_launcher
from commslab.grading.outputs import summary
from commslab.grading.records import Status, Verdict
from commslab.grading.roster import Roster, read_roster
from commslab.options import autograder_option, jobs_option, term_option, timeout_option

_UNSAFE = click.option(
    "--unsafe-no-sandbox",
    is_flag=True,
    default=False,
    help="grade without the OS sandbox (local engine): only for notebooks you trust",
)
_ENGINE = click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="local",
    show_default=True,
    help="local: each probe in a bubblewrap sandbox here; docker/podman: in a container",
)


def _launcher(engine: str, unsafe_no_sandbox: bool, course: Course):
    """Where the probes run, checked before any work starts (a clear message if not here);
    a container's image is built from the course folder's autograder/Dockerfile."""
    from commslab.grading.container import ContainerEngineError
    from commslab.grading.isolation import SandboxUnavailable

    try:
        return make_launcher(engine, unsafe_no_sandbox=unsafe_no_sandbox, course=course.root)
    except (SandboxUnavailable, ContainerEngineError, ValueError) as err:
        raise click.ClickException(str(err)) from err


@click.command("grade")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@term_option
@_ENGINE
@jobs_option(min(4, os.cpu_count() or 1))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="where the grades go (default: grading-out/ in the course folder)",
)
@timeout_option()
@autograder_option
@click.option(
    "--assignment",
    default="Collective Communication Lab",
    show_default=True,
    help="the assignment's name in the Canvas gradebook",
)
@click.option(
    "--canvas-assignment-id",
    default=None,
    help="the Canvas assignment id: the column becomes 'NAME (ID)' (an existing one)",
)
@click.option(
    "--roster",
    "roster_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="the class list: a Canvas gradebook or group-set export, a Moodle grading worksheet, "
    "a D2L grades export or a CSV with a student_id column; maps the LMS's ids to the "
    "student ids",
)
@click.option(
    "--roster-id",
    default=None,
    help="the roster column that holds the student id (default: Canvas 'ID', Moodle "
    "'ID number' else 'Email address', CSV 'student_id')",
)
@click.option(
    "--plan",
    is_flag=True,
    help="only unpack and identify the files: write OUT/plan.json for a job array "
    "(grade-one --plan ... --index I per file), then merge with --merge",
)
@click.option(
    "--merge",
    is_flag=True,
    help="PATHS are plan.json files: merge the results the jobs wrote next to them "
    "(results/I.json) into one grades.csv and gradebook",
)
@click.option(
    "--lms",
    "platform",
    type=click.Choice(lms.LMS_CHOICES),
    default=None,
    help="the platform the export came from (default: read from the export's structure; "
    "'files': single notebooks or a plain folder, each notebook's STUDENT_ID is the identity)",
)
@click.option(
    "--late-policy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="a TOML file with the late policy's [late] table (default: the course's commslab.toml)",
)
@_UNSAFE
@course_dir_option
def grade(
    paths,
    term,
    engine,
    jobs,
    out_dir,
    timeout,
    autograder_dir,
    assignment,
    canvas_assignment_id,
    roster_path,
    roster_id,
    plan,
    merge,
    platform,
    late_policy,
    unsafe_no_sandbox,
    course: Course,
):
    """Grade notebooks, folders or an LMS export (Canvas, Moodle, D2L, Blackboard,
    Gradescope, nbgrader submitted/): one row per file in grades.csv."""

    term = course.term_or(term)
    out_dir = out_dir or course.root / "grading-out"
    autograder_dir = autograder_dir or course.autograder
    if not (autograder_dir / "tests").is_dir():
        raise click.ClickException(f"no hidden tests in {autograder_dir / 'tests'}")
    harness.instructor_key(autograder_dir)
    late_policy = late_policy or course.root / CONFIG  # its [late] table, if any
    try:
        gradebook.load_late_policy(late_policy)
    except (OSError, ValueError) as err:
        raise click.ClickException(f"late policy {late_policy}: {err}") from err
    roster = _roster(roster_path, roster_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    if plan:
        _write_plan(paths, out_dir, roster, term, platform)
        return
    if merge:
        entries, results = _merged_results(paths, term, autograder_dir)
        platform = next((e.platform.value for e in entries), platform)
    else:
        launcher = _launcher(engine, unsafe_no_sandbox, course)
        with tempfile.TemporaryDirectory(prefix="commslab-submissions-") as workdir:
            batch = intake(paths, workdir, platform, roster)
            entries, platform = batch.entries, batch.platform.value
            results = _grade_here(batch, paths, term, autograder_dir, launcher, jobs, timeout)
    meta = {
        "term": term,
        "assignment": assignment,
        "canvas_assignment_id": canvas_assignment_id,
        "late_policy_file": str(late_policy.resolve()),
        "course_dir": str(course.root),
        "autograder_dir": str(Path(autograder_dir).resolve()),
        "roster": [str(roster_path.resolve()), roster_id] if roster_path else None,
        **_entries_meta(entries),
        # what `regrade` reuses: the same platform's rules, roster, engine and term
        "platform": platform,
        "engine": engine,
        "unsafe_no_sandbox": bool(unsafe_no_sandbox),
        "timeout": timeout,
    }
    gradebook.save(out_dir, results, meta)
    final = pipeline.publish(out_dir)
    click.echo(summary(final))
    click.echo(
        f"wrote {out_dir / 'grades.csv'}, {out_dir / 'gradebook_canvas.csv'}, "
        f"{out_dir / 'feedback'}/, {out_dir / 'written_answers.md'}, {out_dir / 'results'}/, "
        f"{out_dir / 'review.html'}, {out_dir / 'similarity.html'}, "
        f"{out_dir / 'class_report.html'}"
    )


def _entries_meta(entries: list[lms.Entry]) -> dict:
    """What the nbgrader gradebook needs of the entries (grades_nbgrader.csv)."""
    return {
        "nbgrader_assignment": next(
            (e.assignment for e in entries if e.platform is lms.Platform.NBGRADER), None
        ),
        "nbgrader_timestamps": {e.student_id: e.timestamp for e in entries if e.timestamp},
    }


def intake(paths, workdir, platform, roster) -> lms.Batch:
    """lms.intake, with a platform it cannot decide said as a clear message (it names --lms)."""
    try:
        return lms.intake(list(paths), workdir, platform=platform, roster=roster)
    except lms.PlatformError as err:
        raise click.ClickException(str(err)) from err


def _roster(roster_path: Path | None, roster_id: str | None) -> Roster | None:
    if roster_path is None:
        return None
    try:
        return read_roster(roster_path, id_column=roster_id)
    except (OSError, ValueError) as err:
        raise click.ClickException(str(err)) from err


def _grade_here(batch: lms.Batch, paths, term, autograder_dir, launcher, jobs, timeout):
    """The grade step over the batch's entries, with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    click.echo(f"platform: {batch.platform.value} (from {batch.decided_by})")
    if batch.skipped:
        click.echo(
            f"not read: {len(batch.skipped)} file(s) the platform wrote about the "
            f"submissions or the course's own (e.g. {batch.skipped[0]})"
        )
    entries = batch.entries
    if not entries:
        raise click.ClickException("no files to grade in " + ", ".join(map(str, paths)))
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        task = progress.add_task("grading", total=len(entries))
        return pipeline.grade(
            entries,
            term=term,
            autograder_dir=autograder_dir,
            launcher=launcher,
            jobs=jobs,
            timeout=timeout,
            on_done=lambda r: progress.advance(task),
        )


def _write_plan(paths, out_dir: Path, roster, term: str, platform: str | None) -> None:
    """The files unpacked into OUT/files and identified, one entry per file in OUT/plan.json,
    for a job array (Slurm, Kubernetes, Gradescope-like runners) to grade one each."""
    entries = intake(paths, out_dir / "files", platform, roster).entries
    plan = out_dir / "plan.json"
    plan.write_text(lms.entries_to_json(entries, out_dir), encoding="utf-8")
    click.echo(
        f"{len(entries)} files in {plan}. Grade entry I (0..{len(entries) - 1}) with\n"
        f"  commslab grade-one --plan {plan} --index I --term {term} "
        f"--out {out_dir / 'results'}/I.json\n"
        f"then merge: commslab grade {plan} --merge --term {term} --out {out_dir}"
    )


def _merged_results(plans, term: str, autograder_dir: Path) -> tuple[list, list]:
    """One row per entry of each plan: the result its job wrote, or why there is none."""
    from commslab.grading.grade import GradeResult

    results, every_entry = [], []
    for plan in plans:
        base = Path(plan).parent
        try:
            entries = lms.entries_from_json(Path(plan).read_text(encoding="utf-8"), base)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise click.ClickException(f"{plan}: not a plan written by --plan ({err})") from err
        every_entry.extend(entries)
        for index, entry in enumerate(entries):
            written = base / "results" / f"{index}.json"
            try:
                result = GradeResult.from_json(written.read_text(encoding="utf-8"))
                if result.file != entry.source:
                    raise ValueError(f"{written} is the result of {result.file}")
            except (OSError, ValueError, TypeError):
                result = GradeResult.failed(
                    path=entry.path,
                    term=term,
                    student_id=entry.student_id,
                    status=Verdict(
                        Status.MISSING_RESULT, f"the job for entry {index} did not finish"
                    ),
                    autograder_dir=autograder_dir,
                )
                result.file, result.notes = entry.source, list(entry.notes)
            results.append(result)
    return every_entry, results


@click.command("grade-one")
@click.argument(
    "notebook", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@term_option
@click.option("--student-id", default=None, help="the LMS id the grade is for")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="a plan.json from `commslab grade --plan`: grade its entry --index",
)
@click.option("--index", type=click.IntRange(min=0), default=None, help="the plan's entry")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="where to write the GradeResult JSON",
)
@timeout_option()
@autograder_option
@_ENGINE
@_UNSAFE
@course_dir_option
def grade_one(
    notebook,
    term,
    student_id,
    plan_file,
    index,
    out_file,
    timeout,
    autograder_dir,
    engine,
    unsafe_no_sandbox,
    course: Course,
):
    """Grade one notebook and write its GradeResult as JSON: NOTEBOOK --student-id ID, or
    one entry of a plan (--plan PLAN --index I)."""
    term = course.term_or(term)
    autograder_dir = autograder_dir or course.autograder
    launcher = _launcher(engine, unsafe_no_sandbox, course)
    if plan_file is not None:
        if index is None:
            raise click.UsageError("--plan needs --index")
        entries = lms.entries_from_json(plan_file.read_text(encoding="utf-8"), plan_file.parent)
        if index >= len(entries):
            raise click.UsageError(f"--index {index}: the plan has {len(entries)} entries")
        result = grade_entry(
            entries[index],
            term=term,
            launcher=launcher,
            autograder_dir=autograder_dir,
            timeout=timeout,
            key=None,
            limits=None,
        )
    elif notebook is None or student_id is None:
        raise click.UsageError("give NOTEBOOK and --student-id, or --plan and --index")
    else:  # the same step as every batch's (a grader fault is a row, not a traceback)
        result = grade_entry(
            lms.Entry(notebook, notebook.name, student_id),
            term=term,
            launcher=launcher,
            autograder_dir=autograder_dir,
            timeout=timeout,
            key=None,
            limits=None,
        )
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(result.to_json(), encoding="utf-8")
    click.echo(f"{result.student_id}: {result.score:g}/{result.max_score:g} ({result.status})")
