"""`commslab figures`: runs headless, writes the five figures, prints the key numbers.
`commslab demo` (what `make demo` runs): the instructor's loop on a synthetic class, its
report's numbers checked against the class it generated."""

from __future__ import annotations

import csv
import json
import os
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from commslab.cli import main
from commslab.demo import FIGURES


def png_size(path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (and proof that it is a PNG)."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_demo_writes_five_pngs_and_prints_the_known_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps table cells at the terminal width
    monkeypatch.delenv("DISPLAY", raising=False)
    out = tmp_path / "figures"
    result = CliRunner().invoke(main, ["figures", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(FIGURES)
    assert set(FIGURES) == {
        "crossover.png",
        "topology_ring.png",
        "topology_tree.png",
        "waterfall.png",
        "convergence.png",
    }
    for name in FIGURES:
        width, height = png_size(out / name)
        assert width >= 600 and height >= 400, (name, width, height)
    # docs/LAB_SPEC.md known answers for N = 64, α = 10 µs, β = 10 GB/s at 1 MB
    assert "1.4569 ms" in result.output  # T_ring = 1456.9 µs
    assert "1.32 ms" in result.output  # T_tree = 1320 µs
    assert "1.136 MB" in result.output  # M*
    assert "exact sum on every rank: yes" in result.output
    assert "14 steps" in result.output and "6 steps" in result.output  # 2(N-1), 2⌈log2 N⌉


def test_demo_help_names_the_option():
    result = CliRunner().invoke(main, ["figures", "--help"])
    assert result.exit_code == 0 and "--out" in result.output


@pytest.mark.slow
def test_make_demo_runs_the_loop_and_reports_the_class_it_made(tmp_path) -> None:
    """The command `make demo` runs, in a fresh folder; the report counts what was planted."""
    course = tmp_path / "course"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "commslab"), "demo", "--course-dir", str(course)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ, COLUMNS="200", MPLBACKEND="Agg"),
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = course / "grading-out"
    for name in ("grades.csv", "gradebook_canvas.csv", "review.html", "similarity.html"):
        assert name in proc.stdout and (out / name).exists(), name
    assert "class_report.html" in proc.stdout
    students = json.loads((course / "submissions" / "class.json").read_text())
    with open(out / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert len(rows) == len(students)  # n files in, n rows out
    kinds = {s["student_id"]: s["kind"] for s in students}
    honest_best = max(float(rows[s]["score"]) for s in rows if kinds[s] == "honest")
    for sid, kind in kinds.items():
        if kind == "broken":
            assert float(rows[sid]["score"]) == 0 and rows[sid]["status"] != "graded"
        if kind == "tampering":
            assert float(rows[sid]["score"]) <= honest_best
        if kind == "late":
            assert rows[sid]["late"] == "yes" and float(rows[sid]["late_penalty"]) > 0
        if kind == "copied":
            assert "identity mismatch" in rows[sid]["status"]
    with open(out / "class_report" / "misconceptions.csv", newline="") as f:
        found = {r["misconception"]: int(r["students"]) for r in csv.DictReader(f)}
    planted = Counter(m for s in students for m in s["mistakes"])
    assert planted and all(found[m] == n for m, n in planted.items()), (found, planted)
    with open(out / "similarity.csv", newline="") as f:
        groups = list(csv.DictReader(f))
    original = next(s["student_id"] for s in students if s["kind"] == "honest")
    copied = next(s["student_id"] for s in students if s["kind"] == "copied")
    assert {g["kind"] for g in groups} == {"written", "code"}
    assert all(g["students"] == f"{original} {copied}" for g in groups), groups
    graded = [s for s in students if s["kind"] != "broken"]
    with open(out / "class_report" / "predictions.csv", newline="") as f:
        predicted = [r for r in csv.DictReader(f) if r["track"] == "all"]
    for row in predicted:
        if row["choice"] != "(none)":
            made = sum(s["predictions"].get(row["lock"]) == row["choice"] for s in graded)
            assert int(row["students"]) == made, row
