"""The released notebook runs under any file name and from any folder: its public checks come
from the package, and the setup cell does not import otter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from commslab import release as rel
from commslab.notebook.checker import Checker

ROOT = Path(__file__).resolve().parent.parent


def test_the_checker_finds_its_checks_without_the_notebook(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no notebook here at all
    namespace = {
        "ring_allreduce_time": lambda M, N, a, b: 2 * (N - 1) * a + 2 * (N - 1) / N * M / b,
    }
    checker = Checker(namespace)
    assert checker.checks == ["ledger", "part1", "part2", "part3"]
    result = checker.check("part1")
    assert "ring_allreduce_time" in repr(result) and "failed" in repr(result).lower()
    with pytest.raises(ValueError, match="no public check"):
        checker.check("part9")


def test_the_setup_cell_does_not_import_otter():
    nb = nbformat.read(ROOT / "release" / rel.ASSIGNMENT / rel.NOTEBOOK, as_version=4)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    code = setup.source + "\nimport sys\nprint('otter' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_a_renamed_notebook_runs_top_to_bottom_from_another_folder(tmp_path):
    """The solved notebook, renamed the way browsers rename downloads, in a sub-folder."""
    from nbclient import NotebookClient

    folder = tmp_path / "Downloads" / "week 6"
    folder.mkdir(parents=True)
    path = folder / "collective_comms (1).ipynb"
    shutil.copy(ROOT / "solutions" / rel.ASSIGNMENT / "collective_comms_edge_guardian.ipynb", path)
    nb = nbformat.read(path, as_version=4)
    os.environ["COMMS_LAB_STATIC"] = "1"
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": folder}}
    ).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    shown = "".join(str(o) for c in nb.cells for o in c.get("outputs", []))
    assert "part1" in shown and "passed" in shown
