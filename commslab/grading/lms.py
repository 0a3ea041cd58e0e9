"""What the LMS gives a TA, as a list of files to grade: notebooks, folders, bulk-download zips.

Canvas names each file of a bulk download

    <name>_<userid>_<submissionid>_<original name>       doejane_1234567_89012_lab.ipynb
    <name>_LATE_<userid>_<submissionid>_<original name>  a late submission (graded, flagged)

and a resubmitted file may get "-1", "-2" appended to its original name. The Canvas user id is
the student's LMS id. Per student the latest notebook wins (the highest submission id, then
the highest -N); older notebooks get the status "superseded (...)". Other files (a PDF, a zip)
are never superseded: they get their own row ("not a notebook"). A file whose name does not
follow the pattern gets its stem as the student id and a note.

Every file in gives one Entry, hence one row: n files in, n rows out. Hidden files and folders
(".ipynb_checkpoints", ".DS_Store") and macOS "__MACOSX/" metadata in zips are not submissions
and are skipped. Zip members are never extracted by their own path (no zip-slip): each is
copied, by its base name, into a fresh folder, with a size cap per member and for the whole
zip (a zip bomb stops at the cap).
"""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from commslab.grading.notebook import MAX_NOTEBOOK_BYTES

CANVAS_NAME = re.compile(
    r"^(?P<name>[^_]+)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<submission>\d+)_(?P<original>.+)$"
)
RESUBMISSION = re.compile(r"^(?P<stem>.*?)-(?P<number>\d+)(?P<suffix>\.[^.]*)?$")
MAX_ZIP_TOTAL_BYTES = 8 * 1024**3
MAX_COMPRESSION_RATIO = 1000  # a member that inflates more than this is a bomb, not a notebook


@dataclass
class Entry:
    """One file to grade, with its LMS identity; `status` set means: do not grade, say this."""

    path: Path | None
    source: str  # where the file came from, for the row ("class.zip:doejane_1_2_nb.ipynb")
    student_id: str
    name: str = ""  # the LMS's name for the student ("doejane"), for the Canvas gradebook
    submission_id: int = -1
    resubmission: int = 0
    original: str = ""
    late: bool = False
    notes: list[str] = field(default_factory=list)
    status: str | None = None

    @property
    def file_name(self) -> str:
        return self.source.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def parse_lms_name(file_name: str) -> dict | None:
    """The parts of a Canvas bulk-download file name, or None if it does not follow it."""
    match = CANVAS_NAME.match(file_name)
    if not match:
        return None
    original = match["original"]
    resubmission = RESUBMISSION.match(original)
    number = int(resubmission["number"]) if resubmission else 0
    return {
        "name": match["name"],
        "late": bool(match["late"]),
        "student_id": match["user"],
        "submission_id": int(match["submission"]),
        "original": original,
        "resubmission": number,
        "base": (resubmission["stem"] + (resubmission["suffix"] or ""))
        if resubmission
        else original,
    }


def _entry(path: Path | None, source: str, file_name: str) -> Entry:
    parts = parse_lms_name(file_name)
    if parts is None:
        stem = PurePosixPath(file_name).stem or file_name
        return Entry(
            path,
            source,
            stem,
            notes=["the file name is not an LMS export name: the student id is the file name"],
        )
    entry = Entry(
        path,
        source,
        parts["student_id"],
        name=parts["name"],
        submission_id=parts["submission_id"],
        resubmission=parts["resubmission"],
        original=parts["original"],
        late=parts["late"],
    )
    if entry.late:
        entry.notes.append("late")
    return entry


def _hidden(parts: tuple[str, ...]) -> bool:
    return any((p.startswith(".") and p not in (".", "..")) or p == "__MACOSX" for p in parts)


def _from_zip(zip_path: Path, workdir: Path) -> list[Entry]:
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as err:
        return [Entry(None, zip_path.name, zip_path.stem, status=f"corrupt zip: {err}")]
    target = workdir / f"zip-{len(list(workdir.iterdir())):03d}"
    target.mkdir(parents=True)
    entries, total = [], 0
    with archive:
        for number, info in enumerate(archive.infolist()):
            member = PurePosixPath(info.filename.replace("\\", "/"))
            if info.is_dir() or not member.name or _hidden(member.parts):
                continue
            source = f"{zip_path.name}:{info.filename}"
            entry = _entry(None, source, member.name)
            entries.append(entry)
            if info.flag_bits & 0x1:
                entry.status = "not graded: encrypted in the zip"
                continue
            if info.file_size > MAX_NOTEBOOK_BYTES or (
                info.compress_size
                and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO
                and info.file_size > 10 * 1024**2
            ):
                entry.status = "not graded: too large in the zip"
                continue
            if total + info.file_size > MAX_ZIP_TOTAL_BYTES:
                entry.status = "not graded: the zip is too large to unpack"
                continue
            # the member's own path is never used: no "../" escapes, no absolute paths
            destination = target / f"{number:05d}"
            destination.mkdir()
            destination /= re.sub(r"[^\w.\- ]", "_", member.name)[:200] or "file"
            try:
                written = _copy_capped(archive, info, destination)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
                entry.status = f"corrupt zip member: {err}"[:200]
                continue
            if written is None:
                entry.status = "not graded: too large in the zip"
                continue
            total += written
            entry.path = destination
    return entries


def _copy_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path) -> int | None:
    """Copy one member, stopping at the cap whatever its header claims; None if over."""
    written = 0
    with archive.open(info) as source, open(destination, "wb") as target:
        while chunk := source.read(1 << 20):
            written += len(chunk)
            if written > MAX_NOTEBOOK_BYTES:
                break
            target.write(chunk)
    if written > MAX_NOTEBOOK_BYTES:
        destination.unlink()
        return None
    return written


def collect(paths: list[str | Path], workdir: str | Path) -> list[Entry]:
    """Every file under `paths` as an Entry (zips unpacked into `workdir`), in input order,
    then the latest-notebook-wins rule applied per LMS student."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    entries: list[Entry] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if not _hidden(file.relative_to(path).parts):
                    entries.extend(_from_file(file, workdir, str(file.relative_to(path))))
        elif path.is_file():
            entries.extend(_from_file(path, workdir, path.name))
        else:
            entries.append(Entry(None, str(path), path.stem, status="missing: no such file"))
    _supersede(entries)
    return entries


def _from_file(path: Path, workdir: Path, source: str) -> list[Entry]:
    if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
        return _from_zip(path, workdir)
    return [_entry(path, source, path.name)]


def _supersede(entries: list[Entry]) -> None:
    """Older notebooks of a student (LMS names only) get "superseded (...)"."""
    latest: dict[str, tuple[int, int]] = {}
    for e in entries:
        if e.submission_id >= 0 and _is_notebook_name(e) and e.status is None:
            key = (e.submission_id, e.resubmission)
            latest[e.student_id] = max(latest.get(e.student_id, key), key)
    for e in entries:
        if e.submission_id < 0 or not _is_notebook_name(e) or e.status is not None:
            continue
        best = latest[e.student_id]
        if (e.submission_id, e.resubmission) < best:
            e.status = f"superseded (newer submission {best[0]}" + (
                f", file -{best[1]})" if best[1] else ")"
            )


def _is_notebook_name(entry: Entry) -> bool:
    return entry.file_name.lower().endswith(".ipynb")


def cleanup(workdir: str | Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
