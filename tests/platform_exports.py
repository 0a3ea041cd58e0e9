"""Exports as each platform writes them, built from the platform's own source or documentation
(cited on each builder), never from what our intake happens to accept.

Each builder takes the submissions as `Upload`s and returns {path inside the export: bytes};
`write_zip` / `write_folder` put them on disk. The student's own choices (file names, what is
inside their zip) are the `Upload`'s; everything else is the platform's.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

Content = str | bytes


@dataclass
class Upload:
    """One student's submission: who the platform knows, and the files they uploaded."""

    lms_id: str  # Canvas user id, Moodle participant id, Blackboard username, nbgrader student
    name: str  # the platform's display name ("Jane Doe")
    files: dict[str, Content]  # the student's file names (their choice) -> content
    late: bool = False
    when: str = "2026-12-01-09-00-00"  # Blackboard attempt / nbgrader timestamp


def notebook(student_id: str = "", extra: str = "") -> str:
    """A minimal nbformat-4 notebook whose code cell sets STUDENT_ID (the lab's contract)."""
    source = f'STUDENT_ID = "{student_id}"\nTRACK = "cloud_titan"\n{extra}'
    cell = {
        "cell_type": "code",
        "metadata": {},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def canvas(uploads: list[Upload], first_attachment: int = 900) -> dict[str, Content]:
    """Canvas "Download all submissions": canvas-lms lib/content_zipper.rb. `get_filename`
    joins [sortable name (sanitize_user_name: lowercased, non-word characters dropped), "LATE"
    if late, user id] with "_" (anonymous: "anon_#{anonymous_id}", no name);
    `add_upload_submission` appends "_#{attachment.id}_#{display_name}" (the student's file
    name); every file is at the zip's root."""
    members: dict[str, Content] = {}
    attachment = first_attachment
    for upload in uploads:
        if upload.lms_id.startswith("anon_"):
            prefix = ("LATE_" if upload.late else "") + upload.lms_id
        else:
            sortable = "".join(c for c in upload.name.lower() if c.isalnum() or c == "_")
            prefix = "_".join([sortable, *(["LATE"] if upload.late else []), upload.lms_id])
        for display, content in upload.files.items():
            if display in ("text.html", "link.html"):  # online_text_entry / online_url
                members[f"{prefix}_{display}"] = content
                continue
            members[f"{prefix}_{attachment}_{display}"] = content
            attachment += 1
    return members


def moodle(
    uploads: list[Upload], *, version: str = "4.1", folders: bool = True
) -> dict[str, Content]:
    """Moodle "Download all submissions". 4.1+: mod/assign/classes/downloader.php
    (`get_student_prefix`: clean_filename(str_replace('_', ' ', fullname) . '_' . uniqueid),
    "Participant" under blind marking, "<group>_<group id>" for teams;
    `load_submissionplugin_filelist`: folders clean_filename(prefix . '_assignsubmission_file')
    . filepath . file, flat clean_filename(prefix . '_assignsubmission_file_' . file)).
    <= 4.0: mod/assign/locallib.php `download_submissions` wrote "<prefix>_assignsubmission_
    file_/<file>" (a trailing "_" before the folder's "/")."""
    members: dict[str, Content] = {}
    for upload in uploads:
        prefix = param_file(f"{upload.name.replace('_', ' ')}_{upload.lms_id}")
        for name, content in upload.files.items():
            if not folders:
                members[f"{prefix}_assignsubmission_file_{name}"] = content
            elif version == "4.0":
                members[f"{prefix}_assignsubmission_file_/{name}"] = content
            else:
                members[f"{prefix}_assignsubmission_file/{name}"] = content
    return members


def param_file(text: str) -> str:
    """Moodle's clean_filename = clean_param(PARAM_FILE), lib/moodlelib.php:
    preg_replace('~[[:cntrl:]]|[&<>"`\\|\\':\\\\\\\\/]~u', '', $param), written out here
    character by character from that line (not taken from the grader's code)."""
    dropped = set("&<>\"`|':\\/")
    return "".join(c for c in text if c not in dropped and ord(c) >= 32 and ord(c) != 127)


def moodle_worksheet(rows: list[tuple[str, str, str]], maximum: str = "100.00") -> str:
    """A Moodle grading worksheet (Assignment > Download grading worksheet): the download
    columns of mod/assign/gradingtable.php (Identifier = get_string('hiddenuser') . uniqueid,
    "Participant N"; Full name; the site's identity fields; Status; Grade; Maximum grade;
    Grade can be changed; Last modified (submission); Last modified (grade); Feedback
    comments), as mod/assign/feedback/offline/importer.php reads it back. `rows`:
    (participant id, full name, email); an empty name gives the blind-marking worksheet (no
    name nor identity columns)."""
    blind = all(not name for _, name, _ in rows)
    head = ["Identifier"] + ([] if blind else ["Full name", "Email address"])
    head += ["Status", "Grade", "Maximum grade", "Grade can be changed"]
    head += ["Last modified (submission)", "Last modified (grade)", "Feedback comments"]
    lines = [",".join(head)]
    for pid, name, email in rows:
        who = [] if blind else [f'"{name}"', email]
        lines.append(
            ",".join([f"Participant {pid}", *who, "Submitted for grading", "", maximum, "Yes"])
            + ",-,-,"
        )
    return "\n".join(lines) + "\n"


def blackboard(uploads: list[Upload], assignment: str = "Lab_1") -> dict[str, Content]:
    """Blackboard Learn "Assignment File Download" (no public specification; as
    vangef/BBGradebookOrganiser utils/organiser.py reads it):
    <assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>, and a .txt receipt per
    attempt, all at the root."""
    members: dict[str, Content] = {}
    for upload in uploads:
        stem = f"{assignment}_{upload.lms_id}_attempt_{upload.when}"
        members[f"{stem}.txt"] = f"Name: {upload.name} ({upload.lms_id})\n"
        for name, content in upload.files.items():
            members[f"{stem}_{name}"] = content
    return members


def d2l(uploads: list[Upload]) -> dict[str, Content]:
    """D2L Brightspace download (no public specification; as saritonin/academic-shell-scripts
    rename_and_move.sh reads it): "<n>-<n> - <First Last> - <Mon D, YYYY HMM AM>/<file>" and
    D2L's index.html at the root."""
    members: dict[str, Content] = {"index.html": "<html>table of contents</html>"}
    for n, upload in enumerate(uploads):
        folder = f"397063-{2557369 + n} - {upload.name} - Sep 24, 2024 926 PM"
        for name, content in upload.files.items():
            members[f"{folder}/{name}"] = content
    return members


def gradescope(uploads: list[Upload], root: str = "assignment_123_export") -> dict[str, Content]:
    """Gradescope "Export Submissions": one submission_<id>/ folder per submission and
    submission_metadata.yml at the export's root naming each folder's submitters
    (`:submitters:` with `:name:`, `:sid:`, `:email:`; Ruby symbols as keys, as the export
    writes them)."""
    members: dict[str, Content] = {}
    metadata = []
    for n, upload in enumerate(uploads):
        folder = f"submission_{9001 + n}"
        metadata += [
            f"{folder}:",
            "  :submitters:",
            f"  - :name: {upload.name}",
            f"    :sid: '{upload.lms_id}'",
            f"    :email: {upload.lms_id}@uni.edu",
            "  :created_at: 2026-12-01 09:00:00.000000000 -08:00",
        ]
        for name, content in upload.files.items():
            members[f"{root}/{folder}/{name}"] = content
    members[f"{root}/submission_metadata.yml"] = "\n".join(metadata) + "\n"
    return members


def nbgrader_course(
    uploads: list[Upload], assignment: str = "collective_comms"
) -> dict[str, Content]:
    """An nbgrader course folder (nbgrader CourseDirectory.directory_structure
    "{nbgrader_step}/{student_id}/{assignment_id}"): source/ (the instructor's), release/,
    submitted/<student>/<assignment>/ with the timestamp.txt that `nbgrader collect` writes
    (exchange/default/collect.py), gradebook.db and nbgrader_config.py."""
    members: dict[str, Content] = {
        f"source/{assignment}/{assignment}.ipynb": notebook("instructor"),
        f"release/{assignment}/{assignment}.ipynb": notebook(""),
        "gradebook.db": b"SQLite format 3\x00",
        "nbgrader_config.py": "c = get_config()\n",
    }
    for upload in uploads:
        folder = f"submitted/{upload.lms_id}/{assignment}"
        members[f"{folder}/timestamp.txt"] = stamp(upload.when)
        for name, content in upload.files.items():
            members[f"{folder}/{name}"] = content
    return members


def nbgrader_inbound(
    uploads: list[Upload], course: str = "cs101", assignment: str = "collective_comms"
) -> dict[str, Content]:
    """nbgrader's exchange: `nbgrader submit` copies the student's folder to
    <exchange>/<course>/inbound/"{student_id}+{assignment_id}+{timestamp}+{random_str}"
    (exchange/default/submit.py init_dest) with timestamp.txt; outbound/ holds the release."""
    members: dict[str, Content] = {
        f"{course}/outbound/{assignment}/{assignment}.ipynb": notebook(""),
    }
    for n, upload in enumerate(uploads):
        when = stamp(upload.when)
        folder = f"{course}/inbound/{upload.lms_id}+{assignment}+{when}+rAnd0m{n}"
        members[f"{folder}/timestamp.txt"] = when
        for name, content in upload.files.items():
            members[f"{folder}/{name}"] = content
    return members


def stamp(when: str) -> str:
    """nbgrader's timestamp (exchange/abc/exchange.py timestamp_format "%Y-%m-%d %H:%M:%S.%f
    %Z") of a "YYYY-MM-DD-HH-MM-SS" time."""
    d = when.split("-")
    return f"{d[0]}-{d[1]}-{d[2]} {d[3]}:{d[4]}:{d[5]}.000000 UTC"


def zipped(members: dict[str, Content]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buffer.getvalue()


def write_zip(path: Path, members: dict[str, Content]) -> Path:
    path.write_bytes(zipped(members))
    return path


def write_folder(path: Path, members: dict[str, Content]) -> Path:
    for name, content in members.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return path
