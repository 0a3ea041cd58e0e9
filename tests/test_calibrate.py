"""`commslab calibrate`: sizes, the analysis on synthetic timings, clear failures, and a
real 2-rank MPI calibration (slow, mpi)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from mpi_support import needs_mpi

from comms_core.cost_models import crossover_message_size, ring_allreduce_time
from commslab import calibrate as cal
from commslab.cli import main
from commslab.mpi import launch

DATA = Path(__file__).parent / "data"


def _run(args, **kwargs):
    return CliRunner().invoke(main, ["calibrate", *args], **kwargs)


def _assert_clean_failure(result, *needles):
    """Exit code != 0, a one-line message, no traceback."""
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, result.output


# --- sizes ---------------------------------------------------------------------------------


def test_default_sizes_span_bytes_to_tens_of_mib_two_per_octave():
    sizes = cal.parse_sizes(cal.DEFAULT_SIZES)
    assert sizes[0] == 4 and sizes[-1] == 32 * 2**20
    assert all(s % 4 == 0 for s in sizes)
    ratios = [b / a for a, b in itertools.pairwise(sizes)]
    assert all(1.3 < r < 1.5 for r in ratios[10:]), "√2 steps once rounding is negligible"
    assert 2**20 in sizes and 2**21 in sizes, "every power of two is on the grid"


def test_size_lists_and_units():
    assert cal.parse_sizes("4,1KiB,64k,1M") == [4, 1024, 65536, 2**20]
    assert cal.parse_sizes("1KiB..4KiB") == [1024, 1448, 2048, 2896, 4096]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("3,8,16,32", "multiple of 4"),
        ("4,8,16", "at least 4"),
        ("4,8,x,16", "cannot read"),
        ("64..4", "first <= last"),
        ("4 parsecs..8", "cannot read"),
    ],
)
def test_bad_sizes_are_refused(text, why):
    with pytest.raises(ValueError, match=why):
        cal.parse_sizes(text)


def test_bad_sizes_on_the_command_line_exit_2_without_a_traceback():
    result = _run(["--sizes", "3,5,7,9"])
    assert result.exit_code == 2 and "multiple of 4" in result.output


# --- the analysis, on timings whose answer we know -----------------------------------------


def test_analysis_recovers_alpha_beta_from_ring_model_timings():
    sizes = cal.parse_sizes(cal.DEFAULT_SIZES)
    alpha, beta = 12e-6, 2.5e9
    T = ring_allreduce_time(np.array(sizes, float), 2, alpha, beta)
    report = cal.analyse_timings(sizes, T, 2)
    n_fit = (len(sizes) + 1) // 2
    assert report["alpha_s"] == pytest.approx(alpha, rel=1e-6)
    assert report["beta_bytes_per_s"] == pytest.approx(beta, rel=1e-6)
    assert report["heldout_median_relative_error"] < 1e-9
    assert report["knee_bytes"] is None and len(report["regimes"]) == 1
    assert report["crossover"]["M_star_bytes"] == 0.0, "N = 2: the ring never loses"
    for n in cal.SCALE_RANKS:
        expected = crossover_message_size(n, alpha, beta)
        assert report["crossover"]["at_scale_bytes"][str(n)] == pytest.approx(expected)
    roles = [row["role"] for row in report["timings"]]
    assert roles[::2] == ["fit"] * n_fit and roles[1::2] == ["heldout"] * (len(sizes) - n_fit)


def test_analysis_reports_both_regimes_of_a_knee():
    sizes = cal.parse_sizes(cal.DEFAULT_SIZES)
    M = np.array(sizes, float)
    T = np.where(
        M < 2**21, ring_allreduce_time(M, 2, 5e-6, 8e9), ring_allreduce_time(M, 2, 40e-6, 1.5e9)
    )
    report = cal.analyse_timings(sizes, T, 2)
    assert len(report["regimes"]) == 2
    assert 2**19 <= report["knee_bytes"] <= 2**22
    low, high = report["regimes"]
    assert (low["alpha_s"], low["beta_bytes_per_s"]) == pytest.approx((5e-6, 8e9), rel=1e-6)
    assert high["beta_bytes_per_s"] == pytest.approx(1.5e9, rel=1e-6)
    # The headline: α from the small-message line, β from the large-message line, and
    # the crossover computed with them.
    assert report["alpha_s"] == low["alpha_s"]
    assert report["beta_bytes_per_s"] == high["beta_bytes_per_s"]
    assert report["crossover"]["at_scale_bytes"]["64"] == pytest.approx(
        crossover_message_size(64, low["alpha_s"], high["beta_bytes_per_s"])
    )
    one = report["one_line"]["heldout_median_relative_error"]
    assert report["heldout_median_relative_error"] < one, "two lines beat one here"


@pytest.mark.parametrize(
    ("sizes", "medians", "N", "name"),
    [
        ([4, 8, 16, 32], [1e-5, 1e-5, np.nan, 2e-5], 2, "medians"),
        ([4, 8, 16, 32], [1e-5, 1e-5, 2e-5], 2, "match"),
        ([4, 8, 16, 32], [1e-5, 1.1e-5, 1.2e-5, 1.4e-5], 1, "N"),
    ],
)
def test_analysis_bad_input(sizes, medians, N, name):
    with pytest.raises(ValueError, match=name):
        cal.analyse_timings(sizes, medians, N)


def test_timings_that_cannot_be_fitted_say_so():
    with pytest.raises(cal.CalibrationError, match="cannot be fitted"):
        cal.analyse_timings([4, 8, 16, 32], [4e-5, 3e-5, 2e-5, 1e-5], 2)


def test_calibrating_needs_two_ranks():
    with pytest.raises(ValueError, match="ranks"):
        cal.calibrate_this_machine(ranks=1)


def test_plot_is_drawn(tmp_path):
    sizes = cal.parse_sizes("4B..1MiB")
    T = ring_allreduce_time(np.array(sizes, float), 4, 5e-6, 1e9)
    report = cal.analyse_timings(sizes, T, 4)
    report["transport"] = "tcp"
    cal.plot_calibration(report, tmp_path / "cal.png")
    assert (tmp_path / "cal.png").stat().st_size > 10_000


# --- failures: one line, exit code != 0, no hang -------------------------------------------


def test_missing_mpi4py_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # makes `import mpi4py` fail
    _assert_clean_failure(_run(["--sizes", "4,8,16,32"]), "pip install 'comms-lab[mpi]'")


def test_missing_mpiexec_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(launch, "_interpreter_bin_dir", lambda: tmp_path)
    _assert_clean_failure(
        _run(["--sizes", "4,8,16,32"]), "mpiexec was not found", "pip install 'comms-lab[mpi]'"
    )


def test_more_ranks_than_cores_is_a_warning_with_a_fix():
    assert launch.cores_warning(2, 2) is None
    message = launch.cores_warning(4, 2)
    assert "oversubscribed" in message and "--ranks 2" in message


@needs_mpi
@pytest.mark.slow
@pytest.mark.mpi
def test_a_rank_that_dies_is_named_and_the_command_returns(monkeypatch):
    monkeypatch.setattr(cal, "WORKER", DATA / "calibrate_worker_dies.py")
    start = time.perf_counter()
    result = _run(["--sizes", "4,8,16,32", "--timeout", "30"])
    elapsed = time.perf_counter() - start
    _assert_clean_failure(result, "lost rank(s)", "1 (last seen: started)")
    assert elapsed < 30


@needs_mpi
@pytest.mark.slow
@pytest.mark.mpi
def test_a_rank_that_hangs_is_stopped_at_the_timeout(monkeypatch):
    monkeypatch.setattr(cal, "WORKER", DATA / "calibrate_worker_hangs.py")
    start = time.perf_counter()
    result = _run(["--sizes", "4,8,16,32", "--timeout", "4"])
    elapsed = time.perf_counter() - start
    _assert_clean_failure(result, "did not finish within", "1 (last seen: sleeping)")
    assert elapsed < 4 + 10, "the timeout, plus at most the kill grace periods"


# --- across hosts: MPI's own host file -----------------------------------------------------


def test_the_host_file_goes_to_mpiexec_with_its_own_option(tmp_path):
    """MPICH's Hydra takes `-f FILE` (wiki.mpich.org, Using the Hydra Process Manager:
    `mpiexec -f hosts -n 4 ./app`); Open MPI takes `--hostfile FILE` (mpirun(1) 4.1)."""
    hosts = tmp_path / "hosts"
    assert launch.hostfile_arguments("mpich", hosts) == ["-f", str(hosts)]
    assert launch.hostfile_arguments("openmpi", hosts) == ["--hostfile", str(hosts)]
    # Across hosts, Open MPI's TCP may not be held to loopback.
    local, _ = launch.transport_settings("openmpi", "tcp", False)
    across, _ = launch.transport_settings("openmpi", "tcp", False, across_hosts=True)
    assert "lo" in local and "lo" not in across and "tcp,self" in across


def test_host_file_hosts_in_both_formats(tmp_path):
    """Lines as the two MPIs document them: Hydra `donner:2`, Open MPI `node1 slots=4`."""
    hosts = tmp_path / "hosts"
    hosts.write_text("# our cluster\ndonner:2\nfoo\n\nnode1 slots=4  # rack 3\n")
    assert launch.hostfile_hosts(hosts) == ["donner", "foo", "node1"]


@pytest.mark.parametrize(
    ("content", "why"), [("# none\n\n", "names no host"), (None, "does not exist")]
)
def test_a_bad_host_file_is_refused_before_mpi_starts(tmp_path, content, why):
    hosts = tmp_path / "hosts"
    if content is not None:
        hosts.write_text(content)
    result = _run(["--hostfile", str(hosts)])
    assert result.exit_code == 2 and why in result.output and "Traceback" not in result.output


def _commslab(*args, cwd):
    """The console script, as the README writes it, from another folder."""
    script = Path(sys.executable).parent / "commslab"
    return subprocess.run(
        [str(script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@needs_mpi
@pytest.mark.slow
@pytest.mark.mpi
def test_calibrate_across_the_hosts_of_a_host_file_on_loopback(tmp_path):
    """Two host entries, both this machine over loopback (127.0.0.1 and localhost): mpiexec
    places one rank per entry (Hydra's `host:ranks`), the report names each rank's host,
    and the scratch folder made in the working folder is gone afterwards."""
    (tmp_path / "hosts").write_text("127.0.0.1:1\nlocalhost:1\n")
    done = _commslab(
        "calibrate",
        "--hostfile",
        "hosts",
        "--ranks",
        "2",
        "--sizes",
        "4B..1MiB",
        "--repeats",
        "5",
        "--json",
        "cal.json",
        "--timeout",
        "60",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "cal.json").read_text())
    assert report["hostfile"] == "hosts"
    assert len(report["rank_hosts"]) == 2
    assert report["alpha_s"] >= 0 and report["beta_bytes_per_s"] > 0
    assert "placed by host file hosts" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cal.json", "hosts"]


@needs_mpi
@pytest.mark.slow
@pytest.mark.mpi
def test_an_unreachable_host_fails_in_one_line_naming_the_host_file(tmp_path):
    """A host that does not resolve (.invalid, RFC 2606): the host file really reached
    mpiexec, and the fix names it."""
    (tmp_path / "hosts").write_text("no-such-host.invalid:2\n")
    done = _commslab(
        "calibrate",
        "--hostfile",
        "hosts",
        "--sizes",
        "4,8,16,32",
        "--timeout",
        "30",
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "every host of hosts is reachable" in done.stderr


# --- the real thing ------------------------------------------------------------------------

# Measured on this project's 2-core machines, default sweep (46 sizes, loopback TCP),
# while other jobs ran: held-out median error 7-29% over 10 runs at load ~2.5, up to 35%
# at load 4-5 (a busy CI), 52% once with the suite and four other engineers' test runs
# sharing the 2 cores. 100% leaves margin for a loaded runner yet fails a broken fit,
# a unit slip (a factor 1e3 or 1e6, bytes for bits) or a worker timing the wrong thing.
# How fast the sweep runs is a benchmark's business (benchmarks/bench_calibrate.py); the
# command's own --timeout bounds it here.
HELDOUT_BOUND = 1.0


@needs_mpi
@pytest.mark.slow
@pytest.mark.mpi
def test_two_rank_calibration_predicts_held_out_sizes(
    tmp_path,
):
    start = time.perf_counter()
    result = _run(
        [
            "--ranks",
            "2",
            "--json",
            str(tmp_path / "cal.json"),
            "--plot",
            str(tmp_path / "cal.png"),
            "--timeout",
            "55",
        ]
    )
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "cal.json").read_text())
    error = report["heldout_median_relative_error"]
    print(
        f"\n2-rank calibration: alpha = {report['alpha_s'] * 1e6:.2f} us/step, "
        f"beta = {report['beta_bytes_per_s'] / 1e9:.3f} GB/s, held-out median error "
        f"{100 * error:.1f}%, {len(report['regimes'])} regime(s), {elapsed:.1f} s"
    )
    assert "held-out median |relative error|" in result.output
    assert report["alpha_s"] > 0 and report["beta_bytes_per_s"] > 0
    assert len(report["timings"]) == len(cal.parse_sizes(cal.DEFAULT_SIZES))
    assert all(len(row["samples_s"]) >= 5 for row in report["timings"])
    assert error < HELDOUT_BOUND


@needs_mpi
@pytest.mark.slow
@pytest.mark.mpi
def test_the_notebook_can_calibrate_this_machine(tmp_path):
    start = time.perf_counter()
    report = cal.calibrate_this_machine(ranks=2, quick=True, plot=str(tmp_path / "me.png"))
    assert time.perf_counter() - start < 30
    assert report["alpha_s"] > 0 and report["beta_bytes_per_s"] > 0
    assert report["crossover"]["M_star_bytes"] == 0.0, "2 ranks: the ring never loses"
    assert report["crossover"]["at_scale_bytes"]["64"] == pytest.approx(
        crossover_message_size(64, report["alpha_s"], report["beta_bytes_per_s"])
    )
    assert (tmp_path / "me.png").exists()


# --- the NCCL reality table ----------------------------------------------------------------


def _report(alpha=20e-6, beta=2e9):
    return {
        "alpha_s": alpha,
        "beta_bytes_per_s": beta,
        "knee_bytes": None,
        "crossover": {"ranks": 2},
        "heldout_median_relative_error": 0.12,
    }


def test_nccl_reality_puts_your_machine_beside_the_published_systems():
    rows = cal.nccl_reality(_report())
    mine, published = rows[0], rows[1:]
    assert mine.system == "your machine" and mine.alpha_s == 20e-6 and mine.line_error == 0.12
    # M* = α·β·(N-1-L)/(L-(N-1)/N) at N = 8, L = 3, by hand: 20e-6·2e9·4/(3-7/8)
    assert mine.crossover_bytes == pytest.approx(20e-6 * 2e9 * 4 / (3 - 7 / 8))
    assert len(published) >= 5 and all(r.misses for r in published)
    for row in published:
        measured = [r for r in cal_rows() if r.system == row.system]
        n = np.array([r.gpus for r in measured])
        size = np.array([r.size_bytes for r in measured], dtype=float)
        t = np.array([r.time_s for r in measured])
        # the ring formula written out, not the package's function
        model = 2 * (n - 1) * row.alpha_s + 2 * (n - 1) / n * size / row.beta_bytes_per_s
        assert row.line_error == pytest.approx(np.median(np.abs(model - t) / t))
        assert row.line_error < 0.5 and row.alpha_s >= 0


def cal_rows():
    from comms_core.measurements import load_nccl_measurements

    return load_nccl_measurements()


def test_the_best_alpha_beta_line_on_dgx_h100_sits_between_ring_and_nvls():
    """Independent of the fit: NCCL's ring reaches ~370 GB/s busbw on 8 H100 and NVLS ~480
    (sjeaugey, nccl-tests#212); a ring α-β line through a sweep that switches from one to
    the other must land between the two."""
    (dgx,) = [r for r in cal.nccl_reality() if r.system == "dgx_h100_1x8"]
    assert 370e9 < dgx.beta_bytes_per_s < 480e9


def test_nccl_reality_markdown_has_one_line_per_system_and_says_what_the_error_is():
    rows = cal.nccl_reality(_report())
    text = cal.nccl_reality_markdown(rows)
    assert text.count("\n| ") == len(rows)  # one line per system after the header
    assert "your machine" in text and "held" not in text.split("\n")[0]
    assert "the least an α-β model can do" in text


@needs_mpi
@pytest.mark.slow
@pytest.mark.mpi
def test_the_notebook_shows_the_nccl_reality_table():
    from commslab import lab

    shown = lab.calibrate_my_machine(ranks=2, quick=True)
    text = getattr(shown, "data", shown)
    assert "NCCL reality" in text and "| your machine | 2 |" in text
    assert "dgx_h100_1x8" in text
