"""The other Python the tests run on: 3.10, the python3 of Gradescope's default base image
(Ubuntu 22.04; Gradescope docs, "Base Images"). pyenv's 3.10.13 stands in for it here."""

from __future__ import annotations

import subprocess
from pathlib import Path


def python310() -> Path:
    """pyenv's 3.10 prefix (its bin/python3.10 is the interpreter)."""
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    return Path(root or Path.home() / ".pyenv") / "versions" / "3.10.13"
