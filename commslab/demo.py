"""`commslab demo` (the instructor's whole loop) and `commslab figures` (the lab's figures).

commslab demo [--course-dir DIR] [--term 2026-fall]
    In a course folder (a fresh temporary one by default): release the term, generate a
    synthetic class (commslab.synthetic: honest notebooks on every track, partial ones
    with the known mistakes, broken files, a late one, a copied one, filler answers, a
    tampering one), grade it with the default engine, and write the gradebook, the
    feedback, the TA review page, the similarity report and the class report. Prints
    where they are and a short summary. About a minute.

commslab figures [--out docs/figures]
    crossover.png, topology_ring.png, topology_tree.png, waterfall.png and
    convergence.png, and the key numbers. Headless (matplotlib Figures, Agg). Seconds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

import comms_core.cost_models as cm
from comms_core import plots
from comms_core.convergence import METHOD_LABELS, METHODS, run_data_parallel_training
from comms_core.simulator import simulate_ring_allreduce, simulate_tree_allreduce
from commslab.course import Course

# Part 1: the MLSysBook chapter's ring-vs-tree example (docs/LAB_SPEC.md known answers).
CROSSOVER = {"N": 64, "alpha": 10e-6, "beta": 10e9}
M_SMALL = 1e6  # 1 MB, where the chapter compares the two
# Part 2: Llama-3-70B bf16 gradients (70.6e9 parameters x 2 bytes; arXiv 2407.21783) on
# 128 H100 = 16 nodes x 8; NVLink4 450 GB/s per direction, α ≈ 1 µs (assumption within
# NCCL's 0.6-2 µs); InfiniBand NDR 50 GB/s per port, α = 5 µs (mlsysim IB_NDR_LATENCY_US).
HIERARCHY = {
    "M": 141.2e9,
    "G": 8,
    "K": 16,
    "alpha_intra": 1e-6,
    "beta_intra": 450e9,
    "alpha_inter": 5e-6,
    "beta_inter": 50e9,
}
# The HUD: 8 simulated ranks, 16 float32 values each (2 per ring chunk, readable labels).
HUD_RANKS, HUD_VALUES = 8, 16
FIGURES = (
    "crossover.png",
    "topology_ring.png",
    "topology_tree.png",
    "waterfall.png",
    "convergence.png",
)
DPI = 120


def _save(fig, path: Path) -> None:
    fig.savefig(path, dpi=DPI)


def run_demo(out: Path) -> list[tuple[str, str, str]]:
    """Draw the five figures into out/ and return the table rows (quantity, value, note)."""
    out.mkdir(parents=True, exist_ok=True)
    N, alpha, beta = CROSSOVER["N"], CROSSOVER["alpha"], CROSSOVER["beta"]
    # scalars in, scalars out (the cost models also take arrays)
    T_ring = float(cm.ring_allreduce_time(M_SMALL, N, alpha, beta))
    T_tree = float(cm.tree_allreduce_time(M_SMALL, N, alpha, beta))
    M_star = float(cm.crossover_message_size(N, alpha, beta))
    _save(
        plots.communication_crossover_plot(int(N), alpha, beta, highlight=M_SMALL),
        out / "crossover.png",
    )

    buffers = np.arange(HUD_RANKS * HUD_VALUES, dtype=np.float32).reshape(HUD_RANKS, -1)
    traces = [simulate_ring_allreduce(buffers), simulate_tree_allreduce(buffers)]
    exact = all(
        np.array_equal(t.result, np.broadcast_to(buffers.sum(axis=0), buffers.shape))
        for t in traces
    )
    for trace in traces:
        _save(plots.topology_hud_grid(trace), out / f"topology_{trace.algorithm}.png")

    phases = {k: float(v) for k, v in cm.hierarchical_breakdown(**HIERARCHY).items()}
    T_hier = float(cm.hierarchical_allreduce_time(**HIERARCHY))
    T_flat = float(
        cm.flat_ring_allreduce_time(  # the fair baseline: one ring per NIC (G rails)
            HIERARCHY["M"],
            HIERARCHY["G"],
            HIERARCHY["K"],
            HIERARCHY["alpha_inter"],
            HIERARCHY["beta_inter"],
            rails=HIERARCHY["G"],
        )
    )
    setting = (
        f"Llama-3-70B bf16 gradients ({plots.format_bytes(HIERARCHY['M'])}) on "
        f"{HIERARCHY['K']} nodes × {HIERARCHY['G']} GPUs: NVLink "
        f"{plots.format_bytes(HIERARCHY['beta_intra'])}/s, InfiniBand "
        f"{plots.format_bytes(HIERARCHY['beta_inter'])}/s"
    )
    _save(
        plots.communication_waterfall(
            phases, flat_time=T_flat, flat_label="flat rings\n(one per NIC)", subtitle=setting
        ),
        out / "waterfall.png",
    )

    runs = {method: run_data_parallel_training(method) for method in METHODS}
    _save(plots.convergence_monitor(list(runs.values())), out / "convergence.png")

    P = HIERARCHY["G"] * HIERARCHY["K"]
    base, dense = runs["none"].final_loss, runs["none"].bytes_per_worker_per_step
    ring_trace, tree_trace = traces
    return [
        (
            f"T_ring at {plots.format_bytes(M_SMALL)}",
            plots.format_seconds(T_ring, 5),
            f"N = {N}, α = {plots.format_seconds(alpha)}, β = {plots.format_bytes(beta)}/s",
        ),
        (
            f"T_tree at {plots.format_bytes(M_SMALL)}",
            plots.format_seconds(T_tree, 5),
            "tree faster" if T_tree < T_ring else "ring faster",
        ),
        ("crossover M*", plots.format_bytes(M_star, 4), "tree faster below, ring above"),
        (
            "simulated ring, 8 ranks",
            f"{ring_trace.steps} steps",
            f"{plots.format_bytes(ring_trace.bytes_sent[0])} sent per rank; "
            f"exact sum on every rank: {'yes' if exact else 'NO'}",
        ),
        (
            "simulated tree, 8 ranks",
            f"{tree_trace.steps} steps",
            f"{plots.format_bytes(tree_trace.bytes_sent.max())} sent by the busiest rank",
        ),
        (
            f"T_hier, {P} GPUs, Llama-3-70B",
            plots.format_seconds(T_hier, 4),
            f"{HIERARCHY['K']} nodes × {HIERARCHY['G']}, NVLink + IB NDR, "
            f"M = {plots.format_bytes(HIERARCHY['M'])}",
        ),
        (
            f"T_flat ({HIERARCHY['G']} rings, one per NIC)",
            plots.format_seconds(T_flat, 4),
            f"hierarchical, phases in series, is {T_flat / T_hier:.3g}x faster"
            if T_flat >= T_hier
            else f"hierarchical, phases in series, is {T_hier / T_flat:.3g}x slower",
        ),
        (
            "final loss: no compression",
            f"{base:.4g}",
            f"{plots.format_bytes(dense)} per worker per step",
        ),
        *[
            (
                f"final loss: {METHOD_LABELS[method]}",
                f"{run.final_loss:.4g}",
                f"{plots.format_bytes(run.bytes_per_worker_per_step)} per worker per step "
                f"({dense / run.bytes_per_worker_per_step:.3g}x fewer), "
                f"{(run.final_loss - base) / base:+.1%} vs uncompressed",
            )
            for method, run in runs.items()
            if method != "none"
        ],
        (
            "least-squares optimum f*",
            f"{runs['none'].optimal_loss:.4g}",
            "the floor every run approaches",
        ),
    ]


@click.command("figures")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs/figures"),
    show_default=True,
    help="Folder for the five PNG figures.",
)
def figures(out: Path) -> None:
    """The lab's main job on the embedded default scenario: five figures and the key numbers."""
    rows = run_demo(out)
    table = Table(title="comms-lab demo: the key numbers")
    for column in ("quantity", "value", "note"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(f"Figures written to {out}/: {', '.join(FIGURES)}")


# --- the instructor's loop ------------------------------------------------------------------


LATE_POLICY = """
[late]
# The demo course's late policy (commslab/grading/gradebook.py, LatePolicy)
kind = "per_day"
percent = 10
cap_percent = 50
"""


def release_notebook(course: Course, term: str) -> Path:
    """The term's student notebook in the course folder (what `commslab release` writes
    first; the solved notebooks it also executes are not needed for grading)."""
    from commslab import release

    notebook = course.release_dir / release.NOTEBOOK
    release.write_notebook(release.student_version(release.render_source(term, course)), notebook)
    (course.root / "release" / "TERM").write_text(term + "\n")
    return notebook


def run_class_demo(folder: Path, term: str, jobs: int = 2) -> dict:
    """`commslab init`, the release, a synthetic class, `commslab grade`: every output."""
    import time

    from commslab import synthetic
    from commslab.course import CONFIG, init_course
    from commslab.grading import pipeline
    from commslab.grading.classreport import REPORT_HTML
    from commslab.grading.launchers import make_launcher
    from commslab.grading.outputs import summary

    started = time.monotonic()
    init_course(folder, term=term)
    course = Course.at(folder)
    with open(course.root / CONFIG, "a", encoding="utf-8") as config:
        config.write(LATE_POLICY)
    notebook = release_notebook(course, term)
    manifest = synthetic.make_class(term, course.root / "submissions", course)
    out = course.root / "grading-out"
    final = pipeline.grade_class(  # what `commslab grade` does, step by step
        [manifest.archive],
        term=term,
        autograder_dir=course.autograder,
        out=out,
        launcher=make_launcher("local"),
        jobs=jobs,
        meta={
            "assignment": "Collective Communication Lab",
            "late_policy_file": str((course.root / CONFIG).resolve()),
            "course_dir": str(course.root),
            "autograder_dir": str(course.autograder.resolve()),
            "engine": "local",
        },
    )
    figures_dir = course.root / "figures"
    run_demo(figures_dir)
    return {
        "course": course.root,
        "release": notebook,
        "submissions": manifest.archive,
        "students": manifest.students,
        "out": out,
        "rows": final,
        "summary": summary(final),
        "class_report": out / REPORT_HTML,
        "figures": figures_dir,
        "seconds": time.monotonic() - started,
    }


@click.command("demo")
@click.option(
    "--course-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to build the course folder (default: a new temporary folder).",
)
@click.option("--term", default="2026-fall", show_default=True)
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=2, show_default=True)
def demo(course_dir: Path | None, term: str, jobs: int) -> None:
    """The instructor's loop on a synthetic class: release, grade, review, class report."""
    from commslab.grading.classreport import misconception_table, prediction_table, students

    course = course_dir or Path(tempfile.mkdtemp(prefix="commslab-course-"))
    console = Console()
    console.print(f"Course folder: {course}")
    done = run_class_demo(course, term, jobs)
    out, rows = done["out"], students(done["rows"])
    table = Table(title=f"comms-lab demo class ({term}): {done['summary']}")
    for column in ("student", "kind", "track", "score", "status"):
        table.add_column(column)
    by_id = {r.student_id: r for r in rows}
    for s in done["students"]:
        r = by_id.get(s.student_id)
        score = f"{r.score:g} / {r.max_score:g}" if r else "-"
        table.add_row(s.student_id, s.kind, s.track or "-", score, str(r.status) if r else "-")
    console.print(table)
    wrong = [
        f"{p['lock']}: {p['students']} predicted {p['choice']!r}"
        for p in prediction_table(rows)
        if p["track"] == "all" and not p["right"] and p["choice"] != "(none)" and p["students"]
    ]
    mistakes = [
        f"{m['misconception']}: {m['students']}" for m in misconception_table(rows) if m["students"]
    ]
    console.print("Wrong predictions before the reveal: " + "; ".join(wrong))
    console.print("Known mistakes in the hidden tests: " + "; ".join(mistakes))
    console.print(
        "\n".join(
            [
                f"Release:        {done['release']}",
                f"Submissions:    {done['submissions']}",
                f"Gradebook:      {out / 'grades.csv'}, {out / 'gradebook_canvas.csv'}",
                f"Feedback:       {out / 'feedback'}/",
                f"TA review:      {out / 'review.html'}",
                f"Similarity:     {out / 'similarity.html'}",
                f"Class report:   {done['class_report']}",
                f"Figures:        {done['figures']}/",
                f"Done in {done['seconds']:.0f} s.",
            ]
        )
    )
