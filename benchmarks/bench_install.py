"""The student's install: seconds and installed size of the README's student line.

Run: .venv/bin/python benchmarks/bench_install.py [--previous]
Aim (issue 23): at most 60 s on this machine with a warm package cache, and only what the
notebook imports (no otter-grader, so no PDF export, browser automation, pandas or Sphinx).

Each row is a fresh virtual environment (tests/fresh_env.py, as the tests build one) in which a
command runs in a copy of release/collective_comms/; seconds are wall-clock for that command
alone, size is the environment's site-packages. Baselines, measured in the same run:
- `pip install numpy`: the floor of any install of a numpy lab;
- `pip install jupyterlab ipywidgets`: Jupyter and the sliders alone, the floor of a student
  install that brings its own Jupyter.
--previous adds the requirement set before issue 23 (the same line plus otter-grader, which the
student wheel required then). The machine is shared, so seconds vary with its load (printed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from fresh_env import RELEASE, fresh_venv, readme_student_line, run  # noqa: E402

# Not on the student side (issue 23): otter-grader and what only it brought.
ABSENT = ("otter", "pandas", "playwright", "sphinx", "pypdf")


def _size_mb(venv: Path) -> float:
    site = next((venv / "lib").glob("python3*/site-packages"))
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) / 1e6


def _row(
    label: str, command: str, tmp: Path, release: Path
) -> tuple[str, float, float, int, Path, dict]:
    folder = tmp / "".join(c if c.isalnum() else "_" for c in label)
    shutil.copytree(release, folder / "release")
    env = fresh_venv(folder / "venv")
    start = time.perf_counter()
    run(command, folder / "release", env)
    seconds = time.perf_counter() - start
    listed = run("python -m pip list --format=freeze", folder / "release", env)
    return label, seconds, _size_mb(folder / "venv"), len(listed.split()), folder, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--previous", action="store_true", help="also time the old set")
    parser.add_argument("--release", type=Path, default=RELEASE, help="a release folder")
    args = parser.parse_args()
    line = readme_student_line()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-install-") as name:
        tmp = Path(name)
        print(f"load before: {os.getloadavg()[0]:.2f} (1-min average, 2 cores shared)")
        rows.append(_row("baseline: numpy", "python -m pip install -q numpy", tmp, args.release))
        rows.append(
            _row(
                "baseline: jupyter",
                "python -m pip install -q jupyterlab ipywidgets",
                tmp,
                args.release,
            )
        )
        student = _row("README student line", f"{line} -q", tmp, args.release)
        rows.append(student)
        if args.previous:
            rows.append(
                _row("previous (+otter)", f"{line} -q 'otter-grader>=7.0'", tmp, args.release)
            )
        # The public checks run in the student's environment, and the grader's tools are absent.
        _, _, _, _, folder, env = student
        probe = (
            "import importlib.util as u; from commslab.notebook.checker import Checker; "
            "print(Checker({}).check('part1').summary().splitlines()[0]); "
            f"print([m for m in {ABSENT!r} if u.find_spec(m)])"
        )
        shown = run(f'python -c "{probe}"', folder / "release", env).splitlines()
        print(f"load after: {os.getloadavg()[0]:.2f}")
    print(f"\n{'install (fresh venv, warm cache)':34s} {'seconds':>8s} {'MB':>7s} {'dists':>6s}")
    for label, seconds, size, count, *_ in rows:
        print(f"{label:34s} {seconds:8.1f} {size:7.0f} {count:6d}")
    print(f"\nstudent line: `{line}` (aim ≤ 60 s)")
    print(f"public check in that environment: {shown[0]!r}; present of {ABSENT}: {shown[1]}")


if __name__ == "__main__":
    main()
