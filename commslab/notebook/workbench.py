"""The lab's workbenches: sliders and toggles wired to the figures of comms_core.plots.

    crossover_workbench      Part 1: message size, N, α, β; ring / tree; the crossover M*
    hierarchical_workbench   Part 2: intra- and inter-node bandwidth; the waterfall; try k
    compression_workbench    Part 3: compressor, error feedback; the convergence monitor

Each returns a Workbench that Jupyter displays: live ipywidgets inside a running kernel,
or (static=True, or no ipywidgets, or no kernel) its text and a PNG of its figure. The
current numbers are always in `wb.text` (lines) and the figure in `wb.figure`; in widget
mode `wb.controls` holds the sliders by name and `wb.widget` the whole panel.

The Lock (labs/PROTOCOL.md: "Predict (UI locked until input)"): without a prediction a
workbench shows only LOCK_MESSAGE. ipywidgets is imported only when widgets are built, so
comms_core imports without it.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import SimpleNamespace

import numpy as np
from matplotlib.figure import Figure

from comms_core import _validate as v
from comms_core import compression, convergence, plots
from comms_core import cost_models as cm
from comms_core.hierarchy import part2_comparison
from comms_core.shared_medium import part2_breakdown
from commslab.notebook.outputs import LiveOutput
from commslab.notebook.render import PictureCache, busy, live_png, when_idle
from commslab.notebook.words import GENERIC, WORDS, Words

__all__ = [
    "LOCK_MESSAGE",
    "Locked",
    "Workbench",
    "compression_workbench",
    "crossover_workbench",
    "hierarchical_workbench",
    "prediction_made",
]

LOCK_MESSAGE = "Make your prediction in the cell above first, then run this cell again."


# --- the Lock --------------------------------------------------------------------------------


def prediction_made(prediction: object) -> bool:
    """The Lock's rule: None or a blank string is no prediction; anything else is one."""
    if prediction is None:
        return False
    return not (isinstance(prediction, str) and not prediction.strip())


class Locked:
    """What a workbench shows before the prediction: LOCK_MESSAGE, no figure, no answer."""

    locked = True
    figure = None
    widget = None
    text = (LOCK_MESSAGE,)

    def _ipython_display_(self) -> None:
        from IPython.display import Markdown, display

        display(Markdown(f"🔒 **{LOCK_MESSAGE}**"))

    def __repr__(self) -> str:
        return LOCK_MESSAGE


# --- the shared machinery --------------------------------------------------------------------


def _figure_png(fig: Figure, dpi: int = 90) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


LIVE_DPI = 72  # the live widget's picture: one screen pixel per point


def _for_redraw(fig: Figure, laid_out: Figure | None) -> Figure:
    """Make a live redraw cheap (issue 9: at most 0.3 s): reuse the axes positions that the
    first picture's layout solved (the layout solve is most of a redraw) and drop the minor
    log ticks (most of the rest). The static picture keeps both."""
    from matplotlib.ticker import NullLocator

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "log":
                axis.set_minor_locator(NullLocator())
    if laid_out is not None and len(laid_out.axes) == len(fig.axes):
        fig.set_layout_engine("none")
        for ax, old in zip(fig.axes, laid_out.axes, strict=True):
            ax.set_position(old.get_position())
    return fig


def _use_static(static: bool | None) -> bool:
    """static=None: widgets only inside a running IPython kernel with ipywidgets installed."""
    if static is not None:
        return bool(static)
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return True
    shell = get_ipython()
    return shell is None or getattr(shell, "kernel", None) is None


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError as err:
        raise ImportError(
            "the interactive workbench needs ipywidgets (python -m pip install ipywidgets); "
            "pass static=True for the static figure"
        ) from err
    return ipywidgets


MOVED = (
    "⚠️ Sliders moved: these numbers are for the sliders' values, not your scenario's; the "
    "ledger uses your scenario (run the cell again to get its numbers back)."
)


class Workbench:
    """A panel of controls, a few lines of numbers and one figure, kept in step.

    Subclasses give `render()` -> (lines, figure) computed from self.values, and
    `make_controls(widgets)` -> {name: widget}; a control's value is self.values[name].
    """

    title = ""
    locked = False

    def __init__(self, values: dict, static: bool | None) -> None:
        self.values = dict(values)
        self.scenario_values = dict(values)  # what the cell started with: the student's own
        self.controls: dict = {}
        self.widget = None
        self.text: tuple[str, ...] = ()
        self.figure: Figure | None = None
        self._laid_out: Figure | None = None
        self._pictures = PictureCache()  # the live PNGs by the controls' values
        self.refresh()
        if not _use_static(static):
            self._build_widget()

    def render(self) -> tuple[list[str], Figure]:
        raise NotImplementedError

    def make_controls(self, widgets) -> dict:
        raise NotImplementedError

    def render_live(self) -> tuple[list[str], Figure]:
        """render() for the live picture: laid out as the first picture (_for_redraw). A
        subclass may redraw self.figure in place instead of making a new figure."""
        lines, figure = self.render()
        return lines, _for_redraw(figure, self._laid_out)

    def refresh(self, redraw: bool = True) -> None:
        """Recompute the numbers (and the figure, if redraw) from self.values; update the
        widgets. Drawing the PNG is the slow part, so redraw=False skips it."""
        live = self.widget is not None and redraw
        lines, figure = self.render_live() if live else self.render()
        self.text = tuple(lines)
        if redraw or self.figure is None:
            self.figure = figure
        if self.widget is not None:
            self._html.value = self._as_html()
            if redraw:
                self._image.value = self._live_picture()

    def _live_picture(self) -> bytes:
        """The live PNG of self.figure, drawn once per setting of the controls."""
        assert self.figure is not None
        key = tuple(sorted(self.values.items()))
        cached = self._pictures.get(key)
        return cached or self._pictures.put(key, live_png(self.figure, LIVE_DPI))

    def moved(self, *names: str) -> bool:
        """Has the student moved any of these controls away from their scenario's value?"""
        return any(self.values[n] != self.scenario_values[n] for n in names)

    def _as_html(self) -> str:
        return "<br>".join(html.escape(line) for line in self.text)

    def _build_widget(self) -> None:
        w = _ipywidgets()
        self.controls = self.make_controls(w)
        for name, control in self.controls.items():
            control.value = self.values[name]
            control.observe(
                lambda change, name=name: self._changed(name, change["new"]), names="value"
            )
        # The numbers and the figure are ordinary outputs beside the controls, updated in
        # place: the saved notebook shows them without a kernel (commslab/notebook/outputs.py).
        self._html = LiveOutput("html", self._as_html())
        assert self.figure is not None  # drawn in __init__
        self._image = LiveOutput("png", self._live_picture())
        self._laid_out = self.figure  # its layout was solved by the picture just drawn
        self.widget = w.VBox(
            [
                *(c for c in self.controls.values() if not _is_switch(w, c)),  # one per row
                w.HBox([c for c in self.controls.values() if _is_switch(w, c)]),
            ]
        )

    def _changed(self, name: str, value: object) -> None:
        busy()  # no drawing ahead while the student works the controls
        self.values[name] = value
        self.refresh()

    def idle_states(self) -> list[dict]:
        """Settings of the controls to draw ahead while the kernel waits (render.when_idle);
        none by default (a slider has too many)."""
        return []

    def prepare(self, values: dict) -> Iterator[None]:
        """The slow computations behind a setting, one per step (none by default)."""
        yield from ()

    def _draw_ahead(self) -> Iterator[None]:
        """Draw the shown setting once on the live canvas (its first live redraw measures every
        text anew), then each of idle_states() into the picture cache, one small piece per
        step; the controls' own values are never changed between two steps."""
        _, figure = self.render_live()
        live_png(figure, LIVE_DPI)
        yield
        for state in self.idle_states():
            values = {**self.values, **state}
            key = tuple(sorted(values.items()))
            if key in self._pictures:
                continue
            yield from self.prepare(values)
            saved, self.values = self.values, values
            try:
                _, figure = self.render()
            finally:
                self.values = saved
            self._pictures.put(key, live_png(_for_redraw(figure, self._laid_out), LIVE_DPI))
            yield

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, Image, display

        if self.widget is not None:  # the title, the controls, then the live numbers and figure
            display(HTML(f"<h3>{html.escape(self.title)}</h3>"))
            display(self.widget)
            self._html.show()
            self._image.show()
            when_idle(self._draw_ahead())
            return
        display(HTML(f"<h3>{html.escape(self.title)}</h3>{self._as_html()}"))
        assert self.figure is not None  # drawn in __init__
        display(Image(data=_figure_png(self.figure), format="png"))

    def __repr__(self) -> str:
        return "\n".join([self.title, *self.text])


def _relabel(fig: Figure, words: Words) -> None:
    """The figure's generic cluster words (NVLink, nodes, GPUs) in the track's own words."""
    swaps = (
        ("intra-node (fast link, e.g. NVLink)", f"inside {words.a_group} ({words.fast})"),
        ("inter-node (slow link, e.g. InfiniBand)", f"between {words.groups} ({words.slow})"),
        ("all GPUs", f"all {words.devices}"),
        ("GPUs", words.devices),
        ("bytes per rank", f"bytes per {words.device}"),
    )

    def swap(label: str) -> str:
        for old, new in swaps:
            label = label.replace(old, new)
        return label

    for text in _texts(fig):
        if swap(text.get_text()) != text.get_text():
            text.set_text(swap(text.get_text()))
    for ax in fig.axes:
        for line in ax.get_lines() + list(ax.patches) + list(ax.containers):
            label = line.get_label()  # the legend's entries (a Container's may be None)
            if isinstance(label, str):
                line.set_label(swap(label))
        names = _tick_names(ax.xaxis)  # the bars' names
        if any(swap(name) != name for name in names):
            ax.set_xticks(ax.get_xticks(), [swap(name) for name in names])


def _texts(fig: Figure) -> list:
    """Every text of FIG that fig.findobj finds but the tick labels, in a small part of its
    time: findobj walks the axes' tick objects, and asking a log axis for them makes every
    minor tick (most of a live redraw, issue 23); a tick label is rewritten at draw anyway."""
    from matplotlib.axis import Axis
    from matplotlib.text import Text

    texts = [t for c in fig.get_children() if c not in fig.axes for t in c.findobj(Text)]
    for ax in fig.axes:  # (a tick label is written by its formatter at draw: see _tick_names)
        for child in ax.get_children():
            if isinstance(child, Axis):
                texts += [child.label, child.offsetText]
            else:
                texts += child.findobj(Text)
    return texts


def _tick_names(axis) -> list[str]:
    """The major tick labels as drawn (what axis.get_ticklabels() gives after its tick update,
    without making the ticks: matplotlib's Axis._update_ticks formats the locator's ticks)."""
    return list(axis.get_major_formatter().format_ticks(axis.get_majorticklocs()))


def _is_switch(w, control) -> bool:
    return isinstance(control, w.Checkbox | w.ToggleButton)


def _log_slider(w, value: float, lo: int, hi: int, description: str):
    """A log10 slider from 10^lo to 10^hi, widened by a decade around value if needed,
    so that every track's numbers (BLE's 125 kB/s as well as NVLink's 450 GB/s) fit."""
    exponent = np.log10(value) if value > 0 else lo
    return w.FloatLogSlider(
        base=10,
        min=min(lo, int(np.floor(exponent)) - 1),
        max=max(hi, int(np.ceil(exponent)) + 1),
        step=0.05,
        description=description,
        continuous_update=False,
        readout_format=".3s",
        style={"description_width": DESCRIPTION_WIDTH},
        layout={"width": CONTROL_WIDTH},
    )


CONTROL_WIDTH = "660px"  # wide enough to set a value to 3 significant digits by dragging
DESCRIPTION_WIDTH = "230px"  # the longest label in full: "β between vehicles (B/s)"


def rank_counts(N: int, largest: int = 1024) -> list[int]:
    """The N slider's stops: 1, 2, 3, 4, 6, 8, 12, 16, … (powers of two and 1.5 times them,
    a log scale of whole numbers) up to at least `largest`, with the student's own N."""
    stops = {1, 3, int(N)}
    p = 2
    while p <= max(largest, int(N)):
        stops.update((p, p + p // 2))
        p *= 2
    return sorted(stops)


def _student_functions(student: Mapping | None, names: Mapping[str, str]) -> dict:
    """Check the student's dict {role: function}; roles are the keys of names."""
    if student is None:
        return {}
    if not isinstance(student, Mapping) or set(student) - set(names):
        raise ValueError(f"student must be a dict with keys among {sorted(names)}, got {student!r}")
    for role, f in student.items():
        if not callable(f):
            raise ValueError(f"student[{role!r}] must be a function, got {f!r}")
    return dict(student)


def _exact_bytes(n: int) -> str:
    """'32,112,000,000 B (32.1 GB)'; '504 B' alone where the short form says the same."""
    short = plots.format_bytes(n)
    return f"{n:,} B" if short == f"{n} B" else f"{n:,} B ({short})"


def _fix_it(function_name: str, part: int, problem: str | None, what: str = "curve") -> str:
    """The plain message when a student's function is missing or broken."""
    if problem == plots.NOT_IMPLEMENTED:
        return f"Implement {function_name} in Part {part} to see your {what} here."
    return f"Your {function_name} {problem}; fix it in Part {part} to see your {what} here."


def _student_value(f: Callable, *args) -> tuple[float | None, str | None]:
    """One number from a student's function, never raising (see plots.evaluate_algorithm)."""
    value, problem = plots.evaluate_algorithm(lambda _M, *a: f(*a), np.zeros(1), *args)
    return (None, problem) if value is None else (float(value[0]), None)


# --- Part 1: the crossover -------------------------------------------------------------------

_PART1 = {
    "ring": "ring_allreduce_time",
    "tree": "tree_allreduce_time",
    "crossover": "crossover_message_size",
}
_TOGGLES = {
    "ring": "Ring",
    "tree": "Tree",
    "halving_doubling": "Halving-doubling (not graded)",
    "double_binary_tree": "Double binary tree (not graded)",
}


class CrossoverWorkbench(Workbench):
    title = "Part 1 workbench: the algorithm crossover"

    def __init__(
        self, values: dict, student: dict, static: bool | None, words: Words = GENERIC
    ) -> None:
        self.student, self.words = student, words
        self._plot: plots.CrossoverPlot | None = None  # the last figure render() made
        super().__init__(values, static)

    def _plot_arguments(self) -> dict:
        """communication_crossover_plot's arguments for the controls' values."""
        M, N = float(self.values["M"]), int(self.values["N"])
        alpha, beta = float(self.values["alpha"]), float(self.values["beta"])
        # four decades each side of the chosen M and the crossover: both always on the plot,
        # and no hours-long sync of 10 GB on a link that carries a few hundred bytes
        M_star = float(cm.crossover_message_size(N, alpha, beta))
        span = (M, M_star) if M_star > 0 else (M,)
        return {
            "N": N,
            "alpha": alpha,
            "beta": beta,
            "algorithms": {
                f"your {role}": f
                for role, f in self.student.items()
                if role in ("ring", "tree") and self.values["yours"]
            },
            "reference": [name for name in _TOGGLES if self.values[name]],
            "highlight": M,
            "M_range": (max(1.0, min(span) / 1e2), max(span) * 1e4),
        }

    def render(self) -> tuple[list[str], Figure]:
        self._plot = plots.CrossoverPlot(**self._plot_arguments())
        _relabel(self._plot.figure, self.words)
        return self._numbers(), self._plot.figure

    def render_live(self) -> tuple[list[str], Figure]:
        """The shown figure redrawn in place when the change needs no other lines (a slider:
        no new figure, axes or ticks to build, issue 23), else a new one. The texts an update
        rewrites (title, M*, the latency bound's and the marked M's legend entries) carry
        none of the words _relabel swaps."""
        plot = self._plot
        if plot is not None and plot.figure is self.figure and self._laid_out is not None:
            if plot.update(**self._plot_arguments()):
                return self._numbers(), _for_redraw(plot.figure, self._laid_out)
        return super().render_live()

    def _numbers(self) -> list[str]:
        M, N = float(self.values["M"]), int(self.values["N"])
        alpha, beta = float(self.values["alpha"]), float(self.values["beta"])
        M_star = float(cm.crossover_message_size(N, alpha, beta))
        T_ring = float(cm.ring_allreduce_time(M, N, alpha, beta))  # scalar in, one number out
        T_tree = float(cm.tree_allreduce_time(M, N, alpha, beta))
        lines = [
            f"At M = {plots.format_bytes(M)} on N = {N} {self.words.devices} "
            f"(α = {plots.format_seconds(alpha)}, β = {plots.format_bytes(beta)}/s):",
            f"T_ring = {plots.format_seconds(T_ring, 4)}    "
            f"T_tree = {plots.format_seconds(T_tree, 4)}",
            _verdict(T_ring, T_tree),
            f"Crossover M* = {plots.format_bytes(M_star)}"
            + (
                ": the tree is faster below it, the ring above."
                if M_star > 0
                else ": the ring is never slower here."
            ),
        ]
        if self.moved("M", "N", "alpha", "beta"):
            lines.append(MOVED)
        for role, f in self.student.items():
            if role == "crossover":
                value, problem = _student_value(f, N, alpha, beta)
                what = "value"
                shown = None if value is None else f"Your M* = {plots.format_bytes(value)}"
            else:
                value, problem = _student_value(f, M, N, alpha, beta)
                what = "curve"
                shown = (
                    None if value is None else (f"Your T_{role} = {plots.format_seconds(value, 4)}")
                )
            lines.append(shown or _fix_it(_PART1[role], 1, problem, what))
        return lines

    def make_controls(self, w) -> dict:
        values = self.values
        controls = {
            "M": _log_slider(w, values["M"], 3, 10, "M (bytes)"),
            "N": w.SelectionSlider(
                options=rank_counts(values["N"]),
                description=f"N ({self.words.devices}, log scale)",
                continuous_update=False,
                style={"description_width": DESCRIPTION_WIDTH},
                layout={"width": CONTROL_WIDTH},
            ),
            "alpha": _log_slider(w, values["alpha"], -7, -2, "α (s)"),
            "beta": _log_slider(w, values["beta"], 7, 12, "β (bytes/s)"),
        }
        for name, label in _TOGGLES.items():
            controls[name] = w.Checkbox(description=label, indent=False)
        if self.student:
            controls["yours"] = w.Checkbox(description="Your functions", indent=False)
        return controls


def _verdict(T_ring: float, T_tree: float) -> str:
    if np.isclose(T_ring, T_tree, rtol=1e-9, atol=0):
        return "Ring and tree take the same time here."
    faster, slower = ("tree", "ring") if T_tree < T_ring else ("ring", "tree")
    ratio = max(T_ring, T_tree) / min(T_ring, T_tree) if min(T_ring, T_tree) > 0 else np.inf
    return f"→ the {faster} is faster here ({ratio:.3g}x faster than the {slower})."


def crossover_workbench(
    *,
    N: int,
    alpha: float,
    beta: float,
    M: float = 1e6,
    student: Mapping[str, Callable] | None = None,
    prediction: object = None,
    static: bool | None = None,
    words: Words = GENERIC,
) -> Workbench | Locked:
    """Part 1: slide M, N, α, β; toggle ring, tree and two ungraded algorithms.

    Shows communication_crossover_plot with M highlighted, T_ring and T_tree at M, which is
    faster and the crossover M*. student = {"ring": f, "tree": f, "crossover": f} adds the
    student's curves and M* beside the reference ones (a function not implemented yet is
    named, not drawn). Units: M bytes, α s, β bytes/s.
    """
    if not prediction_made(prediction):
        return Locked()
    values = {
        "M": plots._scalar("M", M, v.positive),
        "N": v.scalar_count("N", N),
        "alpha": plots._scalar("alpha", alpha, v.nonnegative),
        "beta": plots._scalar("beta", beta, v.positive),
        "ring": True,
        "tree": True,
        "halving_doubling": False,
        "double_binary_tree": False,
        "yours": True,
    }
    return CrossoverWorkbench(values, _student_functions(student, _PART1), static, words)


# --- Part 2: the hierarchy and the aggregation factor ----------------------------------------


class HierarchicalWorkbench(Workbench):
    title = "Part 2 workbench: the hierarchical multiplier"

    def __init__(
        self,
        values: dict,
        fixed: dict,
        student: dict,
        max_tries: int,
        static: bool | None,
        words: Words = GENERIC,
        track: str | None = None,
    ) -> None:
        self.fixed, self.student, self.max_tries, self.words = fixed, student, max_tries, words
        self.track = track
        self.tries: list[dict] = []
        super().__init__(values, static)

    def setting(self) -> SimpleNamespace:
        """The current setting (the sliders' β) as the track's models read a scenario."""
        f = self.fixed
        return SimpleNamespace(
            track=SimpleNamespace(key=self.track),
            M_model=f["M"],
            G=f["G"],
            K=f["K"],
            alpha_intra=f["alpha_intra"],
            beta_intra=self.values["beta_intra"],
            alpha_inter=f["alpha_inter"],
            beta_inter=self.values["beta_inter"],
        )

    def comparison(self) -> cm.HierarchyComparison:
        """The hierarchy against the flat rings at the current setting: by the track's
        physical model (comms_core.hierarchy), or by the full-duplex α-β models with one
        slow-link port per device when the track is not known."""
        if self.track is not None:
            return part2_comparison(self.setting())
        f = self.fixed
        return cm.hierarchy_comparison(
            f["M"],
            f["G"],
            f["K"],
            f["alpha_intra"],
            self.values["beta_intra"],
            f["alpha_inter"],
            self.values["beta_inter"],
            rails=f["G"],
        )

    def sync_times(self) -> tuple[dict, float, float]:
        """(breakdown, T_hier, T_flat) at the current slider values, seconds. T_hier: the
        phases one after the other (the graded formula, by the track's physical model);
        T_flat: the flat rings on every slow-link port a group has (the fair baseline)."""
        setting = self.setting()
        if self.track is not None:
            breakdown = part2_breakdown(setting, setting.M_model)
        else:
            breakdown = cm.hierarchical_breakdown(
                setting.M_model,
                setting.G,
                setting.K,
                setting.alpha_intra,
                setting.beta_intra,
                setting.alpha_inter,
                setting.beta_inter,
            )
        T_hier = float(sum(float(t) for t in breakdown.values()))
        return breakdown, T_hier, self.comparison().flat_rails

    def try_k(self, k: int) -> float:
        """The 10-iteration rule: one try of the aggregation factor k, kept in self.tries.

        Returns the time to train f(k) = (1 + B_noise/(k·b·P))·(k·t_compute + T_sync) in
        seconds per S_min steps (comms_core.time_to_train), with T_sync the AllReduce
        time of the current setting (hierarchical or flat). At most max_tries tries.
        """
        k = v.scalar_count("k", k)
        if len(self.tries) >= self.max_tries:
            raise ValueError(f"k: you have used all {self.max_tries} tries")
        f = self.fixed
        _, T_hier, T_flat = self.sync_times()
        T_sync = T_hier if self.values["hierarchical"] else T_flat
        ttt = float(
            cm.time_to_train(
                k, T_sync, f["t_compute"], f["micro_batch"], f["G"] * f["K"], f["B_noise"]
            )
        )
        self.tries.append(
            {
                "k": k,
                "hierarchical": bool(self.values["hierarchical"]),
                "T_sync": T_sync,
                "time_to_train": ttt,
            }
        )
        self.refresh(redraw=False)  # a try changes the numbers, not the waterfall
        return ttt

    @property
    def best_try(self) -> dict | None:
        """The try with the shortest time to train so far (None before the first try)."""
        return min(self.tries, key=lambda t: t["time_to_train"], default=None)

    def render(self) -> tuple[list[str], Figure]:
        f = self.fixed
        breakdown, T_hier, T_flat = self.sync_times()
        compared = self.comparison()
        hier = bool(self.values["hierarchical"])
        w = self.words
        flat_label = (
            f"flat rings\n(one per {w.port})"
            if compared.rails > 1
            else f"flat ring\n(one {w.port})"
        )
        fig = plots.communication_waterfall(
            breakdown if hier else None, flat_time=T_flat, flat_label=flat_label
        )
        _relabel(fig, self.words)
        G, K, M = f["G"], f["K"], f["M"]
        P = G * K
        intra = breakdown["intra_reduce_scatter"] + breakdown["intra_all_gather"]
        lines = [
            f"{P} {w.devices} = {K} {w.groups} × {G}, M = {plots.format_bytes(M)}; β: "
            f"{plots.format_bytes(self.values['beta_intra'])}/s on {w.fast}, "
            f"{plots.format_bytes(self.values['beta_inter'])}/s on {w.slow}",
            *hierarchy_verdict(compared, G, K, w),
        ]
        if hier:
            lines.append(f"The fast link is busy {intra / T_hier:.0%} of T_hier.")
        else:
            lines.append(
                "Hierarchical mode is off: the flat rings carry every byte on the slow link "
                f"(T_flat = {plots.format_seconds(T_flat, 4)})."
            )
        if self.moved("beta_intra", "beta_inter"):
            lines.append(MOVED + " The tries below are at your scenario's β.")
        for role, fn in self.student.items():
            value, problem = _student_value(
                fn,
                M,
                G,
                K,
                f["alpha_intra"],
                self.values["beta_intra"],
                f["alpha_inter"],
                self.values["beta_inter"],
            )
            lines.append(
                _fix_it(_PART2[role], 2, problem, "number")
                if value is None
                else f"Your hierarchical_allreduce_time: {plots.format_seconds(value, 4)}"
            )
        lines.append(
            f"k: {len(self.tries)} of {self.max_tries} tries used; t_compute = "
            f"{plots.format_seconds(f['t_compute'])}; S_min: the fewest steps to the target."
        )
        best = self.best_try

        def sync(t: dict) -> str:
            mode = "hierarchical" if t["hierarchical"] else "flat"
            return f"{mode}, T_sync = {plots.format_seconds(t['T_sync'], 4)}"

        same = len({sync(t) for t in self.tries}) == 1  # then said once, not on every line
        if same and self.tries:
            lines[-1] += f" Every try: {sync(self.tries[0])}."
        for i, t in enumerate(self.tries, 1):
            mark = "   ← best so far" if t is best else ""
            ratio = t["T_sync"] / (t["k"] * f["t_compute"])
            lines.append(
                f"  try {i}: k = {t['k']}{'' if same else f' ({sync(t)})'} → "
                f"S_min × {plots.format_seconds(t['time_to_train'], 4)}; "
                f"T_sync / (k·t_compute) = {ratio:.4g}{mark}"
            )
        return lines, fig

    def make_controls(self, w) -> dict:
        return {
            "beta_intra": _log_slider(
                w, self.values["beta_intra"], 9, 13, f"β in {self.words.a_group} (B/s)"
            ),
            "beta_inter": _log_slider(
                w, self.values["beta_inter"], 8, 12, f"β between {self.words.groups} (B/s)"
            ),
            "hierarchical": w.ToggleButton(
                description="Hierarchical mode", icon="sitemap", layout={"width": "200px"}
            ),
        }


_PART2 = {"hierarchical": "hierarchical_allreduce_time"}


def _times_faster(ratio: float) -> str:
    """'2.1× faster' or '1.6× slower' from t_other / t_this."""
    if ratio >= 1:
        return f"{ratio:.3g}× faster"
    return f"{1 / ratio:.3g}× slower"


def hierarchy_verdict(c: cm.HierarchyComparison, G: int, K: int, w: Words = GENERIC) -> list[str]:
    """Part 2's reveal in the student's own numbers: slow-link bytes per group, the hierarchy
    (serial and pipelined) against one flat ring and against flat rings on every port, and
    which wins. Every statement is computed from c (tests/test_science_hierarchy.py checks
    them for 200 students of every track)."""
    P = G * K
    one = c.flat_one_port / c.hierarchical
    lines = [
        f"🔓 Slow link, per {w.group}: the hierarchy "
        f"{plots.format_bytes(c.bytes_hierarchical)} in {2 * (K - 1)} steps, flat rings "
        f"{plots.format_bytes(c.bytes_flat)} ({c.bytes_ratio:.4g}× as much) in {2 * (P - 1)}.",
        f"One flat ring, one {w.port} per {w.group}: {plots.format_seconds(c.flat_one_port, 4)}; "
        f"the hierarchy (an upper bound): T_hier = {plots.format_seconds(c.hierarchical, 4)}, "
        f"{_times_faster(one)}.",
    ]
    if c.rails > 1:
        if c.hierarchical < c.flat_rails:
            verdict = "it wins even in series."
        elif c.pipelined < c.flat_rails:
            verdict = "it wins only pipelined."
        else:
            verdict = (
                f"it loses even pipelined: its phases inside {w.a_group} cost more than it saves."
            )
        lines.append(
            f"Flat rings on all {c.rails} {w.ports}, side by side (the fair baseline): "
            f"{plots.format_seconds(c.flat_rails, 4)}. The hierarchy is "
            f"{_times_faster(c.flat_rails / c.hierarchical)} in series, "
            f"{_times_faster(c.flat_rails / c.pipelined)} pipelined; {verdict}"
        )
    else:
        lines.append(
            f"One {w.port} per {w.group}: one flat ring is the fair baseline "
            f"(the hierarchy: {_times_faster(c.flat_one_port / c.pipelined)} pipelined)."
        )
    return lines


def hierarchical_workbench(
    *,
    M: float,
    G: int,
    K: int,
    alpha_intra: float,
    beta_intra: float,
    alpha_inter: float,
    beta_inter: float,
    t_compute: float,
    micro_batch: int,
    B_noise: float,
    student: Mapping[str, Callable] | None = None,
    prediction: object = None,
    max_tries: int = 10,
    tries: Sequence[int] = (),
    static: bool | None = None,
    words: Words = GENERIC,
    track: str | None = None,
) -> Workbench | Locked:
    """Part 2: slide the intra- and inter-node bandwidth, toggle hierarchical mode.

    Shows the communication_waterfall (hierarchical phases vs the flat ring), the inter-node
    bytes per GPU, and the tries of the aggregation factor k (tries=[...], the student's
    K_TRIES: the only way to try, at most max_tries, the 10-iteration rule); wb.tries keeps
    every try with its time to train (comms_core.time_to_train), wb.best_try the best.
    student = {"hierarchical": f} shows the student's T_hier. track: the track whose
    physical model prices the phases and the flat rings (comms_core.hierarchy); None takes
    the track whose words these are, or the full-duplex α-β models for the generic words.
    Units: M bytes, α s, β bytes/s, t_compute s, micro_batch and B_noise in examples.
    """
    if not prediction_made(prediction):
        return Locked()
    fixed = {
        "M": plots._scalar("M", M, v.nonnegative),
        "G": v.scalar_count("G", G),
        "K": v.scalar_count("K", K),
        "alpha_intra": plots._scalar("alpha_intra", alpha_intra, v.nonnegative),
        "alpha_inter": plots._scalar("alpha_inter", alpha_inter, v.nonnegative),
        "t_compute": plots._scalar("t_compute", t_compute, v.positive),
        "micro_batch": v.scalar_count("micro_batch", micro_batch),
        "B_noise": plots._scalar("B_noise", B_noise, v.nonnegative),
    }
    values = {
        "beta_intra": plots._scalar("beta_intra", beta_intra, v.positive),
        "beta_inter": plots._scalar("beta_inter", beta_inter, v.positive),
        "hierarchical": True,
    }
    max_tries = v.scalar_count("max_tries", max_tries)
    if track is None:
        track = next((key for key, known in WORDS.items() if known == words), None)
    wb = HierarchicalWorkbench(
        values, fixed, _student_functions(student, _PART2), max_tries, static, words, track
    )
    for k in tries:
        wb.try_k(k)
    return wb


# --- Part 3: compression and error feedback --------------------------------------------------

_PART3 = {"compress": "one_bit_compress"}
_ONE_BIT = "1-bit (scaled sign)"


class CompressionWorkbench(Workbench):
    title = "Part 3 workbench: compression and error feedback"

    def __init__(
        self,
        values: dict,
        d: int,
        N: int,
        training: dict,
        student: dict,
        static: bool | None,
        words: Words = GENERIC,
    ) -> None:
        self.d, self.N, self.training, self.student, self.words = d, N, training, student, words
        self._runs: dict = {}  # (method, compressor name) -> TrainingRun, computed once
        super().__init__(values, static)

    def run(self, method: str, compressor, key: object = None) -> convergence.TrainingRun:
        """One seeded training run (comms_core.run_data_parallel_training), cached by key."""
        key = (method, compressor if key is None else key)
        if key not in self._runs:
            self._runs[key] = convergence.run_data_parallel_training(
                method, compressor=None if method == "none" else compressor, **self.training
            )
        return self._runs[key]

    def idle_states(self) -> list[dict]:
        """Every compressor with and without error feedback: the other setting of the toggle
        first (the Lock asks about it), then the other compressors."""
        name, ef = self.values["compressor"], bool(self.values["error_feedback"])
        others = [n for n in compression.COMPRESSORS if n not in ("none", name)]
        return [
            {"compressor": n, "error_feedback": e}
            for e, names in ((not ef, [name]), (ef, others), (not ef, others))
            for n in names
        ]

    def prepare(self, values: dict) -> Iterator[None]:
        """The training runs the setting shows (the student's compressor's too), one a step."""
        method = "compressed_ef" if values["error_feedback"] else "compressed"
        self.run(method, values["compressor"])
        yield
        for role, f in self.student.items():
            mine = compression.Compressor(
                "your compressor", f, compression.COMPRESSORS[_ONE_BIT].wire_bytes
            )
            try:
                self.run(method, mine, key=role)
            except Exception:  # render says what is wrong with it, when it is shown
                pass
            yield

    def render(self) -> tuple[list[str], Figure]:
        name, ef = self.values["compressor"], bool(self.values["error_feedback"])
        method = "compressed_ef" if ef else "compressed"
        reference, compressed_run = self.run("none", None), self.run(method, name)
        runs: list[object] = [reference, compressed_run]  # then the student's (a namespace)
        lines = []
        for role, f in self.student.items():
            mine = compression.Compressor(
                "your compressor", f, compression.COMPRESSORS[_ONE_BIT].wire_bytes
            )
            try:
                run = self.run(method, mine, key=role)
                problem = None if np.isfinite(run.losses).all() else "made the loss NaN"
            except NotImplementedError:
                problem = plots.NOT_IMPLEMENTED
            except Exception as err:  # a student's function may fail in any way
                problem = f"raised {type(err).__name__}"
            if problem is None:
                runs.append(
                    SimpleNamespace(
                        method="yours",
                        losses=run.losses,
                        optimal_loss=run.optimal_loss,
                        bytes_per_worker_per_step=run.bytes_per_worker_per_step,
                        label=f"your compressor{' + error feedback' if ef else ''}",
                    )
                )
                lines.append(f"Your {_PART3[role]} trains to loss {run.final_loss:.4g}.")
            else:
                lines.append(_fix_it(_PART3[role], 3, problem))
        fig = plots.convergence_monitor(runs)
        dense = compression.allreduce_bytes(self.d, self.N, "none")
        sent = compression.allreduce_bytes(self.d, self.N, name)
        base, compressed = reference.final_loss, compressed_run.final_loss
        gap = (compressed - base) / base
        ok = abs(gap) <= convergence.EF_RELATIVE_TOLERANCE
        lines[:0] = [
            f"Your gradient: d = {self.d:,} float32 values, N = {self.N} {self.words.devices}. "
            f"Each {self.words.device} sends {_exact_bytes(dense)} in a "
            f"ring AllReduce, {_exact_bytes(sent)} in the compressed "
            f"AllReduce with {name} "
            f"({dense / sent:.3g}x fewer bytes, scales and indices counted: each of the N "
            f"chunks has its own, so not the button's "
            f"{compression.compression_ratio(name, self.d):.3g}x).",
            "Training (the convergence monitor: a seeded least-squares model, "
            f"{self.training['dim']} weights, {self.training['n_workers']} workers) ends at "
            f"loss {base:.4g} without compression; {name} "
            f"{'with' if ef else 'without'} error feedback {compressed:.4g} "
            f"({gap:+.1%}).",
            ("✓ within " if ok else "✗ not within ")
            + f"{convergence.EF_RELATIVE_TOLERANCE:.0%} of the uncompressed loss.",
        ]
        return lines, fig

    def make_controls(self, w) -> dict:
        options = sorted(
            (n for n in compression.COMPRESSORS if n != "none"),
            key=lambda n: compression.compression_ratio(n, self.d),
        )
        labels = [(f"{n} ({compression.compression_ratio(n, self.d):.3g}x)", n) for n in options]
        return {
            "compressor": w.ToggleButtons(  # every label in full, ordered by ratio
                options=labels,
                description="compression",
                style={"description_width": "100px", "button_width": "auto"},
                layout={"width": "auto"},
            ),
            "error_feedback": w.ToggleButton(
                description="Error feedback", layout={"width": "200px"}
            ),
        }


def compression_workbench(
    *,
    d: int,
    N: int | None = None,
    compressor: str = _ONE_BIT,
    error_feedback: bool = False,
    student: Mapping[str, Callable] | None = None,
    prediction: object = None,
    static: bool | None = None,
    n_workers: int = 8,
    dim: int = 50,
    steps: int = 300,
    seed: int = 0,
    words: Words = GENERIC,
) -> Workbench | Locked:
    """Part 3: pick a compressor by its ratio, toggle error feedback, watch training.

    The compression buttons run over comms_core.COMPRESSORS, ordered by their honest
    compression ratio at your gradient size d (float32 values; scales and indices count).
    The text compares the bytes each of your N devices sends in a ring AllReduce with the
    compressed AllReduce (compression.allreduce_bytes; N defaults to n_workers).
    The convergence monitor trains the seeded least-squares model of
    comms_core.run_data_parallel_training (n_workers, dim, steps, seed) without
    compression and with the chosen compressor, with or without error feedback, and says
    whether the final loss is within EF_RELATIVE_TOLERANCE of the uncompressed one.
    student = {"compress": f} trains with the student's compressor too.
    """
    if not prediction_made(prediction):
        return Locked()
    if compressor not in compression.COMPRESSORS or compressor == "none":
        raise ValueError(
            f"compressor must be one of {sorted(compression.COMPRESSORS)} "
            f"except 'none', got {compressor!r}"
        )
    values = {"compressor": compressor, "error_feedback": bool(error_feedback)}
    training = {"n_workers": n_workers, "dim": dim, "steps": steps, "seed": seed}
    N = n_workers if N is None else N
    return CompressionWorkbench(
        values,
        v.scalar_count("d", d),
        v.scalar_count("N", N),
        training,
        _student_functions(student, _PART3),
        static,
        words,
    )
