"""The Locks accept only their answers, record the prediction and reveal at once; the
hidden tests' feedback uses the same Locks."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from comms_core.scenarios import scenario_for
from commslab import lab
from commslab.grading.checks import CheckFailed
from commslab.notebook.locks import LOCKS, RECORD_KEY, recorded_firsts

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def shown(monkeypatch):
    """What lab displays, as text (lab shows Markdown through _markdown), in a fresh kernel
    whose notebook file the kernel cannot find."""
    out: list[str] = []
    monkeypatch.setattr(lab, "_markdown", lambda text: out.append(text))
    monkeypatch.setattr(lab, "_show", lambda obj: out.append(repr(obj)))
    monkeypatch.setattr(lab, "_FIRSTS", {})
    monkeypatch.setattr(lab, "PREDICTIONS", {})
    monkeypatch.setattr(lab, "notebook_path", lambda: None)
    return out


@pytest.mark.parametrize("part", [1, 2, 3])
@pytest.mark.parametrize("bad", ["maybe", "", "  ", None, 1, "less or more", "yes!"])
def test_an_invalid_answer_is_refused_with_the_valid_ones(shown, part, bad):
    s = scenario_for("edge_guardian", "2026-fall", "lock-1")
    lab.PREDICTIONS.pop(part, None)
    assert getattr(lab, f"part{part}")(s, bad, {}) is None
    assert len(shown) == 1 and "🔒" in shown[0]
    assert all(f'"{c}"' in shown[0] for c in LOCKS[part].choices)
    assert "workbench" not in shown[0].lower()
    assert part not in lab.PREDICTIONS


@pytest.mark.parametrize("part", [1, 2, 3])
def test_a_valid_answer_is_recorded_and_revealed(shown, part):
    s = scenario_for("edge_guardian", "2026-fall", "lock-2")
    lock = LOCKS[part]
    wrong = next(c for c in lock.choices if c != lock.answer)
    getattr(lab, f"part{part}")(s, f" {wrong.upper()} ", {})
    assert lab.PREDICTIONS[part] == wrong
    assert "Recorded" in shown[0] and "Not this time" in shown[0] and lock.why in shown[0]
    assert "workbench" in shown[-1].lower()  # the workbench opens after the reveal
    shown.clear()
    right = getattr(lab, f"part{part}")
    right(s, lock.answer, {})  # changed after the reveal: the first stays the recorded one
    assert lab.PREDICTIONS[part] == wrong
    assert f'you first predicted **"{wrong}"**' in shown[0] and f'now `"{lock.answer}"`' in shown[0]
    assert "Not this time" in shown[0] and "Right" not in shown[0]
    other = scenario_for("edge_guardian", "2026-fall", "lock-2b")  # another student's own
    shown.clear()
    right(other, lock.answer, {})
    assert "Right" in shown[0] and "first" not in shown[0]
    sentences = [x for x in lock.why.replace("M*", "M").split(". ") if x.strip()]
    assert 1 <= len(sentences) <= 2


def test_the_hidden_feedback_uses_the_same_locks():
    spec = importlib.util.spec_from_file_location(
        "predictions", ROOT / "autograder" / "tests" / "08_predictions.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    notes: list[str] = []
    feedback = SimpleNamespace(note=notes.append)
    module.check(SimpleNamespace(predictions={"PREDICTION_PART1": "More"}), feedback, 1)
    assert LOCKS[1].why in notes[0]
    with pytest.raises(CheckFailed, match="not one of"):
        module.check(SimpleNamespace(predictions={"PREDICTION_PART2": "maybe"}), feedback, 2)


def _cell(outputs: list) -> dict:
    return {"cell_type": "code", "source": "", "metadata": {}, "outputs": outputs}


def test_the_record_is_read_from_saved_outputs_first_valid_wins():
    first = {"output_type": "display_data", "data": {}, "metadata": LOCKS[1].record("more")}
    later = {"output_type": "display_data", "data": {}, "metadata": LOCKS[1].record("less")}
    forged = {"output_type": "display_data", "metadata": {RECORD_KEY: {"name": "X", "first": 1}}}
    bad = {"output_type": "display_data", "metadata": {RECORD_KEY: "less"}}
    cells = [_cell([bad, forged]), "not a cell", _cell([first]), _cell([later]), _cell("x")]
    assert recorded_firsts(cells) == {"PREDICTION_PART1": "more"}
    assert recorded_firsts("nonsense") == {}


def test_a_restarted_kernel_keeps_the_first_from_the_saved_notebook(shown, tmp_path, monkeypatch):
    """Run the Lock with "more", save (the reveal's record is in the saved outputs),
    restart the kernel, change to "less": the reveal still records "more"."""
    notebook = tmp_path / "renamed by me.ipynb"
    s = scenario_for("tiny_pioneer", "2026-fall", "lock-3")
    monkeypatch.setattr(lab, "notebook_path", lambda: notebook)
    records: list[dict] = []
    texts: list[str] = []
    monkeypatch.setattr(
        lab, "_reveal", lambda text, meta: (texts.append(text), records.append(meta))
    )
    notebook.write_text(json.dumps({"cells": []}))
    lab.part1(s, "more", {})
    saved = {"output_type": "display_data", "data": {}, "metadata": records[-1]}
    notebook.write_text(json.dumps({"cells": [_cell([saved])]}))
    assert json.loads((tmp_path / lab.LOCK_FILE).read_text()) == {
        "2026-fall/lock-3": {"PREDICTION_PART1": "more"}
    }
    monkeypatch.setattr(lab, "_FIRSTS", {})  # a new kernel
    lab.part1(s, "less", {})
    assert records[-1] == LOCKS[1].record("more") and "first predicted" in texts[-1]
    # made, then the kernel restarted before any save: the file beside the notebook keeps it
    notebook.write_text(json.dumps({"cells": []}))
    monkeypatch.setattr(lab, "_FIRSTS", {})
    lab.part1(s, "less", {})
    assert records[-1] == LOCKS[1].record("more")


def test_the_grader_and_the_class_report_take_the_recorded_first(tmp_path):
    """A saved notebook whose Lock recorded "more" and whose variable now says "less"."""
    from commslab.grading.harness import SubmissionView, _apply_exports
    from commslab.grading.notebook import read_submission

    cells = [
        {
            "cell_type": "code",
            "source": 'PREDICTION_PART1 = "less"\n',
            "metadata": {"nbgrader": {"grade_id": "lock_part1", "solution": True}},
            "outputs": [],
        },
        {
            "cell_type": "code",
            "source": "lab.part1(scenario, PREDICTION_PART1, globals())\n",
            "metadata": {"nbgrader": {"grade_id": "workbench_part1", "solution": False}},
            "outputs": [{"output_type": "display_data", "data": {"text/markdown": "x"},
                         "metadata": LOCKS[1].record("more")}],
        },
    ]  # fmt: skip
    path = tmp_path / "my copy (2).ipynb"
    path.write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})
    )
    sub = read_submission(path)
    assert sub.literals["PREDICTION_PART1"] == "less" and sub.firsts == {"PREDICTION_PART1": "more"}
    view = SubmissionView("1", "1", "cloud_titan", "t", predictions={"PREDICTION_PART1": "more"},
                          recorded=dict(sub.firsts))  # fmt: skip
    _apply_exports(view, {"PREDICTION_PART1": "less", "PREDICTION_PART2": "no"})
    assert view.predictions == {"PREDICTION_PART1": "more", "PREDICTION_PART2": "no"}


def test_the_last_cell_names_the_file_the_kernel_knows(shown, tmp_path, monkeypatch):
    renamed = tmp_path / "Copy of lab (2).ipynb"
    renamed.write_text("{}")
    monkeypatch.setattr(lab, "notebook_path", lambda: renamed)
    lab.upload_name()
    monkeypatch.setattr(lab, "notebook_path", lambda: None)
    lab.upload_name()
    assert "`Copy of lab (2).ipynb`" in shown[0] and "collective_comms" not in shown[0]
    assert "whatever its name" in shown[1]


def test_notebook_path_follows_jupyter_session_name(tmp_path, monkeypatch):
    """JPY_SESSION_NAME: jupyter_server's sessionmanager.get_kernel_env sets it to the path."""
    renamed = tmp_path / "mine.ipynb"
    renamed.write_text("{}")
    monkeypatch.setenv("JPY_SESSION_NAME", str(renamed))
    assert lab.notebook_path() == renamed
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "gone.ipynb"))
    assert lab.notebook_path() is None


def test_math_peek_uses_the_notebooks_names():
    from commslab.notebook.peek import math_peek_html

    html = math_peek_html()
    assert "α_intra" in html and "β_inter" in html
    assert "α_f" not in html and "β_s" not in html and "mission plan" not in html


def test_the_part3_lock_asks_about_what_the_reveal_shows():
    """The question and the reveal both speak of the loss after the monitor's 300 steps."""
    import nbformat

    nb = nbformat.read(ROOT / "source" / "collective_comms" / "collective_comms.ipynb", 4)
    question = next(c.source for c in nb.cells if '`"worse"`, `"same"`' in c.source)
    assert "300 steps" in question and "**next**" not in question
    assert "300 steps" in LOCKS[3].why and "next step" not in LOCKS[3].why


def test_live_controls_get_one_line_that_shows_only_when_they_are_not_live(monkeypatch):
    """The line is hidden by CSS unless a widget view in the same cell carries ipywidgets'
    class jupyter-widgets-disconnected (kernel gone: the reopened notebook)."""
    out: list = []
    monkeypatch.setattr(lab, "_show", lambda obj: out.append(obj))  # displayed: returns None
    lab._show_live(SimpleNamespace(widget=object()))
    lab._show_live(SimpleNamespace(widget=None))  # a static picture: nothing to make live
    notes = [o for o in out if hasattr(o, "data")]
    assert len(notes) == 1 and "Run the cells" in notes[0].data
    assert ":has(.jupyter-widgets-disconnected)" in notes[0].data


def test_a_graded_notebook_and_its_class_report_count_the_recorded_first(tmp_path):
    """A solved notebook whose Part 1 Lock recorded "more" (the reveal's saved output) and
    whose variable now says "less": graded, the first counts, the class report counts it."""
    import nbformat
    from adversarial import notebooks as nbs

    from commslab.grading.classreport import prediction_table
    from commslab.grading.grade import grade_notebook

    nb = nbs.solved_notebook("1234567", replace={"lock_part1": 'PREDICTION_PART1 = "less"\n'})
    workbench = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "workbench_part1"
    )
    workbench.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/markdown": "🔓"}, metadata=LOCKS[1].record("more")
        )
    ]
    path = nbs.write(nb, tmp_path / "collective_comms (3).ipynb")
    result = grade_notebook(
        path, term="2026-fall", student_id="1234567", autograder_dir=ROOT / "autograder", key=b"k"
    )
    assert result.points["predictions"] == 3
    assert result.predictions["PREDICTION_PART1"] == "more"
    assert "PREDICTION_PART1 = 'more' (your first, as the Lock recorded it)" in "\n".join(
        result.feedback
    )
    rows = {(r["lock"], r["choice"]): r["students"] for r in prediction_table([result])}
    assert rows[("PREDICTION_PART1", "more")] == 1 and rows[("PREDICTION_PART1", "less")] == 0
