"""The three Locks: the only answers each accepts, the answer the workbench then shows, and
why, in one or two sentences (docs/LAB_SPEC.md "Predictions, reflections and the ledger":
"the first valid prediction is recorded ... and stays the recorded one (a later change is
shown beside it)").

One source for the notebook (lab.part1..3 refuse anything else and reveal at once), for the
hidden tests' feedback (autograder/tests/08_predictions.py) and for the record both read.

The record: the reveal is a display output whose metadata holds
`{RECORD_KEY: {"name": "PREDICTION_PART1", "first": "more"}}`. Jupyter saves an output's
metadata in the .ipynb (nbformat 4 schema: `display_data.metadata`), so the saved notebook
carries the first prediction wherever it goes (the LMS export included), and the grader reads
it from there (`recorded_firsts`), not from the variable's last value. Editing the file's JSON
by hand can still change it: the record stops a changed variable, not a forger.
"""

from __future__ import annotations

from dataclasses import dataclass

RECORD_KEY = "comms_lab_lock"  # the reveal output's metadata key


@dataclass(frozen=True)
class Lock:
    name: str  # the notebook's variable
    choices: tuple[str, ...]
    answer: str
    why: str  # what happened and why, one or two sentences

    def normalise(self, prediction: object) -> str | None:
        """The prediction as one of the choices (case and spaces ignored), or None."""
        if not isinstance(prediction, str):
            return None
        made = prediction.strip().strip("\"'").strip().lower()
        return made if made in self.choices else None

    def refusal(self, prediction: object) -> str:
        """The friendly message for an answer the Lock does not accept."""
        options = " or ".join(f'`"{c}"`' for c in self.choices)
        if prediction is None or (isinstance(prediction, str) and not prediction.strip()):
            return f"🔒 **Make your prediction first:** set `{self.name}` to {options} above."
        return (
            f"🔒 **`{self.name}` must be {options}**; you wrote `{prediction!r}`. "
            "Fix the cell above, run it, then run this cell again."
        )

    def reveal(self, first: str, now: str | None = None) -> str:
        """The reveal for the recorded (first) prediction; a later, different answer is
        shown beside it and changes nothing."""
        verdict = "✅ **Right.**" if first == self.answer else "❌ **Not this time.**"
        if now is None or now == first:
            return f'🔓 Recorded: you predicted **"{first}"**. {verdict} {self.why}'
        return (
            f'🔓 Recorded: you first predicted **"{first}"** (now `"{now}"`; the first '
            f"prediction is the one that counts). {verdict} {self.why}"
        )

    def record(self, first: str) -> dict:
        """The reveal output's metadata: the recorded first prediction."""
        return {RECORD_KEY: {"name": self.name, "first": first}}


LOCKS = {
    1: Lock(
        "PREDICTION_PART1",
        ("more", "less"),
        "less",
        "The tree gets **less** attractive as M grows: each of its 2⌈log₂N⌉ steps carries the "
        "whole message, the ring only 2(N−1)/N·M per device, so above the crossover M* the "
        "ring wins.",
    ),
    2: Lock(
        "PREDICTION_PART2",
        ("yes", "no"),
        "yes",
        "**Yes**, against one flat ring through one slow-link port per group (every track): "
        "per group the hierarchy sends 2(K−1)/K·M over the slow link in 2(K−1) steps, not "
        "2(P−1)/P·M in 2(P−1). Against flat rings on *every* port it can lose: see below.",
    ),
    3: Lock(
        "PREDICTION_PART3",
        ("worse", "same", "better"),
        "worse",
        "**Worse**: 1-bit keeps only the signs and one scale, so every update is wrong in "
        "size, and after the monitor's 300 steps the loss stays well above the uncompressed "
        "one. Error feedback adds the dropped part back later: with it, training reaches the "
        "uncompressed loss.",
    ),
}

BY_NAME = {lock.name: lock for lock in LOCKS.values()}


def recorded_firsts(cells: list) -> dict[str, str]:
    """The first predictions a saved notebook's outputs record: {lock name: first}.

    cells: the notebook's `cells` (nbformat 4 JSON). In notebook order, the first valid
    record of each Lock wins; anything malformed is skipped (a submission may be any JSON)."""
    found: dict[str, str] = {}
    for cell in cells if isinstance(cells, list) else ():
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        for output in outputs if isinstance(outputs, list) else ():
            metadata = output.get("metadata") if isinstance(output, dict) else None
            record = metadata.get(RECORD_KEY) if isinstance(metadata, dict) else None
            if not isinstance(record, dict):
                continue
            name = record.get("name")
            lock = BY_NAME.get(name) if isinstance(name, str) else None
            first = lock.normalise(record.get("first")) if lock is not None else None
            if lock is not None and first is not None:
                found.setdefault(lock.name, first)
    return found


__all__ = ["BY_NAME", "LOCKS", "RECORD_KEY", "Lock", "recorded_firsts"]
