"""The lab's pictures: headless matplotlib figures, one per instrument of the mission plan.

    communication_crossover_plot   time vs message size, ring vs tree, the crossover M*
    network_topology_hud           who sends what to whom in one step of a simulated AllReduce
    topology_hud_grid              several HUD steps side by side
    communication_waterfall        the three phases of hierarchical AllReduce vs the flat ring
    convergence_monitor            loss vs step: no compression, 1-bit, 1-bit + error feedback
    math_peek                      the formulas as Markdown/LaTeX

Every function draws on a `matplotlib.figure.Figure` made directly (no pyplot, so nothing
is kept in pyplot's registry and nothing needs a display) or on the `ax` you pass, and
returns the Figure. Colours are the MLSysBook labs' (labs/PROTOCOL.md: BlueLine #006395,
RedLine #CB202D, GreenLine #008F45) plus Okabe & Ito's colour-blind-safe orange and purple.
Units: bytes, seconds, bytes/s (docs/LAB_SPEC.md); the axes print them as KB/MB and µs/ms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch
from matplotlib.text import Annotation, Text
from matplotlib.ticker import FuncFormatter, Locator, LogLocator, NullFormatter

import comms_core._validate as v
import comms_core.cost_models as cm

if TYPE_CHECKING:
    from comms_core.simulator import AllReduceTrace

__all__ = [
    "PALETTE",
    "CrossoverPlot",
    "communication_crossover_plot",
    "communication_waterfall",
    "convergence_monitor",
    "evaluate_algorithm",
    "format_bytes",
    "format_seconds",
    "math_peek",
    "network_topology_hud",
    "topology_hud_grid",
]

PALETTE = {
    "ring": "#006395",  # MLSysBook BlueLine
    "tree": "#CB202D",  # MLSysBook RedLine
    "ef": "#008F45",  # MLSysBook GreenLine
    "orange": "#E69F00",  # Okabe & Ito
    "purple": "#CC79A7",  # Okabe & Ito
    "sky": "#56B4E9",  # Okabe & Ito
    "grey": "#6E6E6E",
}
_STUDENT_STYLES = [("#E69F00", "--"), ("#CC79A7", "--"), ("#000000", ":"), ("#56B4E9", "-.")]

NOT_IMPLEMENTED = "not implemented yet"


# --- human units ---------------------------------------------------------------------------


def _human(value: float, units: Sequence[tuple[float, str]], digits: int, zero_unit: str) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return f"0 {zero_unit}"
    for size, name in reversed(units):
        if abs(value) >= size * (1 - 0.5 * 10 ** (-digits)):  # 999.5 TB rounds to 1 PB
            return f"{value / size:.{digits}g} {name}"
    size, name = units[0]
    return f"{value / size:.{digits}g} {name}"


def format_bytes(n: float, digits: int = 3) -> str:
    """Bytes in decimal (SI) units, as the lab quotes them: 1.136e6 -> '1.14 MB'.

    KB = 1e3, MB = 1e6, GB = 1e9, TB = 1e12 bytes (the units of docs/LAB_SPEC.md's known answers
    and of link datasheets; not KiB/MiB).
    """
    units = [(1, "B"), (1e3, "KB"), (1e6, "MB"), (1e9, "GB"), (1e12, "TB"), (1e15, "PB")]
    return _human(float(n), units, digits, "B")


def format_seconds(t: float, digits: int = 3) -> str:
    """Seconds in the unit a person would say: 1.4569e-3 -> '1.46 ms', 2e-5 -> '20 µs'."""
    units = [(1e-9, "ns"), (1e-6, "µs"), (1e-3, "ms"), (1.0, "s"), (60.0, "min"), (3600.0, "h")]
    return _human(float(t), units, digits, "s")


class _TimeLocator(Locator):
    """Log-axis ticks at times people say: … 1 ms, 10 ms, 100 ms, 1 s, 10 s, 1 min, 10 min,
    1 h, 10 h, … (not 16.7 min); every other one when more than 10 are in view."""

    TICKS = np.array(
        [10.0**k for k in range(-12, 2)]
        + [60.0 * 10**k for k in range(2)]
        + [3600.0 * 10**k for k in range(6)]
    )

    def __call__(self) -> Sequence[float]:
        assert self.axis is not None  # (set when the locator is given to an axis)
        return self.tick_values(*self.axis.get_view_interval())

    def tick_values(self, vmin: float, vmax: float) -> Sequence[float]:
        lo, hi = sorted((vmin, vmax))
        ticks = self.TICKS[(self.TICKS >= lo) & (self.TICKS <= hi)]
        return cast(Sequence[float], ticks[::2] if len(ticks) > 10 else ticks)


def _unit_axis(axis: Axis, formatter: Callable[[float], str]) -> None:
    """Log axis with labelled ticks at round values, printed in human units."""
    seconds = formatter is format_seconds
    axis.set_major_locator(_TimeLocator() if seconds else LogLocator(base=10, numticks=30))
    axis.set_major_formatter(FuncFormatter(lambda x, _pos: formatter(x)))
    axis.set_minor_formatter(NullFormatter())


# --- helpers ---------------------------------------------------------------------------------


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return cast(Figure, ax.figure), ax  # a subfigure draws like a figure
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _scalar(name: str, value: object, check: Callable[[str, Any], np.ndarray]) -> float:
    arr = check(name, value)
    if np.ndim(arr) != 0:
        raise ValueError(f"{name} must be a single number, got shape {np.shape(arr)}")
    return cast(float, arr[()].item())


def evaluate_algorithm(
    f: Callable[..., Any], M: np.ndarray, *params: object
) -> tuple[np.ndarray | None, str | None]:
    """Run a (student's) time function f(M, *params) safely: (times, None) or (None, why).

    params are the other arguments, e.g. N, alpha, beta. Tries f on the whole array M
    first, then one M at a time (for functions written with `math`). Whatever f raises or
    returns, this never raises: NotImplementedError gives the reason NOT_IMPLEMENTED; NaN,
    infinities, negative times, strings, booleans, objects or the wrong shape give a short
    reason naming the problem.
    """
    M = np.asarray(M, dtype=np.float64)
    try:
        try:
            out = np.asarray(f(M, *params))
            if out.shape != M.shape:
                raise TypeError("not vectorised")
        except NotImplementedError:
            raise
        except Exception:
            out = np.asarray([f(float(m), *params) for m in M])
    except NotImplementedError:
        return None, NOT_IMPLEMENTED
    except Exception as err:  # a student's function may fail in any way: report, don't crash
        return None, f"raised {type(err).__name__}"
    if out.dtype.kind not in "iuf" or out.shape != M.shape:
        return None, "did not return numbers"
    out = out.astype(np.float64)
    if not np.isfinite(out).all():
        return None, "returned NaN or infinity"
    if (out < 0).any():
        return None, "returned negative times"
    return out, None


# --- Part 1: the crossover plot --------------------------------------------------------------

_REFERENCE = {
    "ring": ("ring (reference)", cm.ring_allreduce_time, PALETTE["ring"], "-"),
    "tree": ("tree (reference)", cm.tree_allreduce_time, PALETTE["tree"], "-"),
    "halving_doubling": (
        "recursive halving-doubling (not graded)",
        cm.recursive_halving_doubling_time,
        PALETTE["grey"],
        "-.",
    ),
    "double_binary_tree": (
        "pipelined double binary tree (not graded)",
        cm.double_binary_tree_allreduce_time,
        PALETTE["purple"],
        ":",
    ),
}


@dataclass(frozen=True)
class _Curve:
    """One curve of the crossover plot, and its dot at the highlighted M (None: no dot)."""

    label: str
    color: str
    style: str
    width: float
    T: np.ndarray
    T_h: np.ndarray | None


@dataclass(frozen=True)
class _Region:
    """A "tree faster" / "ring faster" label: x in bytes, near the top of the axes."""

    x: float
    text: str
    color: str
    ha: Literal["left", "center", "right"]


@dataclass(frozen=True)
class _CrossoverPicture:
    """What communication_crossover_plot draws, in numbers and words (no artists yet)."""

    N: int
    lo: float
    hi: float
    M: np.ndarray
    curves: tuple[_Curve, ...]
    notes: tuple[str, ...]  # legend entries for the functions not drawn, and why
    bandwidth: np.ndarray | None  # the bandwidth lower bound at M
    latency: float | None  # the latency lower bound ⌈log2 N⌉·α
    ylim: tuple[float, float] | None  # None: matplotlib's autoscale
    title: str
    M_star: float | None  # the crossover's line and its label (None: not drawn)
    star_room: bool  # room for the label right of the line?
    regions: tuple[_Region, ...]
    marked: float | None  # the highlighted M, a dot on every curve (None: not marked)

    def shape(self) -> tuple[object, ...]:
        """What two pictures must share to draw one by moving the other's artists."""
        return (
            self.N == 1,
            tuple((c.label, c.color, c.style, c.width, c.T_h is None) for c in self.curves),
            self.notes,
            self.bandwidth is None,
            self.latency is None,
            self.ylim is None,
            self.M_star is None,
            tuple(r.color for r in self.regions),
            self.marked is None,
        )

    def legend_labels(self) -> list[str]:
        """The legend's entries, in the order of the lines that carry them."""
        labels = [c.label for c in self.curves]
        if self.bandwidth is not None:
            labels.append(_BANDWIDTH_LABEL)
        if self.latency is not None:
            labels.append(_latency_label(self.latency))
        if self.marked is not None:
            labels.append(f"at M = {format_bytes(self.marked)}")
        return labels + list(self.notes)


_BANDWIDTH_LABEL = "bandwidth lower bound 2(N−1)/N·M/β"


def _latency_label(latency: float) -> str:
    return f"latency lower bound ⌈log₂N⌉·α = {format_seconds(latency)}"


def communication_crossover_plot(
    N: int,
    alpha: float,
    beta: float,
    *,
    algorithms: Mapping[str, Callable[..., Any]] | None = None,
    reference: Sequence[str] = ("ring", "tree"),
    M_range: tuple[float, float] = (1e3, 1e10),
    highlight: float | None = None,
    bounds: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """The seed's CommunicationCrossoverPlot: AllReduce time vs message size, log-log.

        T_ring = 2(N-1)·α + 2(N-1)/N · M/β        T_tree = 2·⌈log2 N⌉·(α + M/β)
        M*     = α·β·(N-1-L) / (L - (N-1)/N)      (where they meet; L = ⌈log2 N⌉)

    reference picks the comms_core curves: "ring", "tree" (graded), "halving_doubling",
    "double_binary_tree" (labelled "not graded"). algorithms adds curves {label: f} with
    f(M, N, alpha, beta) -> seconds, e.g. a student's own functions; one that raises or
    returns garbage is skipped and named in a note on the figure. The crossover M* is a
    dashed vertical line with its value, the two sides labelled "tree faster" / "ring
    faster". highlight marks one message size on every curve. bounds draws what no
    AllReduce built from point-to-point messages can beat, each a thin grey line:

        bandwidth:  2(N-1)/N · M/β    (Patarasuk & Yuan 2009, JPDC 69(2); the ring meets it)
        latency:    ⌈log2 N⌉ · α      (Chan et al. 2007, CCPE 19(13); the binomial tree pays
                                       2⌈log2 N⌉·α, twice that; recursive doubling meets it)

    (gids "bandwidth_bound" and "latency_bound"; the latency line only when α > 0, since a
    log axis has no 0). N ranks, α s, β bytes/s. CrossoverPlot draws the same picture and
    redraws it for other numbers by moving its lines (the live workbench's sliders).
    """
    return CrossoverPlot(
        N,
        alpha,
        beta,
        algorithms=algorithms,
        reference=reference,
        M_range=M_range,
        highlight=highlight,
        bounds=bounds,
        ax=ax,
    ).figure


def _crossover_picture(
    N: int,
    alpha: float,
    beta: float,
    algorithms: Mapping[str, Callable[..., Any]] | None,
    reference: Sequence[str],
    M_range: tuple[float, float],
    highlight: float | None,
    bounds: bool,
) -> _CrossoverPicture:
    """Check the arguments of communication_crossover_plot and compute what it draws."""
    N = v.scalar_count("N", N)
    alpha = _scalar("alpha", alpha, v.nonnegative)
    beta = _scalar("beta", beta, v.positive)
    lo, hi = (_scalar("M_range", m, v.positive) for m in _pair("M_range", M_range))
    if not lo < hi:
        raise ValueError(f"M_range must be (low, high) with low < high, got {M_range!r}")
    unknown = set(reference) - set(_REFERENCE)
    if isinstance(reference, str) or unknown:
        raise ValueError(f"reference must be a list of names from {sorted(_REFERENCE)}")
    if highlight is not None:
        highlight = _scalar("highlight", highlight, v.nonnegative)
    marked = highlight is not None and lo <= highlight <= hi and N > 1

    M = np.geomspace(lo, hi, 240)
    specs = [(*_REFERENCE[name], 2.2 if name in ("ring", "tree") else 1.6) for name in reference]
    for i, (label, f) in enumerate((algorithms or {}).items()):
        color, style = _STUDENT_STYLES[i % len(_STUDENT_STYLES)]
        specs.append((str(label), f, color, style, 2.0))
    curves: list[_Curve] = []
    notes: list[str] = []
    for label, f, color, style, width in specs if N > 1 else ():
        T, problem = evaluate_algorithm(f, M, N, alpha, beta)
        if T is None or problem is not None:
            notes.append(f"not drawn: {label!r} ({problem})")
            continue
        T_h = evaluate_algorithm(f, np.array([highlight]), N, alpha, beta)[0] if marked else None
        curves.append(_Curve(label, color, style, width, T, T_h))

    bandwidth = 2 * (N - 1) / N * M / beta if bounds and N > 1 else None
    latency = (N - 1).bit_length() * alpha if bandwidth is not None and alpha > 0 else None
    M_star = float(cm.crossover_message_size(N, alpha, beta)) if N > 1 else None
    return _CrossoverPicture(
        N=N,
        lo=lo,
        hi=hi,
        M=M,
        curves=tuple(curves),
        notes=tuple(notes),
        bandwidth=bandwidth,
        latency=latency,
        ylim=_crossover_ylim(curves, bandwidth, latency),
        title=(
            f"AllReduce time vs message size (N = {N}, α = {format_seconds(alpha)}, "
            f"β = {format_bytes(beta)}/s)"
        ),
        M_star=M_star if M_star is not None and lo < M_star < hi else None,
        star_room=M_star is not None
        and M_star > 0
        and math.log(M_star / lo) < 0.8 * math.log(hi / lo),
        regions=_regions(M_star, lo, hi, N),
        marked=highlight if marked else None,
    )


def _crossover_ylim(
    curves: Sequence[_Curve], bandwidth: np.ndarray | None, latency: float | None
) -> tuple[float, float] | None:
    """The y range when the latency bound is drawn: from 0.3 × the lower of the bound and the
    lowest curve (the bandwidth bound falls to ns at small M: keep the curves' decades on
    screen) to what matplotlib's autoscale gives every line (5 % margin, linear: the top
    these figures always had). None: matplotlib's autoscale on the log axis."""
    if bandwidth is None or latency is None:
        return None
    ys = [c.T for c in curves] + [c.T_h for c in curves if c.T_h is not None]
    drawn = [float(np.min(y)) for y in ys if y.size]
    floor = min([y for y in drawn if y > 0], default=latency)
    every = np.concatenate([*ys, bandwidth])  # (an axhline is not in matplotlib's data limits)
    y0, y1 = float(np.min(every)), float(np.max(every))
    return 0.3 * min(latency, floor), y1 + (y1 - y0) * 0.05


def _regions(M_star: float | None, lo: float, hi: float, N: int) -> tuple[_Region, ...]:
    """Which algorithm wins on each side of M*, labelled in the middle of its side (at the
    edge when the side is narrow)."""
    if M_star is None:
        return ()
    if M_star <= 0:
        text = f"ring faster at every size (N = {N} ≤ 3)"
        return (_Region(math.sqrt(lo * hi), text, PALETTE["ring"], "center"),)
    narrow = 0.15 * math.log(hi / lo)  # a region this narrow gets its label at the edge
    regions = []
    if M_star > lo:
        left, right = lo, min(M_star, hi)
        at_edge = math.log(right / left) < narrow
        regions.append(
            _Region(
                left if at_edge else math.sqrt(left * right),
                " tree faster",
                PALETTE["tree"],
                "left" if at_edge else "center",
            )
        )
    if M_star < hi:
        left, right = max(M_star, lo), hi
        at_edge = math.log(right / left) < narrow
        regions.append(
            _Region(
                right if at_edge else math.sqrt(left * right),
                "ring faster ",
                PALETTE["ring"],
                "right" if at_edge else "center",
            )
        )
    return tuple(regions)


def _pair(name: str, value: object) -> tuple[object, object]:
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (low, high), got {value!r}")
    return value[0], value[1]


class CrossoverPlot:
    """communication_crossover_plot's figure (`.figure`), kept to be drawn again: `update`
    gives it other numbers by moving its lines and rewriting its texts, as a new figure
    would draw them, in a fraction of the time (issue 23: a live slider's picture within
    0.3 s). The figure's artists are made once; update() returns False, changing nothing,
    when the new numbers need other artists (a curve toggled, N = 1, no latency bound...)."""

    def __init__(
        self,
        N: int,
        alpha: float,
        beta: float,
        *,
        algorithms: Mapping[str, Callable[..., Any]] | None = None,
        reference: Sequence[str] = ("ring", "tree"),
        M_range: tuple[float, float] = (1e3, 1e10),
        highlight: float | None = None,
        bounds: bool = True,
        ax: Axes | None = None,
    ) -> None:
        picture = _crossover_picture(
            N, alpha, beta, algorithms, reference, M_range, highlight, bounds
        )
        self.figure, self.ax = _new_axes(ax, (8.0, 5.6))
        self._picture = picture
        self._draw(picture)

    def update(
        self,
        N: int,
        alpha: float,
        beta: float,
        *,
        algorithms: Mapping[str, Callable[..., Any]] | None = None,
        reference: Sequence[str] = ("ring", "tree"),
        M_range: tuple[float, float] = (1e3, 1e10),
        highlight: float | None = None,
        bounds: bool = True,
    ) -> bool:
        """Draw these numbers in place (the arguments of communication_crossover_plot);
        False, and nothing changed, when they need a new figure."""
        new = _crossover_picture(N, alpha, beta, algorithms, reference, M_range, highlight, bounds)
        old = self._picture
        if new.shape() != old.shape() or new.ylim is None:
            return False
        ax = self.ax
        for line, dot, curve in zip(self._curves, self._dots, new.curves, strict=True):
            line.set_data(new.M, curve.T)
            if dot is not None and curve.T_h is not None and new.marked is not None:
                dot.set_data([new.marked], curve.T_h)
        if self._bandwidth is not None and new.bandwidth is not None:
            self._bandwidth.set_data(new.M, new.bandwidth)
        if self._latency is not None and new.latency is not None:
            self._latency.set_ydata([new.latency, new.latency])
        if self._star is not None and new.M_star is not None:
            line, label = self._star
            line.set_xdata([new.M_star, new.M_star])
            label.xy = (new.M_star, 0.03)
            label.set_text(f"M* = {format_bytes(new.M_star)}")
            label.xyann = (6 if new.star_room else -6, 0)
            label.set_horizontalalignment("left" if new.star_room else "right")
        for text, region in zip(self._regions, new.regions, strict=True):
            text.set_x(region.x)
            text.set_text(region.text)
            text.set_horizontalalignment(region.ha)
        for line, before, after in zip(
            self._labelled, old.legend_labels(), new.legend_labels(), strict=True
        ):
            if after != before:  # (a label a caller rewrote stays as it is)
                line.set_label(after)
        if self._legend is not None:
            for text, before, after in zip(
                self._legend.get_texts(), old.legend_labels(), new.legend_labels(), strict=True
            ):
                if after != before:
                    text.set_text(after)
        if new.title != old.title:
            ax.set_title(new.title, y=1.0)
        ax.set_xlim(new.lo, new.hi)
        ax.set_ylim(*new.ylim)
        self._picture = new
        return True

    def _draw(self, picture: _CrossoverPicture) -> None:
        """Make the figure's artists, in the order (so the z-order) they always had."""
        ax = self.ax
        self._curves: list[Line2D] = []
        self._dots: list[Line2D | None] = []
        self._labelled: list[Line2D] = []  # the lines that carry the legend's entries
        if picture.N == 1:
            ax.text(
                0.5,
                0.5,
                "N = 1: nothing to communicate,\nevery AllReduce costs 0 s",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=12,
            )
        for curve in picture.curves:
            (line,) = ax.plot(
                picture.M,
                curve.T,
                color=curve.color,
                linestyle=curve.style,
                linewidth=curve.width,
                label=curve.label,
            )
            dot = None
            if curve.T_h is not None and picture.marked is not None:
                (dot,) = ax.plot(
                    [picture.marked], curve.T_h, "o", color=curve.color, markersize=7, zorder=5
                )
            self._curves.append(line)
            self._dots.append(dot)
            self._labelled.append(line)
        self._bandwidth = self._latency = None
        style: dict[str, Any] = {"color": PALETTE["grey"], "linewidth": 1.1, "alpha": 0.9}
        if picture.bandwidth is not None:
            (self._bandwidth,) = ax.plot(
                picture.M,
                picture.bandwidth,
                linestyle=(0, (1, 2)),
                gid="bandwidth_bound",
                label=_BANDWIDTH_LABEL,
                **style,
            )
            self._labelled.append(self._bandwidth)
        if picture.latency is not None:
            self._latency = ax.axhline(
                picture.latency,
                linestyle=(0, (4, 2, 1, 2)),
                gid="latency_bound",
                label=_latency_label(picture.latency),
                **style,
            )
            self._labelled.append(self._latency)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(picture.lo, picture.hi)
        if picture.ylim is not None:
            ax.set_ylim(*picture.ylim)
        _unit_axis(ax.xaxis, format_bytes)
        _unit_axis(ax.yaxis, format_seconds)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlabel("message size M (gradient bytes per rank)")
        ax.set_ylabel("AllReduce time")
        # at the top of the axes, where matplotlib's automatic place puts it (nothing is drawn
        # above these axes), without measuring the axes' every tick label at each draw
        ax.set_title(picture.title, y=1.0)
        self._star = self._mark_crossover(picture)
        self._regions = [self._region(region) for region in picture.regions]
        if picture.marked is not None:
            label = f"at M = {format_bytes(picture.marked)}"
            self._labelled += ax.plot([], [], "o", color=PALETTE["grey"], label=label)
        for note in picture.notes:  # a legend entry without a line: the skipped function, and why
            self._labelled += ax.plot([], [], " ", label=note)
        self._legend = None
        if self._labelled:
            self._legend = ax.legend(
                loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=2, fontsize=9, frameon=False
            )
            for text in self._legend.get_texts():
                if text.get_text().startswith("not drawn"):
                    text.set_color("#A00000")

    def _mark_crossover(self, picture: _CrossoverPicture) -> tuple[Line2D, Annotation] | None:
        """The dashed line at M* and its value."""
        if picture.M_star is None:
            return None
        ax = self.ax
        line = ax.axvline(
            picture.M_star, color="black", linestyle="--", linewidth=1.3, gid="crossover"
        )
        label = ax.annotate(
            f"M* = {format_bytes(picture.M_star)}",
            xy=(picture.M_star, 0.03),
            xycoords=ax.get_xaxis_transform(),
            xytext=(6 if picture.star_room else -6, 0),
            textcoords="offset points",
            ha="left" if picture.star_room else "right",
            va="bottom",
            fontsize=10,
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "black"},
        )
        return line, label

    def _region(self, region: _Region) -> Text:
        """Which algorithm wins on one side of M*, in bold at the top of the axes."""
        return self.ax.text(
            region.x,
            0.97,
            region.text,
            transform=self.ax.get_xaxis_transform(),
            ha=region.ha,
            va="top",
            fontsize=11,
            fontweight="bold",
            color=region.color,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )


# --- the network topology HUD ---------------------------------------------------------------


def _ring_layout(N: int) -> np.ndarray:
    """Rank r on the unit circle, clockwise from the top."""
    angle = np.pi / 2 - 2 * np.pi * np.arange(N) / N
    return np.column_stack([np.cos(angle), np.sin(angle)])


def _tree_parent(r: int) -> int:
    """Binomial tree: rank r's parent is r minus its lowest set bit (comms_core.simulator)."""
    return r - (r & -r)


def _tree_layout(N: int) -> np.ndarray:
    """Rank r at depth popcount(r) (rank 0 on top), centred over the ranks of its subtree.

    The subtree of rank r > 0 holds the ranks r … r + lowbit(r) - 1; rank 0's holds them all.
    """
    xy = np.empty((N, 2))
    for r in range(N):
        last = N - 1 if r == 0 else min(r + (r & -r), N) - 1
        xy[r] = ((r + last) / 2, -bin(r).count("1"))
    xy[:, 0] = (xy[:, 0] - (N - 1) / 2) / max(N - 1, 1) * 2.2  # about the ring's width
    xy[:, 1] = xy[:, 1] / max(1, xy[:, 1].min() * -1) * 1.6 + 0.8
    return xy


def network_topology_hud(trace: AllReduceTrace, step: int, *, ax: Axes | None = None) -> Figure:
    """The seed's NetworkTopologyHUD: who sends which elements to whom in one step.

    trace is an AllReduceTrace from comms_core.simulate_ring_allreduce or
    simulate_tree_allreduce, recorded with its schedule. step is the 0-based index into
    trace.schedule (the title counts from 1). Ring: the N ranks on a circle; tree: the
    binomial tree, rank 0 on top. One arrow per message of the step (src -> dst, labelled
    with the element range start:stop when N <= 16); the title names the phase, the step
    k / total and the bytes in flight (Σ message elements x itemsize).
    """
    schedule = getattr(trace, "schedule", None)
    if schedule is None:
        raise ValueError(
            "trace must be an AllReduceTrace recorded with its schedule "
            "(simulate_*_allreduce(..., record_schedule=True))"
        )
    if (
        isinstance(step, bool)
        or not isinstance(step, int | np.integer)
        or not (0 <= step < len(schedule))
    ):
        raise ValueError(f"step must be an integer in [0, {len(schedule)}), got {step!r}")
    N = trace.result.shape[0]
    ring = trace.algorithm == "ring"
    xy = _ring_layout(N) if ring else _tree_layout(N)
    color = PALETTE["ring"] if ring else PALETTE["tree"]
    fig, ax = _new_axes(ax, (5.2, 5.2))
    radius = min(0.13, 2.2 / N)

    # the links the algorithm uses, faint
    links = (
        [(r, (r + 1) % N) for r in range(N)]
        if ring and N > 1
        else [(r, _tree_parent(r)) for r in range(1, N)]
    )
    for a, b in links:
        ax.plot(*xy[[a, b]].T, color="#D0D0D0", linewidth=1.0, zorder=1)

    s = schedule[step]
    for src, dst, start, stop in zip(s.src, s.dst, s.start, s.stop, strict=True):
        arrow = FancyArrowPatch(
            xy[src],
            xy[dst],
            arrowstyle="-|>",
            mutation_scale=14,
            linewidth=2.0,
            color=color,
            shrinkA=radius * 110,
            shrinkB=radius * 110,
            zorder=3,
            connectionstyle="arc3,rad=-0.25" if ring else "arc3,rad=0.0",
            gid="transfer",
        )
        ax.add_patch(arrow)
        if N <= 16:
            mid = (xy[src] + xy[dst]) / 2
            push = mid / (np.linalg.norm(mid) or 1) * 0.17 if ring else np.array([0.0, 0.0])
            x, y = mid + push
            ax.text(
                x,
                y,
                f"{start}:{stop}",
                ha="center",
                va="center",
                fontsize=8,
                color=color,
                zorder=4,
                bbox={
                    "boxstyle": "round,pad=0.15",
                    "facecolor": "white",
                    "edgecolor": "none",
                    "alpha": 0.85,
                },
            )
    busy = set(s.src.tolist()) | set(s.dst.tolist())
    for r in range(N):
        ax.add_patch(
            Circle(
                xy[r],
                radius,
                facecolor=color if r in busy else "white",
                edgecolor=color,
                linewidth=1.5,
                zorder=5,
            )
        )
        if N <= 32:
            ax.text(
                xy[r][0],
                xy[r][1],
                str(r),
                ha="center",
                va="center",
                zorder=6,
                fontsize=9,
                color="white" if r in busy else "black",
                fontweight="bold",
            )

    sizes = (s.stop - s.start) * trace.result.itemsize
    count = f"{len(sizes)} message{'s' if len(sizes) != 1 else ''}"
    each = (
        f"× {format_bytes(sizes[0])}"
        if (sizes == sizes[0]).all()
        else f"of ≤ {format_bytes(sizes.max())}"
    )
    name = "Ring" if ring else "Tree"
    ax.set_title(
        f"{name} AllReduce · {s.phase} · step {step + 1} / {len(schedule)}\n"
        f"{count} {each} · {format_bytes(sizes.sum())} in flight",
        fontsize=10,
    )
    ax.set_aspect("equal")
    ax.set_xlim(-1.35, 1.35)
    ax.set_ylim(-1.35, 1.35)
    ax.axis("off")
    return fig


def topology_hud_grid(trace: AllReduceTrace, steps: Sequence[int] | None = None) -> Figure:
    """Several steps of network_topology_hud side by side (a small multiple).

    steps defaults to every step when there are at most 6, else the first and the last
    step of each phase (ring: the start and end of reduce-scatter and of all-gather).
    """
    schedule = getattr(trace, "schedule", None)
    if schedule is None or len(schedule) == 0:
        raise ValueError("trace must be an AllReduceTrace with a recorded, non-empty schedule")
    if steps is None:
        if len(schedule) <= 6:
            steps = list(range(len(schedule)))
        else:
            phases = [st.phase for st in schedule]
            steps = sorted(
                {
                    i
                    for i, p in enumerate(phases)
                    if i == 0 or i == len(phases) - 1 or phases[i - 1] != p or phases[i + 1] != p
                }
            )
    steps = list(steps)
    if not steps:
        raise ValueError("steps must not be empty")
    ncols = 2 if len(steps) == 4 else min(len(steps), 3)
    nrows = -(-len(steps) // ncols)
    fig = Figure(figsize=(4.4 * ncols, 4.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, k in zip(axes, steps, strict=False):
        network_topology_hud(trace, k, ax=ax)
    for ax in axes[len(steps) :]:
        ax.axis("off")
    N, d = trace.result.shape
    fig.suptitle(
        f"{trace.algorithm.capitalize()} AllReduce on {N} ranks, {d} × "
        f"{trace.result.dtype} each (arrow labels: element range start:stop)",
        fontsize=12,
    )
    return fig


# --- Part 2: the communication waterfall -----------------------------------------------------

_PHASES = [
    ("intra_reduce_scatter", "intra-node\nreduce-scatter", "intra"),
    ("inter_allreduce", "inter-node\nring AllReduce", "inter"),
    ("intra_all_gather", "intra-node\nall-gather", "intra"),
]
_LINK_COLOR = {"intra": PALETTE["sky"], "inter": PALETTE["tree"]}


def communication_waterfall(
    breakdown: Mapping[str, float] | None,
    *,
    flat_time: float | None = None,
    flat_label: str = "flat rings\n(one per port)",
    subtitle: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The Communication Waterfall: hierarchical AllReduce phase by phase, seconds.

    breakdown is the dict of comms_core.hierarchical_breakdown (intra_reduce_scatter,
    inter_allreduce, intra_all_gather; scalars). Each phase is a bar that starts where the
    previous one ended; intra-node (fast link) bars are green, inter-node (slow link) red;
    then the hierarchical total (its phases one after the other: an upper bound), and the
    flat baseline (flat_time, e.g. comms_core.flat_ring_allreduce_time with rails = the
    slow-link ports per node; flat_label names it under its bar) as a comparison bar. Pass
    breakdown=None to draw the flat baseline alone (hierarchical mode off). subtitle: a
    second title line (the setting).
    """
    if breakdown is None and flat_time is None:
        raise ValueError("breakdown and flat_time must not both be None")
    fig, ax = _new_axes(ax, (8.0, 4.8))
    names: list[str] = []
    labels: list[tuple[int, float, float]] = []
    bottom = 0.0
    if breakdown is not None:
        if not isinstance(breakdown, Mapping) or set(breakdown) != {k for k, _, _ in _PHASES}:
            raise ValueError(
                f"breakdown must be the dict of hierarchical_breakdown with keys "
                f"{[k for k, _, _ in _PHASES]}, got {breakdown!r}"
            )
        for key, name, link in _PHASES:
            t = _scalar(f"breakdown[{key!r}]", breakdown[key], v.nonnegative)
            ax.bar(
                len(names),
                t,
                bottom=bottom,
                color=_LINK_COLOR[link],
                width=0.6,
                edgecolor="black",
                linewidth=0.6,
                label=_link_label(link, names),
            )
            labels.append((len(names), bottom + t, t))
            names.append(name)
            bottom += t
        ax.bar(
            len(names),
            bottom,
            color="#4D4D4D",
            width=0.6,
            edgecolor="black",
            linewidth=0.6,
            label="hierarchical total",
        )
        labels.append((len(names), bottom, bottom))
        names.append("hierarchical\ntotal")
    if flat_time is not None:
        t = _scalar("flat_time", flat_time, v.nonnegative)
        ax.bar(
            len(names),
            t,
            color="#BBBBBB",
            width=0.6,
            edgecolor="black",
            linewidth=0.6,
            hatch="//",
            label=flat_label.replace("\n", " ") + ", all GPUs on the slow link",
        )
        labels.append((len(names), t, t))
        names.append(flat_label)
    top = max(h for _, h, _ in labels) or 1.0
    for x, height, t in labels:
        ax.text(x, height + 0.015 * top, format_seconds(t), ha="center", va="bottom", fontsize=10)
    ax.set_xticks(range(len(names)), names)
    pad = max(0.0, (5 - len(names)) / 2)  # bars keep their width when fewer are drawn
    ax.set_xlim(-0.5 - pad, len(names) - 0.5 + pad)
    # headroom above the tallest bar: its time label, and with the phases the legend's four
    # rows (upper left), which covered a tall bar's label (Edge's screenshot)
    ax.set_ylim(0, top * (1.18 if breakdown is None else 1.5))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: format_seconds(y)))
    ax.set_ylabel("time of one AllReduce")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if breakdown is not None and flat_time is not None and bottom > 0:
        ratio = flat_time / bottom
        how = f"{ratio:.2g}x faster" if ratio >= 1 else f"{1 / ratio:.2g}x slower"
        ax.set_title(
            f"Communication Waterfall\nhierarchical, phases in series: {how} than the "
            + flat_label.replace("\n", " "),
            fontsize=11,
        )
    elif breakdown is None:
        ax.set_title("Communication Waterfall: hierarchical mode off")
    else:
        ax.set_title("Communication Waterfall")
    if subtitle:
        ax.set_title(f"{ax.get_title()}\n{subtitle}", fontsize=11)
    ax.legend(loc="upper left", fontsize=9, framealpha=0.9)
    return fig


def _link_label(link: str, drawn: list[str]) -> str:
    """Legend entry once per link type (matplotlib hides labels starting with '_')."""
    first = {"intra": 0, "inter": 1}[link] == len(drawn)
    text = {
        "intra": "intra-node (fast link, e.g. NVLink)",
        "inter": "inter-node (slow link, e.g. InfiniBand)",
    }[link]
    return text if first else "_" + text


# --- Part 3: the convergence monitor ---------------------------------------------------------

_METHOD_STYLE = {
    "none": (PALETTE["ring"], "-"),
    "compressed": (PALETTE["tree"], "--"),
    "compressed_ef": (PALETTE["ef"], "-"),
}


def _run_label(run: Any) -> str:  # a TrainingRun, or any object with its fields
    """'no compression', '1-bit (scaled sign), no error feedback', '… + error feedback'."""
    method, name = run.method, getattr(run, "compressor", "1-bit")
    if method == "none":
        return "no compression"
    return (
        f"{name} + error feedback" if method == "compressed_ef" else (f"{name}, no error feedback")
    )


def convergence_monitor(
    results: Sequence[Any] | Mapping[str, Any], *, ax: Axes | None = None, title: str | None = None
) -> Figure:
    """The Convergence Monitor: training loss vs step (log y), one curve per run.

    results is a list (or dict) of comms_core.convergence.TrainingRun: method "none",
    "compressed" or "compressed_ef", losses (steps + 1 values), bytes_per_worker_per_step,
    and optionally optimal_loss f* and compressor (its name). When all runs share one f*
    (the same data) the y axis is the loss above it, f(w_t) − f*, which shows convergence
    on a log scale; otherwise the loss itself. The legend gives each run's bytes per
    worker per step and its final loss. No compression
    is blue, compression without error feedback red dashed, with error feedback green.
    """
    runs = list(results.values()) if isinstance(results, Mapping) else list(results)
    if not runs:
        raise ValueError("results must hold at least one training run")
    for run in runs:
        if not all(hasattr(run, a) for a in ("losses", "bytes_per_worker_per_step", "method")):
            raise ValueError(f"results must be TrainingRun objects, got {run!r}")
    floors = {float(getattr(run, "optimal_loss", np.nan)) for run in runs}
    floor = floors.pop() if len(floors) == 1 else math.nan
    excess = math.isfinite(floor)  # one shared optimum: plot the loss above it
    fig, ax = _new_axes(ax, (8.0, 5.0))
    extra = iter(_STUDENT_STYLES)
    for run in runs:
        losses = np.asarray(run.losses, dtype=np.float64)
        y = losses - floor if excess else losses
        color, style = _METHOD_STYLE.get(run.method) or next(extra, ("#000000", ":"))
        shown = np.isfinite(y) & (y > 0)
        label = (
            f"{getattr(run, 'label', None) or _run_label(run)}: "
            f"{format_bytes(run.bytes_per_worker_per_step)}/step per worker"
        )
        label += f", final loss {losses[-1]:.4g}" if np.isfinite(losses[-1]) else " (diverged)"
        ax.plot(
            np.flatnonzero(shown),
            y[shown],
            color=color,
            linestyle=style,
            linewidth=2.0,
            label=label,
        )
    ax.set_yscale("log")
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("optimizer step")
    if excess:
        ax.set_ylabel("loss above the optimum, f(w) − f* (log scale)")
        ax.text(
            0.01,
            0.02,
            f"f* = {floor:.4g} (least-squares optimum of the same data)",
            transform=ax.transAxes,
            ha="left",
            va="bottom",
            fontsize=9,
            color="#444444",
        )
    else:
        ax.set_ylabel("training loss (log scale)")
    ax.set_title(title or "Convergence Monitor: does 1-bit compression still train?")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper right", fontsize=9, framealpha=0.9)
    return fig


# --- the Math Peek ---------------------------------------------------------------------------


def math_peek() -> str:
    """The lab's formulas as Markdown with LaTeX, for IPython.display.Markdown."""
    rows = [
        ("Ring AllReduce", r"T_{ring} = 2(N-1)\,\alpha + 2\frac{N-1}{N}\cdot\frac{M}{\beta}"),
        ("Tree AllReduce", r"T_{tree} = 2\lceil\log_2 N\rceil\,(\alpha + M/\beta)"),
        (
            "Crossover (tree faster below)",
            r"M^* = \alpha\beta\,\frac{N-1-L}{L-(N-1)/N},\quad L = \lceil\log_2 N\rceil",
        ),
        (
            "Hierarchical",
            r"T_{hier} = 2(G-1)\left(\alpha_f + \frac{M}{G\beta_f}\right)"
            r" + 2(K-1)\left(\alpha_s + \frac{M}{GK\beta_s}\right)",
        ),
        (
            "Flat ring on P = GK GPUs",
            r"T_{flat} = 2(P-1)\left(\alpha_s + \frac{M}{P\beta_s}\right)",
        ),
        (
            "Error feedback",
            r"v_t = C(g_t + e_t),\quad e_{t+1} = g_t + e_t - v_t,\quad"
            r" C(v) = \frac{\lVert v\rVert_1}{d}\,\mathrm{sign}(v)",
        ),
    ]
    table = "\n".join(f"| {name} | ${formula}$ |" for name, formula in rows)
    return (
        "**Math Peek** (units: $M$ bytes, $\\alpha$ seconds per message, $\\beta$ link "
        "bandwidth in bytes/s, $N$ ranks; one message of $n$ bytes costs $\\alpha + n/\\beta$)"
        "\n\n| | |\n|---|---|\n" + table + "\n\n"
        "*A note on conventions.* Here $\\beta$ is **bandwidth in bytes/s**. The mission "
        "plan's $M \\approx N\\alpha/\\beta$ only makes sense if $\\beta$ is seconds per "
        "byte. With $\\beta$ as bandwidth the coarse estimate is $N\\cdot\\alpha\\cdot\\beta$ "
        "and a better one $N\\cdot\\alpha\\cdot\\beta/\\log_2 N$; the graded value is the "
        "exact intersection $M^*$ above.\n"
    )
