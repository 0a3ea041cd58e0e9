"""What the student's notebook calls: the scenario table, the workbenches, the crisis.

The notebook's locked cells call these with the student's own namespace (`globals()`), so the
workbench can draw the student's functions beside the reference ones. Nothing here shows a
graded mission answer directly: the instruments show the curves and the simulations, the
student reads and computes. Set COMMS_LAB_STATIC=1 for static figures (used when the release
executes the solutions headless).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from comms_core import plots
from comms_core.scenarios import CONVERGENCE_DIM, TRACKS, Scenario, ledger_fields, scenario_for
from commslab.notebook import workbench
from commslab.notebook.checker import checker
from commslab.notebook.locks import LOCKS
from commslab.notebook.words import words_for

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


def _need(scenario: Scenario | None) -> bool:
    if scenario is None:
        _markdown("✋ **Run the identity cells at the top first** (your id and track).")
        return False
    return True


PREDICTIONS: dict[int, str] = {}  # the Locks' recorded predictions in this kernel


def _unlock(part: int, prediction: object) -> str | None:
    """The Lock: refuse anything but its answers (a friendly message), else record the
    prediction and reveal what happened and why. Returns the accepted prediction or None."""
    lock = LOCKS[part]
    made = lock.normalise(prediction)
    if made is None:
        _markdown(lock.refusal(prediction))
        return None
    PREDICTIONS[part] = made
    _markdown(lock.reveal(made))
    return made


def part1(scenario: Scenario | None, prediction: object, namespace: Mapping | None = None):
    """The algorithm crossover: your N, α, β; your functions beside the reference."""
    if not _need(scenario):
        return None
    prediction = _unlock(1, prediction)
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
    return _show(wb)


def topology_hud(scenario: Scenario | None):
    """Part 1's NetworkTopologyHUD: step through ring and tree AllReduce on your own N, M, α, β
    (the simulator's steps, each priced α + bytes/β, adding up to Part 1's formulas)."""
    if not _need(scenario):
        return None
    if 1 not in PREDICTIONS:  # the Lock: the HUD shows which algorithm wins at your M
        return _markdown("🔒 **Make your Part 1 prediction and run the workbench cell first.**")
    from commslab.notebook.hud import topology_hud as hud

    return _show(
        hud(
            N=int(scenario.N),
            M=scenario.M_message,
            alpha=scenario.alpha,
            beta=scenario.beta,
            words=words_for(scenario.track.key),
            static=_static(),
        )
    )


def part2(scenario: Scenario | None, prediction: object, namespace: Mapping | None = None):
    """The hierarchical multiplier and the aggregation factor k (your K_TRIES, at most 10)."""
    if not _need(scenario):
        return None
    prediction = _unlock(2, prediction)
    if prediction is None:
        return None
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
    return _show(wb)


MAX_TRIES = 10  # the 10-iteration rule (docs/LAB_SPEC.md Part 2)
_SHOWN_K: dict[tuple[str, str, str], list[int]] = {}  # every k this kernel has shown, per student


def _tries_allowed(scenario: Scenario, k_tries: object) -> tuple[list[int], str]:
    """The k values of K_TRIES the workbench may show, and a message when it refuses some.

    K_TRIES is the only way to try a k, and what it shows is remembered for the kernel's
    life: a k once shown counts as a try even if it is removed from K_TRIES, so re-running
    with new lists cannot exceed MAX_TRIES. A k shown before must stay in K_TRIES (the
    grader reads K_TRIES, not this memory)."""
    if k_tries is None or (isinstance(k_tries, list | tuple) and not k_tries):
        return [], ""
    if not isinstance(k_tries, list | tuple) or not all(
        isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in k_tries
    ):
        return [], "✋ **`K_TRIES` must be a list of whole numbers ≥ 1**, e.g. `[1, 2, 4]`."
    key = (scenario.track.key, scenario.term, scenario.student_id)
    shown = _SHOWN_K.setdefault(key, [])
    allowed, refused = [], []
    for k in dict.fromkeys(k_tries):  # in order, without repeats
        if k in shown or len(shown) < MAX_TRIES:
            if k not in shown:
                shown.append(k)
            allowed.append(k)
        else:
            refused.append(k)
    notes = []
    if refused:
        notes.append(
            f"⚠️ **The 10-iteration rule:** you have tried {MAX_TRIES} values of k "
            f"({', '.join(map(str, shown))}); k = {', '.join(map(str, refused))} is not shown."
        )
    dropped = [k for k in shown if k not in k_tries]
    if dropped:
        notes.append(
            f"⚠️ You already tried k = {', '.join(map(str, dropped))}: keep every k you tried "
            "in `K_TRIES` (they count toward the 10)."
        )
    return allowed, "\n\n".join(notes)


def part3(scenario: Scenario | None, prediction: object, namespace: Mapping | None = None):
    """Compression with error feedback: the ratio slider, the EF toggle, the convergence monitor."""
    if not _need(scenario):
        return None
    prediction = _unlock(3, prediction)
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
    return _show(wb)


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
