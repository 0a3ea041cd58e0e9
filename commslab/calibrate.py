"""`commslab calibrate`: measure a real AllReduce on this machine and fit α and β.

    commslab calibrate [--ranks 2] [--transport tcp|shm] [--sizes 4B..32MiB]
                       [--repeats R] [--timeout 120] [--json FILE] [--plot FILE]
                       [--hostfile FILE]

Across hosts: `--hostfile FILE` hands MPI's own host file to mpiexec (MPICH: `-f`, lines
`host` or `host:ranks`; Open MPI: `--hostfile`, lines `host slots=N`) and `--ranks` is the
total over all hosts. Every host needs the same Python environment at the same path, and
the command must run from a folder every host sees (its scratch files go there: rank 0
may run on another host). The report names the host of every rank.

What it does
1. Runs MPI_Allreduce (mpi4py, float32, SUM) between N local ranks under mpiexec, for
   message sizes from bytes to tens of MiB (two per octave), with warm-up; the sizes are
   timed in interleaved, shuffled rounds (about 4 s in all) and we keep the MEDIAN of the
   slowest rank's time per call (commslab/mpi/allreduce_timing.py).
2. Fits on every other size and holds the others out. What is fitted: the line
   T(M) = a + b·M, by least squares on relative error (comms_core.fitting.fit_alpha_beta),
   split in two at a knee where one line does not fit (fit_piecewise). Each line is then
   read THROUGH the ring model T = 2(N-1)·α + 2(N-1)/N·M/β, giving the per-step latency
   α = a/(2(N-1)) in seconds and the link bandwidth β = 2(N-1)/(N·b) in bytes/s
   (comms_core.fitting.ring_alpha_beta). MPI picks its own algorithm (MPICH: recursive
   doubling for short messages, Rabenseifner for long ones; Thakur et al. 2005), so these
   are "ring-equivalent" α and β: what the lab's ring model needs to match this machine.
3. Reports the prediction error on the held-out sizes (median and max |relative error|),
   and the ring-vs-tree crossover M* (comms_core.crossover_message_size) for N ranks and,
   with this machine's α and β, for bigger N.

The headline α is the small-message line's and β the large-message line's (with one
regime, the one line's): α is what a tiny message pays, β what a long transfer sustains,
and the crossover M* = α·β·(N-1-L)/(L-(N-1)/N) is computed with them. Predictions of the
held-out sizes use the piecewise model itself, never a line mixed from the two.

Every failure (no mpi4py, no mpiexec, a rank that dies or hangs) ends in one line that
names the problem and its fix, and a non-zero exit code; never a traceback or a hang.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from comms_core import _validate as v
from comms_core.cost_models import (
    crossover_message_size,
    ring_allreduce_time,
    tree_allreduce_time,
)
from comms_core.fitting import (
    PiecewiseFit,
    fit_alpha_beta,
    fit_piecewise,
    relative_error,
    ring_alpha_beta,
)
from comms_core.plots import PALETTE, format_bytes, format_seconds
from commslab.mpi import launch
from commslab.options import output_file_option, timeout_option

__all__ = [
    "CalibrationError",
    "RealityRow",
    "analyse_timings",
    "calibrate",
    "calibrate_this_machine",
    "measure_allreduce",
    "nccl_reality",
    "nccl_reality_markdown",
    "parse_sizes",
    "plot_calibration",
]

WORKER = Path(__file__).parent / "mpi" / "allreduce_timing.py"
DEFAULT_SIZES = "4B..32MiB"  # 46 sizes; about 4 s of timing, 8-10 s in all for 2 ranks
QUICK_SIZES = "4B..8MiB"
SCALE_RANKS = (8, 64, 1024)  # "if this machine's link connected N ranks"
_UNITS = {
    "": 1,
    "b": 1,
    "k": 2**10,
    "kb": 2**10,
    "kib": 2**10,
    "m": 2**20,
    "mb": 2**20,
    "mib": 2**20,
    "g": 2**30,
    "gb": 2**30,
    "gib": 2**30,
}


class CalibrationError(RuntimeError):
    """The measurement could not be made or fitted; the message says why, in one line."""


# --- sizes ---------------------------------------------------------------------------------


def _parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"sizes: cannot read {text!r} (write e.g. 4B, 64KiB, 32MiB)")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def parse_sizes(text: str) -> list[int]:
    """Message sizes in bytes from 'A..B' or from a list 'a,b,c'.

    'A..B' is log-spaced with two sizes per octave (A, √2·A, 2A, ... up to B), each
    rounded to a multiple of 4 bytes: 4B..32MiB gives 45 sizes, so every other size
    still leaves 3 or more sizes per regime to fit. Units are binary (KiB = KB = K =
    1024 bytes). Sizes are float32 buffers, so each must be a multiple of 4 bytes; at
    least 4 sizes (2 to fit, 2 held out).
    """
    if ".." in text:
        lo_text, hi_text = text.split("..", 1)
        lo, hi = _parse_size(lo_text), _parse_size(hi_text)
        if lo < 1 or hi < lo:
            raise ValueError(f"sizes: need 1 <= first <= last in {text!r}")
        steps = int(np.floor(2 * np.log2(hi / lo) + 1e-9))
        grid = lo * 2.0 ** (np.arange(steps + 1) / 2)
        sizes = sorted({max(4, 4 * round(s / 4)) for s in grid})
    else:
        sizes = sorted({_parse_size(part) for part in text.split(",") if part.strip()})
    bad = [s for s in sizes if s < 4 or s % 4]
    if bad:
        raise ValueError(f"sizes: {bad[0]} B is not a positive multiple of 4 bytes (float32)")
    if len(sizes) < 4:
        raise ValueError(f"sizes: need at least 4 sizes (2 to fit, 2 held out), got {sizes}")
    return sizes


# --- measuring -----------------------------------------------------------------------------


def measure_allreduce(
    ranks: int,
    sizes: list[int],
    *,
    transport: str = "tcp",
    repeats: int | None = None,
    budget_s: float = 4.0,
    timeout: float = 120.0,
    worker: Path | None = None,
    hostfile: Path | None = None,
) -> dict:
    """Run the timing worker under mpiexec; return its JSON plus the wall time.

    With a hostfile, the scratch folder is made in the current folder (which every host
    must see). Raises launch.MPIUnavailable (MPI cannot start) or CalibrationError (a rank
    failed, hung or the run timed out), each with a one-line message naming the lost ranks.
    """
    scratch_parent = Path.cwd() if hostfile is not None else None
    with tempfile.TemporaryDirectory(prefix="commslab-calibrate-", dir=scratch_parent) as tmp:
        out = Path(tmp) / "timings.json"
        args = [
            str(worker or WORKER),
            "--sizes",
            ",".join(map(str, sizes)),
            "--repeats",
            str(repeats or 0),
            "--budget",
            str(budget_s),
            "--expected-ranks",
            str(ranks),
            "--out",
            str(out),
        ]
        run = launch.run_mpi(
            args,
            ranks,
            timeout=timeout,
            transport=transport,
            status_dir=Path(tmp) / "status",
            hostfile=hostfile,
        )
        problem = launch.describe_failure(run, what=f"the {ranks}-rank AllReduce timing")
        if problem:
            if run.timed_out:
                hint = "try a larger --timeout or fewer --ranks"
            elif hostfile is not None:
                hint = (
                    f"check that every host of {hostfile} is reachable by ssh without a "
                    "password and has this Python environment at the same path, with "
                    f"`mpiexec -f {hostfile} -n {ranks} hostname` (Open MPI: --hostfile)"
                )
            else:
                hint = (
                    "run it again; if it repeats, try --transport shm, and check MPI with "
                    "`mpiexec -n 2 python -c 'from mpi4py import MPI'`"
                )
            raise CalibrationError(f"{problem}. Fix: {hint}")
        if not out.exists():
            raise CalibrationError("the timing worker finished without writing its results")
        result = json.loads(out.read_text())
    result["wall_time_s"] = run.elapsed_s
    result["transport"] = transport
    result["hostfile"] = str(hostfile) if hostfile is not None else None
    return result


# --- fitting and the report ----------------------------------------------------------------


def _regime_table(fit: PiecewiseFit, N: int) -> list[dict]:
    bounds = [0.0, *fit.knees, float("inf")]
    regimes = []
    for i, line in enumerate(fit.lines):
        alpha, beta = ring_alpha_beta(line, N)
        regimes.append(
            {
                "alpha_s": alpha,
                "beta_bytes_per_s": beta,
                "intercept_s": line.intercept,
                "slope_s_per_byte": line.slope,
                "fitted_on_bytes": [line.M_min, line.M_max],
                "applies_from_bytes": bounds[i],
                "applies_below_bytes": None if np.isinf(bounds[i + 1]) else bounds[i + 1],
            }
        )
    return regimes


def analyse_timings(sizes, medians, N: int) -> dict:
    """Fit on every other size, predict the others, and say how wrong the model is.

    sizes in bytes, medians in seconds (one per size), N ranks >= 2. Pure numpy: no MPI.
    Returns the report dictionary that `--json` writes (minus the raw samples).
    """
    M, T = v.vector("sizes", sizes), v.vector("medians", medians)
    if M.shape != T.shape:
        raise ValueError(f"sizes and medians must match, got {M.shape} and {T.shape}")
    N = v.scalar_count("N", N, minimum=2)
    order = np.argsort(M)
    M, T = M[order], T[order]
    if M.size < 4:
        raise CalibrationError("need at least 4 sizes: 2 to fit, 2 held out")
    role = np.where(np.arange(M.size) % 2 == 0, "fit", "heldout")
    fit_mask = role == "fit"
    try:
        model = fit_piecewise(M[fit_mask], T[fit_mask])
        one_line = fit_alpha_beta(M[fit_mask], T[fit_mask])
    except ValueError as err:
        raise CalibrationError(f"the timings cannot be fitted: {err}") from None
    predicted = np.asarray(model.predict(M), dtype=float)
    errors = np.asarray(relative_error(predicted, T), dtype=float)
    held = np.abs(errors[~fit_mask])
    one_line_held = np.abs(np.asarray(relative_error(one_line.predict(M), T))[~fit_mask])
    regimes = _regime_table(model, N)
    alpha, beta = regimes[0]["alpha_s"], regimes[-1]["beta_bytes_per_s"]
    one_alpha, one_beta = ring_alpha_beta(one_line, N)
    return {
        "ranks": N,
        "model": "T(M) = 2(N-1)·alpha + 2(N-1)/N·M/beta per regime (ring AllReduce); "
        "alpha = per-step latency (s), beta = link bandwidth (bytes/s)",
        "alpha_s": alpha,
        "beta_bytes_per_s": beta,
        "heldout_median_relative_error": float(np.median(held)),
        "heldout_max_relative_error": float(np.max(held)),
        "fit_median_relative_error": float(np.median(np.abs(errors[fit_mask]))),
        "knee_bytes": model.knees[0] if model.knees else None,
        "regimes": regimes,
        "one_line": {
            "alpha_s": one_alpha,
            "beta_bytes_per_s": one_beta,
            "heldout_median_relative_error": float(np.median(one_line_held)),
        },
        "crossover": {
            "ranks": N,
            "M_star_bytes": float(crossover_message_size(N, alpha, beta)),
            "note": "ring vs tree with the headline alpha, beta; below M* the tree is "
            "faster (0 for N <= 3: the ring never loses)",
            "at_scale_bytes": {
                str(n): float(crossover_message_size(n, alpha, beta)) for n in SCALE_RANKS
            },
        },
        "timings": [
            {
                "size_bytes": int(m),
                "median_s": float(t),
                "role": str(r),
                "predicted_s": float(p),
                "relative_error": float(e),
            }
            for m, t, r, p, e in zip(M, T, role, predicted, errors, strict=True)
        ],
    }


def run_calibration(
    ranks: int = 2,
    *,
    transport: str = "tcp",
    sizes: list[int] | None = None,
    repeats: int | None = None,
    budget_s: float = 4.0,
    timeout: float = 120.0,
    worker: Path | None = None,
    hostfile: Path | None = None,
) -> dict:
    """Measure, then analyse: the full report, raw samples included."""
    sizes = sizes or parse_sizes(DEFAULT_SIZES)
    raw = measure_allreduce(
        ranks,
        sizes,
        transport=transport,
        repeats=repeats,
        budget_s=budget_s,
        timeout=timeout,
        worker=worker,
        hostfile=hostfile,
    )
    samples = {t["size_bytes"]: t["samples_s"] for t in raw["timings"]}
    medians = [float(np.median(samples[s])) for s in sizes]
    report = analyse_timings(sizes, medians, ranks)
    for row in report["timings"]:
        row["repeats"] = len(samples[row["size_bytes"]])
        row["samples_s"] = samples[row["size_bytes"]]
    report.update(
        transport=transport,
        mpi_library=raw.get("mpi_library", ""),
        oversubscribed=hostfile is None and ranks > launch.usable_cores(),
        wall_time_s=raw["wall_time_s"],
        hostfile=raw["hostfile"],
        rank_hosts=raw.get("rank_hosts", []),
    )
    return report


def calibrate_this_machine(
    ranks: int = 2, quick: bool = True, transport: str = "tcp", plot: str | None = None
) -> dict:
    """The notebook's "calibrate your own machine": α, β and the crossover, measured here.

    Spawns mpiexec (about 3-5 s for 2 ranks with quick=True: sizes 4 B..8 MiB, 1.5 s of
    timing). Returns the report of `commslab calibrate --json`; the keys a student needs are
    alpha_s, beta_bytes_per_s, heldout_median_relative_error and crossover. Raises
    RuntimeError with a one-line fix where MPI cannot run.
    """
    ranks = v.scalar_count("ranks", ranks, minimum=2)
    sizes = parse_sizes(QUICK_SIZES if quick else DEFAULT_SIZES)
    report = run_calibration(
        ranks, transport=transport, sizes=sizes, budget_s=1.5 if quick else 4.0
    )
    if plot:
        plot_calibration(report, Path(plot))
    return report


# --- the NCCL reality table ----------------------------------------------------------------

REALITY_RANKS = 8  # every row's crossover is read at the same N, so rows compare

# What the best α-β line cannot capture on each published system, from the data and the
# NCCL-like model's comparison (comms_core.measurements, comms_core.held_out).
_MISSES = {
    "dgx_h100_1x8": "NVLS above a few MiB (busbw 480 GB/s, over NVLink's 370) and NCCL's "
    "switch from LL to LL128 to Simple: no single line fits both ends",
    "azure_nd_h100_v5": "a 25-40 µs launch floor (13-20 µs on DGX H100) and NVLS at large sizes",
    "azure_nd_a100_v4": "a ~45 µs launch floor, then NCCL's protocol switches",
    "gcp_a3mega_2x8_h100": "the TCPXO Ethernet fabric's ~123 µs floor, and 2 nodes where NCCL "
    "picks tree or NVLSTree over the ring",
    "h20_2x8_ndr": "NVLSTree (forced) reduces inside the NVSwitches: this α and β are no "
    "wire's; the datasheet ring is off 2-3x",
}


@dataclass(frozen=True)
class RealityRow:
    """One line of the NCCL reality table: a system's ring-equivalent α (s per step) and β
    (bytes/s), the crossover M* (bytes) at REALITY_RANKS ranks with them, the median
    |error| of that best line on its own sizes, and what the line misses there."""

    system: str
    ranks: int
    alpha_s: float
    beta_bytes_per_s: float
    crossover_bytes: float
    line_error: float
    misses: str


def nccl_reality(report: dict | None = None) -> list[RealityRow]:
    """The student's machine (a calibration report, if given) beside the published systems.

    Each published system's α and β are the best ring α-β fit to ITS whole sweep
    (comms_core.held_out.fit_pooled_ring, relative error), so the line error shown is the
    least an α-β model can do there: an in-sweep error, a lower bound on its real error.
    Systems whose sweep does not span both small and large messages are left out.
    """
    from comms_core.held_out import fit_pooled_ring
    from comms_core.measurements import load_nccl_measurements

    rows = []
    if report is not None:
        alpha, beta = report["alpha_s"], report["beta_bytes_per_s"]
        misses = "MPI picks its own algorithms (not a ring); "
        misses += (
            f"a knee at {format_bytes(report['knee_bytes'])}"
            if report.get("knee_bytes")
            else "one line fits"
        )
        rows.append(
            RealityRow(
                system="your machine",
                ranks=int(report["crossover"]["ranks"]),
                alpha_s=alpha,
                beta_bytes_per_s=beta,
                crossover_bytes=float(crossover_message_size(REALITY_RANKS, alpha, beta)),
                line_error=float(report["heldout_median_relative_error"]),
                misses=misses,
            )
        )
    measured = load_nccl_measurements()
    for system, misses in _MISSES.items():
        mine = [r for r in measured if r.system == system]
        alpha, beta = fit_pooled_ring(mine)
        predicted = np.array(
            [float(ring_allreduce_time(r.size_bytes, r.gpus, alpha, beta)) for r in mine]
        )
        times = np.array([r.time_s for r in mine])
        rows.append(
            RealityRow(
                system=system,
                ranks=mine[0].gpus,
                alpha_s=alpha,
                beta_bytes_per_s=beta,
                crossover_bytes=float(crossover_message_size(REALITY_RANKS, alpha, beta)),
                line_error=float(np.median(np.abs(predicted - times) / times)),
                misses=misses,
            )
        )
    return rows


def nccl_reality_markdown(rows: list[RealityRow]) -> str:
    """The table as Markdown, for the notebook."""
    lines = [
        f"| system | ranks | α per step | β | M* at N={REALITY_RANKS} | α-β error "
        "| what the α-β model misses there |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.system} | {r.ranks} | {format_seconds(r.alpha_s)} | "
            f"{format_bytes(r.beta_bytes_per_s)}/s | {format_bytes(r.crossover_bytes)} | "
            f"{r.line_error:.0%} | {r.misses} |"
        )
    lines.append(
        "\nα-β error: yours on sizes your fit did not see; a published system's is the best "
        "α-β line on its own sweep (median |error|), the least an α-β model can do there."
    )
    return "\n".join(lines)


# --- the figure ----------------------------------------------------------------------------


def plot_calibration(report: dict, path: Path | None = None):
    """Measured medians vs the fitted model on log-log axes, with the crossover.

    Filled circles: sizes the model was fitted on; open squares: held-out sizes. Solid:
    the fitted ring model (per regime); dotted: the tree model with the same α, β.
    Returns the matplotlib Figure (saved to path if given).
    """
    from matplotlib.figure import Figure

    N = report["ranks"]
    rows = report["timings"]
    M = np.array([r["size_bytes"] for r in rows], dtype=float)
    T = np.array([r["median_s"] for r in rows])
    fit = np.array([r["role"] == "fit" for r in rows])
    grid = np.geomspace(M.min(), M.max(), 300)
    ring, tree = np.empty_like(grid), np.empty_like(grid)
    for regime in report["regimes"]:
        upper = regime["applies_below_bytes"] or np.inf
        sel = (grid >= regime["applies_from_bytes"]) & (grid < upper)
        a, b = regime["alpha_s"], regime["beta_bytes_per_s"]
        ring[sel] = ring_allreduce_time(grid[sel], N, a, b)
        tree[sel] = tree_allreduce_time(grid[sel], N, a, b)

    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.add_subplot()
    ax.loglog(M[fit], T[fit], "o", color=PALETTE["ring"], label="measured (fitted on)")
    ax.loglog(
        M[~fit], T[~fit], "s", mfc="none", color=PALETTE["orange"], label="measured (held out)"
    )
    ax.loglog(grid, ring, "-", color=PALETTE["ring"], label="ring model, fitted α, β")
    ax.loglog(grid, tree, ":", color=PALETTE["tree"], label="tree model, same α, β")
    if report["knee_bytes"]:
        ax.axvline(
            report["knee_bytes"],
            color=PALETTE["grey"],
            lw=0.8,
            ls="--",
            label="knee (the model switches lines)",
        )
    M_star = report["crossover"]["M_star_bytes"]
    if M_star > M.min():
        ax.axvline(M_star, color=PALETTE["tree"], lw=1.0, label="crossover M*")
    at64 = report["crossover"]["at_scale_bytes"]["64"]
    ax.set_xlabel("message size M (bytes)")
    ax.set_ylabel("AllReduce time (s)")
    ax.set_title(
        f"{N} ranks, {report.get('transport', '?')}: α = {format_seconds(report['alpha_s'])}, "
        f"β = {format_bytes(report['beta_bytes_per_s'])}/s, held-out error "
        f"{100 * report['heldout_median_relative_error']:.0f}%",
        fontsize=10,
    )
    ax.text(
        0.02,
        0.97,
        f"M* (N={N}) = {format_bytes(M_star)}; with this machine's α, β "
        f"at N=64: M* = {format_bytes(at64)}",
        transform=ax.transAxes,
        va="top",
        fontsize=8,
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


# --- the command ---------------------------------------------------------------------------


def _summary_lines(report: dict) -> list[str]:
    lines = [f"{'size':>10} {'median':>10} {'model':>10} {'error':>7}  role"]
    for row in report["timings"]:
        lines.append(
            f"{format_bytes(row['size_bytes']):>10} {format_seconds(row['median_s']):>10} "
            f"{format_seconds(row['predicted_s']):>10} {100 * row['relative_error']:>6.1f}%  "
            f"{row['role']}"
        )
    for i, regime in enumerate(report["regimes"]):
        lo, hi = regime["fitted_on_bytes"]
        lines.append(
            f"regime {i + 1} ({format_bytes(lo)}..{format_bytes(hi)}): "
            f"α = {format_seconds(regime['alpha_s'])} per step, "
            f"β = {format_bytes(regime['beta_bytes_per_s'])}/s"
        )
    if report["knee_bytes"]:
        lines.append(f"knee at {format_bytes(report['knee_bytes'])}")
    one = report["one_line"]
    lines.append(
        f"one line over all sizes: held-out median error "
        f"{100 * one['heldout_median_relative_error']:.1f}%"
    )
    lines.append(
        f"held-out median |relative error| = {100 * report['heldout_median_relative_error']:.1f}%"
        f" (max {100 * report['heldout_max_relative_error']:.1f}%)"
    )
    cross = report["crossover"]
    scale = ", ".join(f"N={n}: {format_bytes(m)}" for n, m in cross["at_scale_bytes"].items())
    lines.append(
        f"ring/tree crossover M* for N={cross['ranks']}: "
        f"{format_bytes(cross['M_star_bytes'])}; with this machine's α, β: {scale}"
    )
    hosts = report.get("rank_hosts") or []
    if hosts:
        per_host = ", ".join(f"{h} ({hosts.count(h)})" for h in dict.fromkeys(hosts))
        where = f"host file {report['hostfile']}" if report.get("hostfile") else "this machine"
        lines.append(f"ranks per host: {per_host}; placed by {where}")
    lines.append(f"wall time {report['wall_time_s']:.1f} s ({report['mpi_library']})")
    return lines


@click.command()
@click.option(
    "--ranks",
    type=click.IntRange(2, 256),
    default=2,
    show_default=True,
    help="Number of local MPI ranks.",
)
@click.option(
    "--transport",
    type=click.Choice(launch.TRANSPORTS),
    default="tcp",
    show_default=True,
    help="Loopback TCP (a network) or shared memory.",
)
@click.option(
    "--sizes",
    default=DEFAULT_SIZES,
    show_default=True,
    help="'A..B' (log-spaced, two per octave) or a list 'a,b,c'; units B, KiB, MiB.",
)
@click.option(
    "--repeats",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Timed calls per size (default: adaptive, about 4 s of timing).",
)
@timeout_option("Seconds before the MPI run is stopped.")
@output_file_option("--json", "json_path", "Write the fit, the errors and the raw timings here.")
@output_file_option("--plot", "plot_path", "Draw measured vs model (PNG, SVG or PDF).")
@click.option(
    "--hostfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="MPI's own host file (MPICH: 'host:ranks' lines; Open MPI: 'host slots=N'): run "
    "the ranks across those hosts. --ranks is then the total; run from a folder every "
    "host sees.",
)
def calibrate(ranks, transport, sizes, repeats, timeout, json_path, plot_path, hostfile) -> None:
    """Measure a real AllReduce (here, or across hosts) and fit the α-β model to it."""
    try:
        size_list = parse_sizes(sizes)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--sizes") from None
    if hostfile is not None:
        try:
            launch.hostfile_hosts(hostfile)
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise click.BadParameter(str(err), param_hint="--hostfile") from None
    warning = None if hostfile else launch.cores_warning(ranks, launch.usable_cores())
    if warning:
        click.echo(warning + " Running anyway (oversubscribed).", err=True)
    started = time.perf_counter()
    try:
        report = run_calibration(
            ranks,
            transport=transport,
            sizes=size_list,
            repeats=repeats,
            timeout=timeout,
            hostfile=hostfile,
        )
    except (launch.MPIUnavailable, CalibrationError) as err:
        raise click.ClickException(str(err)) from None
    report["total_time_s"] = time.perf_counter() - started
    for line in _summary_lines(report):
        click.echo(line)
    if json_path:
        json_path.write_text(json.dumps(report, indent=1))
        click.echo(f"wrote {json_path}")
    if plot_path:
        plot_calibration(report, plot_path)
        click.echo(f"wrote {plot_path}")
