"""Fresh virtual environments for the tests that do what a user does: the README's commands
with a plain install, nothing from this checkout's own .venv."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "release" / "collective_comms"


def readme_student_line() -> str:
    """The student's install command, as the README writes it."""
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^\s*(python -m pip install -r requirements\.txt)\s*$", text, re.M)
    assert match, "the README has no student install line"
    return match.group(1)


def fresh_venv(path: Path) -> dict[str, str]:
    """A fresh virtual environment (pip only) and the environment to run commands in it."""
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    home = path.parent / "home"
    home.mkdir(exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k.startswith(("PIP_", "LANG", "LC_"))}
    return {
        **keep,
        "PATH": f"{path / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),  # caches (matplotlib, Jupyter) go here, not in the user's home
        "VIRTUAL_ENV": str(path),
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
    }


def run(command: str, cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    proc = subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, (
        f"`{command}` failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


def student_jupyter(folder: Path) -> dict[str, str]:
    """A student's Jupyter in FOLDER/venv: the README's student line run in a copy of the
    committed release folder, as a student does (Jupyter, the student wheel and its Jupyter
    settings, from the wheel's data files). Built once per FOLDER, also across the pytest-xdist
    workers (a lock); returns the environment to run its commands in."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "installed.json").exists():
            return json.loads((folder / "installed.json").read_text())
        shutil.rmtree(folder / "release", ignore_errors=True)
        shutil.copytree(RELEASE, folder / "release")
        env = fresh_venv(folder / "venv")
        run(readme_student_line(), folder / "release", env)
        (folder / "installed.json").write_text(json.dumps(env))
        return env
