"""`commslab release` and `commslab solutions`: one source notebook, every generated file.

Run in a course folder (commslab/course.py), they write inside it and nowhere else:

- release/collective_comms/  what a student needs: the student version of the notebook
             (nbgrader `generate_assignment` strips the solutions and locks the cells; the
             public otter checks go into the notebook's metadata), the student wheel
             (commslab/wheels.py) and requirements.txt, its one-line install.
- solutions/ the solved notebook of the term's demo student per track, executed headless.
- autograder/dist/ the grading bundle (hidden tests + the grader) for Gradescope-style use.

Everything is written deterministically (no timestamps, sorted JSON), so running the command
twice gives the same files and `git diff` shows only what a term really changes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import nbformat

from comms_core.scenarios import TRACKS, ledger_fields, scenario_for
from commslab import wheels
from commslab.course import ASSIGNMENT, NOTEBOOK, Course, check_term, course_dir_option
from commslab.grading.answers import mission_answers

DEMO_STUDENT = "demo"
TEXT_STUB = "_Write your answer here (see the sentences asked for above)._"
REQUIREMENTS = "requirements.txt"
_BEGIN, _END = "### BEGIN SOLUTION", "### END SOLUTION"


def render_source(term: str, course: Course) -> nbformat.NotebookNode:
    """The source notebook with this term's TERM (the public checks ship in the package:
    commslab/notebook/public_tests)."""
    nb = nbformat.read(course.source_notebook, as_version=4)
    setup = _cell(nb, "setup")
    setup.source, n = re.subn(r'^TERM = ".*"$', f'TERM = "{term}"', setup.source, flags=re.M)
    if n != 1:
        raise click.ClickException("the setup cell of the source notebook has no TERM line")
    return nb


def _cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise click.ClickException(f"the source notebook has no cell {grade_id!r}")


def _replace_solution(cell: nbformat.NotebookNode, body: str) -> None:
    start, stop = cell.source.index(_BEGIN), cell.source.index(_END) + len(_END)
    cell.source = cell.source[:start] + _BEGIN + "\n" + body.rstrip() + "\n" + cell.source[stop:]


def _strip_markers(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        lines = [ln for ln in cell.source.splitlines() if ln.strip() not in (_BEGIN, _END)]
        cell.source = "\n".join(lines)


def solved_notebook(term: str, student_id: str, track: str, course: Course):
    """The source's solutions, with this student's identity and ledger numbers filled in."""
    s = scenario_for(track, term, student_id)
    nb = render_source(term, course)
    _replace_solution(
        _cell(nb, "identity"), f"STUDENT_ID = {s.student_id!r}\nTRACK = {s.track.key!r}"
    )
    answers = mission_answers(s)
    k = int(answers["accumulation_steps"])
    tries = sorted({1, 2, 4, 8, k})[:10]
    _replace_solution(_cell(nb, "part2_tries"), f"K_TRIES = {tries}")
    decisions = {"compression": "on", "strategy": "rigor (sync + compression)"}
    ledger = {f.key: answers.get(f.key, decisions.get(f.key)) for f in ledger_fields(track)}
    body = (
        "LEDGER = {\n"
        + "".join(f"    {key!r}: {value!r},\n" for key, value in ledger.items())
        + "}"
    )
    _replace_solution(_cell(nb, "ledger"), body)
    _cell(nb, "check_bonus").source = "lab.check_bonus(my_ring_allreduce)"
    _strip_markers(nb)
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = 300):
    """Run the notebook top to bottom with a real kernel (static figures, no widget state).

    It runs in a temporary folder (the public checks come from the package, so the file
    name does not matter).
    """
    from nbclient import NotebookClient

    os.environ["COMMS_LAB_STATIC"] = "1"
    with tempfile.TemporaryDirectory(prefix="commslab-run-") as tmp:
        write_notebook(nb, Path(tmp) / NOTEBOOK)
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": tmp}}
        )
        client.execute()
    for cell in nb.cells:  # execution timestamps would make every run differ
        cell.metadata.pop("execution", None)
    return nb


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(nbformat.from_dict(nb), indent=1, sort_keys=True, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """nbgrader generate_assignment in a throw-away course directory."""
    with tempfile.TemporaryDirectory(prefix="commslab-release-") as tmp:
        course = Path(tmp)
        write_notebook(nb, course / "source" / ASSIGNMENT / NOTEBOOK)
        (course / "nbgrader_config.py").write_text(
            "c = get_config()\n"
            f"c.CourseDirectory.root = {str(course)!r}\n"
            "c.CourseDirectory.course_id = 'comms-lab'\n"
            f"c.CourseDirectory.db_url = 'sqlite:///{course}/gradebook.db'\n"
            "c.ClearSolutions.code_stub = {'python': ''}\n"
            f"c.ClearSolutions.text_stub = {TEXT_STUB!r}\n"
        )
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
        proc = subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
            cwd=course,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        released = course / "release" / ASSIGNMENT / NOTEBOOK
        if proc.returncode != 0 or not released.exists():
            raise click.ClickException(
                "nbgrader generate_assignment failed:\n" + proc.stderr[-3000:]
            )
        out = nbformat.read(released, as_version=4)
    for cell in out.cells:  # the released code cells: blank lines left by the removed solutions
        if cell.cell_type == "code":
            cell.source = re.sub(r"\n{3,}", "\n\n", cell.source).strip("\n")
    return out


STUDENT_README = """# Collective Communication Lab ({term})

Everything you need is in this folder.

1. Install the lab once (Python {python} or newer; a virtual environment is best). In this folder:

       python -m pip install -r requirements.txt

   This installs Jupyter and the lab's own package from the wheel beside this file.
2. Open the notebook: `jupyter lab {notebook}` (you may rename it).
3. Type your LMS id and pick a track in the first cells, then work top to bottom.
4. Upload the notebook to the LMS.
"""


def student_install(notebook: nbformat.NotebookNode, out_dir: Path, term: str) -> list[Path]:
    """The student wheel, requirements.txt (its one-line install) and a README in OUT_DIR."""
    sources = [c.source for c in notebook.cells if c.cell_type == "code"]
    try:
        wheel = wheels.write_wheel(wheels.student_wheel(sources), out_dir)
    except (wheels.StudentSideError, wheels.MetadataError) as err:
        raise click.ClickException(str(err)) from None
    requirements = out_dir / REQUIREMENTS
    requirements.write_text(
        "# The lab's Python packages, Jupyter included. In this folder, run:\n"
        f"#   python -m pip install -r {REQUIREMENTS}\n"
        f"./{wheel.name}\n"
    )
    readme = out_dir / "README.md"
    python = wheels.installed().metadata["Requires-Python"].removeprefix(">=")
    readme.write_text(STUDENT_README.format(term=term, notebook=NOTEBOOK, python=python))
    return [wheel, requirements, readme]


def release(term: str, course: Course, *, tracks=tuple(TRACKS)) -> list[Path]:
    """Write release/, solutions/ and the autograder bundle of TERM into the course folder."""
    from commslab.bundle import build_bundle

    term = check_term(term)
    nb = student_version(render_source(term, course))
    target = course.release_dir / NOTEBOOK
    for old in course.release_dir.glob("*.whl"):  # a previous version's wheel
        old.unlink()
    write_notebook(nb, target)
    written = [target, *student_install(nb, course.release_dir, term)]
    for track in tracks:
        solved = solved_notebook(term, DEMO_STUDENT, track, course)
        path = course.solutions_dir / f"{ASSIGNMENT}_{track}.ipynb"
        write_notebook(execute(solved), path)
        written.append(path)
    term_file = course.root / "release" / "TERM"
    term_file.write_text(term + "\n")
    written.append(term_file)
    written.append(build_bundle(term, course.root))
    return written


@click.command("release")
@click.option("--term", default=None, help="The term, e.g. 2026-fall (default: commslab.toml's).")
@course_dir_option
def release_command(term: str | None, course: Course) -> None:
    """Regenerate release/, solutions/ and the autograder bundle for TERM."""
    for path in release(course.term_or(term), course):
        click.echo(f"wrote {path.relative_to(course.root)}")


@click.command("solutions")
@click.option("--term", default=None, help="The term (default: commslab.toml's).")
@click.option("--student", "student_id", required=True, help="The student's LMS id.")
@click.option(
    "--track",
    type=click.Choice(list(TRACKS)),
    default=None,
    help="The student's track (default: read from --from-submission, else cloud_titan).",
)
@click.option(
    "--from-submission",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Take the track from the student's submitted notebook.",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--execute/--no-execute", "execute_it", default=True, help="Run it so figures and outputs show."
)
@course_dir_option
def solutions_command(term, student_id, track, from_submission, out, execute_it, course):
    """The solved notebook of one student: the answer key a TA can open."""
    if track is None and from_submission is not None:
        track = _track_of(from_submission)
    track = track or "cloud_titan"
    term = check_term(course.term_or(term))
    nb = solved_notebook(term, student_id, track, course)
    if execute_it:
        nb = execute(nb)
    write_notebook(nb, out)
    click.echo(f"wrote {out} ({track}, student {student_id}, term {term})")


def _track_of(path: Path) -> str | None:
    import ast

    try:
        nb = nbformat.read(path, as_version=4)
        tree = ast.parse(_cell(nb, "identity").source)
    except Exception:  # a broken submission: fall back to the default track
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "TRACK":
            value = getattr(node.value, "value", None)
            if value in TRACKS:
                return value
    return None
