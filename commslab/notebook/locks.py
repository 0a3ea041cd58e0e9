"""The three Locks: the only answers each accepts, the answer the workbench then shows, and
why, in one or two sentences (docs/LAB_SPEC.md "Predictions, reflections and the ledger").

One source for the notebook (lab.part1..3 refuse anything else and reveal at once) and for
the hidden tests' feedback (autograder/tests/08_predictions.py).
"""

from __future__ import annotations

from dataclasses import dataclass


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

    def reveal(self, made: str) -> str:
        verdict = "✅ **Right.**" if made == self.answer else "❌ **Not this time.**"
        return f'🔓 Recorded: you predicted **"{made}"**. {verdict} {self.why}'


LOCKS = {
    1: Lock(
        "PREDICTION_PART1",
        ("more", "less"),
        "less",
        "The tree gets **less** attractive as M grows: each of its 2⌈log₂N⌉ steps carries the "
        "whole message, while the ring sends only 2(N−1)/N·M per device, so above the crossover "
        "M* the ring's bandwidth term wins.",
    ),
    2: Lock(
        "PREDICTION_PART2",
        ("yes", "no"),
        "yes",
        "**Yes**: the slow link carries as many bytes as G flat rings side by side (one per "
        "slow-link port), but the hierarchy pays 2(K−1) slow-link latencies instead of 2(P−1) "
        "and keeps the rest on the fast link (against one flat ring it also sends G× fewer "
        "slow-link bytes).",
    ),
    3: Lock(
        "PREDICTION_PART3",
        ("worse", "same", "better"),
        "worse",
        "The **next** step is **worse**: 1-bit keeps only the signs and one scale, so that "
        "step's update is wrong in size; error feedback adds the dropped part back in later "
        "steps, so training still reaches the uncompressed loss.",
    ),
}

__all__ = ["LOCKS", "Lock"]
