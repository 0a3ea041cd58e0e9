"""The live controls' pictures, drawn fast (issue 23: a redraw within 0.3 s as the student sees
it in the browser, on a shared 2-core machine).

- `live_png(fig, dpi)`: the PNG that `fig.savefig(format="png", dpi=dpi)` writes, byte for
  byte, in about half its time. Matplotlib's Agg canvas keeps its renderer while the figure's
  size and dpi stay the same (FigureCanvasAgg.get_renderer), and a renderer keeps the text
  metrics and the parsed math text it has seen (matplotlib.text._get_text_metrics_with_cache,
  an LRU cache keyed by the renderer; RendererAgg.mathtext_parser). A new Figure has no Agg
  canvas, so every savefig made a new one and measured every tick label again; here one canvas
  per (size, dpi) draws every live figure. And savefig draws a figure twice when it has a
  layout engine (print_figure: "we need to trigger a draw before printing to make sure CL
  works"); a live figure whose layout is already fixed (workbench._for_redraw) is drawn once.
- `PictureCache`: the PNGs a control has shown, by the controls' values, so going back to a
  setting costs no drawing.
- `when_idle`: draw ahead what a control with a few settings can show (Part 3's compressors
  and error feedback, the HUD's steps) while the kernel waits for the student.
"""

from __future__ import annotations

import io
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterator

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine

__all__ = ["PictureCache", "busy", "live_png", "when_idle"]

_CANVASES: dict[tuple, FigureCanvasAgg] = {}  # (width, height, dpi) -> the canvas drawing them


def live_png(fig: Figure, dpi: float) -> bytes:
    """FIG as PNG at DPI (the same bytes as fig.savefig(format="png", dpi=dpi)); sets its dpi."""
    engine = fig.get_layout_engine()
    if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine):
        buffer = io.BytesIO()  # a layout still to solve: savefig's two draws solve it
        fig.savefig(buffer, format="png", dpi=dpi)
        return buffer.getvalue()
    fig.set_dpi(dpi)
    key = (*fig.get_size_inches(), dpi)
    canvas = _CANVASES.get(key)
    if canvas is None:
        canvas = _CANVASES[key] = FigureCanvasAgg(fig)
    elif canvas.figure is not fig:
        canvas.figure = fig
        fig.set_canvas(canvas)
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return buffer.getvalue()


class PictureCache:
    """The last SIZE pictures by key (the controls' values), least recently used out first."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._pictures: OrderedDict[Hashable, bytes] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._pictures

    def get(self, key: Hashable) -> bytes | None:
        picture = self._pictures.get(key)
        if picture is not None:
            self._pictures.move_to_end(key)
        return picture

    def put(self, key: Hashable, picture: bytes) -> bytes:
        self._pictures[key] = picture
        self._pictures.move_to_end(key)
        while len(self._pictures) > self.size:
            self._pictures.popitem(last=False)
        return picture


# --- drawing ahead in the kernel's idle time --------------------------------------------------

IDLE_AFTER = 1.0  # seconds without a cell run or a control change before drawing ahead
KEPT = 4  # the pictures of at most this many displays are drawn ahead, the newest first
_last_activity = [0.0]  # time.monotonic() of the last cell run or control change
_watching: set[int] = set()  # the shells whose cell runs count as activity
_pending: list[Iterator[object]] = []  # the displays' work, newest last
_scheduled = [False]


def busy(*_args: object) -> None:
    """Note activity (a cell runs, a control changes): drawing ahead waits IDLE_AFTER."""
    _last_activity[0] = time.monotonic()


def when_idle(steps: Iterator[object]) -> bool:
    """Run STEPS, a generator that does one small piece of work per next(), on the kernel's
    event loop whenever no cell has run and no control has changed for IDLE_AFTER seconds,
    so that a control's next pictures are ready before the student asks. One piece runs at a
    time (a click that arrives meanwhile waits for that piece only), the newest display's
    first (the one the student is at). Returns False outside a running kernel (nothing is
    run). Precomputing is best effort: a piece that fails ends its generator, and the control
    computes that picture when it is asked for."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    loop = getattr(getattr(shell, "kernel", None), "io_loop", None)
    if shell is None or loop is None:
        return False
    if id(shell) not in _watching:
        _watching.add(id(shell))
        shell.events.register("pre_run_cell", busy)
        shell.events.register("post_run_cell", busy)
    busy()
    _pending.append(steps)
    del _pending[:-KEPT]

    def tick() -> None:
        wait = IDLE_AFTER - (time.monotonic() - _last_activity[0])
        if wait > 0:
            loop.call_later(wait, tick)
            return
        while _pending:
            try:
                next(_pending[-1])
                break
            except StopIteration:
                _pending.pop()
            except Exception:  # best effort: the control draws it on demand instead
                _pending.pop()
        if _pending:
            loop.call_later(0.01, tick)
        else:
            _scheduled[0] = False

    if not _scheduled[0]:
        _scheduled[0] = True
        loop.call_later(IDLE_AFTER, tick)
    return True
