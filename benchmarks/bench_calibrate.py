"""Calibration against reality: this machine's α and β, and published NCCL numbers.

    .venv/bin/python benchmarks/bench_calibrate.py

1. A real 2-rank AllReduce sweep over loopback TCP and over shared memory: the fitted α
   and β, the held-out median error of the piecewise model and, as the baseline measured
   in the same run, of a single α-β line; the wall time.
2. The published nccl-tests data: median and max |relative error| per system of the plain
   α-β ring and of the NCCL-like model, and their ratio.
Prints figures only; nothing is asserted (the tests bound the errors).
"""

from __future__ import annotations

import time

from comms_core.measurements import compare_model_to_measurements, error_summary
from commslab.calibrate import CalibrationError, run_calibration
from commslab.mpi.launch import MPIUnavailable


def machine() -> None:
    print("== this machine: 2 ranks, MPI_Allreduce float32 SUM, default sweep 4 B..32 MiB")
    print(
        f"{'transport':>9} {'alpha/step':>11} {'beta':>11} {'knee':>9} "
        f"{'held-out err':>12} {'one line':>9} {'ratio':>6} {'wall':>6}"
    )
    for transport in ("tcp", "shm"):
        start = time.perf_counter()
        try:
            r = run_calibration(2, transport=transport)
        except (MPIUnavailable, CalibrationError) as err:
            print(f"{transport:>9} skipped: {err}")
            continue
        wall = time.perf_counter() - start
        piecewise = r["heldout_median_relative_error"]
        one_line = r["one_line"]["heldout_median_relative_error"]
        knee = f"{r['knee_bytes']:.0f} B" if r["knee_bytes"] else "none"
        alpha_us, beta_gbs = r["alpha_s"] * 1e6, r["beta_bytes_per_s"] / 1e9
        print(
            f"{transport:>9} {alpha_us:>8.2f} µs {beta_gbs:>6.3f} GB/s {knee:>9} "
            f"{100 * piecewise:>11.1f}% {100 * one_line:>8.1f}% "
            f"{piecewise / one_line:>6.2f} {wall:>5.1f}s"
        )


def published() -> None:
    print("\n== published nccl-tests AllReduce: |model - measured| / measured")
    print(
        f"{'system':>20} {'rows':>4} {'alpha-beta med/max':>19} {'NCCL-like med/max':>18} "
        f"{'ratio of medians':>16}"
    )
    for system, models in error_summary(compare_model_to_measurements()).items():
        ab, nccl = models["alpha_beta"]["all"], models["nccl_like"]["all"]
        print(
            f"{system:>20} {ab['n']:>4} {100 * ab['median']:>8.0f}% / {100 * ab['max']:>4.0f}%"
            f" {100 * nccl['median']:>8.0f}% / {100 * nccl['max']:>4.0f}%"
            f" {nccl['median'] / ab['median']:>16.2f}"
        )


if __name__ == "__main__":
    machine()
    published()
