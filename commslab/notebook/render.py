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
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Hashable

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine

__all__ = ["PictureCache", "live_png"]

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
