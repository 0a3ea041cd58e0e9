"""The course folder works anywhere; the student install holds the science and no answers.

The two slow tests do what the README says in fresh virtual environments: a plain
(non-editable) install of the package, then `commslab init`, `release`, `solutions` and `grade`
in a temporary course folder; and the README's student install line run in a copy of the
release folder alone, then the released notebook executed headless with that environment's
own Jupyter.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from fresh_env import fresh_venv, readme_student_line, run

from commslab import wheels
from commslab.cli import main
from commslab.course import CONFIG, Course, init_course

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "release" / "collective_comms"
HIDDEN_TESTS = sorted((ROOT / "autograder" / "tests").glob("*.py"))
SOLVED = "collective_comms_edge_guardian.ipynb"
IMAGE_CONTEXT = [
    "autograder/Dockerfile",
    "autograder/probe-requirements.txt",
    "commslab/grading/probe.py",
    "commslab/mpi/relay_rank.py",
]
NOTEBOOK_NAME = "collective_comms.ipynb"
COURSE_FILES = [
    CONFIG,
    "source/collective_comms/collective_comms.ipynb",
    *(str(p.relative_to(ROOT)) for p in HIDDEN_TESTS),
    "autograder/Dockerfile",
    "autograder/containers.conf",
    "autograder/requirements-gradescope.txt",
    "autograder/probe-requirements.txt",
]


def test_init_copies_the_repository_s_own_course_files(tmp_path):
    """The repository is a course folder: `init` makes a copy of its course files."""
    written = init_course(tmp_path / "course", term="2031-spring")
    made = {str(p.relative_to(tmp_path / "course")) for p in written}
    assert made == {*COURSE_FILES, ".gitignore"}
    for name in COURSE_FILES:
        if name != CONFIG:
            assert (tmp_path / "course" / name).read_bytes() == (ROOT / name).read_bytes(), name
    assert Course.at(tmp_path / "course").term == "2031-spring"
    assert "autograder/instructor.key" in (tmp_path / "course" / ".gitignore").read_text()


def test_init_refuses_a_folder_with_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code != 0 and "not empty" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    "args",
    [
        ["release"],
        ["solutions", "--student", "1", "--out", "k.ipynb"],
        ["grade", "."],
        ["grade-one", "--plan", __file__, "--index", "0", "--out", "r.json"],
        ["prairielearn", "--grade-dir", "."],
        ["report"],
        ["review", "set", "--student", "1", "--question", "q", "--points", "1"],
    ],
    ids=["release", "solutions", "grade", "grade-one", "prairielearn", "report", "review"],
)
def test_commands_outside_a_course_folder_say_what_to_do(tmp_path, args):
    result = CliRunner().invoke(main, [*args, "--course-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "is not a course folder" in result.output and "commslab init" in result.output
    assert list(tmp_path.iterdir()) == []


def test_report_rewrites_the_grades_of_the_course_folder_it_is_given(tmp_path, monkeypatch):
    """`commslab report --course-dir my-course` from the folder above: its grading-out/."""
    from commslab.grading import gradebook
    from commslab.grading.grade import GradeResult

    course = tmp_path / "my-course"
    init_course(course)
    out = course / "grading-out"
    row = GradeResult("1234567", 30.0, 35.0, "graded", max_points={"q": 35.0}, points={"q": 30})
    gradebook.save(out, [row], {"term": "2026-fall", "course_dir": str(course)})  # as grade does
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["report", "--course-dir", "my-course"])
    assert result.exit_code == 0, result.output
    assert (out / "grades.csv").read_text().splitlines()[1].startswith("1234567,30,35,graded")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-course"]


def test_a_term_comes_from_the_command_line_or_the_config(tmp_path):
    (tmp_path / CONFIG).write_text("[course]\n")
    course = Course.at(tmp_path)
    assert course.term_or("2027-fall") == "2027-fall"
    with pytest.raises(click.UsageError, match="give --term"):
        course.term_or(None)


def test_the_student_side_reaches_the_notebook_helpers_but_never_the_grader():
    modules = wheels.student_modules(["from commslab import lab"])
    assert "commslab.lab" in modules or "commslab.notebook" in modules
    assert {"comms_core.cost_models", "comms_core.scenarios"} <= set(modules)
    assert not [m for m in modules if m.startswith("commslab.grading")]
    with pytest.raises(wheels.StudentSideError, match=r"commslab\.grading"):
        wheels.student_modules(["from commslab.grading import grade"])
    # what mpiexec runs for the notebook's calibration and bonus check, never the grader's relay
    assert {"commslab.mpi.allreduce_timing", "commslab.mpi.bonus_runner"} <= set(modules)
    assert "commslab.mpi.bonus_relay" not in modules


def test_relative_imports_resolve_inside_their_package():
    assert "commslab.grading.x" in wheels.imports_of("from .grading import x", "commslab.lab")
    found = wheels.imports_of("from . import y", "comms_core", is_package=True)
    assert "comms_core.y" in found


def test_a_wheel_is_the_same_bytes_twice_and_its_record_matches(tmp_path):
    spec = wheels.student_wheel(["from commslab import lab"])
    one = wheels.write_wheel(spec, tmp_path / "a").read_bytes()
    two = wheels.write_wheel(spec, tmp_path / "b")
    assert one == two.read_bytes()
    with zipfile.ZipFile(two) as zf:
        record = zf.read(next(n for n in zf.namelist() if n.endswith("RECORD"))).decode()
        for line in record.splitlines():
            name, digest, _ = line.rsplit(",", 2)
            if digest:
                data = zf.read(name)
                assert wheels._record_line(name, data) == line
        meta = zf.read(next(n for n in zf.namelist() if n.endswith("METADATA"))).decode()
    assert "Requires-Dist: jupyterlab" in meta  # the student gets Jupyter with the lab
    required = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert not [r for r in required if "otter" in r or "rich" in r], required  # grader, CLI only


def test_the_committed_student_wheel_is_current(tmp_path):
    """The wheel in release/ is what `commslab release` would write from this tree (if this
    fails: `commslab release`, then commit release/)."""
    released = json.loads((RELEASE / "collective_comms.ipynb").read_text())
    sources = ["".join(c["source"]) for c in released["cells"] if c["cell_type"] == "code"]
    fresh = wheels.write_wheel(wheels.student_wheel(sources), tmp_path)
    committed = RELEASE / fresh.name
    assert committed.is_file() and committed.read_bytes() == fresh.read_bytes(), (
        "release/ holds a stale student wheel: run `commslab release` and commit release/"
    )


def test_the_committed_release_holds_a_student_install():
    requirements = (RELEASE / "requirements.txt").read_text()
    (wheel,) = RELEASE.glob("*.whl")
    assert f"./{wheel.name}" in requirements.splitlines()
    assert readme_student_line() == "python -m pip install -r requirements.txt"


WIDGET_PLUGIN = "@jupyter-widgets/jupyterlab-manager:plugin"


def test_the_student_wheel_makes_jupyter_save_the_widget_state(tmp_path):
    """The committed student wheel carries JupyterLab's default-setting override (saveState
    true) as a data file listed in its RECORD; pip installs it under the environment's prefix,
    where JupyterLab's own settings reader (jupyterlab_server) turns the widget manager's
    default to true. JupyterLab and Notebook 7 both read that folder of their environment."""
    from jupyter_core.paths import jupyter_path
    from jupyterlab.labapp import LabApp
    from jupyterlab_server.settings_utils import get_settings
    from notebook.app import JupyterNotebookApp

    (wheel,) = RELEASE.glob("*.whl")
    stem = wheel.name.removesuffix("-py3-none-any.whl")
    name = f"{stem}.data/data/{wheels.JUPYTER_OVERRIDES}"
    assert wheels.JUPYTER_OVERRIDES.startswith("share/jupyter/lab/settings/overrides.d/")
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(name)
        record = zf.read(f"{stem}.dist-info/RECORD").decode().splitlines()
    assert wheels._record_line(name, data) in record
    assert json.loads(data) == {WIDGET_PLUGIN: {"saveState": True}}

    prefix = tmp_path / "prefix"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    subprocess.run([*pip, "--prefix", str(prefix), str(wheel)], check=True)
    app_settings = prefix / "share" / "jupyter" / "lab" / "settings"
    (tmp_path / "user").mkdir()
    found, _ = get_settings(
        str(app_settings), "", str(tmp_path / "user"), WIDGET_PLUGIN,
        labextensions_path=jupyter_path("labextensions"),
    )  # fmt: skip
    assert found["schema"]["properties"]["saveState"]["default"] is True
    shared = Path(sys.prefix, "share", "jupyter", "lab", "settings").resolve()
    assert Path(LabApp().app_settings_dir) == Path(JupyterNotebookApp().app_settings_dir) == shared


def test_the_student_wheel_installs_the_reopen_extension(tmp_path):
    """The student wheel carries the prebuilt JupyterLab extension comms-lab-reopen (built from
    commslab/labextension/source) as data files; pip installs it where JupyterLab looks for
    prebuilt extensions, and JupyterLab's own reader finds it there with a file to load."""
    from jupyterlab_server.config import get_federated_extensions

    wheel = wheels.write_wheel(wheels.student_wheel(["from commslab import lab"]), tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    data = f"{wheel.name.removesuffix('-py3-none-any.whl')}.data/data/"
    folder = f"{wheels.JUPYTER_LABEXTENSIONS}/{wheels.LABEXTENSION}"
    assert f"{data}{folder}/package.json" in names
    assert not [n for n in names if "labextension/source" in n or "node_modules" in n]
    prefix = tmp_path / "prefix"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    subprocess.run([*pip, "--prefix", str(prefix), str(wheel)], check=True)
    found = get_federated_extensions([str(prefix / wheels.JUPYTER_LABEXTENSIONS)])
    extension = found[wheels.LABEXTENSION]
    assert (prefix / folder / extension["jupyterlab"]["_build"]["load"]).is_file()
    built = "".join(p.read_text() for p in (prefix / folder / "static").glob("*.js"))
    source = (ROOT / "commslab" / "labextension" / "source" / "index.js").read_text()
    plugin_id = re.search(r"id: '([^']+)'", source)
    assert plugin_id and plugin_id.group(1) in built  # the build is of this source
    assert "contentChanged" in built and "dirty" in built


# --- fresh virtual environments (slow) -------------------------------------------------------


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def _copy_of_checkout(dest: Path) -> Path:
    """The checkout's files (tracked, or new and not ignored), as `git clone` plus edits."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in names)):
        src = ROOT / name
        if src.is_file() or src.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name, follow_symlinks=False)
    return dest


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.slow
def test_a_plain_install_runs_every_command_in_a_course_folder_and_writes_nowhere_else(tmp_path):
    env = fresh_venv(tmp_path / "venv")
    source = _copy_of_checkout(tmp_path / "src")  # a build writes build/: not in the checkout
    run(f'python -m pip install -q "{source}[course]"', tmp_path, env)
    installed = _files(tmp_path / "venv")
    repo_before = _git_status()
    work = tmp_path / "work"
    work.mkdir()

    run("commslab init my-course", work, env)
    course = work / "my-course"
    run("commslab release", course, env)
    run(
        "commslab solutions --student 1234567 --track edge_guardian "
        "--out submissions/doejane_1234567_1_collective_comms.ipynb",
        course,
        env,
    )
    run("commslab grade submissions --jobs 1", course, env)
    _run_job_array_and_prairielearn(course, env)

    outputs = {
        "release/TERM",
        "release/collective_comms/collective_comms.ipynb",
        "release/collective_comms/requirements.txt",
        "release/collective_comms/comms_lab_student-0.1.0-py3-none-any.whl",
        "autograder/dist/collective_comms-autograder.zip",
        "autograder/instructor.key",
        "submissions/doejane_1234567_1_collective_comms.ipynb",
        "grading-out/grades.csv",
        "grading-out/gradebook_canvas.csv",
        "grading-out/written_answers.md",
        *(f"solutions/collective_comms/collective_comms_{t}.ipynb" for t in _tracks()),
    }
    made = set(_files(course))
    assert outputs <= made, outputs - made
    assert {p.split("/")[0] for p in made} <= {
        *(p.split("/")[0] for p in COURSE_FILES),
        ".gitignore",
        "release",
        "solutions",
        "submissions",
        "submissions.zip",
        "grading-out",
        "job",
        "pl",
    }
    with (course / "grading-out" / "grades.csv").open() as f:
        (row,) = csv.DictReader(f)
    assert row["student_id"] == "1234567" and float(row["score"]) == float(row["max_score"]) > 0
    assert [p.name for p in work.iterdir()] == ["my-course"]

    # The grading image's build context: the course folder's image files and the package's
    # probe.py (no checkout around it), as `commslab grade --engine podman` builds it there.
    script = (
        "import json, pathlib; from commslab.grading.container import image_root; "
        "r = image_root(pathlib.Path.cwd()); "
        "print(json.dumps([str(r), {str(p.relative_to(r)): p.read_text() "
        "for p in r.rglob('*') if p.is_file()}]))"
    )
    staged, context = json.loads(run(f'python -c "{script}"', course, env))
    assert context == {name: (ROOT / name).read_text() for name in IMAGE_CONTEXT}
    assert not Path(staged).exists(), "the staged build context outlived the process"
    assert _files(tmp_path / "venv") == installed, "the commands changed the environment"
    assert _git_status() == repo_before, "the commands changed the repository"


def _job_array_lines() -> list[str]:
    """The job array's three commands, as docs/platforms.md writes them."""
    text = (ROOT / "docs" / "platforms.md").read_text()
    block = text.split("## A class too large for one machine", 1)[1].split("```bash", 1)[1]
    lines = [line.split("#")[0].strip() for line in block.split("```", 1)[0].splitlines()]
    commands = [line for line in lines if line.startswith("commslab ")]
    assert [c.split()[1] for c in commands] == ["grade", "grade-one", "grade"], commands
    return commands


def _run_job_array_and_prairielearn(course: Path, env: dict[str, str]) -> None:
    """grade --plan, grade-one, grade --merge verbatim from docs/platforms.md in the course
    folder; then PrairieLearn's entrypoint run from its job folder with a relative
    --course-dir. Both read the course folder's hidden tests, key and term (issue 12)."""
    with zipfile.ZipFile(course / "submissions.zip", "w") as z:
        for path in sorted((course / "submissions").iterdir()):
            z.write(path, path.name)
    for command in _job_array_lines():
        run(command, course, {**env, "I": "0"})
    assert json.loads((course / "job" / "results" / "0.json").read_text())["score"] > 0
    job = course / "pl"
    for folder in ("student", "data"):
        (job / folder).mkdir(parents=True)
    shutil.copy(next((course / "submissions").iterdir()), job / "student" / NOTEBOOK_NAME)
    (job / "data" / "data.json").write_text(json.dumps({"params": {"student_id": "1234567"}}))
    run("commslab prairielearn --grade-dir . --course-dir ..", job, env)
    results = json.loads((job / "results" / "results.json").read_text())
    assert results["gradable"] and results["score"] == 1.0, results["message"]


def _write_student_work(released: Path, out: Path) -> None:
    """The released notebook with every answer cell taken from the committed solved notebook
    (the demo student's own answers), written under another name."""
    solved = json.loads((ROOT / "solutions" / "collective_comms" / SOLVED).read_text())
    answers = {
        c["metadata"]["nbgrader"]["grade_id"]: c["source"]
        for c in solved["cells"]
        if c["metadata"].get("nbgrader", {}).get("solution")
    }
    nb = json.loads(released.read_text())
    for cell in nb["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    out.write_text(json.dumps(nb))


def _tracks() -> list[str]:
    from comms_core.scenarios import TRACKS

    return list(TRACKS)


@pytest.mark.slow
def test_the_readme_student_line_installs_the_lab_from_the_release_folder_alone(tmp_path):
    folder = tmp_path / "collective_comms"
    shutil.copytree(RELEASE, folder)
    env = fresh_venv(tmp_path / "venv")
    run(readme_student_line(), folder, env)

    run(
        "jupyter nbconvert --to notebook --execute collective_comms.ipynb "
        "--output executed.ipynb --ExecutePreprocessor.timeout=300",
        folder,
        env,
    )
    assert "Type your LMS id" in (folder / "executed.ipynb").read_text()
    # A student's finished work, renamed: the public checks run from the installed package.
    _write_student_work(folder / "collective_comms.ipynb", folder / "my lab (final).ipynb")
    run(
        'jupyter nbconvert --to notebook --execute "my lab (final).ipynb" '
        "--output finished.ipynb --ExecutePreprocessor.timeout=300",
        folder,
        env,
    )
    finished = (folder / "finished.ipynb").read_text()
    for check in ("part1", "part2", "part3", "ledger"):
        assert f"{check} results: All test cases passed!" in finished, check

    site = next((tmp_path / "venv" / "lib").glob("python3*/site-packages"))
    check = (
        "import importlib.util as u; "
        "print(u.find_spec('comms_core') is not None, u.find_spec('commslab.grading'))"
    )
    assert run(f'python -c "{check}"', folder, env).split() == ["True", "None"]
    # Only what the notebook needs (issue 23): the public checks ran above without otter-grader,
    # so no PDF export, browser automation, pandas or documentation builder came with it.
    grader_side = "import importlib.util as u; print([m for m in {!r} if u.find_spec(m)])".format(
        ("otter", "pandas", "playwright", "sphinx", "pypdf")
    )
    assert run(f'python -c "{grader_side}"', folder, env).strip() == "[]"
    hidden = [p.read_text() for p in HIDDEN_TESTS]
    for path in site.rglob("*.py"):
        text = path.read_text(errors="replace")
        assert "mission_answers" not in text, f"{path} holds the mission answers"
        assert text not in hidden, f"{path} is a hidden test"
    ours = [p for p in site.rglob("*") if p.parts[len(site.parts)] in ("comms_core", "commslab")]
    assert not [p for p in ours if "grading" in p.parts or p.name == "answers.py"]

    # The optional calibration and the MPI bonus, with the install line the notebook gives.
    released = json.loads((folder / "collective_comms.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in released["cells"])
    line = re.search(r"`%pip install ([^`]+)`", text).group(1)
    run(f"python -m pip install {line}", folder, env)
    bonus = _solved_bonus_source() + (
        "\nimport commslab.lab as lab\n"
        "shown = []\n"
        "lab._markdown = shown.append\n"
        "lab._show = lambda obj: None\n"
        "lab.calibrate_my_machine()\n"
        "lab.check_bonus(my_ring_allreduce)\n"
        "print('\\n'.join(shown))\n"
    )
    (folder / "mpi_check.py").write_text(bonus)
    out = run("python mpi_check.py", folder, env)
    assert "**Your machine** (2 MPI ranks)" in out and "could not run" not in out, out
    assert "**2 ranks:** 4/4" in out and "**3 ranks:** 4/4" in out, out


def _solved_bonus_source() -> str:
    """The solutions' my_ring_allreduce (the bonus cell of a solved notebook)."""
    solved = json.loads(
        (ROOT / "solutions" / "collective_comms" / "collective_comms_cloud_titan.ipynb").read_text()
    )
    (cell,) = [
        c
        for c in solved["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "bonus_ring"
    ]
    return "import numpy as np\n\n" + "".join(cell["source"])
