"""Part 1's NetworkTopologyHUD (the mission plan's second named visual): step through ring and
tree AllReduce on your own N, one synchronous step at a time, and watch the α-β bill add up.

The steps are the simulator's (comms_core.simulator): N simulated ranks hold a buffer of N
float32 values each (one value per ring chunk, so chunk k is element k), the simulator runs
the algorithm and records who sent which elements to whom in every step. Nothing here knows
the algorithms; it only draws and prices the recorded steps.

The price of one synchronous step under the α-β model (Hockney 1994; docs/LAB_SPEC.md), by
the track's medium (comms_core.shared_medium.part1_medium), with each message's bytes the
simulator's share of the whole vector scaled to your message size M (M/N for the ring, M for
the tree):

    full duplex     cost = α + (largest message)/β         every device sends and receives at once
    half duplex     cost = α + (busiest radio's bytes out + in)/β      (Bluetooth LE)
    shared channel  cost = Σ_messages (α + bytes/β)        the messages take turns (802.11p)

The running total after the last step is therefore the medium's closed form
(shared_medium.part1_allreduce_time): on full-duplex links Part 1's formulas
T_ring = 2(N−1)(α + M/(N·β)) and T_tree = 2⌈log2 N⌉(α + M/β); the HUD says so at the last step.

Drawn: every rank up to SHOWN_RANKS (16, where arrow labels stay readable); for a larger N
the first 16 ranks and one dashed circle standing for all the others, labelled as such; messages
between two of the others are counted in the text, not drawn. Redraws update the
figure's artists in place and keep each step's PNG, so revisiting a step costs nothing.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch
from matplotlib.ticker import FuncFormatter

from comms_core import _validate as v
from comms_core import plots
from comms_core.shared_medium import MEDIA, part1_allreduce_time
from comms_core.simulator import simulate_ring_allreduce, simulate_tree_allreduce
from commslab.notebook.outputs import LiveOutput
from commslab.notebook.render import busy, when_idle
from commslab.notebook.words import GENERIC, Words
from commslab.notebook.workbench import CONTROL_WIDTH, _ipywidgets, _use_static

__all__ = ["ALGORITHMS", "SHOWN_RANKS", "HudStep", "TopologyHUD", "hud_steps", "topology_hud"]

ALGORITHMS = {"ring": simulate_ring_allreduce, "tree": simulate_tree_allreduce}
SHOWN_RANKS = 16  # at most this many ranks are drawn (and a dashed circle for the others)
OTHERS = -1  # the dashed circle that stands for the ranks not drawn
LIVE_DPI = 80  # 528 x 528 pixels
PLAY_INTERVAL_MS = 900


@dataclass(frozen=True)
class HudStep:
    """One synchronous step of a simulated AllReduce, priced at your M, α, β.

    messages  (src, dst, first element, end element) of the step's messages from or to a
              drawn rank (all of them when N <= SHOWN_RANKS), in the simulator's order
    count     how many messages the step has in all
    bytes     the step's largest message at your M (bytes)
    cost      the step's time on the medium (s): full duplex α + bytes/β; half duplex
              α + (busiest radio's bytes)/β; shared channel Σ_messages (α + bytes/β)
    total     the running total to the end of this step (s)
    """

    phase: str
    messages: tuple[tuple[int, int, int, int], ...]
    count: int
    bytes: float
    cost: float
    total: float


def hud_steps(
    algorithm: str,
    N: int,
    M: float,
    alpha: float,
    beta: float,
    medium: str = "full duplex",
) -> tuple[HudStep, ...]:
    """Run the simulator on N ranks and price each recorded step on the medium (the module
    docstring): full duplex α + (share of M)/β, half duplex α + (busiest radio's share)/β,
    shared channel Σ_messages (α + share/β)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {sorted(ALGORITHMS)}, got {algorithm!r}")
    if medium not in MEDIA:
        raise ValueError(f"medium must be one of {MEDIA}, got {medium!r}")
    N = v.scalar_count("N", N)
    if N < 2:
        raise ValueError(f"N must be at least 2 to have steps to show, got {N}")
    M = plots._scalar("M", M, v.nonnegative)
    alpha = plots._scalar("alpha", alpha, v.nonnegative)
    beta = plots._scalar("beta", beta, v.positive)
    buffers = np.ones((N, N), dtype=np.float32)  # N values: one per ring chunk
    trace = ALGORITHMS[algorithm](buffers, record_schedule=True)
    assert trace.schedule is not None  # recorded on request
    vector_bytes = buffers[0].nbytes
    steps, total = [], 0.0
    for step, largest in zip(trace.schedule, trace.step_bytes, strict=True):
        nbytes = M * int(largest) / vector_bytes
        sizes = M * (step.stop - step.start) * buffers.itemsize / vector_bytes
        if medium == "shared channel":
            cost = float(np.sum(alpha + sizes / beta))
        elif medium == "half duplex":  # a radio sends, then receives
            busy = np.bincount(step.src, sizes, N) + np.bincount(step.dst, sizes, N)
            cost = alpha + float(busy.max()) / beta
        else:
            cost = alpha + nbytes / beta
        total += cost
        drawn = (step.src < SHOWN_RANKS) | (step.dst < SHOWN_RANKS)
        messages = tuple(
            zip(
                *(a[drawn].tolist() for a in (step.src, step.dst, step.start, step.stop)),
                strict=True,
            )
        )
        steps.append(HudStep(step.phase, messages, len(step.src), nbytes, cost, total))
    return tuple(steps)


def _node(r: int) -> int:
    """The drawn node of rank r: itself, or the dashed circle of the others."""
    return r if r < SHOWN_RANKS else OTHERS


_FORMULAS = {
    ("ring", "full duplex"): "T_ring = 2(N−1)·(α + M/(N·β))",
    ("tree", "full duplex"): "T_tree = 2⌈log₂N⌉·(α + M/β)",
    ("ring", "half duplex"): "T_ring = 2(N−1)·(α + 2M/(N·β))",
    ("tree", "half duplex"): "T_tree = 2⌈log₂N⌉·(α + M/β)",
    ("ring", "shared channel"): "T_ring = 2(N−1)·(N·α + M/β)",
    ("tree", "shared channel"): "T_tree = 2(N−1)·(α + M/β)",
}


def _formula(algorithm: str, medium: str = "full duplex") -> str:
    return _FORMULAS[algorithm, medium]


def _formula_time(
    algorithm: str, M: float, N: int, alpha: float, beta: float, medium: str = "full duplex"
) -> float:
    return float(part1_allreduce_time(algorithm, M, N, alpha, beta, medium))


class _Picture:
    """One algorithm's HUD figure: the network on top, the running α-β total below.

    Built once; show(i) moves the arrows, the busy ranks, the titles and the marker in place.
    """

    def __init__(self, algorithm: str, steps: tuple[HudStep, ...], N: int, words: Words) -> None:
        self.algorithm, self.steps, self.N = algorithm, steps, N
        ring = algorithm == "ring"
        self.color = plots.PALETTE["ring" if ring else "tree"]
        ranks = min(N, SHOWN_RANKS)  # drawn; one more node, a dashed circle, for the others
        nodes = ranks + (N > SHOWN_RANKS)
        self.fig = Figure(figsize=(6.6, 6.6), dpi=LIVE_DPI)
        ax = self.ax = self.fig.add_axes((0.02, 0.27, 0.96, 0.63))
        ax.set_aspect("equal")
        ax.set_xlim(-1.45, 1.45)
        ax.set_ylim(-1.3, 1.3)
        ax.axis("off")
        if ring:
            xy = plots._ring_layout(nodes)
            self.radius = 0.1
        else:  # the binomial tree, rank 0 on top; the others beside rank 0
            xy = np.vstack([plots._tree_layout(ranks) * [1.2, 1.0], [[1.2, 0.8]]])
            self.radius = min(0.12, 0.45 * 2.64 / max(ranks - 1, 1))
        self.xy = {r: xy[r] for r in range(ranks)}
        if N > SHOWN_RANKS:
            self.xy[OTHERS] = xy[ranks]
        for a, b in self._links(ring):
            ax.plot(*np.array([self.xy[a], self.xy[b]]).T, color="#D0D0D0", lw=1.0, zorder=1)
        self.nodes = {}
        for r, (x, y) in self.xy.items():
            if r == OTHERS:  # a dashed circle, named outside
                patch = Circle(
                    (x, y),
                    self.radius,
                    facecolor="#F4F4F4",
                    lw=1.2,
                    ls="--",
                    edgecolor=plots.PALETTE["grey"],
                    zorder=5,
                )
                ax.text(x, y, "…", ha="center", va="center", fontsize=10, zorder=6)
                name = f"{words.devices} {SHOWN_RANKS}–{N - 1}"
                if ring:  # outside the ring
                    out = np.array([x, y]) / (np.hypot(x, y) or 1) * (self.radius + 0.05)
                    where = {"x": x + out[0], "y": y + out[1], "ha": "right", "va": "bottom"}
                else:  # below the circle
                    where = {"x": x, "y": y - self.radius - 0.04, "ha": "center", "va": "top"}
                ax.text(s=name, fontsize=8, color=plots.PALETTE["grey"], zorder=6, **where)
            else:
                patch = Circle(
                    (x, y), self.radius, facecolor="white", edgecolor=self.color, lw=1.5, zorder=5
                )
                self.nodes[r] = (
                    patch,
                    ax.text(
                        x,
                        y,
                        str(r),
                        ha="center",
                        va="center",
                        fontsize=9,
                        fontweight="bold",
                        zorder=6,
                    ),
                )
            ax.add_patch(patch)
        self.transfers: list = []
        self.title = self.fig.text(0.5, 0.975, "", ha="center", va="top", fontsize=11)

        # the running total: every step's cost added up, against Part 1's formula
        axt = self.fig.add_axes((0.15, 0.07, 0.8, 0.17))
        totals = np.concatenate([[0.0], [s.total for s in steps]])
        x = np.arange(len(totals))
        axt.plot(x, totals, color="#C8C8C8", lw=1.5, drawstyle="steps-post")
        (self.done,) = axt.plot(x[:2], totals[:2], color=self.color, lw=2.5, drawstyle="steps-post")
        (self.mark,) = axt.plot([1], [totals[1]], "o", color=self.color, ms=6)
        axt.axhline(totals[-1], color=plots.PALETTE["grey"], ls="--", lw=1)
        axt.set_xlim(0, len(steps))
        axt.set_ylim(0, totals[-1] * 1.25 if totals[-1] > 0 else 1)
        axt.yaxis.set_major_formatter(FuncFormatter(lambda t, _pos: plots.format_seconds(t)))
        axt.set_xlabel("step", fontsize=9, labelpad=1)
        axt.set_ylabel("running total", fontsize=9)
        axt.tick_params(labelsize=8)
        axt.spines[["top", "right"]].set_visible(False)
        self.totals, self.x = totals, x
        self.total_label = axt.text(
            0.01, 0.97, "", transform=axt.transAxes, fontsize=8, va="top", color=self.color
        )
        self.png: dict[int, bytes] = {}
        # Blitting: the links, the others' circle and the axes are drawn once into a
        # background; a step restores it and draws only what moves (animated artists).
        for circle, label in self.nodes.values():
            circle.set_animated(True)
            label.set_animated(True)
        for artist in (self.title, self.done, self.mark, self.total_label):
            artist.set_animated(True)
        self.canvas = FigureCanvasAgg(self.fig)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)

    def _links(self, ring: bool) -> list[tuple[int, int]]:
        """The links the algorithm uses, among the drawn nodes."""
        if self.N == 1:
            return []
        if ring:
            order = list(self.xy)
            return list(zip(order, order[1:] + order[:1], strict=True))
        pairs = {(_node(r), _node(plots._tree_parent(r))) for r in range(1, self.N)}
        return sorted((a, b) for a, b in pairs if a != b)

    def show(self, i: int, formula_total: float) -> bytes:
        """Draw step i (0-based) and return its PNG (kept, so a step is drawn once)."""
        if i in self.png:
            return self.png[i]
        step = self.steps[i]
        for artist in self.transfers:
            artist.remove()
        self.transfers = []
        ring = self.algorithm == "ring"
        arrows = {(_node(s), _node(d)): a for s, d, a, _ in step.messages}
        busy: set[int] = set()
        for (src, dst), start in arrows.items():
            if src == dst:  # both among the others
                continue
            busy.update((src, dst))
            arrow = FancyArrowPatch(
                self.xy[src],
                self.xy[dst],
                arrowstyle="-|>",
                mutation_scale=14,
                lw=2.0,
                color=self.color,
                shrinkA=self.radius * 120,
                shrinkB=self.radius * 120,
                zorder=3,
                connectionstyle="arc3,rad=-0.25" if ring else "arc3,rad=0.0",
            )
            arrow.set_animated(True)
            self.transfers.append(self.ax.add_patch(arrow))
            if ring:  # the chunk it carries (chunk k is element k of the simulated buffer)
                mid = (self.xy[src] + self.xy[dst]) / 2
                x, y = mid + mid / (np.linalg.norm(mid) or 1) * 0.2
                self.transfers.append(
                    self.ax.text(
                        x,
                        y,
                        f"c{start}",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color=self.color,
                        zorder=4,
                        animated=True,
                    )
                )
        for r, (circle, label) in self.nodes.items():
            circle.set_facecolor(self.color if r in busy else "white")
            label.set_color("white" if r in busy else "black")
        name = "Ring" if ring else "Tree"
        self.title.set_text(
            f"{name} AllReduce · {step.phase} · step {i + 1} of {len(self.steps)}\n"
            f"{step.count} message{'s' if step.count != 1 else ''} of "
            f"{plots.format_bytes(step.bytes)} · this step {plots.format_seconds(step.cost)}"
            + ("   (ring labels: chunk number)" if ring else "")
        )
        self.done.set_data(self.x[: i + 2], self.totals[: i + 2])
        self.mark.set_data([i + 1], [self.totals[i + 1]])
        self.total_label.set_text(
            f"after {i + 1} step{'s' if i else ''}: {plots.format_seconds(step.total)}"
            f"  ·  dashed: {_formula(self.algorithm).split(' = ')[0]} = "
            f"{plots.format_seconds(formula_total)}"
        )
        self.canvas.restore_region(self.background)
        moving = [*self.transfers, *(a for pair in self.nodes.values() for a in pair)]
        for artist in [*moving, self.title, self.done, self.mark, self.total_label]:
            self.fig.draw_artist(artist)
        png = io.BytesIO()
        width, height = self.canvas.get_width_height()
        PIL.Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba()).save(png, "png")
        self.png[i] = png.getvalue()
        return self.png[i]


class TopologyHUD:
    """The HUD's state: the algorithm and the step (1-based), the text and the picture.

    `text` (lines), `picture` (PNG bytes of the current step) and `steps[algorithm]` (the
    priced simulator steps) are always current; in a kernel `controls` holds the algorithm
    buttons, the step slider and the play button, and `widget` the controls' panel.
    """

    title = "NetworkTopologyHUD: one step at a time"

    def __init__(
        self,
        N: int,
        M: float,
        alpha: float,
        beta: float,
        words: Words,
        static: bool | None,
        medium: str = "full duplex",
    ) -> None:
        self.N, self.M, self.alpha, self.beta, self.words = N, M, alpha, beta, words
        self.medium = medium
        self.steps = {a: hud_steps(a, N, M, alpha, beta, medium) for a in ALGORITHMS}
        self._pictures: dict[str, _Picture] = {}
        self.algorithm, self.step = "ring", 1
        self.controls: dict = {}
        self.widget = None
        self._html = LiveOutput("html", "")
        self._image = LiveOutput("png", b"")
        self.text: tuple[str, ...] = ()
        self.picture = b""
        self.refresh()
        if not _use_static(static):
            self._build_widget()

    def _picture(self) -> _Picture:
        if self.algorithm not in self._pictures:
            self._pictures[self.algorithm] = _Picture(
                self.algorithm, self.steps[self.algorithm], self.N, self.words
            )
        return self._pictures[self.algorithm]

    def lines(self) -> list[str]:
        """What the current step does and costs, in words and numbers."""
        steps = self.steps[self.algorithm]
        i = self.step - 1
        s = steps[i]
        w, N = self.words, self.N
        fmt_t, fmt_b = plots.format_seconds, plots.format_bytes
        setting = (
            f"{self.algorithm.capitalize()} AllReduce on your N = {N} {w.devices} over {w.link}: "
            f"M = {fmt_b(self.M)}, α = {fmt_t(self.alpha)}, β = {fmt_b(self.beta)}/s."
        )
        if N > SHOWN_RANKS:
            setting += (
                f" Drawn: {w.devices} 0–{SHOWN_RANKS - 1} and one dashed circle for the other "
                f"{N - SHOWN_RANKS} (a picture of {N} would be unreadable); the step "
                f"counts and times are for all {N}."
            )
        what = {
            "reduce-scatter": "one chunk (M/N) to its right neighbour, which adds it",
            "all-gather": "a finished chunk (M/N) to its right neighbour, which keeps it",
            "reduce": "its partial sum (all of M) to its partner, which adds it",
            "broadcast": "the finished sum (all of M) to its partner, which keeps it",
        }[s.phase]
        who = ", ".join(
            f"{src}→{dst}" + (f" (chunk {start})" if self.algorithm == "ring" else "")
            for src, dst, start, _ in s.messages[:4]
        ) + (", …" if s.count > 4 else "")
        senders = (
            f"every {w.device} sends"
            if s.count == N
            else f"1 of the {N} {w.devices} sends"
            if s.count == 1
            else f"{s.count} of the {N} {w.devices} each send"
        )
        lines = [
            setting,
            f"Step {self.step} of {len(steps)} ({s.phase}): {senders} {what}. "
            f"{w.device[0].upper()}{w.device[1:]} → {w.device}: {who}.",
            self._cost_line(s),
            f"Running total after {self.step} of {len(steps)} steps: {fmt_t(s.total, 4)}.",
        ]
        formula = self._formula_time()
        name = _formula(self.algorithm, self.medium)
        if self.step == len(steps):
            lines.append(f"Done: every {w.device} holds the sum. {name} = {fmt_t(formula, 4)}.")
            if self.medium == "half duplex" and self.algorithm == "tree":
                lines.append(
                    f"The same as Part 1's: {self.words.link} is half duplex, but in a tree "
                    "step a radio only sends or only receives."
                )
            elif self.medium != "full duplex":
                part1 = _formula_time(self.algorithm, self.M, N, self.alpha, self.beta)
                lines.append(
                    f"Part 1's {_formula(self.algorithm)} = {fmt_t(part1, 4)} gives every "
                    f"{w.device} a full-duplex link of its own, all sending at once; "
                    f"{self._medium_words()}"
                )
        else:
            lines.append(
                f"After all {len(steps)} steps it reaches {name} = "
                f"{fmt_t(formula, 4)} (the dashed line)."
            )
        return lines

    def _formula_time(self) -> float:
        return _formula_time(self.algorithm, self.M, self.N, self.alpha, self.beta, self.medium)

    def _medium_words(self) -> str:
        if self.medium == "shared channel":
            return (
                f"on {self.words.link} one radio transmits at a time, so every message waits "
                "its turn and pays its own α."
            )
        return (
            f"{self.words.link} is half duplex: a radio sends, then receives (a ring step "
            "moves a chunk out and one in, so its air time doubles)."
        )

    def _cost_line(self, s: HudStep) -> str:
        """What the current step costs on the medium, in numbers."""
        fmt_t, fmt_b = plots.format_seconds, plots.format_bytes
        a, b, per = fmt_t(self.alpha), fmt_b(self.beta), fmt_b(s.bytes)
        if self.medium == "shared channel":
            return (
                f"This step on one shared channel: the {s.count} message"
                f"{'s take turns' if s.count != 1 else ' goes alone'}, "
                f"{s.count}·(α + bytes/β) = {s.count}·({a} + {per} / {b}/s) = "
                f"{fmt_t(s.cost, 4)}."
            )
        if self.medium == "half duplex" and self.algorithm == "ring":
            return (
                f"This step on half-duplex radios: each {self.words.device} sends its chunk, "
                f"then receives one, α + 2·bytes/β = {a} + 2·{per} / {b}/s = "
                f"{fmt_t(s.cost, 4)}."
            )
        return f"This step: α + bytes/β = {a} + {per} / {b}/s = {fmt_t(s.cost, 4)}."

    def refresh(self) -> None:
        """Recompute the text and the picture for the current algorithm and step."""
        self.text = tuple(self.lines())
        self.picture = self._picture().show(self.step - 1, self._formula_time())
        self._html.value = f"<h3>{html.escape(self.title)}</h3>" + "<br>".join(
            html.escape(line) for line in self.text
        )
        self._image.value = self.picture

    @property
    def figure(self) -> Figure:
        return self._picture().fig

    def select(self, algorithm: str | None = None, step: int | None = None) -> None:
        """Show another algorithm and/or step (1-based; clipped to the algorithm's steps)."""
        busy()  # no drawing ahead while the student steps
        if algorithm is not None:
            if algorithm not in ALGORITHMS:
                raise ValueError(f"algorithm must be one of {sorted(ALGORITHMS)}")
            self.algorithm = algorithm
        last = len(self.steps[self.algorithm])
        self.step = min(max(1, int(step if step is not None else self.step)), last)
        self.refresh()

    def _build_widget(self) -> None:
        w = _ipywidgets()
        last = len(self.steps[self.algorithm])
        algorithm = w.ToggleButtons(
            options=[("Ring", "ring"), ("Tree", "tree")],
            value=self.algorithm,
            description="algorithm",
            style={"description_width": "80px"},
        )
        step = w.IntSlider(
            value=self.step,
            min=1,
            max=last,
            description="step",
            continuous_update=False,
            style={"description_width": "80px"},
            layout={"width": CONTROL_WIDTH},
        )
        play = w.Play(value=self.step, min=1, max=last, interval=PLAY_INTERVAL_MS)
        w.jslink((play, "value"), (step, "value"))
        self.controls = {"algorithm": algorithm, "step": step, "play": play}
        algorithm.observe(lambda c: self._algorithm_changed(c["new"]), names="value")
        step.observe(lambda c: self.select(step=c["new"]), names="value")
        self.widget = w.VBox([algorithm, w.HBox([play, step])])

    def _algorithm_changed(self, algorithm: str) -> None:
        last = len(self.steps[algorithm])
        step, play = self.controls["step"], self.controls["play"]
        self.algorithm = algorithm
        with step.hold_trait_notifications():
            step.max = play.max = last
        self.select(step=1)
        step.value = play.value = 1

    def _ipython_display_(self) -> None:
        if self.widget is not None:
            from IPython.display import display

            display(self.widget)
            when_idle(self._draw_ahead())
        self._html.show()
        self._image.show()

    def _draw_ahead(self, ahead: int = 16) -> Iterator[None]:
        """The next AHEAD steps' pictures of this algorithm, then the first of the other, one
        picture per step of render.when_idle (what is on screen does not change)."""
        others = [a for a in ALGORITHMS if a != self.algorithm]
        start = self.step - 1
        plan = [(self.algorithm, range(start, start + ahead))]
        plan += [(a, range(ahead // 2)) for a in others]
        for algorithm, steps in plan:
            for i in steps:
                if i >= len(self.steps[algorithm]):
                    break
                shown = self.algorithm
                self.algorithm = algorithm  # (restored before the next step)
                try:
                    picture = self._picture()
                    if i not in picture.png:
                        picture.show(i, self._formula_time())
                finally:
                    self.algorithm = shown
                yield

    def __repr__(self) -> str:
        return "\n".join([self.title, *self.text])


def topology_hud(
    *,
    N: int,
    M: float,
    alpha: float,
    beta: float,
    words: Words = GENERIC,
    static: bool | None = None,
    medium: str = "full duplex",
) -> TopologyHUD:
    """Part 1's NetworkTopologyHUD for N ranks and message size M (bytes), α (s), β (bytes/s):
    ring and tree AllReduce from the simulator, one step at a time, priced under α-β on the
    medium ("full duplex", "half duplex" or "shared channel": the module docstring)."""
    if medium not in MEDIA:
        raise ValueError(f"medium must be one of {MEDIA}, got {medium!r}")
    return TopologyHUD(v.scalar_count("N", N), M, alpha, beta, words, static, medium)
