"""The Locks accept only their answers, record the prediction and reveal at once; the
hidden tests' feedback uses the same Locks."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

from comms_core.scenarios import scenario_for
from commslab import lab
from commslab.grading.checks import CheckFailed
from commslab.notebook.locks import LOCKS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def shown(monkeypatch):
    """What lab displays, as text (lab shows Markdown through _markdown)."""
    out: list[str] = []
    monkeypatch.setattr(lab, "_markdown", lambda text: out.append(text))
    monkeypatch.setattr(lab, "_show", lambda obj: out.append(repr(obj)))
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
    getattr(lab, f"part{part}")(s, lock.answer, {})
    assert "Right" in shown[0]
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
