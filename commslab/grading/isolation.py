"""Where the probe runs: an operating-system sandbox (bubblewrap), a container, or, only when
asked for by name, a plain subprocess.

PEP 578 says audit hooks are not a sandbox, so the probe's own hook (probe.py) is only a
friendly early message; the boundary is the kernel's. `Bubblewrap` starts the probe with
bubblewrap (https://github.com/containers/bubblewrap, Debian package `bubblewrap`, no daemon):

* its own PID, network, IPC, UTS and mount namespaces (`--unshare-*`): no other process is
  visible, no network but an unconfigured loopback, so a listener on the host's 127.0.0.1 is
  unreachable;
* an unprivileged user: run as root, bubblewrap builds the namespaces and `setpriv` drops to
  uid/gid 65534 with no capabilities, an empty bounding set and no_new_privs (a real,
  unprivileged uid on the host); run as anyone else, a user namespace maps the sandbox's uid
  65534 to the caller's own uid;
* a file system made of read-only binds of exactly: the Python runtime (interpreter, standard
  library with every site-packages folder hidden), the system's shared libraries (/usr/lib),
  the packages a notebook may import (numpy, matplotlib and what they need, bound one by one
  from the grader's environment) and probe.py; plus one private writable tmpfs of bounded size
  (`--size`). The instructor key, the hidden tests, the reference (comms_core), the grader
  (commslab), other submissions, the batch folder and the output folder are not in it at all;
* `--die-with-parent` and a PID namespace: when the grader kills bubblewrap, every process of
  the sandbox dies with it.

Memory, CPU time, file size, open files and processes are kernel rlimits that probe.py sets on
itself before any student code runs (soft = hard: an unprivileged process cannot raise them);
wall time is enforced from outside by sandbox.py.

`check()` tells, before a batch starts, whether the sandbox can be created here, and if not,
what to do about it.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

PROBE = Path(__file__).with_name("probe.py")
SANDBOX_UID = 65534  # "nobody" on Debian and most distributions
SITE = "/sandbox/site"  # the importable packages, inside the sandbox
PROBE_IN_SANDBOX = "/sandbox/probe.py"
WORKDIR = "/tmp"  # the private writable folder, inside the sandbox
# What a notebook's code may import besides the standard library (with their requirements).
ALLOWED_DISTRIBUTIONS = ("numpy", "matplotlib")

# Python 3.11's -P keeps the script's folder off sys.path; 3.10 has no -P, and its -I would also
# ignore PYTHONPATH, so there the probe's own folder (holding only probe.py) stays on sys.path.
NO_SCRIPT_DIR = ("-P",) if sys.version_info >= (3, 11) else ()

FIX = (
    "The grader runs student code in an operating-system sandbox (bubblewrap). To fix: "
    "install it (Debian/Ubuntu: `sudo apt-get install bubblewrap`) and allow user namespaces "
    "(Ubuntu 24.04: `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`, or run as "
    "root); or grade in a container with `--engine podman` or `--engine docker`. "
    "`--unsafe-no-sandbox` grades without it: only for notebooks you trust."
)


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be created on this machine; the message says how to fix it."""


def probe_environment(workdir: str) -> dict[str, str]:
    """The probe's whole environment: nothing of the grader's leaks in."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": os.path.join(workdir, ".matplotlib"),
    }


@dataclass(frozen=True)
class Launch:
    """How to start one probe: argv, environment, working folder."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None = None
    cleanup: Callable[[], None] | None = None  # after the probe was killed and reaped


def base_python() -> str:
    """The real interpreter behind this one (a venv's python is a link to it)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def as_sandbox_user(setpriv: str = "/usr/bin/setpriv") -> list[str]:
    """`setpriv ... --`: run what follows as uid/gid SANDBOX_UID with no groups, no inheritable
    capabilities, an empty bounding set and no_new_privs (util-linux setpriv(1))."""
    uid = str(SANDBOX_UID)
    return [
        setpriv,
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


class Unsandboxed:
    """The probe as a plain subprocess (`--unsafe-no-sandbox`): rlimits and the audit hook
    only, which a determined student can get around. For trusted notebooks only."""

    name = "unsafe-no-sandbox"

    def check(self) -> None:
        return None

    def spec(self) -> str:
        return self.name

    def launch(self, workdir: str, disk_bytes: int) -> Launch:
        argv = [sys.executable, "-s", *NO_SCRIPT_DIR, str(PROBE)]
        return Launch(argv, probe_environment(workdir), cwd=workdir)


def _requirements(name: str, seen: set[str]) -> None:
    """`name` and, recursively, what it requires (extras excluded)."""
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        return
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return
    seen.add(key)
    for requirement in dist.requires or []:
        if "extra ==" in requirement.replace('"', "'").replace("extra=='", "extra == '"):
            continue
        if ";" in requirement and "extra" in requirement.split(";", 1)[1]:
            continue
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        if match:
            _requirements(match.group(1), seen)


def package_entries(distributions: Iterable[str] = ALLOWED_DISTRIBUTIONS) -> dict[str, str]:
    """{top-level name: path} of what the allowed distributions install (numpy, numpy.libs,
    matplotlib, mpl_toolkits, dateutil, six.py, ...), found in the grader's environment."""
    names: set[str] = set()
    for name in distributions:
        _requirements(name, names)
    entries: dict[str, str] = {}
    for name in sorted(names):
        dist = importlib.metadata.distribution(name)
        for file in dist.files or []:
            top = file.parts[0]
            if top in ("..", "__pycache__") or top.endswith((".dist-info", ".egg-info", ".pth")):
                continue
            path = Path(str(dist.locate_file(top)))
            if path.exists() and top not in entries:
                entries[top] = str(path)
    return entries


def _hidden_site_folders() -> list[str]:
    """Every site-packages / dist-packages folder of this interpreter and of the system."""
    found: set[str] = set()
    for base in (sys.base_prefix, sys.prefix):
        paths = sysconfig.get_paths(vars={"base": base, "platbase": base})
        found.update(paths[k] for k in ("purelib", "platlib"))
    found.update(["/usr/lib/python3/dist-packages", "/usr/local/lib/python3/dist-packages"])
    return sorted(os.path.realpath(p) for p in found if os.path.isdir(p))


@dataclass
class Bubblewrap:
    """The probe in a bubblewrap sandbox (see the module docstring)."""

    bwrap: str = "bwrap"
    name: str = "sandbox"
    _entries: dict[str, str] = field(default_factory=dict, repr=False)

    def _runtime_binds(self) -> list[tuple[str, str]]:
        """(host path, sandbox path), read-only: interpreter, stdlib, libpython, libraries."""
        executable = base_python()
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        base = os.path.realpath(sys.base_prefix)
        binds = [(executable, executable)]
        stdlib = os.path.realpath(sysconfig.get_paths(vars={"installed_base": base})["stdlib"])
        binds.append((stdlib, stdlib))
        for lib in Path(base, "lib").glob(f"lib{version}*.so*"):
            binds.append((str(lib), str(lib)))
        for system in ("/usr/lib", "/usr/lib64", "/usr/lib32"):
            if os.path.isdir(system):
                binds.append((system, system))
        for top in ("/lib", "/lib64", "/lib32"):  # not merged-/usr: real folders
            if os.path.isdir(top) and not os.path.islink(top):
                binds.append((top, top))
        if os.path.exists("/etc/ld.so.cache"):
            binds.append(("/etc/ld.so.cache", "/etc/ld.so.cache"))
        if os.geteuid() == 0:
            binds.append((shutil.which("setpriv") or "/usr/bin/setpriv", "/usr/bin/setpriv"))
        return binds

    def arguments(self, disk_bytes: int, script: str | os.PathLike = PROBE) -> list[str]:
        """The bwrap command line up to (not including) the program; `script` is bound
        read-only at PROBE_IN_SANDBOX."""
        if not self._entries:
            self._entries = package_entries()
        binds = self._runtime_binds()
        binds += [(path, f"{SITE}/{top}") for top, path in sorted(self._entries.items())]
        binds.append((str(script), PROBE_IN_SANDBOX))
        args = [
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
        ]
        made: set[str] = {"/"}
        for _src, dest in binds:  # bwrap makes missing parents 0700: make them 0755
            for parent in reversed(Path(dest).parents):
                p = str(parent)
                if p not in made:
                    made.add(p)
                    args += ["--perms", "0755", "--dir", p]
        for src, dest in binds:
            args += ["--ro-bind", src, dest]
            made.add(dest)
        for top, link in (("/lib", "usr/lib"), ("/lib64", "usr/lib64"), ("/bin", "usr/bin")):
            if os.path.islink(top) and top not in made:
                args += ["--symlink", link, top]
        for hidden in _hidden_site_folders():  # an empty tmpfs over each site-packages
            if any(hidden == d or hidden.startswith(d + "/") for _s, d in binds):
                args += ["--tmpfs", hidden]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--perms", "1777", "--size", str(int(disk_bytes)), "--tmpfs", WORKDIR]
        args += ["--chdir", WORKDIR]
        if os.geteuid() != 0:
            args += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        return args

    def launch(self, workdir: str, disk_bytes: int) -> Launch:
        return self.launch_script(PROBE, workdir, disk_bytes)

    def launch_script(self, script: str | os.PathLike, workdir: str, disk_bytes: int) -> Launch:
        """Any script of ours (the probe, the bonus's relay_rank.py) in this sandbox."""
        program = [base_python(), "-S", "-s", *NO_SCRIPT_DIR, PROBE_IN_SANDBOX]
        if os.geteuid() == 0:
            program = [*as_sandbox_user(), *program]
        env = probe_environment(WORKDIR)
        env["PYTHONPATH"] = SITE
        argv = [self.bwrap, *self.arguments(disk_bytes, script), "--", *program]
        return Launch(argv, env, cwd=workdir)

    def check(self) -> None:
        """Raise SandboxUnavailable (with the fix) unless a trial sandbox starts here."""
        _check_bubblewrap(self.bwrap)

    def spec(self) -> str:
        return "bubblewrap"


@functools.lru_cache(maxsize=4)
def _check_bubblewrap(bwrap: str) -> None:
    found = shutil.which(bwrap)
    if not found:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed. {FIX}")
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        raise SandboxUnavailable(f"setpriv (util-linux) is missing. {FIX}")
    sandbox = Bubblewrap(found)
    launch = sandbox.launch("/", 1024**2)
    argv = [*launch.argv[:-1], "-c", "0"]  # the probe's interpreter, running nothing
    try:
        proc = subprocess.run(argv, env=launch.env, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SandboxUnavailable(f"bubblewrap could not start: {err}. {FIX}") from err
    if proc.returncode != 0:
        why = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise SandboxUnavailable(f"bubblewrap could not create the sandbox ({why[0]}). {FIX}")
