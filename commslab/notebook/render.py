"""The live controls' pictures, drawn fast (issue 23: a redraw within 0.3 s as the student sees
it in the browser, on a shared 2-core machine).

- `live_png(fig, dpi)`: the PNG that `fig.savefig(format="png", dpi=dpi, pil_kwargs=LIVE_PNG)`
  writes, byte for byte, in a fraction of its time (LIVE_PNG: zlib's fastest level).
  Matplotlib's Agg canvas keeps its renderer while the figure's size and dpi stay the same
  (FigureCanvasAgg.get_renderer), and a renderer keeps the text
  metrics and the parsed math text it has seen (matplotlib.text._get_text_metrics_with_cache,
  an LRU cache keyed by the renderer; RendererAgg.mathtext_parser). A new Figure has no Agg
  canvas, so every savefig made a new one and measured every tick label again; here one canvas
  per (size, dpi) draws every live figure. And savefig draws a figure twice when it has a
  layout engine (print_figure: "we need to trigger a draw before printing to make sure CL
  works"); a live figure whose layout is already fixed (workbench._for_redraw) is drawn once.
- Text is most of a redraw with matplotlib 3.11, which lays out every string (libraqm) and
  renders every glyph anew at each draw. The live canvas's renderer (`_TextRenderer`) keeps
  each string's layout and each glyph's bitmap by its position within a pixel: FreeType
  renders a glyph moved by whole pixels as the same bitmap moved (FT_Outline_Translate), so
  the PNG stays the one savefig writes, byte for byte (tests/test_render.py). Other
  matplotlib versions draw with the stock renderer.
- `PictureCache`: the PNGs a control has shown, by the controls' values, so going back to a
  setting costs no drawing.
- `when_idle`: draw ahead what a control with a few settings can show (Part 3's compressors
  and error feedback, the HUD's steps) while the kernel waits for the student.
"""

from __future__ import annotations

import io
import math
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine

__all__ = ["PictureCache", "busy", "live_png", "when_idle"]

_CANVASES: dict[tuple, FigureCanvasAgg] = {}  # (width, height, dpi) -> the canvas drawing them

# the private matplotlib calls _TextRenderer repeats, as matplotlib 3.11's RendererAgg makes them
_FAST_TEXT = matplotlib.__version__.startswith("3.11.") and all(
    hasattr(RendererAgg, name) for name in ("_draw_text_glyphs_and_boxes", "_prepare_font")
)
_KEPT_GLYPHS = 50_000  # bitmaps kept (a few hundred bytes each), then forgotten all at once
_KEPT_LAYOUTS = 5_000  # strings' layouts kept, likewise


class _TextRenderer(RendererAgg):
    """RendererAgg (matplotlib 3.11) that keeps what a string's text costs to draw: its layout
    (font._layout) and its glyphs' bitmaps (font._render_glyph) by the glyph's position
    within a pixel (26.6 fixed point, 1/64 px); a whole-pixel move only moves the bitmap."""

    def __init__(self, width: float, height: float, dpi: float) -> None:
        super().__init__(width, height, dpi)
        self._layouts: dict[tuple, Any] = {}
        self._glyphs: dict[tuple, tuple[Any, int, int]] = {}

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        font = self._prepare_font(prop)
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        flags = get_hinting_flag()
        size = prop.get_size_in_points()
        key = (font, size, self.dpi, s, flags, repr(features), repr(language))
        items = self._layouts.get(key)
        if items is None:
            if len(self._layouts) > _KEPT_LAYOUTS:
                self._layouts.clear()
            items = self._layouts[key] = font._layout(
                s, flags=flags, features=features, language=language
            )
        self._draw_text_glyphs_and_boxes(
            gc,
            x,
            y,
            angle,
            ((item.ft_object, size, item.glyph_index, 0, 1, item.x, item.y) for item in items),
            [],
        )
        return None

    def _draw_text_glyphs_and_boxes(self, gc, x, y, angle, glyphs, boxes):
        """RendererAgg's, its glyph bitmaps kept (the boxes, mathtext's rules, drawn by it)."""
        from matplotlib.ft2font import RenderMode

        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        flags = get_hinting_flag()
        mode = RenderMode.NORMAL if gc.get_antialiased() else RenderMode.MONO
        if len(self._glyphs) > _KEPT_GLYPHS:
            self._glyphs.clear()
        for font, size, glyph_index, slant, extend, dx, dy in glyphs:
            matrix = (
                (0x10000 * np.array([[cos, -sin], [sin, cos]]) @ [[extend, extend * slant], [0, 1]])
                .round()
                .astype(int)
            )
            delta = (
                round(0x40 * (x + dx * cos - dy * sin)),
                round(0x40 * (self.height - y + dx * sin + dy * cos)),
            )
            key = (font, size, self.dpi, glyph_index, matrix.tobytes(), delta[0] & 63,
                   delta[1] & 63, flags, mode)  # fmt: skip
            kept = self._glyphs.get(key)
            if kept is None:
                font.set_size(size, self.dpi)
                font._set_transform(matrix, [delta[0] & 63, delta[1] & 63])
                bitmap = font._render_glyph(glyph_index, flags, mode)
                buffer = bitmap.buffer
                if not gc.get_antialiased():
                    buffer *= 0xFF
                kept = self._glyphs[key] = (buffer, bitmap.left, bitmap.top)
            buffer, left, top = kept
            left, top = left + (delta[0] >> 6), top + (delta[1] >> 6)
            self._renderer.draw_text_image(
                buffer, left, int(self.height) - top + buffer.shape[0], 0, gc
            )
        if boxes:
            super()._draw_text_glyphs_and_boxes(gc, x, y, angle, (), boxes)


class _LiveCanvas(FigureCanvasAgg):
    """An Agg canvas whose renderer is a _TextRenderer (kept while size and dpi stay)."""

    def get_renderer(self) -> RendererAgg:
        w, h = self.get_width_height(physical=True)
        key = (w, h, self.figure.dpi)
        if getattr(self, "_text_key", None) != key:
            self.renderer = _TextRenderer(w, h, self.figure.dpi)
            self._text_key = key
        return self.renderer


LIVE_PNG = {"compress_level": 1}  # zlib's fastest: half the time of PIL's default 6, 2 % larger


def live_png(fig: Figure, dpi: float) -> bytes:
    """FIG as PNG at DPI (the same bytes as fig.savefig(format="png", dpi=dpi,
    pil_kwargs=LIVE_PNG)); sets its dpi."""
    engine = fig.get_layout_engine()
    if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine):
        buffer = io.BytesIO()  # a layout still to solve: savefig's two draws solve it
        fig.savefig(buffer, format="png", dpi=dpi, pil_kwargs=dict(LIVE_PNG))
        return buffer.getvalue()
    fig.set_dpi(dpi)
    key = (*fig.get_size_inches(), dpi)
    canvas = _CANVASES.get(key)
    if canvas is None:
        canvas = _CANVASES[key] = (_LiveCanvas if _FAST_TEXT else FigureCanvasAgg)(fig)
    elif canvas.figure is not fig:
        canvas.figure = fig
        fig.set_canvas(canvas)
    buffer = io.BytesIO()
    canvas.print_png(buffer, pil_kwargs=dict(LIVE_PNG))
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
