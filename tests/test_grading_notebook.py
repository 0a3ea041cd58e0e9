"""The static read: every file gets a clear status, and nothing in it is executed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from adversarial import notebooks as nbs

from commslab.grading.notebook import (
    literal_assignments,
    python_source,
    read_submission,
)


def _write(tmp_path: Path, data: bytes, name: str = "nb.ipynb") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", "empty"),
        (b"   \n\t", "empty"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 binary", "not a notebook"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not a notebook"),
        (b"just some text", "not a notebook"),
        (b"[1, 2]", "not a notebook"),
        (b'{"a": 1}', "not a notebook"),
        (b'{"cells": [', "corrupt notebook: invalid JSON (line 1, column 12)"),
        (
            b'{"nbformat": 3, "worksheets": []}',
            "corrupt notebook: nbformat 3 (save it with Jupyter 4+)",
        ),
        (b'{"nbformat": 5, "cells": [{}]}', "corrupt notebook: nbformat 5 (expected 4)"),
        (b'{"nbformat": 4, "cells": {}}', "corrupt notebook: 'cells' is not a list"),
        (b'{"nbformat": 4, "cells": []}', "empty notebook (no cells)"),
    ],
)
def test_a_file_that_is_not_a_notebook_gets_a_clear_status(tmp_path, data, status) -> None:
    assert read_submission(_write(tmp_path, data)).status == status


def test_the_contract_cells_are_found_by_grade_id(tmp_path) -> None:
    nb = nbs.solved_notebook("1234567", extra=[(7, "def helper(x):\n    return 2 * x\n")])
    sub = read_submission(nbs.write(nb, tmp_path / "nb.ipynb"))
    assert sub.status is None and sub.ok
    assert (sub.student_id, sub.track) == ("1234567", "cloud_titan")
    assert sub.literals["PREDICTION_PART1"] == "less"
    assert sub.literals["PREDICTION_PART3"] == "worse"
    assert 4 in sub.literals["K_TRIES"]  # the optimal k of this student is among the tries
    assert set(sub.written) == {"reflect_part1", "reflect_part2", "strategy"}
    assert "latency term" in sub.written["reflect_part1"]
    assert "Patterson" in sub.prompts["reflect_part1"]  # the question before the answer
    # solution cells and the student's own cell, in notebook order; locked cells are not run
    ids = [c.grade_id for c in sub.cells]
    assert ids == [
        "identity",
        "lock_part1",
        "part1_stubs",
        None,
        "lock_part2",
        "part2_stubs",
        "part2_tries",
        "lock_part3",
        "part3_stubs",
        "ledger",
    ]
    assert all("lab.start" not in c.python and "grader.check" not in c.python for c in sub.cells)
    assert sub.cells[3].label == "cell 8"


def test_the_static_read_executes_nothing(tmp_path) -> None:
    marker = tmp_path / "executed.txt"
    cell = f"open({str(marker)!r}, 'w').write('ran')\nSTUDENT_ID = '42'\n"
    nb = nbs.solved_notebook("42", replace={"identity": cell + "TRACK = 'edge_guardian'\n"})
    sub = read_submission(nbs.write(nb, tmp_path / "nb.ipynb"))
    assert (sub.student_id, sub.track) == ("42", "edge_guardian")
    assert not marker.exists()


def test_literals_only_come_from_literal_assignments() -> None:
    found = literal_assignments(
        "import os\nSTUDENT_ID = os.environ['X']\nTRACK = 'tiny_pioneer'\n"
        "K_TRIES: list = [1, 2, 3]\nPREDICTION_PART1 = 'le' + 'ss'\n"
    )
    assert found == {
        "STUDENT_ID": None,
        "TRACK": "tiny_pioneer",
        "K_TRIES": [1, 2, 3],
        "PREDICTION_PART1": None,
    }
    assert literal_assignments("this is not python(") == {}
    assert literal_assignments("STUDENT_ID = '1'\nSTUDENT_ID = '2'\n") == {"STUDENT_ID": "2"}


def test_ipython_syntax_becomes_python() -> None:
    python = python_source("%matplotlib inline\n!pip install numpy\nx = 1\n")
    assert "get_ipython().run_line_magic('matplotlib', 'inline')" in python
    assert "get_ipython().system('pip install numpy')" in python
    compile(python, "<cell>", "exec")
    assert python_source("x = 1  # no magic\n") == "x = 1  # no magic\n"


def test_a_notebook_without_nbgrader_metadata_is_still_read(tmp_path) -> None:
    """Some editors drop cell metadata: then every code cell is the student's."""
    nb = nbs.solved_notebook("7")
    for cell in nb.cells:
        cell.metadata = {}
    sub = read_submission(nbs.write(nb, tmp_path / "nb.ipynb"))
    assert sub.ok and sub.student_id == "7"
    assert len(sub.cells) == sum(c.cell_type == "code" for c in nb.cells)
    assert sub.written == {}  # the written answers are found by grade_id only
    assert any("no nbgrader metadata" in n for n in sub.notes)


def test_odd_but_valid_json_is_tolerated(tmp_path) -> None:
    data = {
        "nbformat": 4,
        "cells": [
            None,
            {"cell_type": "code", "source": ["x = ", 1], "metadata": []},
            {"cell_type": "code", "source": "y = 2"},
        ],
    }
    sub = read_submission(_write(tmp_path, json.dumps(data).encode("utf-8-sig")))
    assert sub.ok
    assert [c.python for c in sub.cells] == ["x = ", "y = 2"]
