"""The live pictures' speed-ups change no picture (commslab/notebook/render.py, issue 23).

Oracles: matplotlib's own savefig for the PNG bytes; a fresh workbench, drawn on demand, for
the pictures drawn ahead; a fresh interpreter for what the setup cell imports.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")

from comms_core.scenarios import CONVERGENCE_DIM, scenario_for
from commslab.notebook import render
from commslab.notebook import workbench as wb

ROOT = Path(__file__).resolve().parents[1]


def _part1(M: float):
    s = scenario_for("cloud_titan", "2026-fall", "render")
    return wb.crossover_workbench(
        N=s.N, alpha=s.alpha, beta=s.beta, M=M, prediction="less", static=False
    )


def _savefig(fig, dpi: float) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, pil_kwargs=render.LIVE_PNG)
    return buffer.getvalue()


def test_a_live_png_is_the_png_savefig_writes():
    bench = _part1(1e6)
    for M in (2e6, 3e7):  # a fixed layout (live redraws) and a reused canvas
        bench.values["M"] = M
        _, fig = bench.render()
        fig = wb._for_redraw(fig, bench._laid_out)
        assert render.live_png(fig, wb.LIVE_DPI) == _savefig(fig, wb.LIVE_DPI)
    (_, fresh), (_, same) = bench.render(), bench.render()  # a layout to solve: savefig's path
    assert render.live_png(fresh, 72) == _savefig(same, 72)
    for M in (4e6, 5e8):  # redrawn in place (the live slider's path)
        bench.controls["M"].value = M
        assert render.live_png(bench.figure, wb.LIVE_DPI) == _savefig(bench.figure, wb.LIVE_DPI)


def test_text_drawn_from_kept_glyphs_is_the_text_savefig_draws():
    """The live canvas keeps each string's layout and each glyph's bitmap by its position
    within a pixel (render._TextRenderer); moved by fractions and by whole pixels, rotated,
    math text, unantialiased, glyphs from a fallback font: the stock renderer is the oracle."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3), layout="none")
    ax = fig.add_subplot()
    ax.set_title(r"$\alpha_f + \frac{M}{G\beta_f}$ and $\sqrt{x}$")
    texts = [
        ax.text(0.1, 0.2, "latency ⌈log₂N⌉·α = 60 µs"),
        ax.text(0.5, 0.5, "rotated 1.14 MB", rotation=33),
        ax.text(0.2, 0.8, "unantialiased", antialiased=False),
    ]
    for shift in (0.0, 0.0013, 0.05, 0.1, 0.0007):
        for text in texts:
            x, y = text.get_position()
            text.set_position((x + shift, y + shift / 2))
        assert render.live_png(fig, 72) == _savefig(fig, 72)


def test_a_slider_change_shows_the_picture_drawn_for_that_value():
    bench = _part1(1e6)
    first = bench._image.value
    bench.controls["M"].value = 4e6
    moved = bench._image.value
    bench.controls["M"].value = 1e6  # back: from the cache, the same picture
    assert bench._image.value == first and moved != first
    other = _part1(1e6)  # drawn anew elsewhere: the same picture as the moved slider's
    other.controls["M"].value = 4e6
    assert other._image.value == moved


def test_the_picture_cache_keeps_the_last_ones():
    cache = render.PictureCache(size=2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"  # now the most recent
    cache.put("c", b"3")
    assert "b" not in cache and cache.get("a") == b"1" and cache.get("c") == b"3"


def test_part3_draws_every_setting_ahead_without_moving_its_controls():
    kwargs = {"d": 10_000, "dim": CONVERGENCE_DIM, "prediction": "worse", "static": False}
    bench = wb.compression_workbench(**kwargs)
    values = dict(bench.values)
    states = bench.idle_states()
    assert len(states) == 2 * (len(wb.compression.COMPRESSORS) - 1) - 1  # all but the shown one
    assert states[0] == {"compressor": values["compressor"], "error_feedback": True}
    for _ in bench._draw_ahead():
        assert bench.values == values  # between two pieces the controls are the student's
    on_demand = wb.compression_workbench(**kwargs)
    on_demand.controls["error_feedback"].value = True
    on_demand.controls["compressor"].value = "4-bit"
    bench.controls["error_feedback"].value = True
    bench.controls["compressor"].value = "4-bit"
    assert bench._image.value == on_demand._image.value


def test_nothing_is_drawn_ahead_outside_a_kernel():
    ran = []
    assert render.when_idle(iter(ran.append(1) for _ in range(3))) is False
    assert ran == []


def test_the_setup_cell_does_not_load_matplotlib():
    code = (
        "import sys, numpy\nfrom commslab import lab\ngrader = lab.checker()\n"
        "print('matplotlib' in sys.modules)\nlab.plots.format_bytes(1)\n"
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.split() == ["False", "True"]
