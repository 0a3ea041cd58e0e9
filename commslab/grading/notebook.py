"""Static read of a submitted notebook: nothing here executes student code.

`read_submission(path)` parses the file as JSON (the nbformat 4 schema, read directly so that a
broken file gets a precise status instead of an exception), finds the cells of the notebook
contract by `metadata.nbgrader.grade_id` (docs/DESIGN.md), and extracts:

* identity: `STUDENT_ID`, `TRACK` (literal assignments, read with `ast`);
* predictions `PREDICTION_PART1..3` and `K_TRIES` (literals), and the first predictions the
  Locks recorded in the saved outputs (commslab.notebook.locks.recorded_firsts), which win
  over the variables' last values;
* the written answers (Markdown cells `reflect_part1/2/3`, `strategy`);
* the student-editable code cells, in notebook order: solution cells, and cells without
  nbgrader metadata (the student added them). IPython syntax (`%time`, `!ls`) is translated
  to plain Python here, so the probe does not need IPython.

Statuses (records.Verdict, made here): none for a notebook; else empty, not a notebook,
corrupt notebook (with why), empty notebook (no cells).
"""

from __future__ import annotations

import ast
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from comms_core.scenarios import track_key
from commslab.grading.records import Status, Verdict

MAX_NOTEBOOK_BYTES = 256 * 1024**2

IDENTITY_NAMES = ("STUDENT_ID", "TRACK")
PREDICTION_NAMES = ("PREDICTION_PART1", "PREDICTION_PART2", "PREDICTION_PART3")
LITERAL_NAMES = (*IDENTITY_NAMES, *PREDICTION_NAMES, "K_TRIES")
# the written answers and their points (the strategy also answers Part 3's ML Lead)
WRITTEN_POINTS = {"reflect_part1": 1.0, "reflect_part2": 1.0, "strategy": 2.0}
WRITTEN_IDS = tuple(WRITTEN_POINTS)
# names the probe reads from the namespace after running the cells
EXPORT_NAMES = ("LEDGER", "K_TRIES", *PREDICTION_NAMES)


def written_share(grade_id: str, total: float) -> float:
    """The part of `total` written points that the answer `grade_id` is worth."""
    return total * WRITTEN_POINTS[grade_id] / sum(WRITTEN_POINTS.values())


@dataclass
class StudentCell:
    """One cell the probe runs: its position, its grade_id (None if added) and its Python."""

    index: int
    grade_id: str | None
    python: str

    @property
    def label(self) -> str:
        return f"cell {self.index + 1}" + (f" ({self.grade_id})" if self.grade_id else "")


@dataclass
class Submission:
    """What a static read of one file gives: why it cannot be graded (a records.Verdict;
    None: it is a notebook) and, if it is a notebook, its parts."""

    path: Path
    status: Verdict | None
    literals: dict = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)
    prompts: dict[str, str] = field(default_factory=dict)  # the Markdown cell before each
    cells: list[StudentCell] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    firsts: dict[str, str] = field(default_factory=dict)  # the Locks' recorded predictions

    @property
    def ok(self) -> bool:
        return self.status is None

    @property
    def student_id(self) -> str:
        value = self.literals.get("STUDENT_ID")
        return str(value).strip() if isinstance(value, str | int) else ""

    @property
    def track(self) -> str:
        """TRACK as a track key (comms_core.scenarios.track_key, the rule lab.start uses);
        what was typed, stripped, if it names no track (the row then says so)."""
        value = self.literals.get("TRACK")
        if not isinstance(value, str):
            return ""
        try:
            return track_key(value)
        except ValueError:
            return value.strip()


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def _nbgrader(cell: dict) -> dict | None:
    metadata = cell.get("metadata")
    if not isinstance(metadata, dict):
        return None
    nbgrader = metadata.get("nbgrader")
    return nbgrader if isinstance(nbgrader, dict) else None


_transformer = None


def python_source(source: str) -> str:
    """IPython cell syntax (magics, !shell) as plain Python calling get_ipython()."""
    global _transformer
    if "%" not in source and "!" not in source and "?" not in source:
        return source
    try:
        if _transformer is None:
            from IPython.core.inputtransformer2 import TransformerManager

            _transformer = TransformerManager()
        return _transformer.transform_cell(source)
    except Exception:  # a cell IPython cannot parse fails in the probe with a SyntaxError
        return source


# CPython 3.11's ast module keeps its recursion depth in interpreter-wide state: two threads
# parsing at once can fail with "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905). The grader's worker threads parse one at a time.
_AST_LOCK = threading.Lock()


def parse_python(source: str) -> ast.Module:
    """ast.parse, one thread at a time (see _AST_LOCK)."""
    with _AST_LOCK:
        return ast.parse(source)


def literal_assignments(python: str, names: tuple[str, ...] = LITERAL_NAMES) -> dict:
    """`NAME = <literal>` at the top level of a cell; the last one wins. Never executes."""
    try:
        tree = parse_python(python)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            try:
                with _AST_LOCK:
                    found[target.id] = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                found[target.id] = None
    return found


def _corrupt(why: str) -> Verdict:
    return Verdict(Status.CORRUPT, why)


NOT_A_NOTEBOOK = Verdict(Status.NOT_A_NOTEBOOK)
EMPTY = Verdict(Status.EMPTY)


def _load_json(path: Path) -> tuple[object | None, Verdict | None]:
    """The parsed JSON, or None and why not."""
    try:
        size = path.stat().st_size
    except OSError as err:
        return None, _corrupt(f"cannot read the file ({err.strerror})")
    if size == 0:
        return None, EMPTY
    if size > MAX_NOTEBOOK_BYTES:
        return None, _corrupt(f"the file is too large ({size / 1e6:.0f} MB)")
    raw = path.read_bytes()
    if not raw.strip():
        return None, EMPTY
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, NOT_A_NOTEBOOK
    if not text.lstrip().startswith("{"):
        return None, NOT_A_NOTEBOOK
    try:
        return json.loads(text), None
    except json.JSONDecodeError as err:
        return None, _corrupt(f"invalid JSON (line {err.lineno}, column {err.colno})")
    except RecursionError:
        return None, _corrupt("JSON nested too deeply")


def read_submission(path: str | Path) -> Submission:
    """Read one file without executing anything; every file gets a Submission with a status."""
    path = Path(path)
    data, status = _load_json(path)
    if data is None:
        return Submission(path, status)
    if not isinstance(data, dict):
        return Submission(path, NOT_A_NOTEBOOK)
    if "cells" not in data:
        if "worksheets" in data:
            return Submission(path, _corrupt("nbformat 3 (save it with Jupyter 4+)"))
        return Submission(path, NOT_A_NOTEBOOK)
    version = data.get("nbformat")
    if version is not None and version != 4:
        return Submission(path, _corrupt(f"nbformat {version!r} (expected 4)"))
    cells = data["cells"]
    if not isinstance(cells, list):
        return Submission(path, _corrupt("'cells' is not a list"))
    if not cells:
        return Submission(path, Verdict(Status.NO_CELLS))
    return _read_cells(path, cells)


def _read_cells(path: Path, cells: list) -> Submission:
    from commslab.notebook.locks import recorded_firsts

    submission = Submission(path, None)
    submission.firsts = recorded_firsts(cells)
    tagged = any(_nbgrader(c) is not None for c in cells if isinstance(c, dict))
    if not tagged:
        submission.notes.append(
            "no nbgrader metadata (a different editor?): every code cell was run and read"
        )
    previous_markdown = ""
    not_cells = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            not_cells.append(index + 1)
            continue
        kind, source, nbgrader = cell.get("cell_type"), _source(cell), _nbgrader(cell)
        grade_id = nbgrader.get("grade_id") if nbgrader else None
        grade_id = grade_id if isinstance(grade_id, str) else None
        if kind == "markdown" and grade_id in WRITTEN_IDS:
            submission.written[grade_id] = source
            submission.prompts[grade_id] = previous_markdown
        elif kind == "markdown":
            previous_markdown = source
        if kind != "code":
            continue
        student_cell = nbgrader is None or nbgrader.get("solution") is True
        if not student_cell:
            continue
        python = python_source(source)
        submission.cells.append(StudentCell(index, grade_id, python))
        submission.literals.update(literal_assignments(python))  # in order: the last wins
    if not_cells:  # one note, however many: a list of a million numbers is one problem
        shown = ", ".join(map(str, not_cells[:10])) + (", …" if len(not_cells) > 10 else "")
        submission.notes.append(
            f"{len(not_cells)} entries of 'cells' are not cells ({shown}); ignored"
        )
    return submission
