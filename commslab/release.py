"""`commslab release` and `commslab solutions`: one source notebook, every generated file.

- release/   the student version: nbgrader `generate_assignment` strips the solutions and
             locks the cells; the public otter checks go into the notebook's metadata.
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
from commslab.grading.answers import mission_answers

ASSIGNMENT = "collective_comms"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
ROOT = Path(__file__).resolve().parent.parent
DEMO_STUDENT = "demo"
TEXT_STUB = "_Write your answer here (3–6 sentences)._"
_BEGIN, _END = "### BEGIN SOLUTION", "### END SOLUTION"


def source_path(root: Path = ROOT) -> Path:
    return root / "source" / ASSIGNMENT / NOTEBOOK


def _check_term(term: str) -> str:
    term = term.strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,39}", term):
        raise click.BadParameter(
            f"{term!r}: use letters, digits, '-', e.g. 2026-fall", param_hint="--term"
        )
    return term


def render_source(term: str, root: Path = ROOT) -> nbformat.NotebookNode:
    """The source notebook with this term's TERM (the public checks ship in the package:
    commslab/notebook/public_tests)."""
    nb = nbformat.read(source_path(root), as_version=4)
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


def solved_notebook(term: str, student_id: str, track: str, root: Path = ROOT):
    """The source's solutions, with this student's identity and ledger numbers filled in."""
    s = scenario_for(track, term, student_id)
    nb = render_source(term, root)
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
    # otter picks a random emoji for a passed check: seed the kernel so reruns are identical
    nb.cells.insert(0, nbformat.v4.new_code_cell("import random; random.seed(0)"))
    with tempfile.TemporaryDirectory(prefix="commslab-run-") as tmp:
        write_notebook(nb, Path(tmp) / NOTEBOOK)
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": tmp}}
        )
        try:
            client.execute()
        finally:
            nb.cells.pop(0)
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


def release(term: str, root: Path = ROOT, *, tracks=tuple(TRACKS)) -> list[Path]:
    term = _check_term(term)
    written = []
    nb = render_source(term, root)
    target = root / "release" / ASSIGNMENT / NOTEBOOK
    write_notebook(student_version(nb), target)
    written.append(target)
    for track in tracks:
        solved = solved_notebook(term, DEMO_STUDENT, track, root)
        path = root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}_{track}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_notebook(execute(solved), path)
        written.append(path)
    (root / "release" / "TERM").write_text(term + "\n")
    written.append(root / "release" / "TERM")
    from commslab.bundle import build_bundle

    written.append(build_bundle(term, root))
    return written


@click.command("release")
@click.option(
    "--term", required=True, help="The term, e.g. 2026-fall: every number derives from it."
)
def release_command(term: str) -> None:
    """Regenerate release/, solutions/ and the autograder bundle for TERM."""
    for path in release(term):
        click.echo(f"wrote {path.relative_to(ROOT)}")


@click.command("solutions")
@click.option("--term", required=True)
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
def solutions_command(term, student_id, track, from_submission, out, execute_it):
    """The solved notebook of one student: the answer key a TA can open."""
    if track is None and from_submission is not None:
        track = _track_of(from_submission)
    track = track or "cloud_titan"
    nb = solved_notebook(_check_term(term), student_id, track)
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
