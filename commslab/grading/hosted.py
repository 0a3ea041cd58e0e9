"""The probe inside a hosted grader's container (Gradescope, PrairieLearn).

Those services already run each submission in its own container, but the container may refuse
the namespaces bubblewrap needs (Docker's default seccomp profile and capability set have no
CAP_SYS_ADMIN). There the student's code still runs as an unprivileged user:

* `UnprivilegedUser` starts probe.py as uid/gid 65534 through `setpriv` (no groups, no
  capabilities, an empty bounding set, no_new_privs), with only numpy/matplotlib importable
  (a folder of links to them on PYTHONPATH, the interpreter run with -S) and a private working
  folder it owns;
* `lock_down(...)` makes what it must not see unreadable to that uid: the hidden tests, the
  instructor key and the roster (the autograder folder, 0700), the reference and the grader
  (the installed comms_core, commslab and otter, 0700), and the results folder unwritable;
* `protections(...)` runs a trial as that uid and reports which of these held, so the output
  says what the submission got, in words a student and an instructor can check.

`best_launcher()` is bubblewrap where it works, else this where the grader is root, else
SandboxUnavailable; it is reached through the one launcher factory,
launchers.make_launcher("hosted"). `protect(...)` locks down and lists the protections before
commslab.grading.pipeline.grade_hosted runs the submission.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from commslab.grading import isolation

SANDBOX_UID = isolation.SANDBOX_UID
LOCKED_PACKAGES = ("comms_core", "commslab", "otter")  # the reference, the grader, otter


def _package_folder(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def lock_down(protected: list[Path], unwritable: list[Path]) -> list[Path]:
    """Folders `protected` and the grader's packages become 0700 (owner root: the grader
    still reads them); folders `unwritable` lose their write bits for others. Returns what
    was locked."""
    locked = []
    packages = [_package_folder(name) for name in LOCKED_PACKAGES]
    for folder in [*protected, *(p for p in packages if p is not None)]:
        if folder.exists():
            folder.chmod(0o700)
            locked.append(folder)
    for folder in unwritable:
        if folder.exists():
            folder.chmod(folder.stat().st_mode & ~(stat.S_IWGRP | stat.S_IWOTH))
    return locked


class UnprivilegedUser:
    """probe.py as uid 65534, without namespaces (see the module's docstring)."""

    name = "unprivileged-user"

    def __init__(self) -> None:
        self._base: Path | None = None

    def check(self) -> None:
        if os.geteuid() != 0:
            raise isolation.SandboxUnavailable(
                "no sandbox: bubblewrap cannot run here and the grader is not root, so it "
                f"cannot run student code as another user. {isolation.FIX}"
            )
        if not shutil.which("setpriv"):
            raise isolation.SandboxUnavailable(f"setpriv (util-linux) is missing. {isolation.FIX}")

    def spec(self) -> str:
        return self.name

    def _prepare(self, script: Path) -> tuple[Path, Path]:
        """A root-owned, world-readable folder: links to numpy, matplotlib and a copy of our
        script (the grader's own folders are locked away from uid 65534)."""
        if self._base is None:
            base = Path(tempfile.mkdtemp(prefix="commslab-hosted-"))
            base.chmod(0o755)
            (base / "site").mkdir(mode=0o755)
            for top, path in isolation.package_entries().items():
                (base / "site" / top).symlink_to(path)
            self._base = base
        copy = self._base / script.name
        if not copy.exists():
            shutil.copyfile(script, copy)
            copy.chmod(0o644)
        return self._base / "site", copy

    def launch(self, workdir: str, disk_bytes: int) -> isolation.Launch:
        return self.launch_script(isolation.PROBE, workdir, disk_bytes)

    def launch_script(
        self, script: str | os.PathLike, workdir: str, disk_bytes: int
    ) -> isolation.Launch:
        """Any script of ours (the probe, the bonus's relay_rank.py) as uid 65534."""
        site, copy = self._prepare(Path(script))
        os.chown(workdir, SANDBOX_UID, SANDBOX_UID)
        os.chmod(workdir, 0o700)
        argv = [
            *isolation.as_sandbox_user(shutil.which("setpriv") or "/usr/bin/setpriv"),
            isolation.base_python(),
            "-S",
            "-s",
            *isolation.NO_SCRIPT_DIR,
            str(copy),
        ]
        env = isolation.probe_environment(workdir)
        env["PYTHONPATH"] = str(site)
        return isolation.Launch(argv, env, cwd=workdir)


def best_launcher():
    """Bubblewrap if a sandbox starts here, else an unprivileged user (as root), else raise
    SandboxUnavailable with the fix. $COMMSLAB_SANDBOX=unprivileged-user skips the trial of
    bubblewrap (a container known to refuse namespaces)."""
    if os.environ.get("COMMSLAB_SANDBOX") == UnprivilegedUser.name:
        fallback = UnprivilegedUser()
        fallback.check()
        return fallback
    try:
        launcher = isolation.Bubblewrap()
        launcher.check()
        return launcher
    except isolation.SandboxUnavailable:
        fallback = UnprivilegedUser()
        fallback.check()
        return fallback


_TRIAL = r"""
import os, sys
for label, path in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        if label.startswith("writing"):
            open(os.path.join(path, "x"), "w").close()
        elif os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").read(1)
        print(label, "REACHABLE")
    except OSError:
        print(label, "refused")
"""


def protections(launcher, checks: dict[str, Path]) -> list[str]:
    """What the submission's code could reach, tried as its own user in its own way:
    "<what>: refused" or "<what>: REACHABLE" (a label "writing ..." writes a file there)."""
    if not isinstance(launcher, UnprivilegedUser):
        what = "bubblewrap" if isinstance(launcher, isolation.Bubblewrap) else launcher.name
        return [f"sandbox: {what} (own namespaces, uid {SANDBOX_UID}, only the runtime)"]
    with tempfile.TemporaryDirectory(prefix="commslab-trial-") as workdir:
        launch = launcher.launch(workdir, 16 * 1024**2)
        argv = [*launch.argv[:-1], "-c", _TRIAL]  # the probe's interpreter, user and paths
        for label, path in checks.items():
            argv += [label, str(path)]
        run = subprocess.run(
            argv, env=launch.env, cwd=launch.cwd, capture_output=True, text=True, timeout=60
        )
    lines = [f"sandbox: {launcher.name} (uid {SANDBOX_UID}; this container refuses namespaces)"]
    for line in run.stdout.splitlines():
        label, _, verdict = line.rpartition(" ")
        lines.append(f"  {label}: {verdict}")
    if run.returncode != 0:
        lines.append(f"  the trial failed: {run.stderr.strip()[-200:]}")
    return lines


def protect(launcher, autograder_dir: Path, results_dir: Path) -> list[str]:
    """Before a hosted grader runs the submission (commslab.grading.pipeline.grade_hosted):
    for the unprivileged user, lock away the autograder folder and the grader and make the
    results unwritable; then what the submission's code could reach (protections)."""
    from commslab.grading.harness import KEY_FILE

    if isinstance(launcher, UnprivilegedUser):
        lock_down([autograder_dir], [results_dir])
    return protections(
        launcher,
        {
            "the instructor key": autograder_dir / KEY_FILE,
            "the hidden tests": autograder_dir / "tests",
            "the reference (comms_core)": _package_folder("comms_core") or Path("/"),
            "writing the results": results_dir,
        },
    )
