"""A picture and its numbers as ordinary cell outputs, updated in place, so that a saved notebook
shows them without a kernel.

An ipywidgets view lives only while its kernel does: a notebook reopened later shows "Error
displaying widget: model not found" where a widget was. So the workbenches keep only their
controls in widgets and show their numbers (text/html) and their figure (image/png) as
display_data outputs opened with a display id (IPython's `display(..., display_id=True)`).
A slider change sends update_display_data for that id, which replaces the output in place
(Jupyter messaging spec, "Update Display Data"); the notebook file keeps the last picture,
which JupyterLab, nbconvert's HTML export and any viewer show without a kernel.
"""

from __future__ import annotations

__all__ = ["LiveOutput"]


class LiveOutput:
    """One output of a cell, `kind` "html" (an HTML fragment) or "png" (PNG bytes).

    Set `.value` to change it; once `show()` has displayed it, every change updates the
    displayed output in place. Outside a notebook it is a plain holder of the value.
    """

    def __init__(self, kind: str, value: str | bytes) -> None:
        if kind not in ("html", "png"):
            raise ValueError(f"kind must be 'html' or 'png', got {kind!r}")
        self.kind = kind
        self._value = value
        self._handle = None

    @property
    def value(self) -> str | bytes:
        return self._value

    @value.setter
    def value(self, value: str | bytes) -> None:
        if value == self._value:
            return
        self._value = value
        if self._handle is not None:
            self._handle.update(self._displayable())

    def _displayable(self):
        from IPython.display import HTML, Image

        if self.kind == "html":
            return HTML(str(self._value))
        return Image(data=self._value, format="png")

    def show(self) -> None:
        """Display it as a new output of the running cell (a fresh display id)."""
        from IPython.display import display

        self._handle = display(self._displayable(), display_id=True)
