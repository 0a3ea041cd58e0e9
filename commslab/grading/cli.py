"""`commslab grade` and `commslab grade-one` (registered in commslab/cli.py).

commslab grade PATH... --term TERM [--engine local|docker|podman] [--jobs N] [--out DIR]
                                   [--timeout S] [--roster FILE [--roster-id COLUMN]]
commslab grade-one NOTEBOOK --term TERM --student-id ID --out FILE.json
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from commslab.grading import harness, lms, report
from commslab.grading.grade import default_autograder_dir, grade_notebook
from commslab.grading.roster import read_roster

_AUTOGRADER_HELP = "tests/ and instructor.key (default: ./autograder, else the project's)"


@click.command("grade")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--term", required=True, help="the term, e.g. 2026-fall (scenarios depend on it)")
@click.option(
    "--engine",
    type=click.Choice(report.ENGINES),
    default="local",
    show_default=True,
    help="local: sandboxed probe processes here; docker/podman: one container each",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=min(4, os.cpu_count() or 1),
    show_default=True,
    help="submissions graded in parallel",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("grading-out"),
    show_default=True,
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    help="seconds per submission, all cells and calls included",
)
@click.option(
    "--autograder",
    "autograder_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=_AUTOGRADER_HELP,
)
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
    help="the class list: a Canvas gradebook export, a Moodle grading worksheet or a CSV "
    "with a student_id column; maps the LMS's ids to the student ids",
)
@click.option(
    "--roster-id",
    default=None,
    help="the roster column that holds the student id (default: Canvas 'ID', Moodle "
    "'ID number' else 'Email address', CSV 'student_id')",
)
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
):
    """Grade notebooks, folders or an LMS export (Canvas, Moodle, Gradescope, nbgrader
    submitted/): one row per file in grades.csv."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    autograder_dir = autograder_dir or default_autograder_dir()
    if not (autograder_dir / "tests").is_dir():
        raise click.ClickException(f"no hidden tests in {autograder_dir / 'tests'}")
    harness.instructor_key(autograder_dir)  # before any container image is built from it
    if engine != "local":
        _check_engine(engine)
    roster = None
    if roster_path is not None:
        try:
            roster = read_roster(roster_path, id_column=roster_id)
        except (OSError, ValueError) as err:
            raise click.ClickException(str(err)) from err
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="commslab-submissions-") as workdir:
        entries = lms.collect(list(paths), workdir, roster=roster)
        if not entries:
            raise click.ClickException("no files to grade in " + ", ".join(map(str, paths)))
        columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns) as progress:
            task = progress.add_task("grading", total=len(entries))
            results = report.grade_batch(
                entries,
                term=term,
                autograder_dir=autograder_dir,
                engine=engine,
                jobs=jobs,
                timeout=timeout,
                out_dir=out_dir,
                on_done=lambda r: progress.advance(task),
            )
    report.write_outputs(
        results,
        out_dir,
        assignment=assignment,
        canvas_assignment_id=canvas_assignment_id,
        roster=roster,
    )
    click.echo(report.summary(results))
    click.echo(
        f"wrote {out_dir / 'grades.csv'}, {out_dir / 'gradebook_canvas.csv'}, "
        f"{out_dir / 'feedback'}/, {out_dir / 'written_answers.md'}, {out_dir / 'results'}/"
    )


def _check_engine(engine: str) -> None:
    try:
        container = report._container_module()
        container.check_engine(engine)
    except Exception as err:
        raise click.ClickException(str(err)) from err


@click.command("grade-one")
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--term", required=True)
@click.option("--student-id", required=True, help="the LMS id the grade is for")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="where to write the GradeResult JSON",
)
@click.option("--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True)
@click.option(
    "--autograder",
    "autograder_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=_AUTOGRADER_HELP,
)
def grade_one(notebook, term, student_id, out_file, timeout, autograder_dir):
    """Grade one notebook here (the local engine) and write its GradeResult as JSON."""
    result = grade_notebook(
        notebook,
        term=term,
        student_id=student_id,
        autograder_dir=autograder_dir or default_autograder_dir(),
        timeout=timeout,
    )
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(result.to_json(), encoding="utf-8")
    click.echo(f"{result.student_id}: {result.score:g}/{result.max_score:g} ({result.status})")
