"""What the LMS gives a TA, as one Entry per file: n files in, n entries (rows) out.

An export is a zip or a folder; each layout names the student in its own way, and the
identity is always read from the **outermost** level the platform wrote, never from a name
the student chose (a file inside a student's own zip, a folder inside their Moodle folder, the
display name after Canvas's prefix). Each layout below is taken from the platform's source or
documentation (docs/platforms.md has the details and links):

Canvas, "Download all submissions" (canvas-lms `lib/content_zipper.rb`, `get_filename` and
`add_upload_submission`)::

    <sortable name>[_LATE]_<user id>_<attachment id>_<display name>   an uploaded file
    [LATE_]anon_<anonymous id>_<attachment id>_<display name>         anonymous grading
    <sortable name>[_LATE]_<user id>_text.html | _link.html           text entry / URL
    <group name>_<user id of the submitter>_<attachment id>_<file>    a group assignment

  The sortable name is lowercased, stripped of every non-word character, and may keep
  underscores (`de_la_cruzjuan`); the anonymous id is 5 base58 characters.

Moodle, "Download all submissions" (moodle `mod/assign/classes/downloader.php`)::

    <Full Name>_<participant id>_assignsubmission_file_/<path>/<file>  (folders, the default)
    <Full Name>_<participant id>_assignsubmission_file_<file>          (without folders)
    Participant_<participant id>_assignsubmission_file_/...            (blind marking)
    <Group name>_<group id>_assignsubmission_file_/...                 (team submission)

  Moodle replaces "_" in names by spaces, so the first "_" ends the name. The participant
  id is per assignment: a Moodle grading worksheet (roster.py) maps it to the student.

nbgrader course folder (nbgrader's `CourseDirectory.directory_structure`)::

    submitted/<student id>/<assignment id>/<notebook>.ipynb   (timestamp.txt is nbgrader's)

Blackboard Learn, "Assignment File Download" (no public specification; as
vangef/BBGradebookOrganiser parses it)::

    <assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>   (and a .txt receipt)

D2L Brightspace, Assignments > the assignment > Download (no public specification; as
saritonin/academic-shell-scripts `rename_and_move.sh` reads it, and the older flat form as
the `kodiak` test fixtures name it)::

    <n>-<n> - <First Last> - <Mon D, YYYY HMM AM|PM>/<file>            (folders, and index.html)
    <n>-<n> - <Group> - <First Last> - <Mon D, YYYY HMM AM|PM>/<file>  (a group assignment)
    <n>-<n> - <First Last> - <Mon D, YYYY HMM AM|PM> - <file>          (older: flat files)

  The download names the student by display name only: a roster (the D2L grades export,
  roster.py) maps the name to the OrgDefinedId; without one, the row is graded for the
  notebook's own STUDENT_ID and says that the name could not be checked.

Gradescope, "Export Submissions": one `submission_<id>/` folder per submission and a
`submission_metadata.yml` that names each folder's submitters (`:submitters:` with `:name:`,
`:sid:`, `:email:`).

Any other file keeps its stem as the student id and a note says so.

Several notebooks of one student: the one named like the release (`collective_comms.ipynb`,
also `collective_comms (1).ipynb` from a browser and `collective_comms-1.ipynb` from Canvas's
renaming; the highest copy number wins), else the last uploaded one (highest attachment id,
else the last name); the others get their own row, "not graded: ..." and are listed in the
graded row's notes. Never "best of".

Every file is guarded on its own: a zip that is corrupt, encrypted, uses an unsupported
compression method, holds a huge member, a zip bomb or unreadable names gives rows with a
status, never an exception. Members are never extracted by their own path (no zip-slip):
each part of the path is sanitised. A zip inside the export (a student's own upload) is
unpacked once, its files inherit the identity of the zip; a zip inside that is not opened.
Hidden files and folders (`.ipynb_checkpoints`, `.DS_Store`) and `__MACOSX/` are skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from commslab.grading.notebook import MAX_NOTEBOOK_BYTES

if TYPE_CHECKING:
    from commslab.grading.roster import Roster

RELEASE_STEM = "collective_comms"  # commslab.release.ASSIGNMENT (not imported: no nbgrader here)
MAX_ZIP_TOTAL_BYTES = 8 * 1024**3
MAX_COMPRESSION_RATIO = 1000  # a member that inflates more than this is a bomb, not a notebook
MAX_NAME_CHARS = 120

# canvas-lms lib/content_zipper.rb: [users_name, "LATE", id].compact.join("_"), then
# "#{filename}_#{attachment.id}_#{display_name}" or "#{filename}_text.html" / "_link.html".
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # Canvas Anonymity ids
_CANVAS_TAIL = r"_(?:(?P<attachment>\d+)_(?P<display>.+)|(?P<kind>text|link)\.html)$"
CANVAS_ANONYMOUS = re.compile(
    r"^(?:(?P<late>LATE)_)?(?P<anon>anon_[" + BASE58 + r"]{5})" + _CANVAS_TAIL
)
CANVAS_NAME = re.compile(r"^(?P<name>\w*?)_(?:(?P<late>LATE)_)?(?P<user>\d+)" + _CANVAS_TAIL)
# moodle mod/assign/classes/downloader.php: clean_filename(name_with_spaces . '_' . uniqueid)
# . '_' . subtype . '_' . type, then "_/" + path (folders) or "_" + file name (flat).
MOODLE_NAME = re.compile(
    r"^(?P<name>[^_/]*?)(?:_(?P<id>\d+))?_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$"
)
# Blackboard Learn (Original) "Assignment File Download": no public specification; the names
# as vangef/BBGradebookOrganiser (utils/organiser.py) parses them: the username is the last
# "_" token before "_attempt_", then the attempt's date; a .txt receipt per attempt.
BLACKBOARD_NAME = re.compile(
    r"^(?P<assignment>.+)_(?P<user>[^_]+)_attempt_"
    r"(?P<date>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:_(?P<file>.+)|\.txt)$"
)
# D2L Brightspace's download (see the module docstring): "<ids> - [<group> - ]<name> - <date>"
# as a folder, or followed by " - <file>" (older flat downloads); the date as D2L writes it.
D2L_DATE = r"[A-Z][a-z]{2} \d{1,2}, \d{4} \d{3,4} [AP]M"
D2L_FOLDER = re.compile(r"^(?P<ids>\d+(?:-\d+)?) - (?P<who>.+?) - (?P<date>" + D2L_DATE + r")$")
D2L_FILE = re.compile(
    r"^(?P<ids>\d+(?:-\d+)?) - (?P<who>.+?) - (?P<date>" + D2L_DATE + r") - (?P<file>.+)$"
)
D2L_INDEX = "index.html"  # the download's table of contents
COPY_NUMBER = re.compile(r"^(?P<stem>.*?)(?:\s?\((?P<paren>\d+)\)|-(?P<dash>\d+))?$")
GRADESCOPE_METADATA = "submission_metadata.yml"
NOT_SUBMISSIONS = {"timestamp.txt"}  # nbgrader writes it next to each submission


class Platform(str, Enum):
    """Which layout named the file (str-valued: it is written into the notes)."""

    CANVAS = "canvas"
    MOODLE = "moodle"
    BLACKBOARD = "blackboard"
    D2L = "d2l"
    NBGRADER = "nbgrader"
    GRADESCOPE = "gradescope"
    FILE = "file"  # no LMS layout: the file name is all there is


@dataclass(frozen=True)
class LmsKey:
    """An identity as the platform wrote it, before the roster maps it to a student id.

    kind: "canvas" (user id), "canvas_anonymous", "moodle_participant", "moodle_group",
    "nbgrader", "gradescope_sid", "email", "d2l_name" (a display name), "file" (a file stem).
    """

    kind: str
    value: str


@dataclass
class Entry:
    """One file to grade, with its LMS identity; `status` set means: do not grade, say this."""

    path: Path | None
    source: str  # where the file came from, for the row ("class.zip:doejane_1_2_nb.ipynb")
    student_id: str
    name: str = ""  # the LMS's name for the student ("doejane"), for the gradebook
    submission_id: int = -1  # Canvas attachment id: a later upload has a larger one
    resubmission: int = 0  # the copy number of "name-2.ipynb" / "name (2).ipynb"
    original: str = ""  # the file name the student gave it
    late: bool = False
    notes: list[str] = field(default_factory=list)
    status: str | None = None
    platform: Platform = Platform.FILE
    key: LmsKey | None = None
    verified: bool = True  # False: the LMS hides who it is (anonymous grading)
    group: str = ""  # a group submission's group name
    group_members: list[str] = field(default_factory=list)  # the others its grade goes to
    in_roster: bool = True  # False: a roster was given and does not know this identity
    assignment: str = ""  # the LMS's assignment name, where the layout has one (nbgrader)

    @property
    def file_name(self) -> str:
        return self.source.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


@dataclass
class _Identity:
    """Who a path belongs to, and how many leading path parts the platform named."""

    platform: Platform
    key: LmsKey
    name: str = ""
    late: bool = False
    attachment: int = -1
    original: str = ""
    depth: int = 1
    verified: bool = True
    group: str = ""
    assignment: str = ""
    notes: list[str] = field(default_factory=list)


# --- naming conventions -------------------------------------------------------------------


def anonymous_number(anon: str) -> str:
    """Canvas's case-sensitive anonymous id as a case-free one: "anon_aB3xZ" -> "anon-<n>".

    Student ids are compared lowercased everywhere; base58 ids differ by case only
    ("aB3xZ", "Ab3xZ"), so they become the integer they encode (unique, case-free).
    """
    number = 0
    for char in anon.removeprefix("anon_"):
        number = number * 58 + BASE58.index(char)
    return f"anon-{number}"


def parse_canvas_name(file_name: str) -> dict | None:
    """The parts of a Canvas bulk-download file name, or None if it does not follow it."""
    match = CANVAS_ANONYMOUS.match(file_name) or CANVAS_NAME.match(file_name)
    if not match:
        return None
    parts = match.groupdict()
    display = parts["display"] or f"{parts['kind']}.html"
    copy = copy_number(display)
    anonymous = parts.get("anon")
    return {
        "name": parts.get("name") or "",
        "late": bool(parts["late"]),
        "student_id": anonymous_number(anonymous) if anonymous else parts["user"],
        "anonymous": anonymous or "",
        "submission_id": int(parts["attachment"]) if parts["attachment"] else -1,
        "original": display,
        "resubmission": copy[1],
        "base": copy[0],
    }


def copy_number(file_name: str) -> tuple[str, int]:
    """("collective_comms.ipynb", 2) for "collective_comms (2).ipynb" or "collective_comms-2.ipynb".

    " (N)" is what browsers add to a repeated download; "-N" is what Canvas adds to a file
    uploaded again under the same name.
    """
    path = PurePosixPath(file_name)
    match = COPY_NUMBER.match(path.stem)
    assert match is not None  # the pattern matches every string
    number = match["paren"] or match["dash"]
    return match["stem"] + path.suffix, int(number) if number else 0


def named_like_release(file_name: str, release_stem: str = RELEASE_STEM) -> bool:
    base, _ = copy_number(file_name)
    return base.lower() == f"{release_stem}.ipynb"


def _identify_canvas(parts: tuple[str, ...]) -> _Identity | None:
    parsed = parse_canvas_name(parts[-1])
    if parsed is None:
        return None
    anonymous = parsed["anonymous"]
    identity = _Identity(
        Platform.CANVAS,
        LmsKey("canvas_anonymous" if anonymous else "canvas", parsed["student_id"]),
        name=parsed["name"],
        late=parsed["late"],
        attachment=parsed["submission_id"],
        original=parsed["original"],
        depth=len(parts),
        verified=not anonymous,
    )
    if anonymous:
        identity.notes.append(
            f"anonymous grading ({anonymous}): the notebook's STUDENT_ID cannot be checked"
        )
    return identity


def _identify_moodle(parts: tuple[str, ...]) -> _Identity | None:
    for depth, part in enumerate(parts, start=1):
        match = MOODLE_NAME.match(part)
        if match is None:
            continue
        name, number = match["name"].strip(), match["id"]
        blind = name == "Participant"
        if number is None:  # a team submission of students in no group: "Default group"
            key, what = LmsKey("moodle_group", name.lower()), f"group {name}"
        else:  # a participant id, or a group id in a team assignment (roster.py tells)
            key, what = LmsKey("moodle_participant", number), f"participant {number}"
        last = depth == len(parts)
        return _Identity(
            Platform.MOODLE,
            key,
            name="" if blind else name,
            original=match["rest"] if last else parts[-1],
            depth=depth,
            notes=[f"Moodle {what}"],
        )
    return None


def _identify_blackboard(parts: tuple[str, ...]) -> _Identity | None:
    match = BLACKBOARD_NAME.match(parts[-1])
    if match is None:
        return None
    return _Identity(
        Platform.BLACKBOARD,
        LmsKey("login", match["user"].lower()),
        name=match["user"],
        attachment=int(match["date"].replace("-", "")),  # a later attempt sorts after
        original=match["file"] or "receipt.txt",
        depth=len(parts),
        assignment=match["assignment"],
        notes=[f"Blackboard attempt {match['date']}"],
    )


def _identify_d2l(parts: tuple[str, ...]) -> _Identity | None:
    for depth, part in enumerate(parts, start=1):
        last = depth == len(parts)
        match = (D2L_FILE if last else D2L_FOLDER).match(part)
        if match is None:
            continue
        *group, name = match["who"].split(" - ")
        return _Identity(
            Platform.D2L,
            LmsKey("d2l_name", d2l_name_key(name)),
            name=name.strip(),
            # a later submission of the same student has a later time (no seconds: ties keep
            # the order of the names)
            attachment=_d2l_minutes(match["date"]),
            original=match["file"] if last else parts[-1],
            depth=depth,
            verified=False,
            group=" - ".join(group),
            notes=[f"D2L submission {match['ids']} of {match['date']}"],
        )
    return None


def d2l_name_key(name: str) -> str:
    """A D2L display name as the roster compares it: lowercased, single spaces."""
    return " ".join(name.lower().split())


def _d2l_minutes(date: str) -> int:
    """ "Sep 24, 2024 926 PM" as minutes since 2000 (a sortable submission order)."""
    from datetime import datetime

    month_day_year, clock, half = date.rsplit(" ", 2)
    moment = datetime.strptime(f"{month_day_year} {clock.zfill(4)} {half}", "%b %d, %Y %I%M %p")
    return int((moment - datetime(2000, 1, 1)).total_seconds() // 60)


def _identify_nbgrader(parts: tuple[str, ...]) -> _Identity | None:
    if "submitted" not in parts[:-3]:
        return None
    at = parts.index("submitted")
    student, assignment = parts[at + 1], parts[at + 2]
    return _Identity(
        Platform.NBGRADER,
        LmsKey("nbgrader", student),
        name=student,
        original=parts[-1],
        depth=at + 3,
        assignment=assignment,
        notes=[f"nbgrader submitted/{student}/{assignment}"],
    )


def _identify_gradescope(parts: tuple[str, ...], metadata: dict[str, list[dict]]) -> _Identity:
    folder = next(p for p in parts if p in metadata)
    submitters = metadata[folder]
    first = submitters[0] if submitters else {}
    sid, email = str(first.get("sid") or "").strip(), str(first.get("email") or "").strip()
    key = LmsKey("gradescope_sid", sid) if sid else LmsKey("email", email.lower() or folder)
    identity = _Identity(
        Platform.GRADESCOPE,
        key,
        name=str(first.get("name") or ""),
        original=parts[-1],
        depth=parts.index(folder) + 1,
    )
    if len(submitters) > 1:
        others = ", ".join(str(s.get("sid") or s.get("email") or s.get("name")) for s in submitters)
        identity.group = folder
        identity.notes.append(f"group submission of {others}: graded for the first submitter")
    return identity


def identify(parts: tuple[str, ...], gradescope: dict[str, list[dict]] | None = None) -> _Identity:
    """Who the file at these path parts (relative to the export's root) belongs to."""
    if gradescope and any(p in gradescope for p in parts[:-1]):
        return _identify_gradescope(parts, gradescope)
    layouts = (
        _identify_nbgrader,
        _identify_moodle,
        _identify_d2l,
        _identify_blackboard,
        _identify_canvas,
    )
    for identify_layout in layouts:
        found = identify_layout(parts)
        if found is not None:
            return found
    stem = PurePosixPath(parts[-1]).stem or parts[-1]
    return _Identity(
        Platform.FILE,
        LmsKey("file", stem.lower()),
        original=parts[-1],
        depth=len(parts),
        notes=["the file name is not an LMS export name: the student id is the file name"],
    )


def _gradescope_metadata(text: str) -> dict[str, list[dict]]:
    """folder name -> submitters, from Gradescope's submission_metadata.yml (Ruby symbols as
    keys: ":submitters:", ":sid:"); {} if it cannot be read."""
    try:
        import yaml

        data = yaml.safe_load(text)
    except Exception:
        return {}
    if not isinstance(data, dict):
        return {}
    folders = {}
    for folder, record in data.items():
        if not isinstance(record, dict):
            continue
        submitters = record.get(":submitters") or record.get("submitters") or []
        folders[str(folder)] = [
            {str(k).lstrip(":"): v for k, v in s.items()} for s in submitters if isinstance(s, dict)
        ]
    return folders


# --- reading zips and folders ------------------------------------------------------------


def _hidden(parts: tuple[str, ...]) -> bool:
    return any((p.startswith(".") and p not in (".", "..")) or p == "__MACOSX" for p in parts)


def _printable(text: str) -> str:
    """A name as it can go into a CSV: undecodable bytes and control characters replaced."""
    text = os.fsencode(text).decode("utf-8", "replace")
    return re.sub(r"[\x00-\x1f\x7f]", "?", text)


def _safe_part(part: str) -> str:
    part = re.sub(r"[^\w.\- ()+,@]", "_", _printable(part)).strip()
    if part in ("", ".", ".."):
        part = "_"
    return part[:MAX_NAME_CHARS]


@dataclass
class _File:
    """One file found in the input: where it is now, what it was called, how it was read."""

    path: Path | None
    source: str
    parts: tuple[str, ...]  # path parts relative to the export's root, as the LMS wrote them
    status: str | None = None
    inherited: _Identity | None = None  # a file from a student's own zip


def _member_status(info: zipfile.ZipInfo, total: int) -> str | None:
    if info.flag_bits & 0x1:
        return "not graded: encrypted in the zip"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2):
        if info.compress_type != zipfile.ZIP_LZMA:
            return f"not graded: unsupported compression method {info.compress_type} in the zip"
    too_big = info.file_size > MAX_NOTEBOOK_BYTES
    bomb = (
        info.compress_size
        and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO
        and info.file_size > 10 * 1024**2
    )
    if too_big or bomb:
        return "not graded: too large in the zip"
    if total + info.file_size > MAX_ZIP_TOTAL_BYTES:
        return "not graded: the zip is too large to unpack"
    return None


def _unzip(zip_path: Path, source: str, target: Path) -> tuple[list[_File], str | None]:
    """The zip's files, each written under `target` by its sanitised path; (files, problem)."""
    try:
        archive = _open_zip(zip_path, target)
        infos = archive.infolist()
    except Exception as err:  # BadZipFile, OSError, ValueError, a bad central directory...
        return [], f"corrupt zip: {err}"[:200]
    files: list[_File] = []
    used: set[Path] = set()
    total = 0
    with archive:
        for info in infos:
            raw = _printable(info.filename.replace("\\", "/"))
            member = PurePosixPath(raw)
            parts = tuple(p for p in member.parts if p not in ("/", "")) or ("file",)
            if info.is_dir() or _hidden(parts):
                continue
            file = _File(None, f"{source}:{raw}", parts)
            files.append(file)
            file.status = _member_status(info, total)
            if file.status is not None:
                continue
            destination = target.joinpath(*(_safe_part(p) for p in parts))
            while destination in used:
                destination = destination.with_name("_" + destination.name)
            used.add(destination)
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                written = _copy_capped(archive, info, destination)
            except Exception as err:  # NotImplementedError, BadZipFile, zlib.error, OSError...
                file.status = f"corrupt zip member: {type(err).__name__}: {err}"[:200]
                destination.unlink(missing_ok=True)
                continue
            if written is None:
                file.status = "not graded: too large in the zip"
                continue
            total += written
            file.path = destination
    return files, None


def _open_zip(zip_path: Path, workdir: Path) -> zipfile.ZipFile:
    """The zip, also when a member's name claims UTF-8 (flag bit 11) but is not: Python
    refuses the whole zip then, so such names are re-read as CP437 from a patched copy
    (APPNOTE.TXT 4.4.4: without bit 11 a name is CP437), and every other file keeps its row."""
    try:
        return zipfile.ZipFile(zip_path)
    except UnicodeDecodeError:
        pass
    data = bytearray(zip_path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0 and at + 46 <= len(data):
        flags = int.from_bytes(data[at + 8 : at + 10], "little")
        length = int.from_bytes(data[at + 28 : at + 30], "little")
        name = bytes(data[at + 46 : at + 46 + length])
        if flags & 0x800:
            try:
                name.decode("utf-8")
            except UnicodeDecodeError:
                data[at + 8 : at + 10] = (flags & ~0x800).to_bytes(2, "little")
        at = data.find(b"PK\x01\x02", at + 46 + length)
    workdir.mkdir(parents=True, exist_ok=True)
    patched = workdir.with_name(workdir.name + "-names.zip")
    patched.write_bytes(bytes(data))
    return zipfile.ZipFile(patched)


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


def _walk(folder: Path, source: str) -> list[_File]:
    files = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if _hidden(parts) or path.is_dir():
            continue
        shown = _printable("/".join(parts))
        status = "not graded: a symbolic link" if path.is_symlink() else None
        files.append(_File(None if status else path, f"{source}{shown}", parts, status))
    return files


def _is_zip(file: _File) -> bool:
    return file.path is not None and file.parts[-1].lower().endswith(".zip")


def _read_input(path: Path, workdir: Path) -> tuple[list[_File], str | None]:
    """The files of one input path: a folder, a zip (unpacked) or a single file."""
    if path.is_dir():
        return _walk(path, "" if path == Path(".") else f"{_printable(path.name)}/"), None
    if path.suffix.lower() == ".zip":
        target = workdir / f"in-{len(list(workdir.iterdir())):03d}"
        files, problem = _unzip(path, _printable(path.name), target)
        return files, problem
    return [_File(path, _printable(path.name), (path.name,))], None


def _expand_student_zips(files: list[_File], workdir: Path, gradescope: dict) -> list[_File]:
    """A zip the student uploaded is opened once; its files keep the zip's identity."""
    expanded: list[_File] = []
    for file in files:
        if not _is_zip(file) or file.status is not None or file.inherited is not None:
            expanded.append(file)
            continue
        identity = identify(file.parts, gradescope)
        target = workdir / f"student-{len(list(workdir.iterdir())):03d}"
        assert file.path is not None
        inner, problem = _unzip(file.path, file.source, target)
        if problem is not None:
            file.status = problem
            expanded.append(file)
            continue
        if not inner:
            file.status = "not graded: an empty zip"
            expanded.append(file)
            continue
        for member in inner:
            member.inherited = identity
            if member.parts[-1].lower().endswith(".zip") and member.status is None:
                member.status = "not graded: a zip inside a zip (upload the notebook itself)"
            expanded.append(member)
    return expanded


def _entry(file: _File, gradescope: dict) -> Entry:
    if file.inherited is not None:
        identity = file.inherited
        original = file.parts[-1]
        notes = [*identity.notes, f"from the student's zip {identity.original}"]
    else:
        identity = identify(file.parts, gradescope)
        original, notes = identity.original or file.parts[-1], list(identity.notes)
    entry = Entry(
        file.path,
        file.source,
        identity.key.value,
        name=identity.name,
        submission_id=identity.attachment,
        resubmission=copy_number(original)[1],
        original=original,
        late=identity.late,
        notes=notes,
        status=file.status,
        platform=identity.platform,
        key=identity.key,
        verified=identity.verified,
        group=identity.group,
        assignment=identity.assignment,
    )
    if entry.late:
        entry.notes.append("late")
    return entry


def collect(
    paths: list[str | Path],
    workdir: str | Path,
    *,
    roster: Roster | None = None,
    release_stem: str = RELEASE_STEM,
) -> list[Entry]:
    """Every file under `paths` as an Entry (zips unpacked into `workdir`), in input order,
    each LMS identity mapped to its student through the roster (if any), then the
    one-notebook-per-student rule applied."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    entries: list[Entry] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            entries.append(Entry(None, str(raw), path.stem, status="missing: no such file"))
            continue
        try:
            files, problem = _read_input(path, workdir)
        except Exception as err:  # an unreadable folder: its own row, the batch goes on
            files, problem = [], f"unreadable: {type(err).__name__}: {err}"[:200]
        if problem is not None:
            entries.append(Entry(None, _printable(path.name), path.stem.lower(), status=problem))
            continue
        gradescope = _gradescope_files(files)
        d2l = any(D2L_FOLDER.match(p) for f in files for p in f.parts[:-1])
        files = [f for f in files if not _bookkeeping(f, gradescope, d2l)]
        for file in _expand_student_zips(files, workdir, gradescope):
            entries.append(_entry(file, gradescope))
    if roster is not None:
        for entry in entries:
            apply_roster(entry, roster)
    for entry in entries:
        if entry.platform is Platform.D2L and not entry.verified:
            entry.notes.append(
                "D2L names the student by display name only: the notebook's STUDENT_ID was "
                "used (give the D2L grades export as --roster to check it)"
            )
    choose_notebooks(entries, release_stem)
    return entries


def apply_roster(entry: Entry, roster: Roster) -> None:
    """The entry's student id becomes the roster's; an identity the roster does not know
    keeps the LMS's id and says so (it is never guessed)."""
    if entry.key is None:
        return
    student = roster.match(entry.key, name=entry.name)
    if student is None:
        entry.notes.append(
            f"not in the roster ({entry.key.kind} {entry.key.value}): graded under the LMS id"
        )
        entry.in_roster = False
        return
    if student.student_id != entry.student_id.lower():
        entry.notes.append(f"roster: {entry.key.kind} {entry.key.value} is {student.student_id}")
    entry.student_id = student.student_id
    entry.verified = entry.verified or entry.platform is Platform.D2L  # the roster named them
    if _named_after_group(entry, student.group):
        entry.group = student.group
        entry.group_members = [m.student_id for m in roster.members(student.group)]
        entry.group_members.remove(student.student_id)
        entry.notes.append(
            f"group {student.group}: one submission, graded for {student.student_id}; the "
            f"gradebook gives its grade to {', '.join(entry.group_members) or 'nobody else'}"
        )
    entry.name = entry.name or student.name


def _named_after_group(entry: Entry, group: str) -> bool:
    """The LMS named the file after the student's group: one submission for the group.
    Moodle's team download is "<group name>_<group id>_..." (downloader.php), matched to a
    member through the worksheet's Group column (roster.py)."""
    if entry.platform is Platform.MOODLE:
        return bool(group) and entry.name.strip().lower() == group.strip().lower()
    return entry.platform is Platform.CANVAS and canvas_group_submission(entry.name, group)


def canvas_group_submission(file_name_part: str, group: str) -> bool:
    """True if Canvas named the file after the student's group: in a group assignment the
    representative's sortable name is replaced by the group's name (canvas-lms
    app/models/assignment.rb `representatives`), made file-safe as every name is
    (lib/content_zipper.rb: `sanitize_user_name` drops the "_" around digits and lowercases,
    `sanitize_file_name` drops every non-word character). A student who is in a group but
    hands in an individual assignment is named after themselves: no copy."""
    if not group:
        return False
    name = re.sub(r"_(\d+)_", r"\1", group).lower()
    return file_name_part == re.sub(r"[^\w]", "", name)


def _gradescope_files(files: list[_File]) -> dict[str, list[dict]]:
    metadata: dict[str, list[dict]] = {}
    for file in files:
        if file.parts[-1] == GRADESCOPE_METADATA and file.path is not None:
            text = file.path.read_text(encoding="utf-8", errors="replace")
            metadata.update(_gradescope_metadata(text))
    return metadata


def _bookkeeping(file: _File, gradescope: dict, d2l: bool) -> bool:
    """Files the platform wrote about the submissions, not submissions."""
    name = file.parts[-1]
    if name == GRADESCOPE_METADATA and gradescope:
        return True
    if name == D2L_INDEX and d2l and not any(D2L_FOLDER.match(p) for p in file.parts[:-1]):
        return True  # D2L's table of contents, not inside a student's folder
    return name in NOT_SUBMISSIONS and "submitted" in file.parts


# --- one notebook per student ------------------------------------------------------------


def _is_notebook_name(entry: Entry) -> bool:
    return entry.original.lower().endswith(".ipynb") or entry.file_name.lower().endswith(".ipynb")


def _preference(entry: Entry, release_stem: str) -> tuple:
    """Larger is preferred: named like the release, then the highest copy number, then the
    last upload (attachment id), then the name (a stable order for the rest)."""
    return (
        named_like_release(entry.original, release_stem),
        entry.resubmission if named_like_release(entry.original, release_stem) else 0,
        entry.submission_id,
        entry.source,
    )


def choose_notebooks(entries: list[Entry], release_stem: str = RELEASE_STEM) -> None:
    """Per student, grade one notebook; the others get "not graded: ..." and a mention."""
    by_student: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        if e.status is None and e.path is not None and _is_notebook_name(e):
            kind = e.key.kind if e.key else "file"
            by_student.setdefault((kind, e.student_id.lower()), []).append(e)
    for group in by_student.values():
        if len(group) < 2:
            continue
        chosen = max(group, key=lambda e: _preference(e, release_stem))
        others = [e for e in group if e is not chosen]
        chosen.notes.append(
            "other notebooks in this submission (not graded): "
            + ", ".join(e.original for e in others)
        )
        for e in others:
            e.status = _not_chosen(e, chosen, release_stem)


def _not_chosen(entry: Entry, chosen: Entry, release_stem: str) -> str:
    if copy_number(entry.original)[0] == copy_number(chosen.original)[0]:
        return f"superseded (a later upload is graded: {chosen.file_name})"
    if named_like_release(chosen.original, release_stem):
        return f"not graded: {chosen.original} is graded (the notebook named like the release)"
    return f"not graded: {chosen.original} is graded (the last notebook uploaded)"


def cleanup(workdir: str | Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)


# --- a plan for a job array ----------------------------------------------------------------


def entries_to_json(entries: list[Entry], base: Path) -> str:
    """The entries as JSON, paths relative to `base` (the plan's folder, shared by the jobs)."""
    import dataclasses
    import json

    records = []
    for e in entries:
        record = dataclasses.asdict(e)
        record["path"] = os.path.relpath(e.path, base) if e.path is not None else None
        record["platform"] = e.platform.value
        records.append(record)
    return json.dumps({"entries": records}, indent=1)


def entries_from_json(text: str, base: Path) -> list[Entry]:
    """The entries of a plan written by entries_to_json, paths resolved against `base`."""
    import json

    entries = []
    for record in json.loads(text)["entries"]:
        record["path"] = base / record["path"] if record["path"] is not None else None
        record["platform"] = Platform(record["platform"])
        record["key"] = LmsKey(**record["key"]) if record["key"] else None
        entries.append(Entry(**record))
    return entries
