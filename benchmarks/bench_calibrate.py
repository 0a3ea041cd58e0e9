"""Calibration against reality: this machine's α and β, and published NCCL numbers.

    .venv/bin/python benchmarks/bench_calibrate.py

1. A real 2-rank AllReduce sweep over loopback TCP and over shared memory: the fitted α
   and β, the held-out median error of the piecewise model and, as the baseline measured
   in the same run, of a single α-β line; the wall time.
2. The published nccl-tests data: median and max |relative error| per system of the plain
   α-β ring and of the NCCL-like model, and their ratio.
3. Leave one system out (comms_core.held_out; every system of the dataset is one
   condition): each predicted by models calibrated on the other systems only; geometric
   mean and median |error| per system, pooled over the held-out rows and over systems;
   what was fitted on which systems; each variant of the calibrated model and the one
   chosen inside the loop; then each row from its own system's other rows.
Prints figures only; nothing is asserted (the tests bound the errors).

    .venv/bin/python benchmarks/bench_calibrate.py --published   # 2 and 3 only, no MPI
"""

from __future__ import annotations

import sys
import time

from comms_core.held_out import (
    MODELS,
    VARIANTS,
    leave_one_condition_out,
    leave_one_row_out,
    summarize,
)
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


def _pair(x: float, y: float) -> str:
    return f"{100 * x:>7.1f}% /{100 * y:>6.1f}%"


def held_out() -> None:
    print(
        "\n== leave one system out (each system of the dataset is one condition): every model"
        "\n   calibrated on the other systems only; geometric mean / median |error| per system"
    )
    header = "".join(f"{m:>17}" for m in MODELS)
    print(f"{'held-out condition':>34} {'rows':>4}{header}  calibrated: variant chosen without it")
    scores = leave_one_condition_out()
    for s in scores:
        cells = "".join(f"{_pair(s.geometric_mean(m), s.median(m)):>17}" for m in MODELS)
        counted = s.calibration.variant if s.held_out else "NOT COUNTED"
        print(f"{s.condition.label:>34} {s.rows:>4}{cells}  {counted}")
    summaries = {m: summarize(scores, m) for m in MODELS}
    first = summaries[MODELS[0]]
    rows = f"pooled over {first.rows} held-out rows"
    over = f"over {first.conditions} held-out systems"
    print(
        f"{rows:>39}"
        + "".join(f"{_pair(x.geomean_rows, x.median_rows):>17}" for x in summaries.values())
    )
    print(
        f"{over:>39}"
        + "".join(
            f"{_pair(x.geomean_conditions, x.median_conditions):>17}" for x in summaries.values()
        )
    )
    print(
        f"headline: geometric mean |error| pooled over {first.rows} held-out rows of "
        f"{first.conditions} systems: NCCL-like {100 * summaries['nccl_like'].geomean_rows:.1f}%, "
        f"calibrated {100 * summaries['calibrated'].geomean_rows:.1f}%, "
        f"alpha-beta ring {100 * summaries['alpha_beta'].geomean_rows:.1f}%"
    )
    for s in scores:
        if not s.held_out:
            print(f"not counted: {s.condition.label}: {s.why_not}")

    print("\nwhat was fitted where (the held-out system's rows are in none of these):")
    for s in scores:
        print(f"  {s.condition.label}: {s.calibration.describe()}")

    print("\nthe calibrated model's variant: each fixed for every system, and chosen in the loop")
    print(f"{'variant':>34} {'pooled over rows':>17} {'over systems':>17}")
    fixed = {}
    for variant in VARIANTS:
        fixed[variant] = summarize(leave_one_condition_out(variant=variant), "calibrated")
        x = fixed[variant]
        print(
            f"{variant:>34} {_pair(x.geomean_rows, x.median_rows):>17}"
            f" {_pair(x.geomean_conditions, x.median_conditions):>17}"
        )
    nested = summaries["calibrated"]
    label = "chosen without the held-out system"
    print(
        f"{label:>34} {_pair(nested.geomean_rows, nested.median_rows):>17}"
        f" {_pair(nested.geomean_conditions, nested.median_conditions):>17}"
    )
    best = min(fixed, key=lambda v: fixed[v].geomean_rows)
    print(
        f"choosing the variant on the held-out systems themselves would report {best} "
        f"({100 * fixed[best].geomean_rows:.1f}%): "
        f"{100 * (nested.geomean_rows - fixed[best].geomean_rows):.1f} points of optimism"
    )

    print(
        "\n== within a system: each row predicted from its system's other rows (sizes, not systems)"
    )
    within = leave_one_row_out()
    for s in within:
        cells = "".join(f"{_pair(s.geometric_mean(m), s.median(m)):>17}" for m in MODELS)
        print(f"{s.condition.label:>34} {s.rows:>4}{cells}  {'' if s.held_out else 'NOT COUNTED'}")
    w = {m: summarize(within, m) for m in MODELS}
    label = f"pooled over {w['calibrated'].rows} rows"
    print(
        f"{label:>39}" + "".join(f"{_pair(x.geomean_rows, x.median_rows):>17}" for x in w.values())
    )
    print(
        "\nASTRA-sim: not compared. Its validation (one H100 node, NCCL_ALGO=Ring forced) shares"
        " no condition with the dataset (tests/test_held_out.py compares the Ring model with"
        " nccl#1455's Ring bus bandwidth instead)."
    )


if __name__ == "__main__":
    if "--published" not in sys.argv:
        machine()
    published()
    held_out()
