"""Start N MPI ranks (local, or across the hosts of MPI's host file), never hang, and say
in one line what went wrong.

What can go wrong on a student's or a TA's machine, and what we say:
- mpi4py missing                 -> install with pip install 'comms-lab[mpi]'
- no mpiexec                     -> the same, or put mpiexec on PATH
- more ranks than cores          -> a warning: timings get 5-10x worse (docs/notes/containers.md)
- a rank dies or hangs           -> the run is stopped (timeout, then the whole process
                                    group is killed) and the lost ranks are named.

Workers report progress through small files, one per rank, in a status directory:
`rank<r>.status` holds the rank's last phase ("started", "size 4096", "done") and
`error.txt` a message from a worker that found a problem it can name. This works the
same under MPICH and Open MPI, and survives a rank killed without warning.

Across hosts, the ranks are placed by MPI's own host file, passed through unchanged (the
way a cluster is used; see hostfile_arguments). The status directory must then be on a
file system every host sees (a shared home or scratch directory).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "INSTALL_HINT",
    "MPIRun",
    "MPIUnavailable",
    "cores_warning",
    "describe_failure",
    "find_mpiexec",
    "hostfile_arguments",
    "hostfile_hosts",
    "lost_ranks",
    "mpi_flavor",
    "rank_status",
    "require_mpi4py",
    "run_mpi",
    "transport_settings",
    "usable_cores",
]

INSTALL_HINT = (
    "install with `python -m pip install mpi4py mpich` (in a notebook: %pip install mpi4py mpich; "
    "in a comms-lab checkout: pip install 'comms-lab[mpi]')"
)
TRANSPORTS = ("tcp", "shm")


class MPIUnavailable(RuntimeError):
    """MPI cannot run here; the message is one line and says how to fix it."""


def require_mpi4py() -> None:
    """Raise MPIUnavailable unless mpi4py can be imported by this interpreter."""
    try:
        import mpi4py  # noqa: F401
    except ImportError as err:
        raise MPIUnavailable(f"mpi4py is not installed ({err}): {INSTALL_HINT}") from None


def _interpreter_bin_dir() -> Path:
    """Where pip puts mpiexec next to this Python (the mpich wheel's launcher)."""
    return Path(sys.executable).parent


def find_mpiexec() -> str:
    """mpiexec on PATH, else the one installed beside this interpreter (a venv not on PATH)."""
    found = shutil.which("mpiexec")
    if found:
        return found
    beside = _interpreter_bin_dir() / "mpiexec"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    raise MPIUnavailable(f"mpiexec was not found on PATH: {INSTALL_HINT} (it brings MPICH)")


def mpi_flavor(mpiexec: str) -> str:
    """'mpich' (Hydra), 'openmpi' or 'unknown', from `mpiexec --version`."""
    try:
        out = subprocess.run(
            [mpiexec, "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise MPIUnavailable(f"{mpiexec} does not run ({err}): {INSTALL_HINT}") from None
    text = out.stdout + out.stderr
    if "HYDRA" in text or "MPICH" in text:
        return "mpich"
    if "Open MPI" in text or "OpenRTE" in text or "Open RTE" in text:
        return "openmpi"
    return "unknown"


def transport_settings(
    flavor: str, transport: str, oversubscribe: bool, *, across_hosts: bool = False
) -> tuple[list, dict]:
    """mpiexec arguments and environment for loopback TCP or shared memory.

    - MPICH: shared memory is the default inside one node. `MPIR_CVAR_NOLOCAL=1` turns it
      off; with the PyPI wheel (ch4 with UCX and OFI) UCX would still use shared memory,
      so we select the OFI netmod with its tcp provider, which also works in a container
      that has only a loopback interface (measured here; docs/notes/containers.md).
    - Open MPI: `--mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include lo`.
    Across hosts (a host file), "tcp" sends every message over TCP, also between ranks
    that share a host, on whatever interface reaches the other hosts (Open MPI is not
    held to loopback); "shm" leaves MPI its defaults: shared memory within a host, the
    network between hosts.
    """
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {TRANSPORTS}, got {transport!r}")
    args: list[str] = []
    env: dict[str, str] = {}
    if flavor == "openmpi":
        if transport == "tcp":
            args += ["--mca", "pml", "ob1", "--mca", "btl", "tcp,self"]
            if not across_hosts:
                args += ["--mca", "btl_tcp_if_include", "lo"]
        if oversubscribe:
            args.append("--oversubscribe")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--allow-run-as-root")
    elif transport == "tcp":
        env = {"MPIR_CVAR_NOLOCAL": "1", "MPIR_CVAR_CH4_NETMOD": "ofi", "FI_PROVIDER": "tcp"}
    return args, env


def hostfile_arguments(flavor: str, hostfile: Path) -> list[str]:
    """mpiexec's own option for a host file: MPICH's Hydra `-f FILE` (lines `host` or
    `host:ranks`; wiki.mpich.org, "Using the Hydra Process Manager"), Open MPI's
    `--hostfile FILE` (lines `host slots=N`; mpirun(1), Open MPI 4.1). The file is
    passed as it is: whatever the MPI accepts works, and its errors are its own."""
    if flavor == "openmpi":
        return ["--hostfile", str(hostfile)]
    return ["-f", str(hostfile)]


def hostfile_hosts(hostfile: Path) -> list[str]:
    """The host names of a host file, in order, without counts, comments or blank lines
    (`node1:4` and `node1 slots=4` both give `node1`). Raises ValueError if it names none."""
    hosts = []
    for line in Path(hostfile).read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            hosts.append(text.split()[0].split(":")[0])
    if not hosts:
        raise ValueError(f"{hostfile}: the host file names no host (one host per line)")
    return hosts


def usable_cores() -> int:
    """Cores this process may run on (affinity-aware, e.g. inside a container)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def cores_warning(ranks: int, cores: int) -> str | None:
    """A warning when ranks outnumber cores, else None."""
    if ranks <= cores:
        return None
    return (
        f"warning: {ranks} ranks on {cores} cores are oversubscribed; MPI ranks busy-wait, "
        f"so timings get 5-10x worse. Use --ranks {max(cores, 2)} for clean numbers."
    )


@dataclass(frozen=True)
class MPIRun:
    """What one mpiexec run left behind."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    elapsed_s: float
    status_dir: Path
    ranks: int


def _session_members(sid: int) -> list[int]:
    """Processes of session sid (Linux /proc): ranks that left mpiexec's process group."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid:  # after "pid (comm)": state, ppid, pgrp, session
            members.append(int(stat.parent.name))
    return members


SHM_DIR, SHM_PREFIX = Path("/dev/shm"), "mpich_shm_"  # MPICH's shared-memory segments


def _shared_memory_files() -> set[Path]:
    return set(SHM_DIR.glob(SHM_PREFIX + "*"))


def _mapped_shared_memory() -> set[str]:
    """Every MPICH segment a live process maps (/proc/PID/maps, Linux), where readable."""
    mapped: set[str] = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        try:
            lines = maps.read_text().splitlines()
        except OSError:
            continue
        mapped.update(line.split()[-1] for line in lines if SHM_PREFIX in line)
    return mapped


def _remove_leaked_shared_memory(before: set[Path], settle_s: float = 1.0) -> None:
    """MPICH unlinks a segment once every rank has attached it; ranks killed or aborted
    before that leave it in /dev/shm, holding RAM until reboot. After a run, remove the
    segments that appeared during it, are ours, are over settle_s old (a concurrent run maps
    its own within microseconds of creating it) and no live process maps."""
    new = {}
    for path in _shared_memory_files() - before:
        try:
            info = path.stat()
        except OSError:
            continue
        if info.st_uid == os.geteuid():
            new[path] = info.st_mtime
    if not new:
        return
    time.sleep(max(0.0, settle_s - (time.time() - max(new.values()))))
    mapped = _mapped_shared_memory()
    for path in new:
        if str(path) not in mapped:
            path.unlink(missing_ok=True)


def _kill_process_group(proc: subprocess.Popen) -> None:
    """SIGTERM the whole group (mpiexec, its proxies, every rank), then SIGKILL; then
    SIGKILL whatever is left in the session (the run was started as its own session)."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    for pid in _session_members(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_mpi(
    worker_args: list[str],
    ranks: int,
    *,
    timeout: float,
    transport: str = "shm",
    status_dir: Path | None = None,
    hostfile: Path | None = None,
) -> MPIRun:
    """Run `mpiexec -n ranks <python> worker_args... --status-dir DIR`, within timeout seconds.

    With a hostfile the ranks go where it says (hostfile_arguments), each host running the
    same Python path and finding the worker at the same path. The run gets its own process
    group (start_new_session), so on timeout the whole group is killed: no rank is left
    spinning. Raises MPIUnavailable when MPI cannot start at all.
    """
    require_mpi4py()
    mpiexec = find_mpiexec()
    flavor = mpi_flavor(mpiexec)
    oversubscribe = hostfile is None and ranks > usable_cores()
    args, env_extra = transport_settings(
        flavor, transport, oversubscribe, across_hosts=hostfile is not None
    )
    if hostfile is not None:
        args = hostfile_arguments(flavor, hostfile) + args
    status_dir = Path(status_dir or tempfile.mkdtemp(prefix="commslab-mpi-"))
    status_dir.mkdir(parents=True, exist_ok=True)
    command = [mpiexec, "-n", str(ranks), *args, sys.executable, *worker_args]
    command += ["--status-dir", str(status_dir)]
    env = {**os.environ, **env_extra, "PYTHONUNBUFFERED": "1"}
    shared_before = _shared_memory_files()
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
    except OSError as err:
        raise MPIUnavailable(f"cannot start {mpiexec} ({err}): {INSTALL_HINT}") from None
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_process_group(proc)
        try:
            stdout, stderr = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a survivor still holds the pipes: stop reading
            proc.kill()
            stdout, stderr = "", ""
    elapsed = time.perf_counter() - start
    _remove_leaked_shared_memory(shared_before)
    return MPIRun(
        returncode=None if timed_out else proc.returncode,
        stdout=stdout,
        stderr=stderr,
        timed_out=timed_out,
        elapsed_s=elapsed,
        status_dir=status_dir,
        ranks=ranks,
    )


def rank_status(status_dir: Path, ranks: int) -> dict[int, str]:
    """Each rank's last reported phase; 'never started' for a rank that wrote nothing."""
    status = {}
    for r in range(ranks):
        path = Path(status_dir) / f"rank{r}.status"
        status[r] = path.read_text().strip() if path.exists() else "never started"
    return status


def lost_ranks(status_dir: Path, ranks: int) -> list[int]:
    """Ranks that did not report 'done'."""
    return [r for r, phase in rank_status(status_dir, ranks).items() if phase != "done"]


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and set(ln.strip()) != {"="}]
    return lines[-1][:200] if lines else ""


def describe_failure(run: MPIRun, what: str = "the MPI run") -> str | None:
    """One line naming the problem and the lost ranks, or None if every rank finished."""
    status = rank_status(run.status_dir, run.ranks)
    lost = [r for r, phase in status.items() if phase != "done"]
    error_file = Path(run.status_dir) / "error.txt"
    worker_error = error_file.read_text().strip() if error_file.exists() else ""
    if not lost and not run.timed_out and run.returncode == 0 and not worker_error:
        return None
    if run.timed_out:
        head = f"{what} did not finish within {run.elapsed_s:.0f} s and was stopped"
    elif worker_error:
        head = f"{what} failed: {worker_error}"
    else:
        head = f"{what} failed (mpiexec exit code {run.returncode})"
    if lost and all(status[r] == "never started" for r in lost) and len(lost) == run.ranks:
        detail = "no rank started"
        stderr = _last_line(run.stderr)
        if stderr:
            detail += f" ({stderr})"
    elif lost:
        detail = "lost rank(s): " + ", ".join(f"{r} (last seen: {status[r]})" for r in lost)
    else:
        detail = ""
    return f"{head}; {detail}" if detail else head
