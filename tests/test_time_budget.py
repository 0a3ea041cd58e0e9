"""The lab fits 45 minutes: the released notebook, counted action by action.

docs/LAB_SPEC.md ("Predictions, reflections and the ledger"): the lab fits 45 minutes for a
student who knows the chapter, and the notebook states the time budget of each part. The
count below is what docs/time_budget.md explains: every action the released notebook asks of
a student (reading its text, a Lock, a workbench, a stub, a check, a k try, a written sentence,
a ledger number) priced in minutes, summed per part and compared with the minutes the notebook
itself states. Adding a stub, a ledger number or a written answer makes this test fail until
something else goes or the budget is restated.

Minutes per action (assumptions, except where a source is named):
- READING_WPM = 150 words per minute: silent reading of English non-fiction averages 238 wpm
  (Brysbaert 2019, "How many words do we read per minute?", J. Memory and Language 109,
  104047); text with formulas and code is read slower, assumed about 0.6 of that.
- WRITING_WPM = 19 words per minute: composing text at a keyboard (Karat et al. 1999,
  "Patterns of entry and correction in large vocabulary continuous speech recognition
  systems", CHI '99: 19.0 wpm composition by keyboard); WORDS_PER_SENTENCE = 17 (assumption),
  plus THINK = 1 minute per answer to decide what to say (assumption).
- The rest are assumptions for a student who knows the chapter: a Lock 0.5 min to decide, a
  workbench 1 min of sliders, the HUD 1 min, the Math Peek 0.5 min, a check run with one fix
  1 min, a stub as long as its formula takes to type (the formula is in the text; the
  crossover solves the equation the text gives), a ledger number read off the screen 0.3 min,
  a choice 0.15 min, looking at the crisis picture 1 min, typing the identity 1 min.
- What the notebook prints is read like its text: every Lock's reveal, every workbench's and
  the crisis' words, rendered for a student of the track (lab.part1..3, lab.crisis).
- A k try (Part 2): K_ROUNDS rounds of editing K_TRIES (K_EDIT), re-running the workbench
  (K_RERUN, its seconds on this machine's slowest track, rounded up) and reading the lines of
  the new tries; the rest of the output is the same as before and read once.
- A hand calculation (a ledger number computed from a formula the notebook shows, with a
  calculator or a line of Python: nested ceilings, logarithms, several constants) 1.5 min.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from comms_core.scenarios import TRACKS, ledger_fields
from commslab.grading.notebook import WRITTEN_IDS
from commslab.notebook.locks import LOCKS

SOURCE = Path(__file__).resolve().parents[1] / "source/collective_comms/collective_comms.ipynb"
LAB_MINUTES = 45

READING_WPM = 150
WRITING_WPM = 19
WORDS_PER_SENTENCE = 17
THINK = 1.0
LOCK, WORKBENCH, HUD, MATH_PEEK, CHECK = 0.5, 1.0, 1.0, 0.5, 1.0
CRISIS, IDENTITY = 1.0, 1.0
READ_NUMBER, HAND_CALCULATION, CHOICE = 0.3, 1.5, 0.15
MAX_TRIES = 10
K_ROUNDS, K_EDIT, K_RERUN = 3, 0.25, 0.1  # 10 tries in 3 runs (e.g. 5 coarse, 3, 2 near the best)
STUDENT, TERM = "time-budget", "2026-fall"  # the student whose outputs are priced
STUB = {  # minutes to write each stub, its formula given in the text (the crossover derived)
    "ring_allreduce_time": 1.0,
    "tree_allreduce_time": 1.0,
    "crossover_message_size": 2.0,  # solve the linear equation the text gives for M
    "hierarchical_allreduce_time": 0.5,  # the sum of hierarchical_breakdown's three phases
    "hierarchical_breakdown": 1.5,
    "one_bit_compress": 1.5,
    "error_feedback_step": 1.0,
}
# ledger numbers the student computes by hand from a formula the crisis shows (the others are
# shown as numbers: tests/test_ledger_from_display.py reads each one the way a student does)
COMPUTED_BY_HAND = {  # one per track (docs/time_budget.md); read off the screen instead:
    # bytes_one_bit (Part 3's "11,304 B (11.3 KB)"), gossip_rounds (the crisis)
    "alpha_share_full",
    "broadcast_time_ms",
    "frames_disturbed_one_bit",
    "gossip_energy_per_device_j",
}
# The notebook's sections: the heading that opens each, in order; optional ones are not counted
SECTIONS = {
    "setup": "# Collective Communication",
    "part1": "## Part 1",
    "part2": "## Part 2",
    "part3": "## Part 3",
    "finish": "## Your track's crisis",
    "optional": "## Optional",
}


def _sections(nb) -> dict[str, list]:
    """The released cells, by section (a cell belongs to the last heading above it)."""
    out: dict[str, list] = {name: [] for name in SECTIONS}
    current = "setup"
    for cell in nb.cells:
        for name, heading in SECTIONS.items():
            if cell.cell_type == "markdown" and heading in cell.source:
                current = name
        out[current].append(cell)
    return out


def _grade_id(cell) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


def _stated_minutes(nb) -> dict[str, float]:
    """The minutes each section's heading states, e.g. "## Part 1 — ... (12 min)"; the last
    section's minutes are the sum of its headings (crisis, ledger, strategy)."""
    stated: dict[str, float] = {}
    for name, cells in _sections(nb).items():
        found = [
            float(m)
            for c in cells
            if c.cell_type == "markdown"
            for m in re.findall(r"^#+ .*?\((\d+) min", c.source, flags=re.M)
        ]
        if found:
            stated[name] = sum(found)
    intro = nb.cells[0].source
    stated["setup"] = float(re.search(r"setup (\d+) min", intro).group(1))
    return stated


def _sentences_asked(prompt: str) -> int:
    """'(2 sentences)' → 2, '(2-3 sentences)' → 3 (the upper end)."""
    asked = re.search(r"(\d+)(?:-(\d+))? sentences", prompt)
    return int(asked.group(2) or asked.group(1))


def _ledger_minutes(track: str) -> float:
    minutes = 0.0
    for field in ledger_fields(track):
        if field.kind in ("choice", "bool"):
            minutes += CHOICE
        elif field.key in COMPUTED_BY_HAND:
            minutes += HAND_CALCULATION
        else:
            minutes += READ_NUMBER
    return minutes


def counted_minutes(nb, track: str, printed: dict[str, int]) -> dict[str, float]:  # noqa: C901
    """Minutes per section for a student of `track`, action by action (module docstring);
    printed: the words each output prints for this track (the `printed` fixture)."""
    minutes: dict[str, float] = {}
    cells = nb.cells
    for name, section in _sections(nb).items():
        if name == "optional":
            continue
        # words as _words counts them: markup (| * # ` -) is not read, in the text as in outputs
        words = sum(_words(c.source) for c in section if c.cell_type == "markdown")
        total = words / READING_WPM
        for c in section:
            gid, src = _grade_id(c), c.source
            if gid.startswith("lock_"):
                total += LOCK + printed[gid] / READING_WPM
            elif gid.startswith("workbench_"):
                total += WORKBENCH + printed[gid] / READING_WPM
            elif gid == "topology_hud":
                total += HUD
            elif gid == "math_peek":
                total += MATH_PEEK
            elif gid == "identity":
                total += IDENTITY
            elif gid == "crisis":
                total += CRISIS + printed["crisis"] / READING_WPM
            elif gid == "part2_tries":
                total += K_ROUNDS * (K_EDIT + K_RERUN) + MAX_TRIES * printed["try"] / READING_WPM
            elif gid == "ledger_keys":
                total += printed["ledger_keys"] / READING_WPM
            elif gid == "ledger":
                total += _ledger_minutes(track)
            elif gid.endswith("_stubs"):
                total += sum(STUB[f] for f in re.findall(r"^def (\w+)\(", src, flags=re.M))
            elif re.fullmatch(r'grader\.check\("\w+"\)', src.strip()):
                total += CHECK
            elif gid in WRITTEN_IDS:
                prompt = cells[cells.index(c) - 1].source
                sentences = _sentences_asked(prompt)
                total += THINK + sentences * WORDS_PER_SENTENCE / WRITING_WPM
        minutes[name] = total
    return minutes


def as_released(nb):
    """The source notebook as students get it (commslab.release: nbgrader's ClearSolutions
    drops each code cell's solution block and replaces a written answer's text by
    TEXT_STUB), without running nbgrader, so the count follows the source at once."""
    from commslab.release import _BEGIN, _END, TEXT_STUB

    for cell in nb.cells:
        solution = cell.metadata.get("nbgrader", {}).get("solution")
        if cell.cell_type == "code":
            cell.source = re.sub(rf"\s*{_BEGIN}.*?{_END}", "", cell.source, flags=re.S)
        elif solution:
            cell.source = TEXT_STUB
    return nb


@pytest.fixture(scope="module")
def released():
    return as_released(nbformat.read(SOURCE, as_version=4))


def _words(text: str) -> int:
    return len(re.findall(r"[^\s|*#`-]+", text))


@pytest.fixture(scope="module")
def printed() -> dict[str, dict[str, int]]:
    """Words each output prints for a student of each track, rendered as lab shows them (no
    kernel: the same text the notebook shows beside its pictures): {track: {cell: words}},
    with "try" the words of one k try's line."""
    import os
    from unittest import mock

    from comms_core.scenarios import scenario_for
    from commslab import lab

    out: dict[str, dict[str, int]] = {}
    shown: list = []

    def text(obj) -> str:
        said = obj if isinstance(obj, str) else getattr(obj, "text", ())
        return said if isinstance(said, str) else "\n".join(said)

    with (
        mock.patch.dict(os.environ, {"COMMS_LAB_STATIC": "1"}),
        mock.patch.object(lab, "_markdown", shown.append),
        mock.patch.object(lab, "_show", shown.append),
        mock.patch.object(lab, "notebook_path", lambda: None),
        mock.patch.object(lab, "_FIRSTS", {}),
    ):
        for track in sorted(TRACKS):
            s = scenario_for(track, TERM, STUDENT)
            words: dict[str, int] = {}
            for part, ns in ((1, {}), (2, {"K_TRIES": [1, 2]}), (3, {})):
                shown.clear()
                getattr(lab, f"part{part}")(s, LOCKS[part].answer, ns)
                words[f"lock_part{part}"] = _words(text(shown[0]))
                body = "\n".join(text(x) for x in shown[1:])
                tries = [line for line in body.splitlines() if line.strip().startswith("try ")]
                # the tries' lines are priced by the tries (part2_tries), not read twice
                rest = [line for line in body.splitlines() if line not in tries]
                words[f"workbench_part{part}"] = _words("\n".join(rest))
                if tries:
                    words["try"] = max(_words(line) for line in tries)
            shown.clear()
            lab.crisis(s)
            words["crisis"] = _words("\n".join(text(x) for x in shown))
            shown.clear()
            lab.ledger_table(track)
            words["ledger_keys"] = _words("\n".join(text(x) for x in shown))
            out[track] = words
    return out


def test_the_notebook_states_a_budget_per_part_that_sums_to_45_minutes(released) -> None:
    stated = _stated_minutes(released)
    assert set(stated) == {"setup", "part1", "part2", "part3", "finish"}, stated
    assert sum(stated.values()) == LAB_MINUTES, stated
    intro = released.cells[0].source  # the overview repeats each part's minutes
    for n in (1, 2, 3):
        assert float(re.search(rf"Part {n} (\d+) min", intro).group(1)) == stated[f"part{n}"]


@pytest.mark.parametrize("track", sorted(TRACKS))
def test_every_part_fits_its_stated_minutes_counted_action_by_action(
    released, printed, track
) -> None:
    stated, counted = _stated_minutes(released), counted_minutes(released, track, printed[track])
    report = {k: (round(counted[k], 1), stated[k]) for k in counted}
    over = {k: v for k, v in report.items() if v[0] > v[1]}
    assert over == {}, f"counted vs stated minutes per part: {report}"
    assert sum(counted.values()) <= LAB_MINUTES, report


def test_the_count_sees_every_action_the_notebook_asks_for(released) -> None:
    """The counter is not blind: every stub, Lock and written answer of the notebook is found
    and priced, and every ledger field it prices as computed by hand exists."""
    counted = {"stubs": [], "locks": 0, "written": 0}
    for c in released.cells:
        gid = _grade_id(c)
        counted["stubs"] += re.findall(r"^def (\w+)\(", c.source, flags=re.M) * gid.endswith(
            "_stubs"
        )
        counted["locks"] += gid.startswith("lock_")
        counted["written"] += gid in WRITTEN_IDS
    assert sorted(counted["stubs"]) == sorted(STUB)
    assert (counted["locks"], counted["written"]) == (3, len(WRITTEN_IDS))
    assert COMPUTED_BY_HAND <= {f.key for t in TRACKS for f in ledger_fields(t)}


def test_every_track_asks_for_the_same_number_of_hand_calculations() -> None:
    """Issue 23: the tracks ask about the same amount of hand calculation (one each)."""
    by_hand = {
        track: [f.key for f in ledger_fields(track) if f.key in COMPUTED_BY_HAND]
        for track in TRACKS
    }
    assert {track: len(keys) for track, keys in by_hand.items()} == dict.fromkeys(TRACKS, 1)


def test_the_tracks_differ_in_their_printed_words_and_ledger_only(
    released, printed, capsys
) -> None:
    """Every track reads the same cells; what differs is what its outputs print (its own
    words and numbers) and its ledger. Prints the count per track (the figures
    docs/time_budget.md quotes) and each track's hand calculations."""
    counts = {track: counted_minutes(released, track, printed[track]) for track in sorted(TRACKS)}
    with capsys.disabled():
        for track, counted in counts.items():
            parts = " · ".join(f"{k} {v:.1f}" for k, v in counted.items())
            by_hand = sorted(f.key for f in ledger_fields(track) if f.key in COMPUTED_BY_HAND)
            print(f"\n{track}: {parts} · total {sum(counted.values()):.1f} min; by hand: {by_hand}")
    for part in ("setup", "part1", "part2", "part3"):
        spread = [c[part] for c in counts.values()]
        assert max(spread) - min(spread) <= 0.5, (part, spread)  # printed words differ a little
    assert len({c["finish"] for c in counts.values()}) > 1  # the ledgers do differ


def test_a_k_try_costs_an_edit_a_rerun_and_reading_its_line(printed) -> None:
    """The tries are priced from what Part 2 prints: reading one try's line, not the whole
    output again; and that line stays short (a table row, not a paragraph)."""
    for track, words in printed.items():
        assert 5 <= words["try"] <= 25, (track, words["try"])
        assert words["workbench_part2"] > words["try"]
