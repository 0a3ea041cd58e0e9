"""The Gradescope-style autograder bundle: `autograder/dist/collective_comms-autograder.zip`.

Gradescope unpacks the zip to /autograder/source, runs `setup.sh` once to build the image and
`run_autograder` per submission, which must write /autograder/results/results.json. Ours
installs this package and grades with the same sandboxed grader as `commslab grade`, bound
to the submitter's LMS identity from /autograder/submission_metadata.json. The zip is written
with fixed timestamps and sorted entries so that a release is reproducible.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import click

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


def gradescope_identity(metadata: dict) -> str:
    """The submitter's LMS identity from Gradescope's submission_metadata.json.

    The first user's student id (`sid`) if the course set one, else their Gradescope id.
    """
    users = metadata.get("users") or [{}]
    return str(users[0].get("sid") or users[0].get("id") or "unknown")


@click.command("gradescope", hidden=True)
@click.argument("submission_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--term", required=True)
@click.option("--metadata", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def gradescope_command(submission_dir: Path, term: str, metadata: Path, out: Path) -> None:
    """Gradescope's run_autograder: grade the one notebook submitted, write results.json."""
    from commslab.grading.grade import GradeResult, grade_notebook
    from commslab.grading.report import results_json

    try:
        student_id = gradescope_identity(json.loads(metadata.read_text()))
    except (OSError, ValueError):
        student_id = "unknown"
    notebooks = sorted(submission_dir.rglob("*.ipynb"))
    if notebooks:
        result = grade_notebook(
            notebooks[0], term=term, student_id=student_id, autograder_dir=Path("autograder")
        )
    else:
        result = GradeResult.failed(
            path=None,
            term=term,
            student_id=student_id,
            status="no notebook submitted: upload collective_comms.ipynb",
            autograder_dir=Path("autograder"),
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(results_json(result))
    click.echo(f"{result.student_id}: {result.score:g}/{result.max_score:g} ({result.status})")
