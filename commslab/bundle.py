"""The Gradescope-style autograder bundle: `autograder/dist/collective_comms-autograder.zip`.

Gradescope unpacks the zip to /autograder/source, runs `setup.sh` once to build the image and
`run_autograder` per submission, which must write /autograder/results/results.json. Ours
installs this package and grades with the same sandboxed grader as `commslab grade`, bound
to the submitter's LMS identity from /autograder/submission_metadata.json. The zip is written
with fixed timestamps and sorted entries so that a release is reproducible.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

ZIP_DATE = (2020, 1, 1, 0, 0, 0)

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the grading image.
set -euo pipefail
apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
python3 -m venv /opt/venv
/opt/venv/bin/pip install -q --upgrade pip
/opt/venv/bin/pip install -q "/autograder/source[course]"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission; it writes /autograder/results/results.json.
set -uo pipefail
cd /autograder/source
/opt/venv/bin/commslab gradescope /autograder/submission --term "$(cat TERM)" \\
    --metadata /autograder/submission_metadata.json --out /autograder/results/results.json
"""


def _files(root: Path) -> list[tuple[str, bytes]]:
    entries = [("setup.sh", SETUP_SH.encode()), ("run_autograder", RUN_AUTOGRADER.encode())]
    for rel in ("pyproject.toml", "README.md"):
        entries.append((rel, (root / rel).read_bytes()))
    for package in ("comms_core", "commslab"):
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                entries.append((str(path.relative_to(root)), path.read_bytes()))
    for path in sorted((root / "autograder" / "tests").glob("*.py")):
        entries.append((str(path.relative_to(root)), path.read_bytes()))
    key = root / "autograder" / "instructor.key"
    if key.exists():
        entries.append(("autograder/instructor.key", key.read_bytes()))
    return entries


def build_bundle(term: str, root: Path) -> Path:
    out = root / "autograder" / "dist" / "collective_comms-autograder.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    entries = [*_files(root), ("TERM", f"{term}\n".encode())]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, ZIP_DATE)
            executable = name in ("setup.sh", "run_autograder")
            info.external_attr = (0o755 if executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return out
