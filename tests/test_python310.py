"""The intake, roster and gradebook unit tests (tests/test_grading_lms.py) on Python 3.10.

Gradescope's default base image runs Ubuntu 22.04's python3, 3.10, and the bundle's grader
reads the upload and the roster with this code there (tests/test_gradescope.py runs the whole
bundle on 3.10). Here the same unit tests that run on the suite's Python run again in a fresh
3.10 virtual environment with the Gradescope bundle's pinned grading dependencies
(autograder/requirements-gradescope.txt) and nothing else: a 3.11-only construct (tomllib,
`except*`, a newer typing feature) or a dependency missing from the pins fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pythons import python310

ROOT = Path(__file__).resolve().parents[1]
# all but the test that runs nbgrader itself: nbgrader is a course dependency, not a grading
# one (it is not in the bundle's pins); nbgrader's submitted/ layout is read on 3.10 too
SELECTION = ["-k", "not nbgrader_courses", str(ROOT / "tests" / "test_grading_lms.py")]
PYTEST = ["-m", "pytest", "-p", "no:cacheprovider", "-q"]


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    run = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return run


@pytest.mark.slow
def test_the_intake_unit_tests_pass_on_python_3_10(tmp_path) -> None:
    interpreter = python310() / "bin" / "python3.10"
    assert interpreter.exists(), f"{interpreter}: Python 3.10 (pyenv) is Ubuntu 22.04's python3"
    venv = tmp_path / "venv310"
    _run([str(interpreter), "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    pytest_pin = f"pytest=={pytest.__version__}"
    requirements = ROOT / "autograder" / "requirements-gradescope.txt"
    _run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements), pytest_pin])
    version = _run([str(python), "--version"]).stdout
    assert version.startswith("Python 3.10"), version
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # this checkout's code, run by 3.10
        "PYTHONDONTWRITEBYTECODE": "1",
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    run = _run([str(python), *PYTEST, *SELECTION], cwd=tmp_path, env=env)
    summary = run.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"{_collected()} passed"), summary  # every one, none skipped


def _collected() -> int:
    """How many of those tests this interpreter collects (the same selection)."""
    listed = _run([sys.executable, *PYTEST, "--collect-only", *SELECTION], cwd=ROOT).stdout
    return sum(1 for line in listed.splitlines() if "::" in line)
