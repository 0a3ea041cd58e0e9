"""Benchmark the core: the cost models against inline numpy, the simulators' time and memory.

Run:  .venv/bin/python benchmarks/bench_core.py [--quick]

(a) A 1e6-point (M, N) sweep through ring_allreduce_time, tree_allreduce_time and
    crossover_message_size, against the same formulas written inline in numpy, measured
    in the same run. The ratio is the price of input validation and broadcasting (aim:
    below 2x). "grid" passes an (n, 1) and a (1, n) array (the usual plot sweep); "flat"
    passes two 1e6-element arrays (the worst case for validation).
(b) The ring and tree simulators on N ranks x d float32 values (d = 1e6 per rank), each
    run in a fresh subprocess: wall time, the peak-RSS increase during the run
    (resource.getrusage ru_maxrss) and its ratio to the input size, and the time of one
    plain copy of the input in the same process (the floor: the result is one new array).
--quick uses small sizes, so a test can smoke-run it in a few seconds (its ratios then
measure per-call overhead, not throughput). On a shared machine read CPU s, not wall s.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from comms_core.cost_models import (
    crossover_message_size,
    ring_allreduce_time,
    tree_allreduce_time,
)
from comms_core.simulator import simulate_ring_allreduce, simulate_tree_allreduce

ALPHA, BETA = 5e-6, 25e9  # s, bytes/s: an illustrative link (assumption, not a datasheet)


def best_time(f, repeat: int) -> tuple[float, object]:
    """The fastest of `repeat` runs, seconds (and the last result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def best_times(f, g, repeat: int) -> tuple[float, float, object, object]:
    """Like best_time for two functions, run in turns so that both see the same noise."""
    t_f = t_g = float("inf")
    for _ in range(repeat):
        t, out_f = best_time(f, 1)
        t_f = min(t_f, t)
        t, out_g = best_time(g, 1)
        t_g = min(t_g, t)
    return t_f, t_g, out_f, out_g


# -------------------------------------------------------------------- inline formulas


def ring_inline(M, N, alpha, beta):
    return 2 * (N - 1) * alpha + 2 * (N - 1) / N * M / beta


def tree_inline(M, N, alpha, beta):
    return 2 * np.ceil(np.log2(N)) * (alpha + M / beta)


def crossover_inline(N, alpha, beta):
    L = np.ceil(np.log2(N))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(N - 1 - L > 0, alpha * beta * (N - 1 - L) / (L - (N - 1) / N), 0.0)


def sweep(n: int, repeat: int) -> None:
    """(a): n x n points per function, library vs inline numpy."""
    M_col = np.geomspace(1.0, 1e10, n)[:, None]
    N_row = np.arange(1, n + 1, dtype=np.float64)[None, :]
    a_row = np.geomspace(1e-7, 1e-4, n)[None, :]
    N_col = N_row.T
    M_flat, N_flat = (np.ascontiguousarray(x) for x in np.broadcast_arrays(M_col, N_row))
    a_flat, N_flat2 = (np.ascontiguousarray(x) for x in np.broadcast_arrays(a_row, N_col))
    cases = [
        ("ring_allreduce_time", "grid", ring_allreduce_time, ring_inline, (M_col, N_row)),
        ("ring_allreduce_time", "flat", ring_allreduce_time, ring_inline, (M_flat, N_flat)),
        ("tree_allreduce_time", "grid", tree_allreduce_time, tree_inline, (M_col, N_row)),
        ("tree_allreduce_time", "flat", tree_allreduce_time, tree_inline, (M_flat, N_flat)),
    ]
    print(f"(a) cost models on {n * n:,} (M, N) points, best of {repeat}")
    print(
        f"{'function':<24}{'input':<6}{'library ms':>12}{'inline ms':>11}{'ratio':>8}"
        f"{'max rel diff':>14}"
    )

    def row(name, shape, t_lib, t_inl, lib, inl):
        diff = np.max(np.abs(lib - inl) / np.maximum(np.abs(inl), 1e-300))
        print(
            f"{name:<24}{shape:<6}{t_lib * 1e3:>12.2f}{t_inl * 1e3:>11.2f}"
            f"{t_lib / t_inl:>8.2f}{diff:>14.1e}"
        )

    for name, shape, lib_f, inline_f, (M, N) in cases:
        t_lib, t_inl, lib, inl = best_times(
            lambda: lib_f(M, N, ALPHA, BETA),  # noqa: B023
            lambda: inline_f(M, N, ALPHA, BETA),  # noqa: B023
            repeat,
        )
        row(name, shape, t_lib, t_inl, lib, inl)
    for shape, (N, a) in (("grid", (N_col, a_row)), ("flat", (N_flat2, a_flat))):
        t_lib, t_inl, lib, inl = best_times(
            lambda: crossover_message_size(N, a, BETA),  # noqa: B023
            lambda: crossover_inline(N, a, BETA),  # noqa: B023
            repeat,
        )
        row("crossover_message_size", shape, t_lib, t_inl, lib, inl)


# -------------------------------------------------------------------- simulators


def _status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (Linux), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # the kernel reports kB
    raise OSError(f"{field} not in /proc/self/status")


def peak_extra_memory(f) -> tuple[object, float, float, int]:
    """Run f(): (its result, wall s, CPU s, the peak resident-memory increase in bytes).

    Linux: reset the high-water mark (echo 5 > /proc/self/clear_refs), then VmHWM - VmRSS.
    Elsewhere: the ru_maxrss increase (a lower bound if an earlier peak was higher).
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        before, peak = _status_bytes("VmRSS"), lambda: _status_bytes("VmHWM")
    except OSError:
        kib = 1024 if sys.platform != "darwin" else 1  # ru_maxrss: KiB on Linux, B on macOS
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib  # noqa: E731
    t0, c0 = time.perf_counter(), time.process_time()
    out = f()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return out, wall, cpu, peak() - before


def child(algorithm: str, N: int, d: int) -> None:
    """Runs in a fresh process: one simulation, its time and its peak-memory increase."""
    simulate = {"ring": simulate_ring_allreduce, "tree": simulate_tree_allreduce}[algorithm]
    buffers = np.random.default_rng(0).random((N, d), dtype=np.float32)
    trace, wall, cpu, extra = peak_extra_memory(lambda: simulate(buffers))
    cols = min(d, 1000)
    exact = buffers[:, :cols].sum(axis=0, dtype=np.float64)
    error = float(np.max(np.abs(trace.result[:, :cols] - exact)) / np.max(np.abs(exact)))
    steps = trace.steps
    del trace
    copy_seconds, _ = best_time(lambda: np.array(buffers, copy=True), 1)
    figures = {
        "wall": wall,
        "cpu": cpu,
        "extra_bytes": extra,
        "input_bytes": buffers.nbytes,
        "copy_seconds": copy_seconds,
        "steps": steps,
        "rel_error": error,
    }
    print(json.dumps(figures))


def simulators(ranks: tuple[int, ...], d: int) -> None:
    """(b): each (algorithm, N) in its own subprocess, so the peak memory is its own."""
    print(f"\n(b) simulators, d = {d:,} float32 values per rank, one fresh process per row")
    print(
        f"{'algorithm':<10}{'N':>6}{'input MB':>10}{'steps':>7}{'wall s':>9}{'CPU s':>8}"
        f"{'1 copy s':>10}{'wall/copy':>11}{'peak extra MB':>15}{'extra/input':>13}"
        f"{'rel err':>10}"
    )
    for N in ranks:
        for algorithm in ("ring", "tree"):
            cmd = [sys.executable, __file__, "--child", algorithm, str(N), str(d)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"{algorithm:<10}{N:>6}{r['input_bytes'] / 1e6:>10.1f}{r['steps']:>7}"
                f"{r['wall']:>9.2f}{r['cpu']:>8.2f}{r['copy_seconds']:>10.2f}"
                f"{r['wall'] / r['copy_seconds']:>11.1f}{r['extra_bytes'] / 1e6:>15.1f}"
                f"{r['extra_bytes'] / r['input_bytes']:>13.2f}{r['rel_error']:>10.1e}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--child", nargs=3, metavar=("ALGORITHM", "N", "D"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        algorithm, N, d = args.child
        child(algorithm, int(N), int(d))
        return
    if args.quick:
        sweep(n=100, repeat=3)
        simulators(ranks=(4, 16), d=10_000)
    else:
        sweep(n=1000, repeat=7)
        simulators(ranks=(8, 64, 256, 1024), d=1_000_000)


if __name__ == "__main__":
    main()
