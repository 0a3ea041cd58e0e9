"""The public checks run without otter-grader (commslab/notebook/checkfile.py) and read as they
did under otter: the same check file, run by otter-grader itself (the oracle, installed on the
grader's side) and by checkfile, gives the same text, passed or failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from commslab.notebook.checkfile import run_check

# A check file in otter's exception-based format
# (https://otter-grader.readthedocs.io/en/latest/test_files/python_format.html).
CHECK = """OK_FORMAT = False
name = "demo"
points = None

from {module} import test_case  # noqa: E402


@test_case(name="double: 2 -> 4")
def test_double(double):
    assert double is not None, "double is not defined yet"
    assert double(2) == 4, f"double(2) gave {{double(2)}}, expected 4"


@test_case()
def test_env(env):
    assert "double" in env, "no double in the notebook"
"""


def _write(tmp_path: Path, module: str) -> Path:
    path = tmp_path / module.replace(".", "_") / "demo.py"
    path.parent.mkdir()
    path.write_text(CHECK.format(module=module))
    return path


@pytest.mark.parametrize(
    "env",
    [
        {"double": lambda x: 2 * x},
        {"double": lambda x: x + 3},
        {},
        {"double": lambda x: 1 / 0},
    ],
    ids=["passes", "wrong", "missing", "raises"],
)
def test_a_check_reads_as_otter_reads_it(tmp_path, env):
    exception_test = pytest.importorskip("otter.test_files.exception_test")
    theirs = exception_test.ExceptionTestFile.from_file(str(_write(tmp_path, "otter.test_files")))
    theirs.run(dict(env))
    ours = run_check(_write(tmp_path, "commslab.notebook.checkfile"), dict(env))
    assert ours.passed_all == theirs.passed_all
    assert ours.summary() == theirs.summary()
    assert [r.name for r in ours.results] == [r.test_case.name for r in theirs.test_case_results]


def test_the_public_checks_need_no_otter():
    folder = Path(__file__).resolve().parents[1] / "commslab" / "notebook" / "public_tests"
    for path in folder.glob("*.py"):
        assert "otter" not in path.read_text(), path
