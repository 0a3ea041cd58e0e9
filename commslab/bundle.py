"""The Gradescope autograder bundle: `autograder/dist/collective_comms-autograder.zip`.

Gradescope ("Autograder Specifications", gradescope-autograders.readthedocs.io/en/latest/specs)
unpacks the zip to /autograder/source, runs `setup.sh` once as root to build the image and
`run_autograder` per submission with the upload in /autograder/submission and
/autograder/submission_metadata.json; it must write /autograder/results/results.json.

* Python: the default base image is Ubuntu 22.04 (python3 3.10), 24.04 has 3.12 (docs
  "Base Images"); this package supports both. setup.sh makes a venv from the image's python3
  and installs `autograder/requirements-gradescope.txt` (pinned; no nbgrader, no JupyterLab),
  then a wheel of this package (commslab/wheels.py: the files this interpreter imports, so a
  course folder needs no checkout) with --no-deps.
* The instructor key is inside the bundle, so a submission gets the same hidden inputs and
  the same score on Gradescope, locally and on a regrade. The bundle goes to Gradescope only.
* Identity: the documented `users[]` fields (`email`, `id`, `name`) and `sid` where present
  (the course's student id, as the export's `:sid:`) mapped through `autograder/roster.csv`
  if the instructor put one there (roster.py); else the user's `sid`; else a user whose email
  or id the notebook's STUDENT_ID names; else the notebook's STUDENT_ID, flagged unverified.
  Only /autograder/submission_metadata.json is read: no file in the upload names anyone
  (lms.collect_upload). The term is the bundle's TERM; results.json is always written.
* Student code runs in bubblewrap's sandbox where the container allows namespaces, else as an
  unprivileged user that cannot read the key, the tests or the grader and cannot write the
  results (commslab/grading/hosted.py); the "Submission check" says which one it got.
* The MPI bonus is graded there too: the pins bring mpi4py and MPICH (the `mpich` wheel: mpiexec,
  its Hydra proxy beside it, libmpi). mpiexec and the ranks' relays run as root (the grader);
  each relay starts its rank's student code in the same sandbox as the probe (where namespaces
  are refused: uid 65534 through setpriv, hosted.UnprivilegedUser.launch_script), so MPI never
  runs as the student; MPICH's shared-memory files in /dev/shm are root's, 0600. What MPICH needs
  (measured with the wheel, strace): Hydra starts `hydra_pmi_proxy` from mpiexec's own folder
  (no PATH needed) and talks to it over TCP; a network namespace with loopback only and a host
  name that does not resolve both work; it writes /tmp/hydra_hwloc_xmlfile_* and about 1-2 MB
  per run in /dev/shm (Docker gives 64 MB). A "Bonus" test
  (max_score 0: extra credit above the assignment's total) says what it earned and under which
  protections; the top-level score is the main score plus the bonus.
* Limits fit the service's defaults (docs "Troubleshooting": 768 MB per container, 10 min,
  half a CPU): the probe gets 512 MiB of address space and 240 s.
* Visibility: every graded test is `after_published`; the top-level output says only the
  status; one visible "Submission check" (no points) says which file was graded and why.

The zip is written with fixed timestamps and sorted entries, so a release is reproducible.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import click

from commslab.grading.records import Status, Verdict

ZIP_DATE = (2020, 1, 1, 0, 0, 0)
REQUIREMENTS = "autograder/requirements-gradescope.txt"
PROBE_MEMORY_BYTES = 512 * 1024**2  # under Gradescope's 768 MB container, with the grader
PROBE_SECONDS = 240.0  # of the default 10-minute limit, at half a CPU

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the image. Ubuntu 22.04's python3 is 3.10 and
# 24.04's is 3.12: both work. COMMSLAB_PYTHON / COMMSLAB_VENV override (a local simulation).
set -euo pipefail
cd /autograder/source
PYTHON="${COMMSLAB_PYTHON:-python3}"
VENV="${COMMSLAB_VENV:-/autograder/venv}"
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
fi
# the sandbox for student code (bubblewrap; setpriv where the container refuses namespaces)
if ! command -v bwrap >/dev/null || ! command -v setpriv >/dev/null; then
    apt-get update -qq && apt-get install -y -qq bubblewrap util-linux >/dev/null
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --no-cache-dir --upgrade pip
"$VENV/bin/python" -m pip install -q --no-cache-dir -r autograder/requirements-gradescope.txt
"$VENV/bin/python" -m pip install -q --no-cache-dir --no-deps ./@WHEEL@
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission; it writes /autograder/results/results.json.
set -uo pipefail
cd /autograder/source
mkdir -p /autograder/results
VENV="${COMMSLAB_VENV:-/autograder/venv}"
# the venv's mpiexec (the mpich wheel) before any MPI the image may have
export PATH="$VENV/bin:$PATH" OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MPLBACKEND=Agg
exec "$VENV/bin/commslab" gradescope /autograder/submission \\
    --term "$(cat TERM)" --metadata /autograder/submission_metadata.json \\
    --autograder /autograder/source/autograder --out /autograder/results/results.json
"""


def _files(root: Path) -> list[tuple[str, bytes]]:
    from commslab import wheels
    from commslab.grading.harness import instructor_key

    try:  # no bundle with a wheel pip refuses: setup.sh would fail on Gradescope, not here
        wheel = wheels.full_wheel()
        with tempfile.TemporaryDirectory(prefix="commslab-bundle-") as tmp:
            wheel_bytes = wheels.write_wheel(wheel, Path(tmp)).read_bytes()
    except wheels.MetadataError as err:
        raise click.ClickException(f"the Gradescope bundle was not built: {err}") from None
    entries = [
        ("setup.sh", SETUP_SH.replace("@WHEEL@", wheel.filename).encode()),
        ("run_autograder", RUN_AUTOGRADER.encode()),
        (wheel.filename, wheel_bytes),
        (REQUIREMENTS, (root / REQUIREMENTS).read_bytes()),
    ]
    autograder = root / "autograder"
    for path in sorted((autograder / "tests").glob("*.py")):
        entries.append((str(path.relative_to(root)), path.read_bytes()))
    for optional in ("roster.csv", "written_templates.json"):
        if (autograder / optional).exists():
            entries.append((f"autograder/{optional}", (autograder / optional).read_bytes()))
    # the same key as local grading ($COMMSLAB_GRADING_KEY or autograder/instructor.key)
    entries.append(("autograder/instructor.key", instructor_key(autograder) + b"\n"))
    return entries


def build_bundle(term: str, root: Path) -> Path:
    out = root / "autograder" / "dist" / "collective_comms-autograder.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    entries = [*_files(root), ("TERM", f"{term}\n".encode())]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, ZIP_DATE)
            executable = name in ("setup.sh", "run_autograder")
            secret = name == "autograder/instructor.key"
            info.external_attr = (0o755 if executable else 0o600 if secret else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return out


# --- run_autograder ------------------------------------------------------------------------


def gradescope_identity(metadata: dict, claimed: str, roster=None) -> tuple[str | None, list[str]]:
    """(student id, notes) from submission_metadata.json's documented `users[]` fields.

    None means: nothing verifies the notebook's STUDENT_ID (no roster entry, no user whose
    email or id it names); the caller then grades for the notebook's own id and says so.
    In a group submission the user the notebook names is preferred, else the first.
    """
    from commslab.grading.lms import LmsKey

    users = [u for u in metadata.get("users") or [] if isinstance(u, dict)]
    notes = []
    sids = [str(u.get("sid") or "").strip().lower() for u in users if u.get("sid")]
    if len(users) > 1:
        names = ", ".join(str(u.get("name") or u.get("email") or u.get("id")) for u in users)
        notes.append(f"group submission of {names}: Gradescope gives every member this score")
    claimed = claimed.strip().lower()
    matched: list[str] = []
    for user in users:
        email, uid = str(user.get("email") or "").lower(), str(user.get("id") or "")
        sid = str(user.get("sid") or "").strip().lower()
        if roster is not None:
            student = (
                (roster.match(LmsKey("gradescope_sid", sid)) if sid else None)
                or roster.match(LmsKey("email", email))
                or roster.match(LmsKey("gradescope_id", uid))
            )
            if student is not None:
                matched.append(student.student_id)
                continue
        if sid:  # the course's student id, set on Gradescope's roster: it is the identity
            matched.append(sid)
        elif claimed and claimed in (email, uid.lower()):
            matched.append(claimed)
    if not matched and sids:
        matched = sids
    if not matched:
        return None, [*notes, "identity not verified: no roster entry names this Gradescope user"]
    return (claimed if claimed in matched else matched[0]), notes


@click.command("gradescope", hidden=True)
@click.argument("submission_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--term",
    default=None,
    help="default: the TERM file stored in the bundle (beside the autograder folder)",
)
@click.option("--metadata", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--autograder",
    "autograder_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("autograder"),
)
def gradescope_command(
    submission_dir: Path, term: str, metadata: Path, out: Path, autograder_dir: Path
) -> None:
    """Gradescope's run_autograder: grade the notebook submitted, write results.json (always:
    a grader error is a result, with its status, as otter writes one: one test per question,
    the bonus a test of max_score 0, the score the sum of the tests)."""
    from commslab.grading.grade import GradeResult
    from commslab.grading.outputs import gradescope_results

    out.parent.mkdir(parents=True, exist_ok=True)
    stored = autograder_dir.resolve().parent / "TERM"
    try:
        term = term or stored.read_text(encoding="utf-8").strip()
        result, checks, sandbox = _grade_upload(
            submission_dir, term, metadata, autograder_dir, out.parent
        )
    except Exception as err:
        status = Verdict(Status.GRADER_ERROR, f"{type(err).__name__}: {err}"[:300])
        result = GradeResult.failed(
            path=None,
            term=term or "",
            student_id="unknown",
            status=status,
            autograder_dir=autograder_dir,
        )
        checks, sandbox = [f"The grader failed: {status}. Your TA has been told."], []
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(gradescope_results(result, checks, sandbox), indent=1))
    bonus = f" + bonus {result.bonus:g}" if result.bonus_max else ""  # extra credit
    score = f"{result.score:g}/{result.max_score:g}{bonus}"
    click.echo(f"{result.student_id}: {score} ({result.status})")


def _grade_upload(
    submission_dir: Path, term: str, metadata_path: Path, autograder_dir: Path, results_dir: Path
):
    """(row, the Submission check's lines, sandbox lines) of the upload (pipeline.grade_upload),
    identified by submission_metadata.json (never by a file the student uploaded)."""
    from commslab.grading import lms
    from commslab.grading.pipeline import grade_upload
    from commslab.grading.roster import read_roster
    from commslab.grading.sandbox import Limits

    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        metadata = metadata if isinstance(metadata, dict) else {}
    except (OSError, ValueError):
        metadata = {}
    roster_path = autograder_dir / "roster.csv"
    roster = read_roster(roster_path) if roster_path.exists() else None
    notes: list[str] = []

    def identify(claimed: str) -> str:
        student_id, found = gradescope_identity(metadata, claimed, roster)
        notes[:] = found
        return student_id or claimed or "unknown"

    upload = grade_upload(
        submission_dir,
        platform=lms.Platform.GRADESCOPE,
        term=term,
        identify=identify,
        autograder_dir=autograder_dir,
        results_dir=results_dir,
        limits=Limits(total_seconds=PROBE_SECONDS, memory_bytes=PROBE_MEMORY_BYTES),
    )
    result = upload.result
    checks = [f"file: {e.original or e.file_name}: {e.status or 'graded'}" for e in upload.entries]
    if result.status.kind is Status.NO_NOTEBOOK:
        checks.append("No notebook (.ipynb) found: upload collective_comms.ipynb.")
        return result, checks, []
    if not upload.sandbox:  # no key in the bundle or no sandbox: nothing was run
        return result, checks, []
    checks += upload.sandbox
    result.notes = [*notes, *result.notes]
    checks.append(f"STUDENT_ID in the notebook: {upload.claimed or '(empty)'}; term: {term}")
    checks.extend(notes)
    if result.identity_note:
        checks.append(f"Identity: {result.identity_note}")
    return result, checks, upload.sandbox
