"""The TA's commands after `commslab grade` (registered in commslab/cli.py).

commslab review import ta_scores.csv [--out grading-out]     the review page's export
commslab review set --student ID --question Q --points P [--comment C] [--out grading-out]
commslab regrade PATH... --student ID [--out grading-out]    one student again, nobody else
commslab report [--out grading-out]                          rewrite every page and CSV

Each works on the course folder given by --course-dir, else the working directory; --out
defaults to its grading-out/.

Each rewrites every output of OUT from gradebook.json, overrides.csv and the late policy
(commslab.grading.pipeline.publish).
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import click

from commslab.course import Course, course_dir_option
from commslab.grading import gradebook, lms, pipeline
from commslab.grading.grade import default_autograder_dir, normalise_id
from commslab.grading.outputs import summary
from commslab.options import jobs_option, timeout_option


def _OUT(function):
    """--out DIR (default: grading-out/ in the course folder) and --course-dir DIR (default:
    the working directory), passed on as `out_dir`, as `commslab grade` writes it."""

    @functools.wraps(function)
    def with_out(*args, out_dir: Path | None, course: Course, **kwargs):
        return function(*args, out_dir=out_dir or course.root / "grading-out", **kwargs)

    with_out = click.option(
        "--out",
        "out_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="the folder `commslab grade` wrote (default: grading-out/ in the course folder)",
    )(with_out)
    return course_dir_option(with_out)


def _publish(out_dir: Path) -> None:
    try:
        final = pipeline.publish(out_dir)
    except (OSError, ValueError) as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"{summary(final)}; rewrote the outputs in {out_dir}")


def _check_questions(out_dir: Path, overrides: list[gradebook.Override]) -> None:
    from commslab.grading.notebook import WRITTEN_IDS

    try:
        rows, _ = gradebook.load(out_dir)
    except FileNotFoundError as err:
        raise click.ClickException(str(err)) from err
    ids = {r.student_id for r in rows}
    questions = {q for r in rows for q in r.max_points}
    questions |= {gradebook.WRITTEN_PREFIX + w for w in WRITTEN_IDS}
    for o in overrides:
        if o.student_id not in ids:
            raise click.ClickException(f"no student {o.student_id!r} in {out_dir}")
        if o.question not in questions:
            raise click.ClickException(
                f"no question {o.question!r}; one of: {', '.join(sorted(questions))}"
            )


@click.group("review")
def review() -> None:
    """Put the TA's scores and overrides into the grades."""


@review.command("import")
@click.argument("scores", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_OUT
def import_scores(scores: Path, out_dir: Path) -> None:
    """Add the scores exported by review.html (student_id, question, points, comment)."""
    try:
        new = gradebook.read_overrides(scores)
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    _check_questions(out_dir, new)
    gradebook.add_overrides(out_dir, new)
    click.echo(f"{len(new)} score(s) from {scores}")
    _publish(out_dir)


@review.command("set")
@click.option("--student", "student_id", required=True)
@click.option(
    "--question", required=True, help="a grades.csv column, or written:<answer> for one answer"
)
@click.option("--points", type=click.FloatRange(min=0), required=True)
@click.option("--comment", default="", help="shown to the student in the feedback")
@_OUT
def set_score(student_id: str, question: str, points: float, comment: str, out_dir: Path):
    """Override one question's points for one student."""
    new = [gradebook.Override(normalise_id(student_id), question.strip(), points, comment)]
    _check_questions(out_dir, new)
    gradebook.add_overrides(out_dir, new)
    _publish(out_dir)


@click.command("regrade")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--student", "student_id", required=True, help="the LMS id to grade again")
@jobs_option(2)
@timeout_option()
@click.option("--autograder", "autograder_dir", type=click.Path(path_type=Path), default=None)
@_OUT
def regrade(paths, student_id, jobs, timeout, autograder_dir, out_dir):
    """Grade one student's files again (e.g. a fixed upload); every other row stays. The
    files are read by the batch's platform, mapped by its roster, graded with its engine and
    term (all stored in gradebook.json by `commslab grade`)."""
    from commslab.grading.grading_batch import stored_batch

    try:
        rows, meta = gradebook.load(out_dir)
        stored = stored_batch(meta)
    except (FileNotFoundError, OSError, ValueError) as err:
        raise click.ClickException(str(err)) from err
    student_id = normalise_id(student_id)
    with tempfile.TemporaryDirectory(prefix="commslab-regrade-") as workdir:
        try:
            batch = lms.intake(list(paths), workdir, platform=stored.platform, roster=stored.roster)
        except lms.PlatformError as err:
            raise click.ClickException(str(err)) from err
        entries = [e for e in batch.entries if e.student_id == student_id]
        if not entries:
            raise click.ClickException(
                f"no file of student {student_id!r} in the given paths "
                f"(read as {batch.platform.value}, as the batch was)"
            )
        new = pipeline.grade(
            entries,
            term=meta["term"],
            autograder_dir=autograder_dir or meta.get("autograder_dir") or default_autograder_dir(),
            jobs=jobs,
            timeout=timeout,
            launcher=stored.launcher(),
        )
    gradebook.save(out_dir, gradebook.replace_student(rows, student_id, new), meta)
    for r in new:
        click.echo(f"{r.student_id}: {r.score:g} / {r.max_score:g} ({r.status})")
    _publish(out_dir)


@click.command("report")
@_OUT
def report_command(out_dir: Path) -> None:
    """Rewrite grades, gradebook, feedback, review page, similarity and class report."""
    _publish(out_dir)
