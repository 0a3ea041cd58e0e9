"""Intake: what a TA hands the grader, as one Entry per file, each read by its platform's rules.

    batch = intake(["submissions.zip"], workdir, platform=None, roster=roster)
    batch.platform, batch.entries      # one Entry per file: n files in, n entries (rows) out

The steps, in order, used by `commslab grade`, `regrade`, `grade --plan`, the Gradescope
bundle (commslab/bundle.py) and PrairieLearn (commslab/grading/prairielearn.py):

1. **collect**: every input is listed (a zip from its central directory, nothing extracted).
2. **detect**: the platform is decided ONCE per batch, from the export's structure (a
   `Signature` per platform below, each taken from that platform's source), or given
   (`--lms`). An export that matches no platform's signature but looks partly like one, or
   that matches more than one, stops with a `PlatformError` that names `--lms`. Inputs with
   nothing of any platform in them (a single notebook, a plain folder) are `files`.
3. **unpack** (commslab/grading/unpack.py): every member bounded per file and per batch
   before it is written; a member over a limit keeps its row.
4. **identify**: each file by the batch's platform only, from what the platform controls
   (never from a file or name inside a student's upload). A file the platform did not put
   there gets its own row, "not graded: ...", and no identity. In `files` mode the
   notebook's own STUDENT_ID is the identity, bound by the roster when one is given.
5. **kind**: a file is a notebook by its content (a .txt that parses as a notebook is one);
   anything else gets a clean "not a notebook" row.
6. **roster**: the platform's identity mapped to the student id (roster.py).
7. **choose**: one graded notebook per student, by the platform's own rule (the latest
   attempt; within one attempt the notebook named like the release, then the .ipynb, then
   the last uploaded); every other notebook of that student is not graded and flagged for
   the TA. Never "best of".

The signatures, identities and refusals per platform, with their sources, are in
docs/platforms.md and on each `Signature` below.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from commslab.grading import unpack
from commslab.grading.records import Status, Verdict
from commslab.grading.unpack import Budget, File, UnpackLimits, printable

if TYPE_CHECKING:
    from commslab.grading.roster import Roster

RELEASE_STEM = "collective_comms"  # commslab.release.ASSIGNMENT (not imported: no nbgrader here)
MAX_NOTEBOOK_BYTES = unpack.MAX_NOTEBOOK_BYTES

# canvas-lms lib/content_zipper.rb: [users_name, "LATE", id].compact.join("_"), then
# "#{filename}_#{attachment.id}_#{display_name}" or "#{filename}_text.html" / "_link.html".
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # Canvas Anonymity ids
_CANVAS_TAIL = r"_(?:(?P<attachment>\d+)_(?P<display>.+)|(?P<kind>text|link)\.html)$"
CANVAS_ANONYMOUS = re.compile(
    r"^(?:(?P<late>LATE)_)?(?P<anon>anon_[" + BASE58 + r"]{5})" + _CANVAS_TAIL
)
CANVAS_NAME = re.compile(r"^(?P<name>\w*?)_(?:(?P<late>LATE)_)?(?P<user>\d+)" + _CANVAS_TAIL)
# moodle mod/assign/classes/downloader.php (4.1+, `get_student_prefix` and
# `load_submissionplugin_filelist`): prefix = clean_filename(str_replace('_', ' ', name)
# . '_' . uniqueid); folders: clean_filename(prefix . '_' . subtype . '_' . type) . filepath
# . file (no "_" before the "/"); flat: clean_filename(prefix . '_' . subtype . '_' . type .
# '_' . file). Moodle <= 4.0 (mod/assign/locallib.php `download_submissions`) wrote
# "<prefix>_<subtype>_<type>_/" for folders. A team without a group is "Default group" with
# no id. The name holds no "_" (replaced by spaces), so the first "_" ends it.
MOODLE_PREFIX = re.compile(
    r"^(?P<name>[^_/]*?)(?:_(?P<id>\d+))?_assignsubmission_(?P<plugin>[a-z]+)"
    r"(?:_(?P<rest>.*))?$"
)
# Blackboard Learn (Original) "Assignment File Download": no public specification; the names
# as vangef/BBGradebookOrganiser (utils/organiser.py) parses them: the username is the last
# "_" token before "_attempt_", then the attempt's date; a .txt receipt per attempt.
BLACKBOARD_NAME = re.compile(
    r"^(?P<assignment>.+)_(?P<user>[^_]+)_attempt_"
    r"(?P<date>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:_(?P<file>.+)|\.txt)$"
)
# D2L Brightspace's download: "<ids> - [<group> - ]<name> - <date>" as a folder, or followed
# by " - <file>" (older flat downloads); the date as D2L writes it; index.html beside them.
D2L_DATE = r"[A-Z][a-z]{2} \d{1,2}, \d{4} \d{3,4} [AP]M"
D2L_FOLDER = re.compile(r"^(?P<ids>\d+(?:-\d+)?) - (?P<who>.+?) - (?P<date>" + D2L_DATE + r")$")
D2L_FILE = re.compile(
    r"^(?P<ids>\d+(?:-\d+)?) - (?P<who>.+?) - (?P<date>" + D2L_DATE + r") - (?P<file>.+)$"
)
D2L_INDEX = "index.html"
# nbgrader: CourseDirectory.directory_structure "{nbgrader_step}/{student_id}/{assignment_id}";
# the exchange's submit (nbgrader/exchange/default/submit.py `init_dest`) names
# inbound/"{student_id}+{assignment_id}+{timestamp}[+{random_str}]"; collect copies the latest
# into submitted/ with timestamp.txt (exchange/default/collect.py).
NBGRADER_INBOUND = re.compile(
    r"^(?P<student>[^+]+)\+(?P<assignment>[^+]+)\+(?P<timestamp>[^+]+)(?:\+(?P<random>[^+]+))?$"
)
NBGRADER_BOOKKEEPING = {"timestamp.txt", "submission_secret.txt"}
GRADESCOPE_METADATA = "submission_metadata.yml"
GRADESCOPE_FOLDER = re.compile(r"^submission_\d+$")
COPY_NUMBER = re.compile(r"^(?P<stem>.*?)(?:\s?\((?P<paren>\d+)\)|-(?P<dash>\d+))?$")


class Platform(str, Enum):
    """Which platform's export a batch is (str-valued: it is stored with the batch)."""

    CANVAS = "canvas"
    MOODLE = "moodle"
    D2L = "d2l"
    BLACKBOARD = "blackboard"
    GRADESCOPE = "gradescope"
    NBGRADER = "nbgrader"
    PRAIRIELEARN = "prairielearn"
    FILES = "files"  # no platform: a single file, a plain folder; STUDENT_ID is the identity


LMS_CHOICES = tuple(p.value for p in Platform)


class PlatformError(ValueError):
    """The export is not one platform's, or is more than one's: the TA must say (--lms)."""


@dataclass(frozen=True)
class LmsKey:
    """An identity as the platform wrote it, before the roster maps it to a student id.

    kind: "canvas" (user id), "canvas_anonymous", "moodle_participant", "moodle_group",
    "nbgrader", "gradescope_sid", "email", "login" (Blackboard), "d2l_name" (a display name),
    "notebook" (files mode: the notebook's STUDENT_ID).
    """

    kind: str
    value: str


@dataclass
class Entry:
    """One file to grade, with its identity; `status` set means: do not grade, say this."""

    path: Path | None
    source: str  # where the file came from, for the row ("class.zip:doejane_1_2_nb.ipynb")
    student_id: str
    name: str = ""  # the LMS's name for the student ("doejane"), for the gradebook
    submission_id: int = -1  # order inside one submission (Canvas attachment id)
    resubmission: int = 0  # the copy number of "name-2.ipynb" / "name (2).ipynb"
    original: str = ""  # the file name the student gave it
    late: bool = False
    notes: list[str] = field(default_factory=list)
    status: Verdict | None = None  # made here, typed (records.py): never parsed back
    platform: Platform = Platform.FILES
    key: LmsKey | None = None
    verified: bool = True  # False: the platform hides who it is (anonymous, blind marking)
    group: str = ""  # a group submission's group name
    group_members: list[str] = field(default_factory=list)  # the others its grade goes to
    in_roster: bool = True  # False: a roster was given and does not know this identity
    assignment: str = ""  # the LMS's assignment name, where the layout has one (nbgrader)
    attempt: int = -1  # the platform's attempt order (Blackboard, D2L, nbgrader's exchange)
    timestamp: str = ""  # the platform's submission time, where it writes one (nbgrader)
    identity_source: str = ""  # where the identity was read ("Canvas user id in the name")

    @property
    def file_name(self) -> str:
        return self.source.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


@dataclass
class Identity:
    """Who a file belongs to, as its platform says, and where that was read."""

    key: LmsKey
    source: str
    name: str = ""
    late: bool = False
    attachment: int = -1
    attempt: int = -1
    original: str = ""
    verified: bool = True
    group: str = ""
    assignment: str = ""
    submission: tuple[str, ...] = ()  # the path parts of the submission's own folder
    notes: list[str] = field(default_factory=list)


@dataclass
class Batch:
    """One intake: its platform (decided once), how it was decided, and every file's Entry."""

    platform: Platform
    decided_by: str
    entries: list[Entry]
    skipped: list[str] = field(default_factory=list)  # the platform's own files, not submissions


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


def d2l_name_key(name: str) -> str:
    """A D2L display name as the roster compares it: lowercased, single spaces."""
    return " ".join(name.lower().split())


def _d2l_minutes(date: str) -> int:
    """ "Sep 24, 2024 926 PM" as minutes since 2000 (a sortable submission order)."""
    from datetime import datetime

    month_day_year, clock, half = date.rsplit(" ", 2)
    moment = datetime.strptime(f"{month_day_year} {clock.zfill(4)} {half}", "%b %d, %Y %I%M %p")
    return int((moment - datetime(2000, 1, 1)).total_seconds() // 60)


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


def clean_filename(text: str) -> str:
    """Moodle's clean_filename (lib/moodlelib.php): `clean_param($string, PARAM_FILE)`, which
    drops control characters and & < > " ` | ' : \\ / (`preg_replace('~[[:cntrl:]]|
    [&<>"`\\|\\':\\\\\\\\/]~u', '', $param)`). "Chloé O'Brien" -> "Chloé OBrien"."""
    return re.sub(r"[\x00-\x1f\x7f&<>\"`|':\\/]", "", text)


def moodle_name(full_name: str) -> str:
    """A full name as Moodle's download writes it: downloader.php `get_student_prefix`
    replaces "_" by a space, then clean_filename."""
    return clean_filename(full_name.replace("_", " "))


# --- identity, per platform: (parts relative to the export's root, context) -> Identity -------


@dataclass
class _Context:
    """What a platform's rules need besides a file's path: read once per input."""

    name: str  # the input's folder name after the root is found ("submitted", "inbound")
    gradescope: dict[str, list[dict]] = field(default_factory=dict)


def _canvas(parts: tuple[str, ...], ctx: _Context) -> Identity | None:
    if len(parts) != 1:
        return None  # Canvas's zip is flat (content_zipper.rb adds every file at its root)
    parsed = parse_canvas_name(parts[0])
    if parsed is None:
        return None
    anonymous = parsed["anonymous"]
    identity = Identity(
        LmsKey("canvas_anonymous" if anonymous else "canvas", parsed["student_id"]),
        "Canvas anonymous id in the file name" if anonymous else "Canvas user id in the file name",
        name=parsed["name"],
        late=parsed["late"],
        attachment=parsed["submission_id"],
        original=parsed["original"],
        verified=not anonymous,
        submission=parts,
    )
    if anonymous:
        identity.notes.append(
            f"anonymous grading ({anonymous}): the notebook's STUDENT_ID cannot be checked"
        )
    return identity


def _moodle(parts: tuple[str, ...], ctx: _Context) -> Identity | None:
    match = MOODLE_PREFIX.match(parts[0])
    if match is None:
        return None
    folder = len(parts) > 1
    if folder and match["rest"] not in (None, ""):
        return None  # "<prefix>_file_x/..." is no folder Moodle writes
    if not folder and not match["rest"]:
        return None
    name, number = match["name"].strip(), match["id"]
    blind = name == "Participant"
    if number is None:  # a team submission of students in no group: "Default group"
        key, what = LmsKey("moodle_group", name.lower()), f"group {name}"
    else:  # a participant id, or a group id in a team assignment (roster.py tells)
        key, what = LmsKey("moodle_participant", number), f"participant {number}"
    identity = Identity(
        key,
        "Moodle participant id in the folder name" if number else "Moodle team name",
        name="" if blind else name,
        original=parts[-1] if folder else match["rest"],
        verified=not blind,
        submission=parts[:1],
        notes=[f"Moodle {what}"],
    )
    if blind:
        identity.notes.append(
            "blind marking: Moodle hides who this is; the notebook's STUDENT_ID binds the variant"
        )
    return identity


def _blackboard(parts: tuple[str, ...], ctx: _Context) -> Identity | None:
    match = BLACKBOARD_NAME.match(parts[0]) if len(parts) == 1 else None
    if match is None or match["file"] is None:
        return None
    return Identity(
        LmsKey("login", match["user"].lower()),
        "Blackboard username in the file name",
        name=match["user"],
        attempt=int(match["date"].replace("-", "")),  # a later attempt sorts after
        original=match["file"],
        assignment=match["assignment"],
        submission=(match["user"].lower(), match["date"]),
        notes=[f"Blackboard attempt {match['date']}"],
    )


def _d2l(parts: tuple[str, ...], ctx: _Context) -> Identity | None:
    folder = len(parts) > 1
    match = (D2L_FOLDER if folder else D2L_FILE).match(parts[0])
    if match is None:
        return None
    *group, name = match["who"].split(" - ")
    return Identity(
        LmsKey("d2l_name", d2l_name_key(name)),
        "D2L display name in the download name",
        name=name.strip(),
        # a later submission of the same student has a later time (no seconds: ties keep
        # the order of the names)
        attempt=_d2l_minutes(match["date"]),
        original=parts[-1] if folder else match["file"],
        verified=False,
        group=" - ".join(group),
        submission=parts[:1],
        notes=[f"D2L submission {match['ids']} of {match['date']}"],
    )


def _nbgrader_place(parts: tuple[str, ...], ctx: _Context) -> tuple[int, str] | None:
    """(index of the student's folder in `parts`, layout) for nbgrader's layouts, or None."""
    if ctx.name == "submitted" and len(parts) >= 3:
        return 0, "submitted"
    if ctx.name == "inbound" and len(parts) >= 2 and NBGRADER_INBOUND.match(parts[0]):
        return 0, "inbound"
    if parts[0] == "submitted" and len(parts) >= 4:
        return 1, "submitted"
    if parts[0] == "inbound" and len(parts) >= 3 and NBGRADER_INBOUND.match(parts[1]):
        return 1, "inbound"
    return None


def _nbgrader(parts: tuple[str, ...], ctx: _Context) -> Identity | None:
    place = _nbgrader_place(parts, ctx)
    if place is None:
        return None
    at, layout = place
    if layout == "submitted":
        student, assignment = parts[at], parts[at + 1]
        return Identity(
            LmsKey("nbgrader", student.lower()),
            "nbgrader's student folder",
            name=student,
            original=parts[-1],
            assignment=assignment,
            submission=parts[: at + 2],
            notes=[f"nbgrader submitted/{student}/{assignment}"],
        )
    match = NBGRADER_INBOUND.match(parts[at])
    assert match is not None
    return Identity(
        LmsKey("nbgrader", match["student"].lower()),
        "nbgrader's exchange folder name (inbound/)",
        name=match["student"],
        attempt=_nbgrader_order(match["timestamp"]),
        original=parts[-1],
        assignment=match["assignment"],
        submission=parts[: at + 1],
        notes=[f"nbgrader inbound {match['timestamp']}"],
    )


def _nbgrader_order(timestamp: str) -> int:
    """nbgrader's exchange timestamp ("%Y-%m-%d %H:%M:%S.%f %Z", nbgrader/exchange/abc/
    exchange.py `timestamp_format`) as a sortable number; 0 if it is not one."""
    digits = re.sub(r"\D", "", timestamp.rsplit(" ", 1)[0] if " " in timestamp else timestamp)
    return int(digits[:20] or 0)


def _gradescope(parts: tuple[str, ...], ctx: _Context) -> Identity | None:
    if len(parts) < 2 or parts[0] not in ctx.gradescope:
        return None  # metadata names only the export's own submission_<id>/ folders
    submitters = ctx.gradescope[parts[0]]
    first = submitters[0] if submitters else {}
    sid, email = str(first.get("sid") or "").strip(), str(first.get("email") or "").strip()
    key = LmsKey("gradescope_sid", sid.lower()) if sid else LmsKey("email", email.lower())
    if not sid and not email:
        return None
    identity = Identity(
        key,
        "Gradescope's submission_metadata.yml (" + ("sid" if sid else "email") + ")",
        name=str(first.get("name") or ""),
        original=parts[-1],
        submission=parts[:1],
    )
    if len(submitters) > 1:
        others = ", ".join(str(s.get("sid") or s.get("email") or s.get("name")) for s in submitters)
        identity.group = parts[0]
        identity.notes.append(f"group submission of {others}: graded for the first submitter")
    return identity


def _files(parts: tuple[str, ...], ctx: _Context) -> Identity | None:
    """Files mode: identity is read from the notebook later (step 4 needs the file)."""
    return Identity(
        LmsKey("notebook", ""), "the notebook's STUDENT_ID", original=parts[-1], submission=parts
    )


# --- the platforms' signatures ----------------------------------------------------------------

Tree = list[tuple[str, ...]]


def _all(tree: Tree, test: Callable[[tuple[str, ...]], bool]) -> bool:
    return bool(tree) and all(test(p) for p in tree)


def _canvas_signature(tree: Tree, name: str) -> bool:
    return _all(tree, lambda p: len(p) == 1 and parse_canvas_name(p[0]) is not None)


def _repeated_attachments(tree: Tree) -> bool:
    """A Canvas attachment id names one file (content_zipper.rb appends attachment.id), but
    Blackboard's receipt and file of one attempt share their prefix, which parses as a Canvas
    name when the username is a number ("Lab_1_111_attempt_…": user 1, attachment 111)."""
    ids = [parse_canvas_name(p[0]) for p in tree if len(p) == 1]
    attachments = [i["submission_id"] for i in ids if i and i["submission_id"] >= 0]
    return len(attachments) != len(set(attachments))


def _moodle_signature(tree: Tree, name: str) -> bool:
    ctx = _Context(name)
    return _all(tree, lambda p: _moodle(p, ctx) is not None)


def _blackboard_signature(tree: Tree, name: str) -> bool:
    receipt = any(
        len(p) == 1 and p[0].endswith(".txt") and BLACKBOARD_NAME.match(p[0]) for p in tree
    )
    return receipt and _all(tree, lambda p: len(p) == 1 and BLACKBOARD_NAME.match(p[0]) is not None)


def _d2l_signature(tree: Tree, name: str) -> bool:
    ctx = _Context(name)
    rest = [p for p in tree if p != (D2L_INDEX,)]
    return _all(rest, lambda p: _d2l(p, ctx) is not None)


def _gradescope_signature(tree: Tree, name: str) -> bool:
    rest = [p for p in tree if p != (GRADESCOPE_METADATA,)]
    return (GRADESCOPE_METADATA,) in tree and _all(
        rest, lambda p: len(p) >= 2 and GRADESCOPE_FOLDER.match(p[0]) is not None
    )


def _nbgrader_signature(tree: Tree, name: str) -> bool:
    ctx = _Context(name)
    if name in ("submitted", "inbound"):
        return _all(tree, lambda p: _nbgrader_place(p, ctx) is not None)
    return any(_nbgrader_place(p, ctx) is not None for p in tree)


@dataclass(frozen=True)
class Signature:
    """How a platform's export is recognised, where its identity comes from, what is refused,
    and the platform source each is taken from (docs/platforms.md shows the same)."""

    platform: Platform
    layout: str
    identity: str
    refused: str
    source: str
    matches: Callable[[Tree, str], bool]
    identify: Callable[[tuple[str, ...], _Context], Identity | None]


SIGNATURES: tuple[Signature, ...] = (
    Signature(
        Platform.CANVAS,
        "every file at the root, named <sortable name>[_LATE]_<user id>_<attachment id>_<file> "
        "(or _text.html / _link.html; [LATE_]anon_<id>_... under anonymous grading)",
        "the Canvas user id (anonymous: the anonymous id; the notebook's STUDENT_ID binds the "
        "variant and the row says so)",
        "a file in a sub-folder; anything inside a student's own zip never names anyone",
        "canvas-lms lib/content_zipper.rb (get_filename, add_upload_submission), lib/anonymity.rb",
        _canvas_signature,
        _canvas,
    ),
    Signature(
        Platform.MOODLE,
        "every top-level name is <Full Name>_<participant id>_assignsubmission_<plugin> "
        "(a folder: 4.1+ without, <= 4.0 with a trailing '_'), or the same followed by "
        "_<file> (without folders); Participant_<id>_... (blind marking); <Team>_<group id>_... "
        "(team submissions)",
        "the participant id (per assignment) in the top-level name, mapped by the grading "
        "worksheet; blind marking: the participant id, the notebook's STUDENT_ID binds the variant",
        "anything below the top-level folder never names anyone",
        "moodle mod/assign/classes/downloader.php (get_student_prefix, "
        "load_submissionplugin_filelist), mod/assign/locallib.php (<= 4.0), lib/moodlelib.php "
        "clean_param PARAM_FILE",
        _moodle_signature,
        _moodle,
    ),
    Signature(
        Platform.D2L,
        "every top-level name is '<n>-<n> - [<group> - ]<First Last> - <Mon D, YYYY HMM AM>' "
        "(a folder, or ' - <file>' after it), and D2L's index.html",
        "the display name, mapped to the OrgDefinedId by the D2L grades export (--roster)",
        "a display name two students share matches nobody",
        "no public specification: saritonin/academic-shell-scripts rename_and_move.sh, kodiak",
        _d2l_signature,
        _d2l,
    ),
    Signature(
        Platform.BLACKBOARD,
        "every file at the root, named <assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>"
        "[_<file>], with a .txt receipt per attempt",
        "the username, mapped by the roster's login column; the latest attempt is graded",
        "a file in a sub-folder",
        "no public specification: vangef/BBGradebookOrganiser utils/organiser.py",
        _blackboard_signature,
        _blackboard,
    ),
    Signature(
        Platform.GRADESCOPE,
        "submission_metadata.yml at the export's root and submission_<id>/ folders",
        "the root metadata's :sid: (else :email:) of the folder's first submitter",
        "a submission_metadata.yml anywhere else (inside a student's upload) is only a file",
        "Gradescope's Export Submissions (its submission_metadata.yml)",
        _gradescope_signature,
        _gradescope,
    ),
    Signature(
        Platform.NBGRADER,
        "submitted/<student>/<assignment>/... (a course folder, or its submitted/ folder), or "
        "the exchange's inbound/<student>+<assignment>+<timestamp>[+<random>]/...",
        "the student folder (or the exchange folder's student); timestamp.txt gives the time",
        "in a course folder everything but submitted/ (source/, release/, autograded/) is the "
        "instructor's and is not read; timestamp.txt and submission_secret.txt are nbgrader's",
        "nbgrader CourseDirectory.directory_structure, exchange/default/submit.py init_dest, "
        "exchange/default/collect.py, plugins/export.py CsvExportPlugin",
        _nbgrader_signature,
        _nbgrader,
    ),
)
_BY_PLATFORM = {s.platform: s for s in SIGNATURES}


def _root(tree: Tree, name: str) -> tuple[Tree, str, int]:
    """The export's root: a zip or folder that wraps everything in one folder (a Gradescope
    export's "assignment_123_export/") is read from inside it, unless the wrapper is itself
    part of a layout (one Moodle student's folder)."""
    depth = 0
    while (
        depth < 2
        and tree
        and all(len(p) >= 2 for p in tree)
        and len({p[0] for p in tree}) == 1
        and not any(s.matches(tree, name) for s in SIGNATURES)
    ):
        name = tree[0][0]
        tree = [p[1:] for p in tree]
        depth += 1
    return tree, name, depth


def detect(tree: Tree, name: str) -> Platform:
    """The platform whose signature this export has; PlatformError if it looks partly like
    one or has several's; FILES if nothing in it is any platform's."""
    matched = [s.platform for s in SIGNATURES if s.matches(tree, name)]
    if set(matched) == {Platform.CANVAS, Platform.BLACKBOARD}:
        matched = [Platform.BLACKBOARD if _repeated_attachments(tree) else Platform.CANVAS]
    if len(matched) == 1:
        return matched[0]
    options = "--lms " + "|".join(LMS_CHOICES)
    if matched:
        raise PlatformError(
            f"{name}: this export looks like {' and '.join(p.value for p in matched)} at once; "
            f"say which it is with {options}"
        )
    ctx = _Context(name)
    partly = [
        s.platform.value
        for s in SIGNATURES
        if s.platform is not Platform.GRADESCOPE and any(s.identify(p, ctx) for p in tree)
    ]
    if any(p[-1] == GRADESCOPE_METADATA for p in tree):
        partly.append("gradescope")
    if partly:
        raise PlatformError(
            f"{name}: some files are named like a {' or '.join(partly)} export, but the export "
            f"as a whole is not one (its structure matches no platform's); say which platform "
            f"it came from with {options} (or --lms files: every notebook's own STUDENT_ID)"
        )
    return Platform.FILES


# --- intake -----------------------------------------------------------------------------------


@dataclass
class _Input:
    """One path the TA gave: its listing, its platform, its root."""

    path: Path
    tree: Tree
    name: str
    depth: int = 0
    single: bool = False  # a single file that is not a zip


def _listing(path: Path) -> _Input:
    if path.is_dir():
        files = unpack.walk(path, "")
        tree = [f.parts for f in files]
        name = path.resolve().name
    elif path.suffix.lower() == ".zip":
        tree, name = unpack.member_names(path), path.stem
    else:
        return _Input(path, [(path.name,)], path.name, single=True)
    root, name, depth = _root(tree, name)
    return _Input(path, root, name, depth)


def decide_platform(inputs: list[_Input], given: Platform | None) -> tuple[Platform, str]:
    """The batch's one platform: given (--lms), else every input's signature, which must
    agree."""
    if given is not None:
        return given, "--lms"
    found: dict[Platform, list[str]] = {}
    for item in inputs:
        if not item.single and not item.tree:
            continue  # an empty or unreadable zip has no say (it gets its own row)
        platform = Platform.FILES if item.single else detect(item.tree, printable(item.path.name))
        found.setdefault(platform, []).append(printable(item.path.name))
    if len(found) > 1:
        said = "; ".join(f"{p.value}: {', '.join(names)}" for p, names in found.items())
        raise PlatformError(
            f"these inputs are not one platform's export ({said}): grade them separately, "
            "or say which platform they came from with --lms " + "|".join(LMS_CHOICES)
        )
    platform = next(iter(found), Platform.FILES)
    return platform, "the export's structure"


def intake(
    paths: list[str | Path],
    workdir: str | Path,
    *,
    platform: Platform | str | None = None,
    roster: Roster | None = None,
    release_stem: str = RELEASE_STEM,
    limits: UnpackLimits | None = None,
) -> Batch:
    """Every file under `paths` as an Entry, read by the batch's one platform's rules."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    given = Platform(platform) if platform else None
    if given is Platform.PRAIRIELEARN:
        raise PlatformError(
            "PrairieLearn grades each submission itself: use its external grader "
            "(`commslab prairielearn`, docs/platforms.md), not `commslab grade`"
        )
    entries: list[Entry] = []
    inputs: list[_Input] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            missing = Verdict(Status.MISSING, "no such file")
            entries.append(Entry(None, printable(str(raw)), "", status=missing))
            continue
        inputs.append(_listing(path))
    chosen, decided_by = decide_platform(inputs, given)
    budget = Budget(limits or UnpackLimits())
    skipped: list[str] = []
    for item in inputs:
        entries.extend(_read(item, chosen, workdir, budget, skipped))
    if chosen is Platform.FILES:
        for entry in entries:
            _identify_by_notebook(entry)
    if roster is not None:
        for entry in entries:
            apply_roster(entry, roster)
    for entry in entries:
        if entry.platform is Platform.D2L and not entry.verified and entry.status is None:
            entry.notes.append(
                "D2L names the student by display name only: the notebook's STUDENT_ID was "
                "used (give the D2L grades export as --roster to check it)"
            )
    choose_notebooks(entries, release_stem)
    return Batch(chosen, decided_by, entries, skipped)


def _read(
    item: _Input, platform: Platform, workdir: Path, budget: Budget, skipped: list[str]
) -> list[Entry]:
    """The entries of one input, identified by `platform`'s rules."""
    shown = printable(item.path.name)
    if item.path.is_dir():
        files = unpack.walk(item.path, "" if item.path == Path(".") else f"{shown}/")
    elif item.single:
        files = [File(item.path, shown, (item.path.name,))]
    else:
        target = workdir / f"in-{len(list(workdir.iterdir())):03d}"
        files, problem = unpack.unzip(item.path, shown, target, budget)
        if problem is not None:
            return [Entry(None, shown, "", status=problem, platform=platform)]
    for file in files:
        file.parts = file.parts[item.depth :] or file.parts[-1:]
    ctx = _Context(item.name)
    signature = _BY_PLATFORM.get(platform)
    identify = signature.identify if signature else _files
    if platform is Platform.GRADESCOPE:
        ctx.gradescope = _gradescope_files(files)
    stamps = _nbgrader_timestamps(files) if platform is Platform.NBGRADER else {}
    entries = []
    for file in files:
        if _bookkeeping(file, platform, ctx):
            skipped.append(file.source)
            continue
        identity = None if file.unsafe else identify(file.parts, ctx)
        if identity is None:
            entries.append(_unplaced(file, platform))
            continue
        if _is_zip(file) and file.status is None:
            found = _student_zip(file, identity, platform, workdir, budget)
        else:
            found = [_entry(file, identity, platform)]
        for entry in found:
            entry.timestamp = stamps.get(identity.submission, "")
        entries.extend(found)
    return entries


def _bookkeeping(file: File, platform: Platform, ctx: _Context) -> bool:
    """Files the platform wrote about the submissions (or an instructor's course files),
    not submissions: they get no row."""
    parts = file.parts
    if platform is Platform.GRADESCOPE:
        return parts == (GRADESCOPE_METADATA,)
    if platform is Platform.D2L:
        return parts == (D2L_INDEX,)
    if platform is Platform.BLACKBOARD:
        match = BLACKBOARD_NAME.match(parts[0]) if len(parts) == 1 else None
        return match is not None and match["file"] is None  # the attempt's receipt
    if platform is Platform.NBGRADER:
        place = _nbgrader_place(parts, ctx)
        if place is None:  # a course folder's source/, release/, gradebook.db...
            return ctx.name not in ("submitted", "inbound") and parts[0] not in (
                "submitted",
                "inbound",
            )
        at, layout = place
        folder = at + (2 if layout == "submitted" else 1)
        return len(parts) == folder + 1 and parts[-1] in NBGRADER_BOOKKEEPING
    return False


def _unplaced(file: File, platform: Platform) -> Entry:
    """A file the platform did not put where it puts submissions: its row names nobody."""
    return Entry(
        file.path,
        file.source,
        "",
        original=file.parts[-1],
        status=file.status
        or Verdict(
            Status.NOT_GRADED,
            f"not where {platform.value} puts a submission (no identity read from it)",
        ),
        platform=platform,
    )


def _is_zip(file: File) -> bool:
    return file.path is not None and file.parts[-1].lower().endswith(".zip")


def _student_zip(
    file: File, identity: Identity, platform: Platform, workdir: Path, budget: Budget
) -> list[Entry]:
    """A zip the student uploaded is opened once; its files keep the zip's identity (no name
    inside it is read for an identity); a zip inside it is not opened."""
    assert file.path is not None
    target = workdir / f"student-{len(list(workdir.iterdir())):03d}"
    inner, problem = unpack.unzip(file.path, file.source, target, budget)
    if problem is not None or not inner:
        file.status = problem or Verdict(Status.NOT_GRADED, "an empty zip")
        return [_entry(file, identity, platform)]
    entries = []
    for member in inner:
        if member.parts[-1].lower().endswith(".zip") and member.status is None:
            member.status = Verdict(
                Status.NOT_GRADED, "a zip inside a zip (upload the notebook itself)"
            )
        entry = _entry(member, identity, platform, original=member.parts[-1])
        entry.notes.append(f"from the student's zip {identity.original}")
        entries.append(entry)
    return entries


def _entry(file: File, identity: Identity, platform: Platform, original: str = "") -> Entry:
    original = original or identity.original or file.parts[-1]
    entry = Entry(
        file.path,
        file.source,
        identity.key.value,
        name=identity.name,
        submission_id=identity.attachment,
        resubmission=copy_number(original)[1],
        original=original,
        late=identity.late,
        notes=list(identity.notes),
        status=file.status,
        platform=platform,
        key=identity.key,
        verified=identity.verified,
        group=identity.group,
        assignment=identity.assignment,
        attempt=identity.attempt,
        identity_source=identity.source,
    )
    if entry.late:
        entry.notes.append("late")
    if entry.status is None and entry.path is not None and not is_notebook(entry):
        entry.status = _not_a_notebook(entry)
    return entry


def _not_a_notebook(entry: Entry) -> Verdict:
    if entry.original in ("text.html", "link.html"):
        return Verdict(
            Status.NOT_A_NOTEBOOK, "(a Canvas text entry or URL): only notebooks are graded"
        )
    return Verdict(Status.NOT_A_NOTEBOOK, "only notebooks are graded")


def looks_like_notebook(path: Path) -> bool:
    """True if the file's content is a Jupyter notebook (JSON with a "cells" list, or an
    nbformat 3 "worksheets" one), whatever its name."""
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return False
        with open(path, "rb") as f:
            start = f.read(64).lstrip()
            if not start.startswith(b"{"):
                return False
            f.seek(0)
            data = json.loads(f.read().decode("utf-8", "replace"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and (isinstance(data.get("cells"), list) or "worksheets" in data)


def is_notebook(entry: Entry) -> bool:
    """A notebook by its name (.ipynb: the grader says why if it is broken) or its content."""
    if entry.path is None:
        return False
    if entry.original.lower().endswith(".ipynb") or entry.file_name.lower().endswith(".ipynb"):
        return True
    return looks_like_notebook(entry.path)


def _identify_by_notebook(entry: Entry) -> None:
    """Files mode: the notebook's own STUDENT_ID is the identity (nothing else names anyone)."""
    if entry.status is not None or entry.path is None:
        return
    from commslab.grading.notebook import read_submission

    claimed = str(read_submission(entry.path).student_id or "").strip().lower()
    entry.key = LmsKey("notebook", claimed)
    entry.student_id = claimed
    entry.identity_source = "the notebook's STUDENT_ID (no platform names the student)"
    if claimed:
        entry.notes.append("identity: the notebook's STUDENT_ID (a file with no platform's name)")
    else:
        entry.notes.append("the notebook has no STUDENT_ID and no platform names the student")


def _nbgrader_timestamps(files: list[File]) -> dict[tuple[str, ...], str]:
    """nbgrader's timestamp.txt per submission folder, for grades_nbgrader.csv's `timestamp`
    column (nbgrader plugins/export.py CsvExportPlugin writes submission.timestamp there)."""
    stamps: dict[tuple[str, ...], str] = {}
    for file in files:
        if file.parts[-1] == "timestamp.txt" and file.path is not None:
            try:
                text = file.path.read_text(encoding="utf-8", errors="replace")[:64]
            except OSError:
                continue
            stamps[file.parts[:-1]] = printable(text.strip())
    return stamps


def _gradescope_files(files: list[File]) -> dict[str, list[dict]]:
    """The export's own submission_metadata.yml (at its root only)."""
    for file in files:
        if file.parts == (GRADESCOPE_METADATA,) and file.path is not None:
            text = file.path.read_text(encoding="utf-8", errors="replace")
            return _gradescope_metadata(text)
    return {}


def collect_upload(folder: Path, workdir: str | Path, *, platform: Platform) -> list[Entry]:
    """One student's upload (Gradescope's /autograder/submission, PrairieLearn's
    /grade/student): every file a row, the student is whoever the platform says (the caller
    sets it), one notebook chosen by the same rule as a batch; nothing in the upload is read
    for an identity."""
    budget = Budget()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    identity = Identity(LmsKey("upload", "upload"), f"{platform.value}'s own record")
    entries: list[Entry] = []
    for file in unpack.walk(folder, ""):
        if _is_zip(file) and file.status is None:
            identity.original = file.parts[-1]
            entries.extend(_student_zip(file, identity, platform, workdir, budget))
        else:
            entries.append(_entry(file, identity, platform, original=file.parts[-1]))
    choose_notebooks(entries)
    return entries


def graded(entries: list[Entry]) -> Entry | None:
    """The one entry of an upload that is graded (a notebook, not superseded)."""
    return next((e for e in entries if e.status is None and e.path is not None), None)


def apply_roster(entry: Entry, roster: Roster) -> None:
    """The entry's student id becomes the roster's; an identity the roster does not know
    keeps the LMS's id and says so (it is never guessed)."""
    if entry.key is None or not entry.key.value:
        return
    student = roster.match(entry.key, name=entry.name)
    if student is None:
        entry.notes.append(
            f"not in the roster ({entry.key.kind} {entry.key.value}): graded under this id, "
            "for the TA to check"
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


# --- one notebook per student ------------------------------------------------------------


def _preference(entry: Entry, release_stem: str) -> tuple:
    """Larger is preferred: the platform's latest attempt, then (within one attempt) a file
    named .ipynb, named like the release, its highest copy number, the last uploaded
    (attachment id), the one nearest the submission's top folder, then the name (a stable
    order for the rest)."""
    release = named_like_release(entry.original, release_stem)
    return (
        entry.attempt,
        entry.original.lower().endswith(".ipynb"),
        release,
        entry.resubmission if release else 0,
        entry.submission_id,
        -entry.source.count("/"),
        entry.source,
    )


def choose_notebooks(entries: list[Entry], release_stem: str = RELEASE_STEM) -> None:
    """Per student, grade one notebook; every other notebook of theirs is not graded and
    flagged for the TA (its own row says which one is graded)."""
    by_student: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        if e.status is None and e.path is not None and e.student_id:
            kind = e.key.kind if e.key else "file"
            by_student.setdefault((kind, e.student_id.lower()), []).append(e)
    for group in by_student.values():
        if len(group) < 2:
            continue
        chosen = max(group, key=lambda e: _preference(e, release_stem))
        others = [e for e in group if e is not chosen]
        chosen.notes.append(
            "other notebooks of this student (not graded, for the TA to look at): "
            + ", ".join(e.original for e in others)
        )
        for e in others:
            e.status = _not_chosen(e, chosen, release_stem)


def _not_chosen(entry: Entry, chosen: Entry, release_stem: str) -> Verdict:
    if entry.attempt < chosen.attempt:
        return Verdict(Status.SUPERSEDED, f"(a later attempt is graded: {chosen.file_name})")
    later = (chosen.resubmission, chosen.submission_id) > (entry.resubmission, entry.submission_id)
    if copy_number(entry.original)[0] == copy_number(chosen.original)[0] and later:
        return Verdict(Status.SUPERSEDED, f"(a later upload is graded: {chosen.file_name})")
    if named_like_release(chosen.original, release_stem):
        why = "the notebook named like the release"
    else:
        why = "the last notebook uploaded"
    return Verdict(
        Status.NOT_GRADED, f"{chosen.original} is graded ({why}); a TA should look at this one"
    )


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
        record["status"] = e.status.to_dict() if e.status is not None else None
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
        record["status"] = Verdict.from_dict(record["status"]) if record["status"] else None
        entries.append(Entry(**record))
    return entries
