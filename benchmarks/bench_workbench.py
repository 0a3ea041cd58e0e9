"""Slider-update latency per workbench (median and p95) and the setup cell's time.

Run: .venv/bin/python benchmarks/bench_workbench.py
Aims (issue 9): a slider change redraws in at most 0.3 s; the setup cell runs in 2 s.
A slider change is what ipywidgets does when the student lets go of a slider: the control's
value changes and the workbench recomputes its numbers and redraws its figure (the PNG the
browser shows included). The baseline, measured in the same run, is rendering one PNG of an
empty matplotlib figure of the same size (the floor of any redraw that sends a picture).
The setup cell runs in a fresh interpreter, as a kernel's first cell does; its baseline is
`import numpy` alone.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from matplotlib.figure import Figure

from comms_core import compression
from comms_core.scenarios import CONVERGENCE_DIM, scenario_for
from commslab.notebook import workbench as wb
from commslab.notebook.hud import topology_hud

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 15


def _latencies(bench, changes) -> list[float]:
    seconds = []
    for i in range(REPEATS):
        name, value = changes[i % len(changes)]
        start = time.perf_counter()
        bench.controls[name].value = value
        seconds.append(time.perf_counter() - start)
    return seconds


def _png_floor() -> list[float]:
    seconds = []
    for _ in range(REPEATS):
        fig = Figure(figsize=(7, 3.4), layout="constrained")
        fig.add_subplot()
        start = time.perf_counter()
        wb._figure_png(fig)
        seconds.append(time.perf_counter() - start)
    return seconds


def _setup_cell_seconds(source: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", source], check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    s = scenario_for("cloud_titan", "2026-fall", "bench")
    part1 = wb.crossover_workbench(
        N=s.N, alpha=s.alpha, beta=s.beta, M=s.M_message, prediction="less", static=False
    )
    m = part1.controls["M"]
    part1_changes = [("M", m.value * 2), ("M", m.value), ("beta", s.beta * 2), ("beta", s.beta)]
    part2 = wb.hierarchical_workbench(
        M=s.M_model, G=s.G, K=s.K, alpha_intra=s.alpha_intra, beta_intra=s.beta_intra,
        alpha_inter=s.alpha_inter, beta_inter=s.beta_inter, t_compute=s.t_compute,
        micro_batch=s.micro_batch, B_noise=s.B_noise, prediction="yes", static=False,
    )  # fmt: skip
    part2_changes = [("beta_inter", s.beta * 2), ("beta_inter", s.beta)]
    part3 = wb.compression_workbench(
        d=int(s.d), dim=CONVERGENCE_DIM, prediction="worse", static=False
    )  # as lab.part3 builds it
    others = [c for c in compression.COMPRESSORS if c not in ("none", "1-bit (scaled sign)")]
    part3_changes = [("error_feedback", True), ("error_feedback", False)] + [
        ("compressor", c)
        for c in others  # each one's training runs for the first time
    ]
    hud = topology_hud(N=s.N, M=s.M_message, alpha=s.alpha, beta=s.beta, static=False)
    hud_changes = [("step", k) for k in range(2, 2 + REPEATS)]  # steps not drawn before
    rows = [("baseline: PNG of an empty figure", _png_floor())]
    rows.append(("Part 1 crossover (M, β sliders)", _latencies(part1, part1_changes)))
    rows.append(("Part 2 hierarchy (β_inter slider)", _latencies(part2, part2_changes)))
    rows.append(("Part 3 compression (EF, compressor)", _latencies(part3, part3_changes)))
    rows.append(("Part 1 topology HUD (step slider)", _latencies(hud, hud_changes)))
    base = statistics.median(rows[0][1])
    print(f"{'slider change':36s} {'median s':>9s} {'p95 s':>7s} {'x baseline':>10s}  aim 0.3 s")
    for name, seconds in rows:
        med = statistics.median(seconds)
        p95 = statistics.quantiles(seconds, n=20)[-1]
        print(f"{name:36s} {med:9.3f} {p95:7.3f} {med / base:10.1f}")

    nb = nbformat.read(ROOT / "release" / "collective_comms" / "collective_comms.ipynb", 4)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    base_s = min(_setup_cell_seconds("import numpy") for _ in range(3))
    cell_s = min(_setup_cell_seconds(setup.source) for _ in range(3))
    print(f"\n{'setup cell (fresh interpreter)':36s} {cell_s:9.2f} s  (import numpy alone "
          f"{base_s:.2f} s, x{cell_s / base_s:.1f})  aim 2 s")  # fmt: skip


if __name__ == "__main__":
    main()
