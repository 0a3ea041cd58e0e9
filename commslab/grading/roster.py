"""The class roster: which student each LMS identity belongs to, and the id that binds the
variant (the scenario, the ledger, the hidden inputs).

    roster = read_roster("gradebook.csv")       # the TA's export, as the LMS gives it
    roster.match(LmsKey("canvas", "1234567"))   # -> Student(student_id="1234567", ...)

Three files are read as the LMS writes them:

* a **Canvas gradebook export** (Grades > Export): columns `Student, ID, SIS User ID,
  SIS Login ID, [Integration ID,] Section, <assignments...>`, then a "Points Possible" row.
  The student id is the Canvas user `ID` (the "LMS id" the notebook asks for).
* a **Moodle grading worksheet** (Assignment > Download grading worksheet, moodle
  `mod/assign/gradingtable.php` in download mode): `Identifier` ("Participant 1234567",
  the participant id of the download's folder names), `Full name`, the site's identity
  fields (`Email address`, `ID number`...), `Status`, [`Group`,] `Grade`, ...
  The student id is `ID number` where the course fills it, else the email address. The
  download's folder names are matched to `Full name` as Moodle's clean_filename writes them
  (lms.moodle_name: "O'Brien" -> "OBrien"). A blind-marking worksheet has `Identifier` only
  (gradingtable.php leaves names and identity fields out): the participant id is the student
  id. `Maximum grade` is kept (Roster.maximum): grades written back are scaled to it; a
  worksheet whose maximum is not a number (a scale) is refused.
* a **Canvas group-set export** (People > Groups > the group set's menu > Export; the
  same columns as canvas-lms `spec/apis/v1/group_categories_api_spec.rb` expects of the
  export: `name, canvas_user_id, user_id, login_id, sections, group_name, canvas_group_id,
  group_id`; the import format is doc/api/group_category_csv.md). The student id is
  `canvas_user_id` (the Canvas `ID`, as in the gradebook export); `group_name` says who
  shares a group submission (commslab.grading.lms.apply_roster).
* a **D2L Brightspace grades export** (Grades > Export, key field "Both"): `OrgDefinedId`,
  `Username`, `Last Name`, `First Name`, `Email`, the grade items, `End-of-Line Indicator`;
  D2L writes "#" before every OrgDefinedId and Username and as the end-of-line marker
  (University of Wisconsin KB 4330, "Function of Pound Signs (#) in Grades File Records").
  The student id is the OrgDefinedId (without "#"); the download's display name is matched
  on "First Last" (a name two students share matches nobody).
* a **plain CSV** with a `student_id` column and any of `email`, `canvas_id`, `sis_id`,
  `login`, `participant_id`, `gradescope_id`, `nbgrader_id`, `name`, `group`.

`--roster-id COLUMN` picks another column as the student id. Matching is exact after
trimming and lowercasing. An LMS identity the roster does not know is never guessed: its row
says so.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from commslab.grading.lms import LmsKey, d2l_name_key, moodle_name

MOODLE_PARTICIPANT = re.compile(r"^\s*Participant\s*(\d+)\s*$")  # lang 'hiddenuser' + uniqueid

# An id that may be written in any of the roster's id columns: the kinds tried, in order.
FLEXIBLE = {
    "gradescope_sid": ("gradescope_sid", "student_id", "sis", "login", "canvas"),
    "nbgrader": ("nbgrader", "student_id", "sis", "login", "canvas", "email"),
    "login": ("login", "student_id", "sis", "email"),
    "notebook": ("student_id", "canvas", "sis", "login", "email", "nbgrader"),
}

# canvas-lms spec/apis/v1/group_categories_api_spec.rb: the export's header is
# name canvas_user_id user_id login_id sections group_name canvas_group_id group_id
CANVAS_GROUP_EXPORT = {"canvas_user_id", "user_id", "login_id", "group_name"}

# plain CSV column -> LmsKey kind
PLAIN_COLUMNS = {
    "canvas_id": "canvas",
    "sis_id": "sis",
    "login": "login",
    "email": "email",
    "participant_id": "moodle_participant",
    "gradescope_id": "gradescope_id",
    "gradescope_sid": "gradescope_sid",
    "nbgrader_id": "nbgrader",
}


@dataclass
class Student:
    """One student of the roster: the id that binds their variant, and their LMS keys."""

    student_id: str
    name: str = ""
    group: str = ""
    keys: set[LmsKey] = field(default_factory=set)
    row: dict[str, str] = field(default_factory=dict)  # the roster's own row, for write-back


@dataclass
class Roster:
    """Students and an index from every LMS key to its student."""

    students: list[Student]
    source: str  # "canvas", "moodle" or "plain"
    path: Path | None = None
    header: list[str] = field(default_factory=list)
    maximum: float | None = None  # a Moodle worksheet's "Maximum grade": grades are scaled to it

    def __post_init__(self) -> None:
        self._index: dict[LmsKey, Student] = {}
        self._ambiguous: set[LmsKey] = set()
        for student in self.students:
            for key in student.keys:
                if key in self._index and self._index[key] is not student:
                    self._ambiguous.add(key)
                self._index[key] = student

    def match(self, key: LmsKey | None, *, name: str = "") -> Student | None:
        """The student of this LMS identity, or None (unknown, or shared by two students).

        A Moodle participant id is only taken if the download's name is that participant's
        (a team download names a group and a group id, which is no participant's id).
        """
        if key is None:
            return None
        value = _norm(key.value)
        for kind in FLEXIBLE.get(key.kind, (key.kind,)):
            candidate = LmsKey(kind, value)
            if candidate in self._ambiguous:
                return None
            student = self._index.get(candidate)
            if student is not None:
                break
        else:
            student = None
        if key.kind == "moodle_participant" and name:
            # the download's name is the worksheet's "Full name" as Moodle's clean_filename
            # wrote it (lms.moodle_name: "O'Brien" -> "OBrien")
            shown = _norm(moodle_name(student.name)) if student is not None else None
            if student is None or _norm(name) not in (shown, "participant"):
                return self._moodle_group(name)
        return student

    def _moodle_group(self, name: str) -> Student | None:
        members = [
            s for s in self.students if s.group and _norm(moodle_name(s.group)) == _norm(name)
        ]
        return members[0] if members else None

    def members(self, group: str) -> list[Student]:
        return [s for s in self.students if group and _norm(s.group) == _norm(group)]

    def __len__(self) -> int:
        return len(self.students)


def _norm(value: object) -> str:
    return str(value or "").strip().lower()


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    return header, rows


def read_roster(path: str | Path, *, id_column: str | None = None) -> Roster:
    """Read a Canvas gradebook export, a Moodle grading worksheet or a plain CSV."""
    path = Path(path)
    header, rows = _rows(path)
    if "Identifier" in header and ("Full name" in header or _blind_worksheet(rows)):
        return _moodle(path, header, rows, id_column)
    if {"Student", "ID", "SIS User ID"} <= set(header):
        return _canvas(path, header, rows, id_column)
    if "orgdefinedid" in {h.lower() for h in header}:
        return _d2l(path, header, rows, id_column)
    if CANVAS_GROUP_EXPORT <= set(header):
        return _canvas_groups(path, header, rows, id_column)
    if "student_id" in header or (id_column and id_column in header):
        return _plain(path, header, rows, id_column)
    raise ValueError(
        f"{path}: not a roster this grader reads (a Canvas gradebook export, a Moodle grading "
        "worksheet, a Canvas group-set export, a D2L grades export, or a CSV with a student_id "
        "column); its columns: " + ", ".join(header[:8])
    )


def _pick(row: dict[str, str], id_column: str | None, defaults: tuple[str, ...]) -> str:
    for column in (id_column, *defaults) if id_column else defaults:
        if column and row.get(column):
            return _norm(row[column])
    return ""


def _student(
    row: dict[str, str], student_id: str, keys, *, name: str = "", group: str = ""
) -> Student:
    """A roster row's student, with an LmsKey of `kind` for each (column, kind) it fills."""
    student = Student(student_id, name=name, group=group, row=row)
    for column, kind in keys:
        if row.get(column):
            student.keys.add(LmsKey(kind, _norm(row[column])))
    student.keys.add(LmsKey("student_id", student_id))
    return student


CANVAS_KEYS = (
    ("ID", "canvas"),
    ("SIS User ID", "sis"),
    ("SIS Login ID", "login"),
    ("Integration ID", "integration"),
)
CANVAS_GROUP_KEYS = (("canvas_user_id", "canvas"), ("user_id", "sis"), ("login_id", "login"))


def _canvas(path: Path, header, rows, id_column) -> Roster:
    students = [
        _student(row, _pick(row, id_column, ("ID",)), CANVAS_KEYS, name=row.get("Student", ""))
        for row in rows
        # not the points row nor a muted row
        if row.get("ID") and "Points Possible" not in row.get("Student", "")
    ]
    return Roster(students, "canvas", path, header)


def _canvas_groups(path: Path, header, rows, id_column) -> Roster:
    students = [
        _student(
            row,
            _pick(row, id_column, ("canvas_user_id",)),
            CANVAS_GROUP_KEYS,
            name=row.get("name", ""),
            group=row.get("group_name", ""),
        )
        for row in rows
        if row.get("canvas_user_id")
    ]
    return Roster(students, "canvas_groups", path, header)


def _d2l(path: Path, header, rows, id_column) -> Roster:
    students = []
    for raw in rows:
        row = {k: v.removeprefix("#") for k, v in raw.items()}  # D2L's "#" guards
        columns = {k.lower(): v for k, v in row.items()}
        org_id, username = columns.get("orgdefinedid", ""), columns.get("username", "")
        student_id = _pick(row, id_column, ()) or _norm(org_id or username)
        if not student_id:
            continue
        name = f"{columns.get('first name', '')} {columns.get('last name', '')}".strip()
        student = Student(student_id, name=name, row=raw)
        for value, kind in ((org_id, "sis"), (username, "login"), (columns.get("email"), "email")):
            if value:
                student.keys.add(LmsKey(kind, _norm(value)))
        if name:
            student.keys.add(LmsKey("d2l_name", d2l_name_key(name)))
        student.keys.add(LmsKey("student_id", student_id))
        students.append(student)
    return Roster(students, "d2l", path, header)


def _blind_worksheet(rows: list[dict[str, str]]) -> bool:
    """A worksheet of a blind-marking assignment: gradingtable.php leaves out the names and
    identity fields while identities are hidden; every Identifier is "Participant N"."""
    return bool(rows) and all(MOODLE_PARTICIPANT.match(r.get("Identifier", "")) for r in rows)


def _worksheet_maximum(path: Path, rows: list[dict[str, str]]) -> float | None:
    """The worksheet's "Maximum grade" (gradingtable.php writes it per row with 2 decimals),
    which every grade written back is scaled to. A scale or a missing number is refused: a
    grade in points cannot be put into it."""
    values = {r.get("Maximum grade", "").strip() for r in rows} - {""}
    if not values:
        return None
    try:
        numbers = {float(v.replace(",", ".")) for v in values}
    except ValueError:
        raise ValueError(
            f"{path}: the worksheet's Maximum grade is {sorted(values)[0]!r}, not a number: the "
            "assignment is graded with a scale; set it to points (Maximum grade) in Moodle"
        ) from None
    if len(numbers) != 1 or min(numbers) <= 0:
        raise ValueError(f"{path}: the worksheet's Maximum grade is not one positive number")
    return numbers.pop()


def _moodle(path: Path, header, rows, id_column) -> Roster:
    students = []
    for row in rows:
        match = MOODLE_PARTICIPANT.match(row.get("Identifier", ""))
        if match is None:
            continue
        # blind marking: no ID number nor email, the participant id is all there is
        student_id = _pick(row, id_column, ("ID number", "Email address")) or match[1]
        student = Student(
            student_id, name=row.get("Full name", ""), group=row.get("Group", ""), row=row
        )
        student.keys.add(LmsKey("moodle_participant", match[1]))
        for column, kind in (("Email address", "email"), ("ID number", "sis")):
            if row.get(column):
                student.keys.add(LmsKey(kind, _norm(row[column])))
        student.keys.add(LmsKey("student_id", student_id))
        students.append(student)
    return Roster(students, "moodle", path, header, maximum=_worksheet_maximum(path, rows))


def _plain(path: Path, header, rows, id_column) -> Roster:
    students = []
    for row in rows:
        student_id = _pick(row, id_column, ("student_id",))
        if not student_id:
            continue
        student = Student(student_id, name=row.get("name", ""), group=row.get("group", ""), row=row)
        student.keys.add(LmsKey("student_id", student_id))
        for column, kind in PLAIN_COLUMNS.items():
            if row.get(column):
                student.keys.add(LmsKey(kind, _norm(row[column])))
        students.append(student)
    return Roster(students, "plain", path, header)
