"""Each track's screens speak its own words: no GPUs, NVLink or ranks on a hearable.

Every screen lab draws for a track is rendered (the scenario table, the Locks' refusal and
every reveal, the three workbenches and Part 1's HUD with their controls and figures, the
crisis instrument, the ledger table) and searched for the words that belong to another track
only (commslab.notebook.words.FOREIGN).
"""

from __future__ import annotations

import re

import pytest

from comms_core.scenarios import TRACKS, scenario_for
from commslab import lab
from commslab.notebook.locks import LOCKS
from commslab.notebook.words import FOREIGN, WORDS


def _texts(obj) -> list[str]:
    """The text of one thing lab shows: Markdown, a workbench (lines, controls, figure) or
    an instrument (text, figure)."""
    if isinstance(obj, str):
        return [obj]
    if hasattr(obj, "data"):  # IPython Markdown / HTML
        return [str(obj.data)]
    texts = [str(getattr(obj, "title", ""))]
    text = getattr(obj, "text", None)
    texts += [text] if isinstance(text, str) else list(text or ())
    for control in getattr(obj, "controls", {}).values():
        texts.append(str(control.description))
        texts += [str(option) for option in getattr(control, "options", ())]
    figure = getattr(obj, "figure", None)
    if figure is not None:
        texts += [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]
    return texts


def screens(track: str, monkeypatch, live: bool) -> str:
    """Everything a student of the track sees from lab, as one text."""
    shown: list = []
    monkeypatch.setattr(lab, "_show", lambda obj: shown.append(obj))
    monkeypatch.setattr(lab, "_static", lambda: False if live else True)
    s = scenario_for(track, "2026-fall", "words-1")
    lab.start(track, "2026-fall", "words-1")
    for part, lock in LOCKS.items():
        run = getattr(lab, f"part{part}")
        run(s, "maybe", {})  # the refusal
        run(s, lock.answer, {"K_TRIES": [1, 2]})  # the reveal, then the workbench
        shown += [lock.reveal(made) for made in lock.choices]  # every other reveal
        if part == 1:
            lab.topology_hud(s)
    lab.crisis(s)
    lab.ledger_table(track)
    return "\n".join(t for obj in shown for t in _texts(obj))


def foreign_words(track: str) -> set[str]:
    """Other tracks' own words, less those this track also uses for itself."""
    t, w = TRACKS[track], WORDS[track]
    own = " ".join([t.title, t.persona, t.mission, t.crisis, t.stakeholder, *vars(w).values()])
    return {
        word
        for other, words in FOREIGN.items()
        if other != track
        for word in words
        if not re.search(rf"\b{re.escape(word)}\b", own)
    }


@pytest.mark.parametrize("live", [False, True], ids=["static", "widgets"])
@pytest.mark.parametrize("track", sorted(TRACKS))
def test_each_tracks_screens_show_only_its_own_words(track, live, monkeypatch):
    text = screens(track, monkeypatch, live)
    assert "Part 3 workbench" in text and "| key |" in text  # every screen was rendered
    found = {w for w in foreign_words(track) if re.search(rf"\b{re.escape(w)}\b", text)}
    assert found == set(), f"{track} shows other tracks' words: {sorted(found)}"
    own = WORDS[track]
    assert own.devices in text and own.fast in text and own.slow in text


def test_the_check_can_fail(monkeypatch):
    """The vocabulary catches a data-centre word on a hearable's screen."""
    text = screens("tiny_pioneer", monkeypatch, live=False) + " one NIC per node"
    assert any(re.search(rf"\b{w}\b", text) for w in foreign_words("tiny_pioneer"))
