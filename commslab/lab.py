"""What the student's notebook calls: the scenario table, the workbenches, the crisis.

The notebook's locked cells call these with the student's own namespace (`globals()`), so the
workbench can draw the student's functions beside the reference ones. Nothing here shows a
graded mission answer directly: the instruments show the curves and the simulations, the
student reads and computes. Set COMMS_LAB_STATIC=1 for static figures (used when the release
executes the solutions headless).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

from comms_core.scenarios import CONVERGENCE_DIM, TRACKS, Scenario, ledger_fields, scenario_for
from commslab.notebook import rules
from commslab.notebook.checker import checker
from commslab.notebook.lazy import lazy_import
from commslab.notebook.locks import BY_NAME, LOCKS, recorded_firsts
from commslab.notebook.words import words_for

if TYPE_CHECKING:  # (and for the student wheel's import closure, commslab/wheels.py)
    from comms_core import plots
    from commslab.notebook import workbench
else:  # matplotlib loads at the first picture, not in the setup cell (issue 23)
    plots = lazy_import("comms_core.plots")
    workbench = lazy_import("commslab.notebook.workbench")

__all__ = [
    "calibrate_my_machine",
    "check_bonus",
    "checker",
    "crisis",
    "ledger_table",
    "math_peek",
    "part1",
    "part2",
    "part3",
    "start",
    "topology_hud",
    "upload_name",
]


def _static() -> bool | None:
    return True if os.environ.get("COMMS_LAB_STATIC") == "1" else None


def _show(obj) -> object:
    """Display in a notebook; return the object elsewhere (tests, scripts)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return obj
    if get_ipython() is None:
        return obj
    display(obj)
    return None


# One line under a picture's controls, shown only while they are not live: ipywidgets 8
# marks every view of a widget whose kernel is gone with the class jupyter-widgets-disconnected
# (@jupyter-widgets/base, DOMWidgetView._comm_live_update; its CSS draws a broken-link icon),
# so `:has()` shows the line in the reopened notebook and hides it while the kernel runs; in a
# cell that has the line, the icon (its `::before`) is not drawn: the line says it in words. A
# front end that drops the <style> shows the line always, which still reads right.
OFFLINE_NOTE = (
    "<style>.commslab-offline{display:none}"
    ".jp-Cell:has(.jupyter-widgets-disconnected) .commslab-offline{display:block}"
    ".jp-Cell:has(.commslab-offline) .jupyter-widgets-disconnected::before{content:none}</style>"
    '<div class="commslab-offline">🔌 <b>Run the cells</b> (Run ▸ Run All Cells) to make these '
    "controls live: what you see is the picture of your last run.</div>"
)


def _show_live(obj) -> object:
    """_show, with OFFLINE_NOTE just above an object with live controls (a widget), so the
    line sits beside the controls, not under a tall picture."""
    if getattr(obj, "widget", None) is not None:
        try:
            from IPython.display import HTML
        except ImportError:
            return _show(obj)
        _show(HTML(OFFLINE_NOTE))  # outside a notebook: returned, not shown
    return _show(obj)


def _markdown(text: str):
    try:
        from IPython.display import Markdown
    except ImportError:
        return text
    return _show(Markdown(text))


def _mine(namespace: Mapping | None, roles: Mapping[str, str]) -> dict:
    """The student's functions for a workbench: {role: function}, only those defined."""
    namespace = namespace or {}
    return {role: namespace[name] for role, name in roles.items() if callable(namespace.get(name))}


def start(track: str, term: str, student_id: str) -> Scenario | None:
    """Your scenario for this term: a table of your numbers, your crisis and stakeholder."""
    if not str(student_id or "").strip() or not str(track or "").strip():
        _markdown(
            "✋ **Type your LMS id into `STUDENT_ID` and pick a `TRACK` in the cell "
            f"above, then run this cell again.** Tracks: {', '.join(TRACKS)}."
        )
        return None
    try:
        s = scenario_for(track, term, student_id)
    except ValueError as err:
        _markdown(f"✋ **{err}.** Fix the cell above, then run this cell again.")
        return None
    words = words_for(s.track.key)
    rows = "\n".join(
        f"| `{name}` | {_fmt(value, unit)} | {_unit(unit, words)} | {note} |"
        for name, value, unit, note in s.table()
    )
    _markdown(
        f"### {s.track.title} — {s.track.persona}\n**Mission:** {s.track.mission}\n\n"
        f"**Crisis:** {s.track.crisis}\n\n**Stakeholder:** {s.track.stakeholder}\n\n"
        f"Your numbers (term `{s.term}`, id `{s.student_id}`):\n\n"
        f"| name | value | unit | source |\n|---|---|---|---|\n{rows}"
    )
    return s


def _unit(unit: str, words) -> str:
    """A scenario unit in the track's own words (the hierarchy's G and K)."""
    return {"GPUs/node": f"{words.devices}/{words.group}", "nodes": words.groups}.get(unit, unit)


def _fmt(value, unit: str) -> str:
    """A scenario number as the table shows it: exact, since the student computes with it.

    Drawn numbers have 3 significant digits (comms_core.scenarios.Param.draw), so 3 digits
    show them exactly; a constant that needs more (a frame of 1/60 s) gets 6. Times of a
    minute or more stay in seconds (118 s, not 1.97 min)."""
    if isinstance(value, str):
        return value
    if unit == "B":
        return f"{value:,.0f} ({plots.format_bytes(value)})"
    if unit == "s":
        if value >= 60:
            return f"{value:.6g} s"
        return plots.format_seconds(value, 3 if float(f"{value:.3g}") == value else 6)
    if unit == "B/s":
        return plots.format_bytes(value) + "/s"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def _need(scenario: Scenario | None) -> TypeGuard[Scenario]:
    """True when the identity cells made a scenario; else says to run them (and False), so
    `if not _need(scenario): return None` leaves a Scenario for the type checker too."""
    if scenario is None:
        _markdown("✋ **Run the identity cells at the top first** (your id and track).")
        return False
    return True


PREDICTIONS: dict[int, str] = {}  # the Locks' recorded (first) predictions in this kernel
_FIRSTS: dict[tuple[str, str], str] = {}  # (student, lock name) -> the first valid prediction
LOCK_FILE = ".comms_lab_locks.json"  # beside the notebook: the first predictions, per student


def notebook_path() -> Path | None:
    """The running notebook's file, when the kernel can know it: JupyterLab and Jupyter
    Server 2 start the kernel with JPY_SESSION_NAME = the notebook's path
    (jupyter_server/services/sessions/sessionmanager.py, get_kernel_env), which ipykernel
    also puts in `__session__` (ipykernel/ipkernel.py); VS Code sets `__vsc_ipynb_file__`.
    A rename after the kernel started is not seen; None when nothing names an existing file."""
    from commslab.notebook.checker import _student_namespace

    namespace = _student_namespace()
    for candidate in (
        namespace.get("__vsc_ipynb_file__"),
        namespace.get("__session__"),
        os.environ.get("JPY_SESSION_NAME"),
    ):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            path = Path(candidate)
            if path.is_file():
                return path
    return None


def _student(scenario: Scenario) -> str:
    return f"{scenario.term}/{scenario.student_id}"


def _saved_first(scenario: Scenario, name: str) -> str | None:
    """A first prediction made before this kernel: in the saved notebook's outputs (the
    reveal's record), else in LOCK_FILE beside it (made, then the kernel restarted before a
    save). None when the kernel cannot find the notebook or nothing was recorded."""
    path = notebook_path()
    if path is None:
        return None
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells")
        first = recorded_firsts(cells).get(name)
    except (OSError, ValueError, AttributeError):
        first = None
    if first is not None:
        return first
    try:
        saved = json.loads((path.parent / LOCK_FILE).read_text(encoding="utf-8"))
        return BY_NAME[name].normalise(saved.get(_student(scenario), {}).get(name))
    except (OSError, ValueError, AttributeError):
        return None


def _remember(scenario: Scenario, name: str, first: str) -> None:
    """Write the first prediction to LOCK_FILE beside the notebook (when it is known)."""
    path = notebook_path()
    if path is None:
        return
    file = path.parent / LOCK_FILE
    try:
        saved = json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}
        saved = saved if isinstance(saved, dict) else {}
        saved.setdefault(_student(scenario), {}).setdefault(name, first)
        file.write_text(json.dumps(saved, indent=1), encoding="utf-8")
    except (OSError, ValueError, AttributeError):
        return  # a read-only folder: the kernel and the saved outputs still keep it


def _reveal(text: str, metadata: dict) -> None:
    """The Lock's reveal, with its record in the output's metadata (saved in the .ipynb)."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        return _markdown(text)
    if get_ipython() is None:
        return _markdown(text)
    display(Markdown(text), metadata=metadata)
    return None


def _unlock(scenario: Scenario, part: int, prediction: object) -> str | None:
    """The Lock: refuse anything but its answers (a friendly message), else reveal what
    happened and why. The first valid prediction is the recorded one, in this kernel and
    (where the kernel finds its notebook) across a restart and a reopen; a later change is
    shown beside it. Returns the recorded prediction or None."""
    lock = LOCKS[part]
    key = (_student(scenario), lock.name)
    made = lock.normalise(prediction)
    if made is None:
        _markdown(lock.refusal(prediction))
        return None
    first = _FIRSTS.get(key) or _saved_first(scenario, lock.name) or made
    if key not in _FIRSTS:
        _FIRSTS[key] = first
        _remember(scenario, lock.name, first)
    PREDICTIONS[part] = first
    _reveal(lock.reveal(first, made), lock.record(first))
    return first


def part1(scenario: Scenario | None, prediction: object, namespace: Mapping | None = None):
    """The algorithm crossover: your N, α, β; your functions beside the reference."""
    if not _need(scenario):
        return None
    prediction = _unlock(scenario, 1, prediction)
    if prediction is None:
        return None
    wb = workbench.crossover_workbench(
        N=scenario.N,
        alpha=scenario.alpha,
        beta=scenario.beta,
        M=scenario.M_message,
        student=_mine(
            namespace,
            {
                "ring": "ring_allreduce_time",
                "tree": "tree_allreduce_time",
                "crossover": "crossover_message_size",
            },
        ),
        prediction=prediction,
        static=_static(),
        words=words_for(scenario.track.key),
    )
    return _show_live(wb)


def topology_hud(scenario: Scenario | None):
    """Part 1's NetworkTopologyHUD: step through ring and tree AllReduce on your own N, M, α, β
    (the simulator's steps, priced on the track's medium: comms_core.shared_medium)."""
    if not _need(scenario):
        return None
    if 1 not in PREDICTIONS:  # the Lock: the HUD shows which algorithm wins at your M
        return _markdown("🔒 **Make your Part 1 prediction and run the workbench cell first.**")
    from comms_core.shared_medium import part1_medium
    from commslab.notebook.hud import topology_hud as hud
    from commslab.notebook.radio_notes import part1_note

    if note := part1_note(scenario):  # what the radio tracks do to Part 1's formulas
        _markdown(note)

    return _show_live(
        hud(
            N=int(scenario.N),
            M=scenario.M_message,
            alpha=scenario.alpha,
            beta=scenario.beta,
            words=words_for(scenario.track.key),
            static=_static(),
            medium=part1_medium(scenario.track.key),
        )
    )


def part2(scenario: Scenario | None, prediction: object, namespace: Mapping | None = None):
    """The hierarchical multiplier and the aggregation factor k (your K_TRIES, at most 10)."""
    if not _need(scenario):
        return None
    prediction = _unlock(scenario, 2, prediction)
    if prediction is None:
        return None
    from commslab.notebook.radio_notes import part2_note

    if note := part2_note(scenario):  # what the radio tracks add to the general formula
        _markdown(note)
    tries, message = _tries_allowed(scenario, (namespace or {}).get("K_TRIES"))
    if message:
        _markdown(message)
    wb = workbench.hierarchical_workbench(
        M=scenario.M_model,
        G=scenario.G,
        K=scenario.K,
        alpha_intra=scenario.alpha_intra,
        beta_intra=scenario.beta_intra,
        alpha_inter=scenario.alpha_inter,
        beta_inter=scenario.beta_inter,
        t_compute=scenario.t_compute,
        micro_batch=scenario.micro_batch,
        B_noise=scenario.B_noise,
        student=_mine(namespace, {"hierarchical": "hierarchical_allreduce_time"}),
        prediction=prediction,
        tries=tries,
        static=_static(),
        words=words_for(scenario.track.key),
    )
    return _show_live(wb)


def _tries_allowed(scenario: Scenario, k_tries: object) -> tuple[list[int], str]:
    """The k values of K_TRIES the workbench shows, and a message when it shows none.

    The tries are counted as the grader counts them (commslab.notebook.rules.tries): the
    distinct values of K_TRIES, at most 10; a longer list is refused as a whole, with what to
    do, and uses no try, so the honest list that follows works. Nothing else is remembered:
    the grader reads K_TRIES alone."""
    if k_tries is None or (isinstance(k_tries, list | tuple) and not k_tries):
        return [], ""
    allowed, problem = rules.tries(k_tries)
    return allowed, (f"✋ **The 10-iteration rule:** {problem}" if problem else "")


def part3(scenario: Scenario | None, prediction: object, namespace: Mapping | None = None):
    """Compression with error feedback: the ratio slider, the EF toggle, the convergence monitor."""
    if not _need(scenario):
        return None
    prediction = _unlock(scenario, 3, prediction)
    if prediction is None:
        return None
    wb = workbench.compression_workbench(
        d=int(scenario.d),
        N=int(scenario.N),
        student=_mine(namespace, {"compress": "one_bit_compress"}),
        dim=CONVERGENCE_DIM,
        prediction=prediction,
        static=_static(),
        words=words_for(scenario.track.key),
    )
    return _show_live(wb)


def crisis(scenario: Scenario | None):
    """Your track's crisis instrument (simulations you read your ledger numbers from)."""
    if not _need(scenario):
        return None
    from commslab.notebook import crisis as instruments

    return _show(instruments.instrument(scenario, static=_static()))


def ledger_table(track: str) -> object:
    """The LEDGER keys of your track, with what each one means."""
    try:
        fields = ledger_fields(track)
    except ValueError as err:
        return _markdown(f"✋ **{err}**")

    def kind(f) -> str:
        if f.kind == "k":
            return "whole number, one of your `K_TRIES`"
        return " / ".join(f'`"{c}"`' for c in f.choices) if f.choices else f.kind

    rows = "\n".join(
        f'| `"{f.key}"` | {f.description} | {f.unit or "—"} | {kind(f)} |' for f in fields
    )
    return _markdown("| key | what | unit | type or choices |\n|---|---|---|---|\n" + rows)


def upload_name():
    """The last cell: which file to upload, by its real name when the kernel can know it
    (notebook_path: Jupyter's session path at kernel start), else in words."""
    path = notebook_path()
    what = (
        f"**`{path.name}`** (this notebook)"
        if path
        else "this notebook (its .ipynb file, whatever its name)"
    )
    return _markdown(f"📤 Save (Ctrl+S), then upload {what} to your course page.")


def math_peek():
    """The models behind the workbench, as a toggle, and the one convention for β."""
    from commslab.notebook.peek import math_peek_html

    try:
        from IPython.display import HTML
    except ImportError:
        return math_peek_html()
    return _show(HTML(math_peek_html()))


def calibrate_my_machine(ranks: int = 2, quick: bool = True):
    """Optional: measure a real AllReduce on your machine, fit your own α and β, and see
    them beside published GPU systems (the NCCL reality table)."""
    from commslab.calibrate import (
        calibrate_this_machine,
        nccl_reality,
        nccl_reality_markdown,
        plot_calibration,
    )

    try:
        report = calibrate_this_machine(ranks=ranks, quick=quick)
    except RuntimeError as err:
        return _markdown(f"✋ **Calibration could not run:** {err}")
    text = (
        f"**Your machine** ({ranks} MPI ranks): α = {plots.format_seconds(report['alpha_s'])}, "
        f"β = {plots.format_bytes(report['beta_bytes_per_s'])}/s; the model misses the "
        f"held-out sizes by {report['heldout_median_relative_error']:.0%} (median)."
    )
    _markdown(text)
    _show(plot_calibration(report))
    table = nccl_reality_markdown(nccl_reality(report))
    return _markdown("**NCCL reality**: your machine beside published GPU systems\n\n" + table)


def check_bonus(my_ring_allreduce) -> object:
    """Bonus: run your ring AllReduce on 2 and 3 real MPI ranks; sum and bytes are checked."""
    import inspect

    from commslab.mpi.bonus import grade_bonus_ring
    from commslab.mpi.launch import MPIUnavailable

    try:
        source = "import numpy as np\n\n" + inspect.getsource(my_ring_allreduce)
    except (OSError, TypeError):
        return _markdown("✋ **Define `my_ring_allreduce(comm, buffer)` in the cell above first.**")
    lines = []
    for ranks in (2, 3):
        try:
            result = grade_bonus_ring(source, ranks=ranks)
        except MPIUnavailable as err:
            return _markdown(f"✋ **MPI cannot run here:** {err}")
        lines.append(
            f"- **{ranks} ranks:** {result.score:g}/{result.max_score:g} "
            + ("✅" if result.score == result.max_score else "")
            + "".join(f"\n  - {m}" for m in result.messages)
        )
    return _markdown("\n".join(lines))
