"""The workbenches: the Lock, the static path, and live widgets driven programmatically.

ipywidgets builds and updates widgets without a front end, so setting a slider's value
here runs exactly what a student's slider does. Expected numbers come from docs/LAB_SPEC.md's
formulas written out in this file.
"""

from __future__ import annotations

import math
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from comms_core import cost_models as cm
from comms_core import plots
from comms_core.compression import compression_ratio, one_bit_compress
from commslab.notebook import workbench as wb

pytest.importorskip("ipywidgets")

P1 = {"N": 64, "alpha": 10e-6, "beta": 10e9}
P2 = {
    "M": 141.2e9,
    "G": 8,
    "K": 16,
    "alpha_intra": 1e-6,
    "beta_intra": 450e9,
    "alpha_inter": 5e-6,
    "beta_inter": 50e9,
    "t_compute": 0.3,
    "micro_batch": 1,
    "B_noise": 8000,
}
P3 = {"d": 100_000, "steps": 60}


def spec_ring(M, n, a, b):
    return 2 * (n - 1) * a + 2 * (n - 1) / n * M / b


def spec_tree(M, n, a, b):
    return 2 * math.ceil(math.log2(n)) * (a + M / b)


def spec_hier(M, G, K, alpha_intra, beta_intra, alpha_inter, beta_inter, **_):
    return 2 * (G - 1) * (alpha_intra + M / (G * beta_intra)) + 2 * (K - 1) * (
        alpha_inter + M / (G * K * beta_inter)
    )


def text(bench) -> str:
    return "\n".join(bench.text)


def _stub(*args):
    raise NotImplementedError


# --- the Lock --------------------------------------------------------------------------------

WORKBENCHES = [
    (wb.crossover_workbench, P1),
    (wb.hierarchical_workbench, P2),
    (wb.compression_workbench, P3),
]


@pytest.mark.parametrize(("make", "params"), WORKBENCHES)
@pytest.mark.parametrize("prediction", [None, "", "   \n"])
def test_no_prediction_no_answer(make, params, prediction):
    for static in (True, False):
        bench = make(**params, prediction=prediction, static=static)
        assert isinstance(bench, wb.Locked)
        assert bench.figure is None and bench.widget is None
        assert repr(bench) == wb.LOCK_MESSAGE
        assert "prediction" in wb.LOCK_MESSAGE and "run this cell again" in wb.LOCK_MESSAGE


def test_what_counts_as_a_prediction():
    assert not wb.prediction_made(None) and not wb.prediction_made(" ")
    assert wb.prediction_made("less attractive") and wb.prediction_made(0)
    assert wb.prediction_made(["ring"])


def test_outside_a_kernel_the_workbench_is_static():
    bench = wb.crossover_workbench(**P1, prediction="less")
    assert bench.widget is None and bench.figure is not None
    assert wb._use_static(None) is True  # pytest runs without an IPython kernel


# --- Part 1 ----------------------------------------------------------------------------------


def test_crossover_static_shows_the_times_the_winner_and_the_crossover():
    bench = wb.crossover_workbench(**P1, M=1e6, prediction="less", static=True)
    shown = text(bench)
    # docs/LAB_SPEC.md known answers: T_ring = 1456.9 µs, T_tree = 1320 µs at 1 MB, M* ≈ 1.136 MB
    assert plots.format_seconds(spec_ring(1e6, 64, 10e-6, 10e9), 4) == "1.457 ms"
    assert "T_ring = 1.457 ms" in shown and "T_tree = 1.32 ms" in shown
    assert "tree is faster" in shown
    assert "M* = 1.14 MB" in shown
    ax = bench.figure.axes[0]
    assert {"ring (reference)", "tree (reference)"} <= {ln.get_label() for ln in ax.get_lines()}


def test_crossover_student_stub_gets_the_plain_message_and_only_the_reference():
    bench = wb.crossover_workbench(
        **P1,
        prediction="less",
        static=True,
        student={"ring": _stub, "tree": _stub, "crossover": _stub},
    )
    shown = text(bench)
    assert "Implement ring_allreduce_time in Part 1 to see your curve here." in shown
    assert "Implement tree_allreduce_time in Part 1 to see your curve here." in shown
    assert "Implement crossover_message_size in Part 1" in shown
    drawn = {ln.get_label() for ln in bench.figure.axes[0].get_lines()}
    assert "your ring" not in drawn and "ring (reference)" in drawn


def test_crossover_student_functions_that_work_are_drawn_and_quoted():
    def ring(M, n, a, b):
        return spec_ring(M, n, a, b)

    def crossover(n, a, b):
        return 1.136e6

    bench = wb.crossover_workbench(
        **P1, prediction="less", static=True, student={"ring": ring, "crossover": crossover}
    )
    shown = text(bench)
    assert "Your T_ring = 1.457 ms" in shown and "Your M* = 1.14 MB" in shown
    assert "your ring" in {ln.get_label() for ln in bench.figure.axes[0].get_lines()}


def test_crossover_rejects_bad_student_dicts_and_numbers():
    with pytest.raises(ValueError, match="student"):
        wb.crossover_workbench(**P1, prediction="x", student={"star": _stub}, static=True)
    with pytest.raises(ValueError, match="student"):
        wb.crossover_workbench(**P1, prediction="x", student={"ring": 3}, static=True)
    with pytest.raises(ValueError, match="beta"):
        wb.crossover_workbench(N=64, alpha=1e-5, beta=-1, prediction="x", static=True)


def test_crossover_widgets_update_the_numbers_and_the_figure():
    bench = wb.crossover_workbench(**P1, M=1e6, prediction="less", static=False)
    assert bench.widget is not None
    assert {"M", "N", "alpha", "beta", "ring", "tree"} <= set(bench.controls)
    image_before, html_before = bench._image.value, bench._html.value
    assert "T_ring = 1.457 ms" in html_before

    bench.controls["M"].value = 1e8  # a 100 MB message: the ring wins
    M = bench.controls["M"].value
    assert M == pytest.approx(1e8)
    assert f"T_ring = {plots.format_seconds(spec_ring(M, 64, 10e-6, 10e9), 4)}" in text(bench)
    assert f"T_tree = {plots.format_seconds(spec_tree(M, 64, 10e-6, 10e9), 4)}" in text(bench)
    assert "ring is faster" in text(bench)
    assert bench._html.value != html_before and bench._image.value != image_before

    bench.controls["N"].value = 256  # the crossover moves with N
    L = 8
    M_star = 10e-6 * 10e9 * (255 - L) / (L - 255 / 256)
    assert f"M* = {plots.format_bytes(M_star)}" in text(bench)
    vline = [ln for ln in bench.figure.axes[0].get_lines() if ln.get_gid() == "crossover"]
    assert vline[0].get_xdata()[0] == pytest.approx(M_star)

    bench.controls["ring"].value = False  # the toggle removes the ring curve
    assert "ring (reference)" not in {ln.get_label() for ln in bench.figure.axes[0].get_lines()}
    bench.controls["double_binary_tree"].value = True
    assert any("not graded" in ln.get_label() for ln in bench.figure.axes[0].get_lines())


# --- Part 2 ----------------------------------------------------------------------------------


def test_hierarchical_static_numbers_match_the_formulas():
    bench = wb.hierarchical_workbench(**P2, prediction="yes", static=True)
    T_hier = spec_hier(**P2)
    P = 128
    one_port = 2 * (P - 1) * (5e-6 + 141.2e9 / (P * 50e9))
    shown = text(bench)
    assert f"T_hier = {plots.format_seconds(T_hier, 4)}" in shown
    assert (
        f"One flat ring, one slow-link port per node: {plots.format_seconds(one_port, 4)}" in shown
    )
    # the fair baseline, one ring per slow-link port (8 rails): 2(P−1)·α + 2(P−1)/P·M/(8·β)
    rails = 2 * (P - 1) * 5e-6 + 2 * (P - 1) / P * 141.2e9 / (8 * 50e9)
    assert (
        f"Flat rings on all 8 slow-link ports, side by side (the fair baseline): "
        f"{plots.format_seconds(rails, 4)}" in shown
    )
    # the slow-link bytes per node: 2(K−1)/K·M against 2(P−1)/P·M, by hand
    assert f"{(2 * 127 / 128) / (2 * 15 / 16):.4g}× as much" in shown
    bars = [p.get_height() for p in bench.figure.axes[0].patches]
    assert bars[3] == pytest.approx(T_hier) and bars[4] == pytest.approx(rails)
    assert (
        "slower" in bench.figure.axes[0].get_title() or "faster" in bench.figure.axes[0].get_title()
    )


def test_ten_tries_are_kept_and_the_eleventh_is_refused():
    bench = wb.hierarchical_workbench(**P2, prediction="yes", static=True)
    T_hier = spec_hier(**P2)
    ks = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
    results = [bench.try_k(k) for k in ks]
    for k, got in zip(ks, results, strict=True):
        # docs/LAB_SPEC.md: f(k) = (1 + B_noise/(k·b·P))·(k·t_compute + T_hier)
        assert got == pytest.approx((1 + 8000 / (k * 1 * 128)) * (k * 0.3 + T_hier))
    assert [t["k"] for t in bench.tries] == ks
    assert bench.best_try["time_to_train"] == pytest.approx(min(results))
    assert "10 of 10 tries used" in text(bench)
    with pytest.raises(ValueError, match="tries"):
        bench.try_k(4)
    with pytest.raises(ValueError, match="k"):
        wb.hierarchical_workbench(**P2, prediction="yes", static=True).try_k(0)


def test_tries_can_be_given_up_front_for_a_static_notebook():
    bench = wb.hierarchical_workbench(
        **P2, prediction="yes", static=True, tries=[4, 8], max_tries=3
    )
    assert [t["k"] for t in bench.tries] == [4, 8]
    assert "2 of 3 tries used" in text(bench)


def test_hierarchical_widgets_sliders_and_toggle():
    bench = wb.hierarchical_workbench(**P2, prediction="yes", static=False, max_tries=2)
    before = bench._html.value
    bench.controls["beta_inter"].value = 25e9  # half the network bandwidth
    beta = bench.controls["beta_inter"].value
    T_hier = spec_hier(**(P2 | {"beta_inter": beta}))
    assert f"T_hier = {plots.format_seconds(T_hier, 4)}" in text(bench)
    assert bench._html.value != before

    bench.controls["hierarchical"].value = False
    assert len(bench.figure.axes[0].patches) == 1  # the flat ring alone
    assert "Hierarchical mode is off" in text(bench)
    assert not any("Try this k" in repr(c) for c in bench.widget.children)  # K_TRIES only


def test_hierarchical_student_function():
    bench = wb.hierarchical_workbench(
        **P2, prediction="yes", static=True, student={"hierarchical": _stub}
    )
    assert "Implement hierarchical_allreduce_time in Part 2" in text(bench)
    bench = wb.hierarchical_workbench(
        **P2,
        prediction="yes",
        static=True,
        student={"hierarchical": cm.hierarchical_allreduce_time},
    )
    assert f"Your hierarchical_allreduce_time: {plots.format_seconds(spec_hier(**P2), 4)}" in text(
        bench
    )


# --- Part 3 ----------------------------------------------------------------------------------


def test_compression_static_counts_honest_bytes_and_compares_losses():
    bench = wb.compression_workbench(**P3, prediction="worse", static=True)
    shown = text(bench)
    # per device, N = 8 chunks of c = 12,500 values: the ring sends 2·7·4c = 700,000 B; the
    # compressed AllReduce 2·7·(⌈c/8⌉ + 4) = 2·7·1567 = 21,938 B (issue 10, by hand)
    assert "sends 700,000 B (700 KB) in a ring AllReduce" in shown  # exact, as graded
    assert "21,938 B (21.9 KB) in the compressed AllReduce with 1-bit (scaled sign)" in shown
    assert f"{700_000 / 21_938:.3g}x fewer" in shown
    assert "without error feedback" in shown
    assert (
        len([ln for ln in bench.figure.axes[0].get_lines() if not ln.get_label().startswith("_")])
        == 2
    )


def test_compression_widgets_switch_error_feedback_and_compressor():
    bench = wb.compression_workbench(**P3, prediction="worse", static=False)
    labels = [label for label, _ in bench.controls["compressor"].options]
    ratios = [compression_ratio(name, 100_000) for _, name in bench.controls["compressor"].options]
    assert ratios == sorted(ratios) and len(labels) >= 5
    bench.controls["error_feedback"].value = True
    assert "with error feedback" in text(bench)
    colors = [ln.get_color() for ln in bench.figure.axes[0].get_lines()]
    assert plots.PALETTE["ef"] in colors
    bench.controls["compressor"].value = "top-k 1%"
    assert "top-k 1%" in text(bench)


def test_compression_student_compressor():
    bench = wb.compression_workbench(
        **P3, prediction="worse", static=True, student={"compress": _stub}
    )
    assert "Implement one_bit_compress in Part 3 to see your curve here." in text(bench)
    bench = wb.compression_workbench(
        **P3,
        prediction="worse",
        static=True,
        error_feedback=True,
        student={"compress": one_bit_compress},
    )
    labels = [ln.get_label() for ln in bench.figure.axes[0].get_lines()]
    assert any(label.startswith("your compressor + error feedback") for label in labels)
    bench = wb.compression_workbench(
        **P3, prediction="worse", static=True, student={"compress": lambda v: v * np.nan}
    )
    assert "made the loss NaN" in text(bench)


# --- where the widgets come from -------------------------------------------------------------


def test_comms_core_works_without_ipywidgets(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` now fails
    assert wb._use_static(None) is True
    assert wb.crossover_workbench(**P1, prediction="x").widget is None
    with pytest.raises(ImportError, match="static=True"):
        wb.crossover_workbench(**P1, prediction="x", static=False)


def test_inside_a_kernel_the_default_is_widgets(monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: SimpleNamespace(kernel=object()))
    assert wb._use_static(None) is False
    assert wb.crossover_workbench(**P1, prediction="x").widget is not None


def test_jupyter_display_shows_text_and_png_or_the_widget(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append(obj))
    wb.crossover_workbench(**P1, prediction="x", static=True)._ipython_display_()
    assert isinstance(shown[0], IPython.display.HTML) and "T_ring" in shown[0].data
    assert isinstance(shown[1], IPython.display.Image) and shown[1].data[:4] == b"\x89PNG"
    shown.clear()
    wb.Locked()._ipython_display_()
    assert len(shown) == 1 and wb.LOCK_MESSAGE in shown[0].data
    shown.clear()
    bench = wb.crossover_workbench(**P1, prediction="x", static=False)
    bench._ipython_display_()
    title, controls, numbers, picture = shown  # the widget holds only the controls
    assert bench.title in title.data and controls is bench.widget
    assert isinstance(numbers, IPython.display.HTML) and "T_ring" in numbers.data
    assert isinstance(picture, IPython.display.Image) and picture.data[:4] == b"\x89PNG"


class _Handle:
    """What IPython's display(..., display_id=True) returns: update() replaces the output."""

    def __init__(self, obj, updates: list) -> None:
        self.obj, self.updates = obj, updates

    def update(self, obj) -> None:
        self.updates.append((self, obj))


@pytest.mark.parametrize(("make", "params", "change"), [
    (wb.crossover_workbench, P1, ("M", 1e8)),
    (wb.hierarchical_workbench, P2, ("beta_inter", 25e9)),
    (wb.compression_workbench, P3, ("error_feedback", True)),
])  # fmt: skip
def test_a_slider_change_updates_the_picture_output_in_place(monkeypatch, make, params, change):
    """Without a kernel a widget is "model not found"; the numbers and the picture are
    ordinary outputs (text/html, image/png) that a slider change replaces in place, so a saved
    notebook keeps the last picture."""
    import IPython.display

    handles, updates = [], []

    def display(obj, display_id=None):
        if display_id:
            handles.append(_Handle(obj, updates))
            return handles[-1]
        return None

    monkeypatch.setattr(IPython.display, "display", display)
    bench = make(**params, prediction="x", static=False)
    bench._ipython_display_()
    numbers, picture = handles
    assert isinstance(picture.obj, IPython.display.Image)
    name, value = change
    bench.controls[name].value = value
    updated = {id(h): obj for h, obj in updates}
    assert (
        updated[id(picture)].data[:4] == b"\x89PNG"
        and updated[id(picture)].data != picture.obj.data
    )
    assert updated[id(numbers)].data != numbers.obj.data


@pytest.mark.parametrize(
    ("N", "alpha", "beta", "M"),
    [
        (6, 20e-3, 150e3, 4e3),  # Bluetooth LE: slow, high latency (Mobile Nomad)
        (2048, 1e-6, 450e9, 141.2e9),
    ],  # bigger than the default slider ranges
)
def test_sliders_widen_to_hold_every_tracks_numbers(N, alpha, beta, M):
    bench = wb.crossover_workbench(N=N, alpha=alpha, beta=beta, M=M, prediction="x", static=False)
    for name, value in {"N": N, "alpha": alpha, "beta": beta, "M": M}.items():
        assert bench.controls[name].value == pytest.approx(value), name
        assert bench.values[name] == pytest.approx(value), name
    assert f"T_ring = {plots.format_seconds(spec_ring(M, N, alpha, beta), 4)}" in text(bench)
    highlighted = [
        ln
        for ln in bench.figure.axes[0].get_lines()
        if ln.get_marker() == "o" and len(ln.get_xdata())
    ]
    assert len(highlighted) == 2


def test_each_track_sees_its_own_words():
    from commslab.notebook.words import WORDS

    for track, words in WORDS.items():
        bench = wb.hierarchical_workbench(**P2, prediction="yes", static=True, words=words)
        shown = text(bench) + " ".join(
            t.get_text() for ax in bench.figure.axes for t in ax.get_legend().get_texts()
        )
        assert words.fast in shown and words.slow in shown and words.devices in shown
        if track != "cloud_titan":
            assert "GPU" not in shown and "NVLink" not in shown and "InfiniBand" not in shown


def test_the_n_slider_is_a_log_scale_of_whole_numbers_with_your_n():
    stops = wb.rank_counts(50)
    assert stops[:8] == [1, 2, 3, 4, 6, 8, 12, 16] and 50 in stops and stops[-1] >= 1024
    bench = wb.crossover_workbench(N=50, alpha=1e-5, beta=1e10, prediction="less", static=False)
    assert bench.controls["N"].value == 50
    assert bench.controls["M"].layout.width == wb.CONTROL_WIDTH


def test_a_moved_slider_says_the_numbers_are_not_the_scenarios():
    """A student who moved a slider and then reads the crossover or the speed-up is told that
    these are not their scenario's numbers (the ledger's)."""
    bench = wb.crossover_workbench(
        N=10, alpha=2.61e-4, beta=7.3e5, M=276, prediction="less", static=False
    )
    assert "Sliders moved" not in text(bench)
    bench.controls["beta"].value = 1e6
    assert "Sliders moved" in text(bench)
    bench = wb.hierarchical_workbench(**P2, prediction="yes", static=False, tries=[1, 2])
    assert "Sliders moved" not in text(bench)
    bench.controls["beta_inter"].value = P2["beta_inter"] * 2
    assert "Sliders moved" in text(bench) and "tries below are at your scenario's β" in text(bench)
