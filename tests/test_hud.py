"""Part 1's NetworkTopologyHUD: its steps are the simulator's, its running α-β total ends at
the hand-computed totals of docs/LAB_SPEC.md, and a step change redraws the picture.

The oracle for the totals is the spec's formulas written out here with math (ring: 2(N−1)
steps of α + M/(N·β); tree: 2⌈log2 N⌉ steps of α + M/β), not comms_core.cost_models.
"""

from __future__ import annotations

import io
import math

import numpy as np
import PIL.Image
import pytest

from comms_core.scenarios import scenario_for
from comms_core.simulator import simulate_ring_allreduce, simulate_tree_allreduce
from commslab import lab
from commslab.notebook import hud as hud_module
from commslab.notebook.hud import SHOWN_RANKS, hud_steps, topology_hud
from commslab.notebook.words import WORDS

pytest.importorskip("ipywidgets")

ALPHA, BETA, M = 5e-6, 12.5e9, 3e6


def hand_total(algorithm: str, M: float, N: int, alpha: float, beta: float) -> float:
    if algorithm == "ring":
        return 2 * (N - 1) * (alpha + M / (N * beta))
    return 2 * math.ceil(math.log2(N)) * (alpha + M / beta)


@pytest.mark.parametrize("N", [2, 5, 8, 12, 16])
@pytest.mark.parametrize(
    ("algorithm", "simulate"),
    [("ring", simulate_ring_allreduce), ("tree", simulate_tree_allreduce)],
)
def test_the_steps_are_the_simulators(algorithm, simulate, N):
    steps = hud_steps(algorithm, N, M, ALPHA, BETA)
    trace = simulate(np.ones((N, N), dtype=np.float32), record_schedule=True)
    assert len(steps) == trace.steps == len(trace.schedule)
    for mine, theirs in zip(steps, trace.schedule, strict=True):
        assert mine.phase == theirs.phase and mine.count == len(theirs.src)
        assert mine.messages == tuple(
            zip(
                theirs.src.tolist(),
                theirs.dst.tolist(),
                theirs.start.tolist(),
                theirs.stop.tolist(),
                strict=True,
            )
        )
    if algorithm == "ring":  # by hand: every rank sends one chunk to its right neighbour
        assert len(steps) == 2 * (N - 1)
        assert all(dst == (src + 1) % N for s in steps for src, dst, *_ in s.messages)
        assert all(stop - start == 1 for s in steps for *_, start, stop in s.messages)
    else:  # by hand: ⌈log2 N⌉ reduce steps, then as many broadcast steps, whole vectors
        L = math.ceil(math.log2(N))
        assert [s.phase for s in steps] == ["reduce"] * L + ["broadcast"] * L
        assert all((start, stop) == (0, N) for s in steps for *_, start, stop in s.messages)


@pytest.mark.parametrize("N", [2, 3, 6, 10, 16, 50, 100])
@pytest.mark.parametrize("algorithm", ["ring", "tree"])
def test_the_running_total_ends_at_the_hand_computed_alpha_beta_time(algorithm, N):
    steps = hud_steps(algorithm, N, M, ALPHA, BETA)
    per_step = ALPHA + (M / N if algorithm == "ring" else M) / BETA
    assert all(s.cost == pytest.approx(per_step, rel=1e-12) for s in steps)
    running = np.cumsum([s.cost for s in steps])
    assert [s.total for s in steps] == pytest.approx(running.tolist(), rel=1e-12)
    assert steps[-1].total == pytest.approx(hand_total(algorithm, M, N, ALPHA, BETA), rel=1e-12)


def test_the_last_step_says_the_total_is_part_1s_formula():
    s = scenario_for("edge_guardian", "2026-fall", "hud-1")
    hud = topology_hud(N=s.N, M=s.M_message, alpha=s.alpha, beta=s.beta, static=True)
    for algorithm in ("ring", "tree"):
        hud.select(algorithm, step=10**6)  # clipped to the last step
        assert hud.step == len(hud.steps[algorithm])
        expected = hand_total(algorithm, s.M_message, s.N, s.alpha, s.beta)
        shown = "\n".join(hud.text)
        assert f"{hud.step} of {hud.step} steps: " in shown
        total = hud_module.plots.format_seconds(expected, 4)
        assert shown.count(total) >= 2, shown  # the running total and Part 1's formula agree


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(PIL.Image.open(io.BytesIO(png)).convert("RGB"))


def test_a_step_change_redraws_the_picture_and_the_numbers():
    hud = topology_hud(N=10, M=M, alpha=ALPHA, beta=BETA, static=False)
    assert set(hud.controls) == {"algorithm", "step", "play"}
    picture, numbers = hud._image.value, hud._html.value
    assert picture[:4] == b"\x89PNG" and "Step 1 of 18" in numbers
    hud.controls["step"].value = 2
    assert hud.step == 2 and "Step 2 of 18" in hud._html.value
    assert not np.array_equal(_pixels(hud._image.value), _pixels(picture))  # the arrows moved
    hud.controls["step"].value = 1  # back: the kept picture of step 1
    assert hud._image.value == picture
    hud.controls["algorithm"].value = "tree"  # the slider now runs over the tree's 8 steps
    assert hud.controls["step"].max == hud.controls["play"].max == 8
    assert hud.step == 1 and "Tree AllReduce" in hud._html.value
    assert not np.array_equal(_pixels(hud._image.value), _pixels(picture))


def test_a_large_n_is_drawn_in_part_and_says_so():
    hud = topology_hud(N=1024, M=M, alpha=ALPHA, beta=BETA, words=WORDS["cloud_titan"], static=True)
    shown = "\n".join(hud.text)
    assert (
        f"Drawn: GPUs 0–{SHOWN_RANKS - 1} and one dashed circle for the other {1024 - SHOWN_RANKS}"
        in shown
    )
    assert "Step 1 of 2046" in shown and "every GPU sends" in shown
    assert len(hud.steps["ring"][0].messages) <= SHOWN_RANKS + 1  # only the drawn ranks' kept
    assert hud.steps["ring"][0].count == 1024


def test_each_track_sees_its_own_words():
    for track, words in WORDS.items():
        hud = topology_hud(N=6, M=M, alpha=ALPHA, beta=BETA, words=words, static=True)
        shown = "\n".join(hud.text)
        assert words.devices in shown and f"over {words.link}:" in shown
        if track != "cloud_titan":
            assert "GPU" not in shown


def test_the_hud_opens_after_the_part_1_lock(monkeypatch):
    out: list = []
    monkeypatch.setattr(lab, "_markdown", lambda text: out.append(text))
    monkeypatch.setattr(lab, "_show", lambda obj: out.append(obj))
    s = scenario_for("tiny_pioneer", "2026-fall", "hud-2")
    monkeypatch.setattr(lab, "PREDICTIONS", {})
    lab.topology_hud(s)
    assert len(out) == 1 and "🔒" in out[0]
    monkeypatch.setattr(lab, "PREDICTIONS", {1: "less"})
    lab.topology_hud(s)
    hud = out[-1]
    assert hud.N == s.N == 50 and "hearables" in "\n".join(hud.text)
    assert hud.steps["ring"][-1].total == pytest.approx(  # BLE: half duplex
        hand_total_on("half duplex", "ring", s.M_message, s.N, s.alpha, s.beta), rel=1e-12
    )


def test_without_a_kernel_it_shows_text_and_a_picture(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append(obj))
    topology_hud(N=4, M=M, alpha=ALPHA, beta=BETA, static=True)._ipython_display_()
    assert isinstance(shown[0], IPython.display.HTML) and "Step 1 of 6" in shown[0].data
    assert isinstance(shown[1], IPython.display.Image) and shown[1].data[:4] == b"\x89PNG"


def test_bad_input_gets_a_clear_message():
    with pytest.raises(ValueError, match="at least 2"):
        topology_hud(N=1, M=M, alpha=ALPHA, beta=BETA, static=True)
    with pytest.raises(ValueError, match="algorithm"):
        hud_steps("star", 4, M, ALPHA, BETA)
    with pytest.raises(ValueError, match="beta"):
        topology_hud(N=4, M=M, alpha=ALPHA, beta=0, static=True)


# --- the radio tracks' media: the same steps, priced as the radio allows ---------------------


def hand_total_on(medium: str, algorithm: str, M: float, N: int, alpha: float, beta: float):
    """By hand: shared channel, every message in turn (ring 2(N−1)·N messages of M/N, tree
    2(N−1) of M); half duplex, a ring step moves M/N out and M/N in on one radio (the tree's
    steps are one-way)."""
    if medium == "shared channel":
        if algorithm == "ring":
            return 2 * (N - 1) * N * (alpha + M / N / beta)
        return 2 * (N - 1) * (alpha + M / beta)
    if algorithm == "ring":
        return 2 * (N - 1) * (alpha + 2 * (M / N) / beta)
    return hand_total("tree", M, N, alpha, beta)


@pytest.mark.parametrize("N", [2, 3, 5, 10, 16, 50])
@pytest.mark.parametrize("medium", ["shared channel", "half duplex"])
@pytest.mark.parametrize("algorithm", ["ring", "tree"])
def test_the_radio_media_price_every_message(algorithm, medium, N):
    steps = hud_steps(algorithm, N, M, ALPHA, BETA, medium)
    assert steps[-1].total == pytest.approx(
        hand_total_on(medium, algorithm, M, N, ALPHA, BETA), rel=1e-12
    )


@pytest.mark.parametrize("track", ["edge_guardian", "mobile_nomad", "tiny_pioneer"])
def test_each_radio_track_hud_shows_its_medium(track, monkeypatch):
    """lab.topology_hud prices Edge's steps on one shared channel and Mobile's and Tiny's on
    half-duplex BLE, and says what Part 1's full-duplex formula would give."""
    shown: list = []
    monkeypatch.setattr(lab, "_show", shown.append)
    monkeypatch.setattr(lab, "PREDICTIONS", {1: "less"})
    s = scenario_for(track, "2026-fall", "hud-radio")
    lab.topology_hud(s)
    hud = shown[-1]
    medium = "shared channel" if track == "edge_guardian" else "half duplex"
    hud.select("ring", step=10**6)
    text = "\n".join(hud.text)
    expected = hand_total_on(medium, "ring", s.M_message, s.N, s.alpha, s.beta)
    assert hud_module.plots.format_seconds(expected, 4) in text
    assert "Part 1's T_ring" in text and "full-duplex link of its own" in text
