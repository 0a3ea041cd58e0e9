"""The README's TA command, run verbatim: relative paths, default options (`--out` left to its
relative default), from a new course folder (`commslab init`), with an LMS zip named as Canvas names
its bulk download members (canvas-lms lib/content_zipper.rb: sortable name, user id,
attachment id, file name).

The default engine runs in the bubblewrap sandbox; the podman variant builds the probe image
(slow, container).
"""

from __future__ import annotations

import csv
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

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


def _run(engine: str, tmp_path: Path, edit=None) -> dict[str, dict]:
    """A new course folder (`commslab init`, as the README says), `edit(folder)` if given (an
    instructor's change), the class's zip in it, and the README's command run there."""
    init = [str(BIN / "commslab"), "init", "my-course"]
    made = subprocess.run(init, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    folder = tmp_path / "my-course"
    if edit is not None:
        edit(folder)
    _class_zip(folder)
    argv = _readme_command(engine)
    run = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
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
