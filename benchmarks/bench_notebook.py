"""Notebook execution time and peak memory: the released and the solved notebook, headless.

Run: .venv/bin/python benchmarks/bench_notebook.py
Each notebook runs with a real kernel (nbclient), as `commslab release` runs it. The kernel's
peak RSS comes from the kernel process itself (it reports its own ru_maxrss in a last cell).
The baseline, measured in the same run, is an empty notebook (kernel start-up only).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat

from commslab import release as rel
from commslab.course import Course

PEAK = "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"


def run(nb) -> tuple[float, float]:
    nb.cells.append(nbformat.v4.new_code_cell(PEAK))
    start = time.perf_counter()
    out = rel.execute(nb, timeout=600)
    seconds = time.perf_counter() - start
    peak_kib = float(out.cells[-1].outputs[0]["text"].strip())
    return seconds, peak_kib / 1024


def main() -> None:
    term = "2026-fall"
    course = Course.at(Path(__file__).resolve().parents[1])  # the repository's course folder
    rows = [("empty notebook (baseline)", run(nbformat.v4.new_notebook()))]
    released = rel.student_version(rel.render_source(term, course))
    rows.append(("released, untouched", run(released)))
    for track in ("cloud_titan", "edge_guardian", "mobile_nomad", "tiny_pioneer"):
        rows.append((f"solved, {track}", run(rel.solved_notebook(term, "bench", track, course))))
    base_s = rows[0][1][0]
    print(f"{'notebook':32s} {'seconds':>8s} {'x baseline':>10s} {'peak MiB':>9s}")
    for name, (s, mib) in rows:
        print(f"{name:32s} {s:8.2f} {s / base_s:10.1f} {mib:9.0f}")
    print(json.dumps({name: {"seconds": s, "peak_mib": m} for name, (s, m) in rows}))


if __name__ == "__main__":
    main()
