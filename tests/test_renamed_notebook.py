"""The released notebook runs under any file name and from any folder: its public checks come
from the package, and the setup cell does not import otter."""

from __future__ import annotations

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
def test_a_renamed_notebook_runs_top_to_bottom_from_another_folder(tmp_path, monkeypatch):
    """The solved notebook, renamed the way browsers rename downloads, in a sub-folder."""
    from nbclient import NotebookClient

    folder = tmp_path / "Downloads" / "week 6"
    folder.mkdir(parents=True)
    path = folder / "collective_comms (1).ipynb"
    shutil.copy(ROOT / "solutions" / rel.ASSIGNMENT / "collective_comms_edge_guardian.ipynb", path)
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("COMMS_LAB_STATIC", "1")
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": folder}}
    ).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    shown = "".join(str(o) for c in nb.cells for o in c.get("outputs", []))
    assert "part1" in shown and "passed" in shown


# The cells whose picture must outlive the kernel (a widget is "model not found" without one).
PICTURES = ("workbench_part1", "topology_hud", "workbench_part2", "workbench_part3")


@pytest.mark.slow
def test_a_notebook_run_with_live_widgets_keeps_every_picture_in_the_file(tmp_path, monkeypatch):
    """Run in a real kernel with ipywidgets (live controls, as a student's JupyterLab does), the
    saved notebook holds each workbench's and the HUD's figure as an image/png output, which
    nbconvert's HTML export shows without a kernel (tests/test_browser.py checks JupyterLab)."""
    from nbclient import NotebookClient

    monkeypatch.delenv("COMMS_LAB_STATIC", raising=False)
    path = tmp_path / "collective_comms (2).ipynb"
    shutil.copy(ROOT / "solutions" / rel.ASSIGNMENT / "collective_comms_tiny_pioneer.ipynb", path)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    nbformat.write(nb, path)
    html = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", "--stdout", str(path)],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    for gid in PICTURES:
        kinds = [set(o.get("data", {})) for o in cells[gid].outputs]
        assert any("application/vnd.jupyter.widget-view+json" in k for k in kinds), gid  # live
        png = [o.data["image/png"] for o in cells[gid].outputs if "image/png" in o.get("data", {})]
        assert png and png[-1].strip() in html, f"{gid}: no picture without a kernel"
