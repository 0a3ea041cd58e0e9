"""The README's roster command, run verbatim (relative paths, default options) in a course
folder (`commslab init`) holding what a TA downloads from Canvas: the submissions zip (names
as canvas-lms lib/content_zipper.rb writes them) and the gradebook export (Grades > Export)."""

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


@pytest.mark.slow
def test_the_readme_roster_command_maps_sis_users_to_their_rows(tmp_path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"`(\S*commslab grade submissions\.zip[^`]*--roster[^`]*)`", text)
    assert match, "the README has no `commslab grade submissions.zip ... --roster ...` command"
    argv = shlex.split(match.group(1))
    argv[0] = str(Path(sys.executable).parent / "commslab")
    roster = argv[argv.index("--roster") + 1]
    subprocess.run([argv[0], "init", "course", "--term", "2026-fall"], cwd=tmp_path, check=True)
    tmp_path = tmp_path / "course"  # the TA works in the course folder
    (tmp_path / roster).write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Lab\n"
        "    Points Possible,,,,,35.00\n"
        '"Doe, Jane",111,S-001,jdoe,CS101-01,\n'
        '"de la Cruz, Juan",333,S-003,jdlc,CS101-01,\n',
        encoding="utf-8",
    )
    with zipfile.ZipFile(tmp_path / "submissions.zip", "w") as zf:
        for name, nb in {
            "doejane_111_900_collective_comms.ipynb": notebooks.solved_notebook("111"),
            "de_la_cruzjuan_333_901_collective_comms.ipynb": notebooks.solved_notebook("333"),
            "de_la_cruzjuan_333_902_Untitled (copy).ipynb": notebooks.untouched_notebook(),
            "smithbob_222_903_collective_comms.ipynb": notebooks.untouched_notebook(),
        }.items():
            zf.write(notebooks.write(nb, tmp_path / "nb.ipynb"), name)
    run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with open(tmp_path / "grading-out" / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {r["file"].split(":", 1)[1]: r for r in csv.DictReader(f)}
    assert len(rows) == 4
    assert rows["doejane_111_900_collective_comms.ipynb"]["score"] == "35"
    assert rows["de_la_cruzjuan_333_901_collective_comms.ipynb"]["score"] == "35"
    assert rows["de_la_cruzjuan_333_902_Untitled (copy).ipynb"]["student_id"] == "333"
    assert "not in the roster" in rows["smithbob_222_903_collective_comms.ipynb"]["notes"]
