"""The lab's figures: drawn headless, with the right artists at the right places.

Expected numbers come from the formulas of docs/LAB_SPEC.md written out here, from its known
answers (M* ≈ 1.136 MB for N = 64, α = 10 µs, β = 10 GB/s), and from counting the
simulator's schedule, never from the plotting code.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt  # only to check that no figure leaks into it
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from comms_core import cost_models as cm
from comms_core import plots
from comms_core.convergence import run_data_parallel_training
from comms_core.simulator import simulate_ring_allreduce, simulate_tree_allreduce

N, ALPHA, BETA = 64, 10e-6, 10e9


def spec_ring(M, n, a, b):
    return 2 * (n - 1) * a + 2 * (n - 1) / n * M / b


def spec_tree(M, n, a, b):
    return 2 * math.ceil(math.log2(n)) * (a + M / b)


def spec_crossover(n, a, b):
    L = math.ceil(math.log2(n))
    return a * b * (n - 1 - L) / (L - (n - 1) / n)


def line(ax, label):
    matches = [ln for ln in ax.get_lines() if ln.get_label() == label]
    assert len(matches) == 1, [ln.get_label() for ln in ax.get_lines()]
    return matches[0]


def legend_texts(ax):
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def all_texts(fig):
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    texts += [ax.get_title() for ax in fig.axes]
    texts += [legend for ax in fig.axes for legend in legend_texts(ax)]
    return texts


# --- human units ---------------------------------------------------------------------------


def test_format_known_values():
    assert plots.format_bytes(1.136e6) == "1.14 MB"
    assert plots.format_bytes(141.2e9) == "141 GB"
    assert plots.format_bytes(512) == "512 B"
    assert plots.format_bytes(0) == "0 B"
    assert plots.format_seconds(1456.9e-6, 5) == "1.4569 ms"
    assert plots.format_seconds(20e-6) == "20 µs"
    assert plots.format_seconds(0) == "0 s"
    assert plots.format_seconds(999.99e-6) == "1 ms"  # rounds up into the next unit
    assert plots.format_seconds(90) == "1.5 min"


@given(st.floats(min_value=1e-3, max_value=1e16, allow_nan=False))
def test_format_bytes_round_trips(n):
    number, unit = plots.format_bytes(n).split()
    scale = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15}[unit]
    assert float(number) * scale == pytest.approx(n, rel=5e-3)
    assert float(number) < 1000 and (unit == "B" or float(number) >= 1)


@given(st.floats(min_value=1e-9, max_value=3e5, allow_nan=False))
def test_format_seconds_round_trips(t):
    number, unit = plots.format_seconds(t).split()
    scale = {"ns": 1e-9, "µs": 1e-6, "ms": 1e-3, "s": 1, "min": 60, "h": 3600}[unit]
    assert float(number) * scale == pytest.approx(t, rel=5e-3)


# --- Part 1: the crossover plot --------------------------------------------------------------


def test_crossover_plot_draws_ring_and_tree_on_log_axes_from_the_formulas():
    fig = plots.communication_crossover_plot(N, ALPHA, BETA)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    ring, tree = line(ax, "ring (reference)"), line(ax, "tree (reference)")
    M = ring.get_xdata()
    assert M.min() == pytest.approx(1e3) and M.max() == pytest.approx(1e10)
    np.testing.assert_allclose(ring.get_ydata(), spec_ring(M, N, ALPHA, BETA), rtol=1e-12)
    np.testing.assert_allclose(tree.get_ydata(), spec_tree(M, N, ALPHA, BETA), rtol=1e-12)
    curves = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
    assert len([ln for ln in curves if ln.get_gid() is None]) == 2  # + the two lower bounds


def test_crossover_line_sits_at_the_exact_intersection():
    fig = plots.communication_crossover_plot(N, ALPHA, BETA)
    ax = fig.axes[0]
    vlines = [ln for ln in ax.get_lines() if ln.get_gid() == "crossover"]
    assert len(vlines) == 1
    x = vlines[0].get_xdata()
    assert x[0] == x[1]
    assert x[0] == pytest.approx(spec_crossover(N, ALPHA, BETA), rel=1e-9)
    assert x[0] == pytest.approx(1.136e6, rel=1e-3)  # docs/LAB_SPEC.md's known answer
    texts = all_texts(fig)
    assert "M* = 1.14 MB" in texts
    # the two regions, on the correct sides of M*
    where = {t.get_text().strip(): t.get_position()[0] for t in ax.texts}
    assert where["tree faster"] < x[0] < where["ring faster"]


@pytest.mark.parametrize("n", [2, 3])
def test_small_rings_have_no_crossover(n):
    fig = plots.communication_crossover_plot(n, ALPHA, BETA)
    ax = fig.axes[0]
    assert not [ln for ln in ax.get_lines() if ln.get_gid() == "crossover"]
    assert any("ring faster at every size" in t for t in all_texts(fig))
    T_ring, T_tree = line(ax, "ring (reference)"), line(ax, "tree (reference)")
    assert (T_ring.get_ydata() <= T_tree.get_ydata() * (1 + 1e-12)).all()


def test_crossover_outside_the_range_labels_one_side_only():
    fig = plots.communication_crossover_plot(N, ALPHA, BETA, M_range=(1e7, 1e10))
    ax = fig.axes[0]
    assert not [ln for ln in ax.get_lines() if ln.get_gid() == "crossover"]
    labels = [t.get_text().strip() for t in ax.texts]
    assert "ring faster" in labels and "tree faster" not in labels


def test_one_rank_draws_no_curve_and_says_why():
    fig = plots.communication_crossover_plot(1, ALPHA, BETA)
    assert not fig.axes[0].get_lines()
    assert any("N = 1" in t for t in all_texts(fig))


def test_ungraded_algorithms_are_labelled_not_graded():
    fig = plots.communication_crossover_plot(
        N, ALPHA, BETA, reference=("ring", "tree", "halving_doubling", "double_binary_tree")
    )
    labels = [ln.get_label() for ln in fig.axes[0].get_lines()]
    ungraded = [lb for lb in labels if "not graded" in lb]
    assert len(ungraded) == 2
    rhd = line(fig.axes[0], ungraded[0])
    M = rhd.get_xdata()
    L = math.ceil(math.log2(N))
    np.testing.assert_allclose(rhd.get_ydata(), 2 * L * ALPHA + 2 * (N - 1) / N * M / BETA)


def test_highlight_marks_every_curve_at_that_size():
    fig = plots.communication_crossover_plot(N, ALPHA, BETA, highlight=1e6)
    points = [
        ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "o" and len(ln.get_xdata())
    ]
    assert "at M = 1 MB" in legend_texts(fig.axes[0])
    assert sorted(p.get_ydata()[0] for p in points) == pytest.approx(
        sorted([spec_ring(1e6, N, ALPHA, BETA), spec_tree(1e6, N, ALPHA, BETA)])
    )


def _stub(M, n, a, b):
    raise NotImplementedError


def _math_only_ring(M, n, a, b):  # a student's function that only takes floats
    return 2 * (n - 1) * a + 2 * (n - 1) / n * M / b + 0 * math.sqrt(M)


BROKEN = {
    "stub": (_stub, "not implemented yet"),
    "nan": (lambda M, n, a, b: M * np.nan, "NaN"),
    "string": (lambda M, n, a, b: "fast", "did not return numbers"),
    "crash": (lambda M, n, a, b: 1 / 0, "ZeroDivisionError"),
    "negative": (lambda M, n, a, b: -M, "negative"),
    "boolean": (lambda M, n, a, b: M > 0, "did not return numbers"),
    "object": (lambda M, n, a, b: object(), "did not return numbers"),
}


def test_broken_student_functions_are_skipped_and_named():
    algorithms = {name: f for name, (f, _) in BROKEN.items()}
    algorithms["mine"] = _math_only_ring
    fig = plots.communication_crossover_plot(N, ALPHA, BETA, algorithms=algorithms)
    ax = fig.axes[0]
    drawn = [ln.get_label() for ln in ax.get_lines() if len(ln.get_xdata()) > 1]
    assert "mine" in drawn and not set(BROKEN) & set(drawn)
    np.testing.assert_allclose(
        line(ax, "mine").get_ydata(), spec_ring(line(ax, "mine").get_xdata(), N, ALPHA, BETA)
    )
    notes = [t for t in legend_texts(ax) if t.startswith("not drawn")]
    assert len(notes) == len(BROKEN)
    for name, (_, why) in BROKEN.items():
        assert any(f"'{name}'" in note and why in note for note in notes), (name, notes)


def test_evaluate_algorithm_never_raises():
    for f, _ in BROKEN.values():
        values, problem = plots.evaluate_algorithm(f, np.array([1.0, 2.0]), N, ALPHA, BETA)
        assert values is None and problem
    values, problem = plots.evaluate_algorithm(
        cm.ring_allreduce_time, np.array([1e6]), N, ALPHA, BETA
    )
    assert problem is None and values[0] == pytest.approx(spec_ring(1e6, N, ALPHA, BETA))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"N": 0}, "N"),
        ({"N": 2.5}, "N"),
        ({"alpha": float("nan")}, "alpha"),
        ({"alpha": -1e-6}, "alpha"),
        ({"beta": 0}, "beta"),
        ({"beta": [1e9, 2e9]}, "beta"),
        ({"M_range": (1e6, 1e3)}, "M_range"),
        ({"M_range": 1e6}, "M_range"),
        ({"reference": ("ring", "star")}, "reference"),
        ({"highlight": -1}, "highlight"),
    ],
)
def test_crossover_plot_rejects_bad_input_naming_the_parameter(kwargs, name):
    args = {"N": N, "alpha": ALPHA, "beta": BETA} | kwargs
    with pytest.raises(ValueError, match=name):
        plots.communication_crossover_plot(**args)


def test_drawing_on_a_given_axes_and_no_pyplot_leak():
    before = plt.get_fignums()
    fig = Figure()
    ax = fig.add_subplot()
    assert plots.communication_crossover_plot(N, ALPHA, BETA, ax=ax) is fig
    plots.communication_waterfall(None, flat_time=1.0)
    assert plt.get_fignums() == before


# --- the topology HUD ------------------------------------------------------------------------


def _transfers(ax):
    return [p for p in ax.patches if isinstance(p, FancyArrowPatch) and p.get_gid() == "transfer"]


def _node_positions(ax):
    return {
        int(t.get_text()): np.array(t.get_position()) for t in ax.texts if t.get_text().isdigit()
    }


@pytest.mark.parametrize("simulate", [simulate_ring_allreduce, simulate_tree_allreduce])
@pytest.mark.parametrize("n", [5, 8])
def test_hud_draws_one_arrow_per_message_from_sender_to_receiver(simulate, n):
    buffers = np.arange(n * 16, dtype=np.float32).reshape(n, 16)
    trace = simulate(buffers, record_schedule=True)
    for k, step in enumerate(trace.schedule):
        fig = plots.network_topology_hud(trace, k)
        ax = fig.axes[0]
        arrows = _transfers(ax)
        assert len(arrows) == len(step.src)
        where = _node_positions(ax)
        drawn = {tuple(np.round(a._posA_posB, 9).ravel()) for a in arrows}
        expected = {
            tuple(np.round([*where[s], *where[d]], 9))
            for s, d in zip(step.src, step.dst, strict=True)
        }
        assert drawn == expected
        assert step.phase in ax.get_title()
        assert f"step {k + 1} / {trace.steps}" in ax.get_title()


def test_hud_title_counts_the_bytes_in_flight():
    buffers = np.ones((8, 16), dtype=np.float32)
    ring = simulate_ring_allreduce(buffers)
    # 8 ranks each send one 2-element float32 chunk: 8 B per message, 64 B in flight
    assert (
        "8 messages × 8 B · 64 B in flight"
        in plots.network_topology_hud(ring, 0).axes[0].get_title()
    )
    tree = simulate_tree_allreduce(buffers)
    # first reduce step of a binomial tree on 8 ranks: 4 messages of the whole 64 B vector
    assert (
        "4 messages × 64 B · 256 B in flight"
        in plots.network_topology_hud(tree, 0).axes[0].get_title()
    )


def test_hud_rejects_a_trace_without_schedule_and_a_bad_step():
    buffers = np.ones((4, 8))
    with pytest.raises(ValueError, match="schedule"):
        plots.network_topology_hud(simulate_ring_allreduce(buffers, record_schedule=False), 0)
    trace = simulate_ring_allreduce(buffers)
    for bad in (-1, trace.steps, 1.5, True):
        with pytest.raises(ValueError, match="step"):
            plots.network_topology_hud(trace, bad)


def test_hud_grid_shows_the_start_and_end_of_each_phase():
    buffers = np.ones((8, 16), dtype=np.float32)
    ring = plots.topology_hud_grid(simulate_ring_allreduce(buffers))
    shown = [ax.get_title() for ax in ring.axes if ax.get_title()]
    assert [t.split(" · ")[1] for t in shown] == ["reduce-scatter"] * 2 + ["all-gather"] * 2
    assert [
        "step 1 / 14" in shown[0],
        "step 7 / 14" in shown[1],
        "step 8 / 14" in shown[2],
        "step 14 / 14" in shown[3],
    ] == [True] * 4
    tree = plots.topology_hud_grid(simulate_tree_allreduce(buffers))
    assert len([ax for ax in tree.axes if ax.get_title()]) == 6  # 2·⌈log2 8⌉ steps, all shown
    two = plots.topology_hud_grid(simulate_tree_allreduce(buffers), steps=[0, 5])
    assert len([ax for ax in two.axes if ax.get_title()]) == 2


# --- Part 2: the waterfall -------------------------------------------------------------------

HIER = {
    "M": 141.2e9,
    "G": 8,
    "K": 16,
    "alpha_intra": 1e-6,
    "beta_intra": 450e9,
    "alpha_inter": 5e-6,
    "beta_inter": 50e9,
}


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_waterfall_bars_are_the_phases_stacked_then_total_then_flat():
    M, G, K = HIER["M"], HIER["G"], HIER["K"]
    intra = (G - 1) * (HIER["alpha_intra"] + M / (G * HIER["beta_intra"]))
    inter = 2 * (K - 1) * (HIER["alpha_inter"] + M / (G * K * HIER["beta_inter"]))
    P = G * K
    flat = 2 * (P - 1) * (HIER["alpha_inter"] + M / (P * HIER["beta_inter"]))
    fig = plots.communication_waterfall(cm.hierarchical_breakdown(**HIER), flat_time=flat)
    bars = _bars(fig.axes[0])
    assert [b.get_height() for b in bars] == pytest.approx(
        [intra, inter, intra, 2 * intra + inter, flat]
    )
    assert [b.get_y() for b in bars] == pytest.approx([0, intra, intra + inter, 0, 0])
    assert bars[0].get_facecolor() == bars[2].get_facecolor() != bars[1].get_facecolor()
    assert f"{flat / (2 * intra + inter):.2g}x faster" in fig.axes[0].get_title()
    assert plots.format_seconds(inter) in all_texts(fig)


def test_waterfall_with_hierarchy_off_draws_the_flat_ring_only():
    bars = _bars(plots.communication_waterfall(None, flat_time=2.5).axes[0])
    assert [b.get_height() for b in bars] == [2.5]


@pytest.mark.parametrize(
    ("breakdown", "flat", "name"),
    [
        (None, None, "breakdown"),
        ({"intra": 1.0}, None, "breakdown"),
        (
            {"intra_reduce_scatter": 1, "inter_allreduce": -1, "intra_all_gather": 1},
            None,
            "inter_allreduce",
        ),
        (
            {"intra_reduce_scatter": [1, 2], "inter_allreduce": 1, "intra_all_gather": 1},
            None,
            "intra_reduce_scatter",
        ),
        (None, float("nan"), "flat_time"),
    ],
)
def test_waterfall_rejects_bad_input(breakdown, flat, name):
    with pytest.raises(ValueError, match=name):
        plots.communication_waterfall(breakdown, flat_time=flat)


# --- Part 3: the convergence monitor ---------------------------------------------------------


def test_convergence_monitor_draws_each_run_with_its_bytes():
    runs = [
        run_data_parallel_training(m, steps=40) for m in ("none", "compressed", "compressed_ef")
    ]
    fig = plots.convergence_monitor(runs)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
    assert len(lines) == 3
    for ln, run in zip(lines, runs, strict=True):
        assert plots.format_bytes(run.bytes_per_worker_per_step) in ln.get_label()
        # the y values are the loss above the shared optimum f*
        np.testing.assert_allclose(ln.get_ydata(), (run.losses - run.optimal_loss)[ln.get_xdata()])
    labels = " ".join(ln.get_label() for ln in lines)
    assert "no compression" in labels and "error feedback" in labels
    assert lines[2].get_color() == plots.PALETTE["ef"]


def test_convergence_monitor_rejects_non_runs():
    with pytest.raises(ValueError, match="results"):
        plots.convergence_monitor([])
    with pytest.raises(ValueError, match="results"):
        plots.convergence_monitor([np.ones(3)])


# --- the Math Peek ---------------------------------------------------------------------------


def test_math_peek_has_the_formulas_and_the_convention_note():
    text = plots.math_peek()
    for piece in (
        "T_{ring}",
        "T_{tree}",
        "M^*",
        "T_{hier}",
        "e_{t+1}",
        "bytes/s",
        r"N\alpha/\beta",
        r"N\cdot\alpha\cdot\beta",
        r"/\log_2 N",
        "exact intersection",
    ):
        assert piece in text, piece


def test_time_axis_ticks_are_round_human_times():
    fig = plots.communication_crossover_plot(6, 20e-3, 150e3, M_range=(4e2, 1e10))
    ax = fig.axes[0]
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all(lb.split()[0] in {"1", "10", "100"} for lb in labels), labels
    assert "1 min" in labels or "1 h" in labels
    # a narrow winning region keeps its label inside the axes
    region = next(t for t in ax.texts if t.get_text().strip() == "tree faster")
    assert region.get_position()[0] >= 4e2 and region.get_horizontalalignment() == "left"


@pytest.mark.parametrize("N,alpha,beta", [(1024, 3e-6, 45e9), (10, 2e-4, 1.5e6), (7, 1e-5, 1e9)])
def test_the_lower_bounds_are_drawn_with_their_hand_values(N, alpha, beta):
    """Part 1's plot shows the bandwidth bound 2(N−1)/N·M/β (Patarasuk & Yuan 2009) and the
    latency bound ⌈log₂N⌉·α (Chan et al. 2007), labelled; values written out by hand."""
    fig = plots.communication_crossover_plot(N, alpha, beta, M_range=(1e3, 1e9))
    lines = {line.get_gid(): line for line in fig.axes[0].get_lines() if line.get_gid()}
    band, lat = lines["bandwidth_bound"], lines["latency_bound"]
    M = np.asarray(band.get_xdata())
    assert M[0] == pytest.approx(1e3) and M[-1] == pytest.approx(1e9)
    np.testing.assert_allclose(band.get_ydata(), 2 * (N - 1) / N * M / beta, rtol=1e-12)
    levels = {"1024": 10, "10": 4, "7": 3}  # ⌈log2 N⌉ by hand
    assert list(lat.get_ydata()) == pytest.approx([levels[str(N)] * alpha] * 2)
    assert "bandwidth lower bound" in band.get_label()
    assert "latency lower bound" in lat.get_label()
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("bandwidth lower bound" in t for t in legend)
    assert any("latency lower bound" in t for t in legend)
    # every reference curve lies on or above both bounds
    for line in fig.axes[0].get_lines():
        if "reference" in line.get_label():
            y = np.asarray(line.get_ydata())
            assert (y >= 2 * (N - 1) / N * M / beta * (1 - 1e-12)).all()
            assert (y >= levels[str(N)] * alpha * (1 - 1e-12)).all()


def _png(fig, position):
    """FIG's PNG with its axes at POSITION (a live picture's fixed layout)."""
    import io

    fig.set_layout_engine("none")
    fig.axes[0].set_position(position)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=50)
    return buffer.getvalue()


def test_a_crossover_plot_redrawn_in_place_is_the_picture_a_new_one_draws():
    """The live workbench moves the lines of one CrossoverPlot (issue 23: a slider's picture
    within 0.3 s); the oracle is a new figure drawn for the same numbers, byte for byte."""
    rng = np.random.default_rng(23)
    kwargs = {"reference": ("ring", "tree", "halving_doubling"), "algorithms": {"yours": spec_tree}}
    live = plots.CrossoverPlot(N, ALPHA, BETA, highlight=1e6, M_range=(1e4, 1e10), **kwargs)
    position = live.ax.get_position()
    _png(live.figure, position)
    for _ in range(12):
        n = int(rng.choice([4, 5, 16, 64, 1000]))
        a, b, M = 10 ** rng.uniform(-7, -2), 10 ** rng.uniform(5, 12), 10 ** rng.uniform(2, 10)
        M_star = spec_crossover(n, a, b)
        numbers = {"highlight": M, "M_range": (min(M, M_star) / 1e2, max(M, M_star) * 1e4)}
        assert live.update(n, a, b, **numbers, **kwargs)  # the same lines, other numbers
        fresh = plots.communication_crossover_plot(n, a, b, **numbers, **kwargs)
        assert _png(live.figure, position) == _png(fresh, position)
        assert line(live.ax, f"at M = {plots.format_bytes(M)}") is not None
    # a change that needs other lines changes nothing and says so
    before = [ln.get_label() for ln in live.ax.get_lines()]
    assert not live.update(N, ALPHA, BETA, highlight=1e6, M_range=(1e4, 1e10))  # no "yours"
    assert not live.update(3, ALPHA, BETA, highlight=1e6, M_range=(1e4, 1e10), **kwargs)
    assert [ln.get_label() for ln in live.ax.get_lines()] == before
