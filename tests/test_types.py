"""Everything is type-checked: `mypy comms_core commslab` passes (as `make lint` and the
pre-commit hook run it), and pyproject.toml's override makes the science's part `--strict`."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _mypy() -> str:
    mypy = shutil.which("mypy") or str(Path(sys.executable).parent / "mypy")
    if not Path(mypy).exists():
        pytest.fail("mypy is not installed: pip install 'comms-lab[dev]'")
    return mypy


def _run_mypy(cwd: Path, *packages: str) -> subprocess.CompletedProcess[str]:
    """`mypy <packages>` in cwd, with the repository's configuration."""
    config = str(ROOT / "pyproject.toml")
    return subprocess.run(
        [_mypy(), "--cache-dir", os.devnull, "--config-file", config, *packages],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_mypy_passes_on_the_science_and_the_course_tooling():
    proc = _run_mypy(ROOT, "comms_core", "commslab")
    assert proc.returncode == 0, proc.stdout[-4000:]


def test_mypy_checks_comms_core_strictly(tmp_path):
    """An unannotated function in a package called comms_core fails the same run (the
    override `strict = true` for comms_core.*; plain mypy would accept it)."""
    package = tmp_path / "comms_core"
    package.mkdir()
    (package / "__init__.py").write_text("def untyped(x):\n    return x\n")
    proc = _run_mypy(tmp_path, "comms_core")
    assert proc.returncode == 1, proc.stdout
    assert "[no-untyped-def]" in proc.stdout
