"""The README's TA command, run verbatim: relative paths, default options (`--out` left to its
relative default), from a new course folder (`commslab init`), with an LMS zip named as Canvas names
its bulk download members (canvas-lms lib/content_zipper.rb: sortable name, user id,
attachment id, file name).

Each platform's export (tests/platform_exports.py, built from its source) is graded by the same
verbatim command. The default engine runs in the bubblewrap sandbox; the podman variant builds
the probe image (slow, container).
"""

from __future__ import annotations

import csv
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import platform_exports as exports
import pytest
from adversarial import notebooks

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _readme_command(engine: str) -> list[str]:
    """The README's `commslab grade submissions.zip ...` line, with --engine set to `engine`."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"`(\S*commslab grade submissions\.zip[^`]*)`", text)
    assert match, "the README has no `commslab grade submissions.zip ...` command"
    argv = shlex.split(match.group(1))
    argv[0] = str(BIN / "commslab")  # `.venv/bin/commslab`: this test's own environment
    if "--engine" in argv:
        argv[argv.index("--engine") + 1] = engine
    else:
        argv += ["--engine", engine]
    return argv


def _class_zip(folder: Path) -> Path:
    members = {
        "doejane_111_900_collective_comms.ipynb": notebooks.solved_notebook("111"),
        "smithbob_222_901_collective_comms.ipynb": notebooks.untouched_notebook(),
    }
    path = folder / "submissions.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, nb in members.items():
            tmp = notebooks.write(nb, folder / name)
            zf.write(tmp, name)
            tmp.unlink()
    return path


def _uploads() -> list[exports.Upload]:
    """Jane (solved, id 111) and Bob (untouched but for STUDENT_ID 222), as each platform
    knows them."""
    solved = nbformat.writes(notebooks.solved_notebook("111"))
    bob = 'STUDENT_ID = "222"\nTRACK = ""\n'
    untouched = nbformat.writes(notebooks.untouched_notebook(replace={"identity": bob}))
    return [
        exports.Upload("111", "Jane Doe", {"collective_comms.ipynb": solved}),
        exports.Upload("222", "Bob Smith", {"collective_comms.ipynb": untouched}),
    ]


# the export each platform writes (tests/platform_exports.py, sources cited there) as
# submissions.zip, and the student id of Jane's and Bob's rows without a roster
PLATFORMS = {
    "canvas": (exports.canvas, ("111", "222")),
    "moodle": (exports.moodle, ("111", "222")),
    "d2l": (exports.d2l, ("jane doe", "bob smith")),  # display names: no roster given
    "blackboard": (exports.blackboard, ("111", "222")),
    "gradescope": (exports.gradescope, ("111", "222")),
    "nbgrader": (exports.nbgrader_course, ("111", "222")),
    "files": (
        lambda uploads: {f"{u.name}.ipynb": u.files["collective_comms.ipynb"] for u in uploads},
        ("111", "222"),
    ),
}


def _run(engine: str, tmp_path: Path, edit=None, platform: str | None = None) -> dict[str, dict]:
    """A new course folder (`commslab init`, as the README says), `edit(folder)` if given (an
    instructor's change), the class's zip in it, and the README's command run there."""
    init = [str(BIN / "commslab"), "init", "my-course"]
    made = subprocess.run(init, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    folder = tmp_path / "my-course"
    if edit is not None:
        edit(folder)
    if platform is None:
        _class_zip(folder)
    else:
        exports.write_zip(folder / "submissions.zip", PLATFORMS[platform][0](_uploads()))
    argv = _readme_command(engine)
    run = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    if platform is not None:  # read by that platform's rules, decided from the export alone
        assert f"platform: {platform} (from the export's structure)" in run.stdout
    grades = folder / "grading-out" / "grades.csv"  # the relative default --out
    with grades.open(newline="", encoding="utf-8") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


@pytest.mark.slow
def test_the_readme_ta_command_grades_in_the_sandbox(tmp_path: Path) -> None:
    rows = _run("local", tmp_path)
    assert set(rows) == {"111", "222"}
    assert float(rows["111"]["score"]) == float(rows["111"]["max_score"]) > 0
    assert float(rows["222"]["score"]) == 0


@pytest.mark.slow
@pytest.mark.container
@pytest.mark.usefixtures("grader_image")
def test_the_readme_ta_command_grades_with_podman(tmp_path: Path, podman: str) -> None:
    """The probe image is built from the course folder's autograder/Dockerfile: a label the
    instructor adds there is on the image the grades came from."""
    key, value = "org.comms-lab.course", tmp_path.name
    mark = f"{key}={value}"

    def label_the_image(folder: Path) -> None:
        with open(folder / "autograder" / "Dockerfile", "a", encoding="utf-8") as f:
            f.write(f'LABEL {key}="{value}"\n')

    rows = _run("podman", tmp_path, edit=label_the_image)
    assert set(rows) == {"111", "222"}
    assert float(rows["111"]["score"]) == float(rows["111"]["max_score"]) > 0
    assert float(rows["222"]["score"]) == 0
    listed = subprocess.run(
        [podman, "images", "--filter", f"label={mark}", "--format", "{{.ID}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(listed) == 1, f"no image built from the course folder's Dockerfile: {listed}"
    subprocess.run([podman, "rmi", "-f", *listed], capture_output=True, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_the_readme_ta_command_grades_each_platform_s_export(tmp_path: Path, platform) -> None:
    """The README's command, verbatim, on each platform's export: one row per student, the
    solved notebook full marks, the untouched one nothing."""
    rows = _run("local", tmp_path, platform=platform)
    jane, bob = PLATFORMS[platform][1]
    assert set(rows) == {jane, bob}
    assert float(rows[jane]["score"]) == float(rows[jane]["max_score"]) > 0
    assert float(rows[bob]["score"]) == 0
