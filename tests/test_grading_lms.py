"""LMS exports in, one entry per file out, the right student on each.

Every fixture is built the way the platform names its files, from its source or
documentation (cited next to each fixture), never from what our parser happens to accept:

* Canvas "Download all submissions": canvas-lms `lib/content_zipper.rb`
  (https://github.com/instructure/canvas-lms/blob/master/lib/content_zipper.rb):
  `get_filename` joins `[sortable name, "LATE", user id or "anon_#{anonymous_id}"]` with "_"
  and strips non-word characters; `add_upload_submission` appends
  `"_#{attachment.id}_#{display_name}"`; text entries and URLs end in `_text.html` /
  `_link.html`; group assignments use the group's name (spec/lib/content_zipper_spec.rb:
  "only includes one submission per group" expects `group0`, `group1`); anonymous ids are
  `SecureRandom.base58(5)` (lib/anonymity.rb).
* Moodle "Download all submissions": moodle `mod/assign/classes/downloader.php`
  (`get_student_prefix`, `load_submissionplugin_filelist`): `<Full Name>_<uniqueid>` with
  "_" in names replaced by spaces, then `_assignsubmission_file_/<path>` (folders, the
  default) or `_assignsubmission_file_<file>`; "Participant" under blind marking;
  `<group>_<group id>` for team submissions.
* Moodle grading worksheet: `mod/assign/gradingtable.php` (download columns) and
  `mod/assign/feedback/offline/importgradeslib.php` (Identifier = "Participant " + uniqueid).
* nbgrader: `{root}/submitted/{student_id}/{assignment_id}/{notebook_id}.ipynb`
  (nbgrader `CourseDirectory.directory_structure`, docs "Collecting assignments").
* Gradescope "Export Submissions": `submission_<id>/` folders and `submission_metadata.yml`
  whose keys are Ruby symbols (`:submitters:`, `:name:`, `:sid:`, `:email:`).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from commslab.grading import lms
from commslab.grading.lms import LmsKey, Platform, copy_number, intake, parse_canvas_name
from commslab.grading.records import Status, Verdict
from commslab.grading.roster import read_roster
from commslab.grading.unpack import UnpackLimits

NB = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def said(status: Verdict | None, kind: Status, detail: str = "") -> bool:
    """The entry is not graded, of this kind, and its detail says `detail`."""
    return status is not None and status.kind is kind and detail in status.detail


def collect(paths, workdir, **options):
    """The entries lms.intake makes (collect and identify), for the tests that need only them."""
    return intake(paths, workdir, **options).entries


def _zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _by_source(entries) -> dict:
    return {e.source.split(":", 1)[-1]: e for e in entries}


# --- Canvas ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # sortable "Doe, Jane" -> "doejane"; user 1234567; attachment 89012
        ("doejane_1234567_89012_collective_comms.ipynb", ("doejane", False, "1234567", 89012)),
        # "de la Cruz, Juan" with underscores kept by [[:word:]]: "de_la_cruzjuan"
        (
            "de_la_cruzjuan_1234567_89012_Untitled (copy).ipynb",
            ("de_la_cruzjuan", False, "1234567", 89012),
        ),
        (
            "doejane_LATE_1234567_89013_collective_comms-2.ipynb",
            ("doejane", True, "1234567", 89013),
        ),
        # sanitize_user_name: "some_999_, _1234_guy" -> "some9991234guy" (content_zipper_spec)
        ("some9991234guy_77_5_collective_comms.ipynb", ("some9991234guy", False, "77", 5)),
        # [[:word:]] keeps letters of any script: "ünicodemân" (content_zipper_spec)
        ("ünicodemân_42_7_collective_comms.ipynb", ("ünicodemân", False, "42", 7)),
        # a group assignment: the group's name, the submitting member's user id
        ("group0_1234567_555_collective_comms.ipynb", ("group0", False, "1234567", 555)),
        # online_text_entry / online_url: no attachment id
        ("doejane_1234567_text.html", ("doejane", False, "1234567", -1)),
        ("doejane_LATE_1234567_link.html", ("doejane", True, "1234567", -1)),
        # the display name can look like another export name: the prefix decides
        ("a_111_500_b_222_999_collective_comms.ipynb", ("a", False, "111", 500)),
    ],
)
def test_canvas_names_are_parsed(name, expected) -> None:
    got = parse_canvas_name(name)
    assert got is not None
    assert (got["name"], got["late"], got["student_id"], got["submission_id"]) == expected


def test_canvas_anonymous_ids_keep_their_case() -> None:
    # anonymous grading: users_name is nil, id = "anon_#{anonymous_id}", base58(5)
    a = parse_canvas_name("anon_aB3xZ_89012_collective_comms.ipynb")
    b = parse_canvas_name("LATE_anon_Ab3xZ_89013_collective_comms.ipynb")
    assert a is not None and b is not None
    assert a["anonymous"] == "anon_aB3xZ" and b["late"] and a["name"] == b["name"] == ""
    assert a["student_id"] != b["student_id"]  # they differ by case only: two students
    assert a["student_id"] == a["student_id"].lower()


@pytest.mark.parametrize(
    "name", ["collective_comms.ipynb", "alice.ipynb", "a_b_c.ipynb", "doejane_x12_3_nb.ipynb"]
)
def test_other_names_are_not_canvas_names(name) -> None:
    assert parse_canvas_name(name) is None


@pytest.mark.parametrize(
    ("name", "copy"),
    [
        ("collective_comms.ipynb", ("collective_comms.ipynb", 0)),
        ("collective_comms (1).ipynb", ("collective_comms.ipynb", 1)),  # a browser's copy
        ("collective_comms(2).ipynb", ("collective_comms.ipynb", 2)),
        ("collective_comms-3.ipynb", ("collective_comms.ipynb", 3)),  # Canvas's rename
        ("Untitled (copy).ipynb", ("Untitled (copy).ipynb", 0)),
    ],
)
def test_copy_numbers(name, copy) -> None:
    assert copy_number(name) == copy


def test_a_canvas_export_one_row_per_file_and_one_graded_notebook_each(tmp_path) -> None:
    archive = _zip(
        tmp_path / "submissions.zip",
        {
            # two files in one attempt: the copy has the higher attachment id
            "doejane_111_500_collective_comms.ipynb": NB,
            "doejane_111_501_Untitled (copy).ipynb": NB,
            "doejane_111_502_notes.pdf": b"%PDF-1.4",
            # uploaded again: Canvas renamed it -1; both named like the release
            "smithbob_LATE_222_600_collective_comms.ipynb": NB,
            "smithbob_LATE_222_601_collective_comms-1.ipynb": NB,
            # no notebook named like the release: the last one uploaded
            "de_la_cruzjuan_333_700_lab.ipynb": NB,
            "de_la_cruzjuan_333_701_lab_final.ipynb": NB,
            "lee_444_text.html": "<p>see attached</p>",
            "anon_aB3xZ_800_collective_comms.ipynb": NB,
            "group0_555_900_collective_comms.ipynb": NB,
            "__MACOSX/._doejane_111_500_collective_comms.ipynb": b"junk",
        },
    )
    entries = collect([archive], tmp_path / "work")
    assert len(entries) == 10  # n files in, n rows out (macOS metadata is not theirs)
    e = _by_source(entries)
    assert {x.platform for x in entries} == {Platform.CANVAS}
    graded = e["doejane_111_500_collective_comms.ipynb"]
    assert graded.status is None and graded.student_id == "111"
    assert "Untitled (copy).ipynb" in graded.notes[-1]
    copy = e["doejane_111_501_Untitled (copy).ipynb"]
    assert copy.student_id == "111" and said(copy.status, Status.NOT_GRADED, "collective_comms")
    assert said(e["doejane_111_502_notes.pdf"].status, Status.NOT_A_NOTEBOOK)  # a clean row
    assert e["smithbob_LATE_222_601_collective_comms-1.ipynb"].status is None
    assert said(e["smithbob_LATE_222_600_collective_comms.ipynb"].status, Status.SUPERSEDED)
    assert e["smithbob_LATE_222_601_collective_comms-1.ipynb"].late
    assert e["de_la_cruzjuan_333_701_lab_final.ipynb"].status is None
    assert said(
        e["de_la_cruzjuan_333_700_lab.ipynb"].status, Status.NOT_GRADED, "last notebook uploaded"
    )
    assert e["de_la_cruzjuan_333_700_lab.ipynb"].student_id == "333"
    assert e["lee_444_text.html"].student_id == "444"
    assert said(e["lee_444_text.html"].status, Status.NOT_A_NOTEBOOK, "(a Canvas text entry")
    anon = e["anon_aB3xZ_800_collective_comms.ipynb"]
    assert anon.key.kind == "canvas_anonymous" and not anon.verified and anon.status is None
    assert e["group0_555_900_collective_comms.ipynb"].student_id == "555"


def test_a_student_zip_never_carries_another_students_identity(tmp_path) -> None:
    inner = _zip(
        tmp_path / "inner.zip",
        {
            "smithbob_222_999_collective_comms.ipynb": NB,  # named like Bob's export file
            "deeper.zip": _zip(tmp_path / "d.zip", {"x.ipynb": NB}).read_bytes(),
        },
    )
    archive = _zip(
        tmp_path / "submissions.zip",
        {
            "doejane_111_500_my_work.zip": inner.read_bytes(),
            "smithbob_222_600_collective_comms.ipynb": NB,
        },
    )
    entries = collect([archive], tmp_path / "work")
    assert len(entries) == 3
    e = _by_source(entries)
    bob = e["smithbob_222_600_collective_comms.ipynb"]
    assert bob.student_id == "222" and bob.status is None  # Bob's own notebook is graded
    fake = e["doejane_111_500_my_work.zip:smithbob_222_999_collective_comms.ipynb"]
    assert fake.student_id == "111" and fake.status is None  # Jane's file, Jane's row
    deeper = e["doejane_111_500_my_work.zip:deeper.zip"]
    assert deeper.student_id == "111" and said(deeper.status, Status.NOT_GRADED, "zip inside a zip")


# --- every file guarded on its own -----------------------------------------------------------


def _set_compression(archive: Path, method: int) -> None:
    """Rewrite the compression method of every member (local and central headers)."""
    data = bytearray(archive.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.find(signature)
        while at >= 0:
            data[at + offset : at + offset + 2] = method.to_bytes(2, "little")
            at = data.find(signature, at + 4)
    archive.write_bytes(bytes(data))


def test_hostile_zips_each_get_their_rows_and_the_batch_goes_on(tmp_path) -> None:
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    unsupported = _zip(tmp_path / "ppmd.zip", {"doejane_111_1_collective_comms.ipynb": NB})
    _set_compression(unsupported, 98)  # PPMd (APPNOTE 4.4.5): zipfile cannot read it
    names = tmp_path / "names.zip"
    with zipfile.ZipFile(names, "w") as z:
        z.writestr("../../escape_222_1_collective_comms.ipynb", NB)
        z.writestr("/abs/root_333_1_collective_comms.ipynb", NB)
        z.writestr("bomb_444_1_collective_comms.ipynb", "0" * 100_000)
        z.writestr("lee_555_1_collective\x01\x1bcomms.ipynb", NB)
        z.writestr(
            zipfile.ZipInfo(
                "bad_name_\udcff.ipynb".encode("utf-8", "surrogateescape").decode("cp437")
            ),
            NB,
        )
    # a name that claims UTF-8 (flag bit 11) but is not: Python refuses the whole zip
    data = bytearray(names.read_bytes())
    at = data.rfind(b"PK\x01\x02")
    data[at + 8 : at + 10] = (0x800).to_bytes(2, "little")
    names.write_bytes(bytes(data))
    good = _zip(tmp_path / "good.zip", {"lee_666_1_collective_comms.ipynb": NB})
    entries = collect(
        [tmp_path / "broken.zip", unsupported, names, good, tmp_path / "missing.ipynb"],
        tmp_path / "work",
        platform="canvas",
        limits=UnpackLimits(member_bytes=1000),
    )
    assert len(entries) == 9
    by_id = {e.student_id: e for e in entries}
    by_source = {e.source: e for e in entries}
    assert said(by_source["broken.zip"].status, Status.CORRUPT_ZIP)
    assert said(by_id["111"].status, Status.NOT_GRADED, "unsupported compression method 98")
    for sid in ("555",):  # names made safe, nothing outside the work folder
        assert by_id[sid].status is None
        assert by_id[sid].path.resolve().is_relative_to((tmp_path / "work").resolve())
    # a path no platform writes (absolute, or climbing out): its own row, nothing written
    for name in (
        "../../escape_222_1_collective_comms.ipynb",
        "/abs/root_333_1_collective_comms.ipynb",
    ):
        unsafe = by_source[f"names.zip:{name}"]
        assert unsafe.path is None and said(unsafe.status, Status.NOT_GRADED, "an unsafe path")
        assert unsafe.student_id == ""  # it names nobody, not even the name after the "../"
    assert not (tmp_path / "escape_222_1_collective_comms.ipynb").exists()
    assert said(by_id["444"].status, Status.NOT_GRADED, "too large in the zip")
    assert by_id["666"].status is None
    assert by_source[str(tmp_path / "missing.ipynb")].status == Verdict(
        Status.MISSING, "no such file"
    )
    for e in entries:
        e.source.encode("utf-8")  # every name can be written to the CSV


def test_a_member_that_lies_about_its_size_stops_at_the_cap(tmp_path) -> None:
    archive = _zip(tmp_path / "class.zip", {"liar_1_1_nb.ipynb": "x" * 5000})
    data = bytearray(archive.read_bytes())
    # shrink the declared size in the central directory: the stream still inflates 5000 bytes
    central = data.rindex(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    (entry,) = collect([archive], tmp_path / "work", limits=UnpackLimits(member_bytes=1000))
    assert entry.status is not None and entry.path is None  # not unpacked past the cap


def test_a_folder_skips_hidden_files_and_checkpoints(tmp_path) -> None:
    files = {
        "doejane_111_500_collective_comms.ipynb": NB,
        ".ipynb_checkpoints/doejane_111_500_collective_comms-checkpoint.ipynb": NB,
        ".DS_Store": "junk",
        "plain_notebook.ipynb": NB,
    }
    for name, text in files.items():
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_text(text)
    # a Canvas name beside a plain notebook: the folder is no platform's export as a whole
    with pytest.raises(lms.PlatformError, match="--lms"):
        collect([tmp_path / "in"], tmp_path / "work")
    entries = collect([tmp_path / "in"], tmp_path / "work", platform="canvas")
    assert len(entries) == 2
    plain = _by_source(entries)["in/plain_notebook.ipynb"]
    assert plain.student_id == "" and said(plain.status, Status.NOT_GRADED, "not where canvas puts")


# --- Moodle, nbgrader, Gradescope ------------------------------------------------------------


def test_a_moodle_download_gives_each_participant_a_row(tmp_path) -> None:
    archive = _zip(
        tmp_path / "CS101-Lab-42.zip",
        {
            # "download submissions in folders" (the default since Moodle 3.1)
            "Jane Doe_1234567_assignsubmission_file_/collective_comms.ipynb": NB,
            "Jane Doe_1234567_assignsubmission_file_/collective_comms (1).ipynb": NB,
            "Bob Smith_1234568_assignsubmission_file_/sub/folder/collective_comms.ipynb": NB,
            "Bob Smith_1234568_assignsubmission_onlinetext_/onlinetext.html": "<p>hi</p>",
            # blind marking
            "Participant_1234569_assignsubmission_file_/collective_comms.ipynb": NB,
            # a student's own file named like someone else's Moodle folder
            "Ann Lee_1234570_assignsubmission_file_/"
            "Jane Doe_1234567_assignsubmission_file_x.ipynb": NB,
        },
    )
    flat = _zip(  # without folders: one name per file
        tmp_path / "flat.zip",
        {"Carl Roe_1234571_assignsubmission_file_collective_comms.ipynb": NB},
    )
    entries = collect([archive, flat], tmp_path / "work")
    assert len(entries) == 7
    assert {e.platform for e in entries} == {Platform.MOODLE}
    assert [e.student_id for e in entries] == [
        "1234567",
        "1234567",
        "1234568",
        "1234568",
        "1234569",
        "1234570",
        "1234571",
    ]
    jane = [e for e in entries if e.student_id == "1234567"]
    assert said(jane[0].status, Status.SUPERSEDED) and jane[1].status is None  # " (1)" wins
    assert entries[5].status is None and entries[5].name == "Ann Lee"


def test_a_moodle_worksheet_roster_maps_participants_and_team_downloads(tmp_path) -> None:
    worksheet = tmp_path / "Grades-CS101-Lab-42.csv"
    worksheet.write_text(
        "Identifier,Full name,Email address,Status,Group,Grade,Maximum grade,"
        "Grade can be changed,Last modified (submission),Last modified (grade),"
        "Feedback comments\n"
        'Participant 1234567,Jane Doe,jane@uni.edu,"Submitted for grading",Team Alpha,,35.00,'
        'Yes,"Monday, 1 December 2026, 9:00 AM",-,\n'
        "Participant 1234568,Bob Smith,bob@uni.edu,Submitted for grading,Team Beta,,35.00,"
        "Yes,-,-,\n"
        "Participant 1234569,Ann Lee,ann@uni.edu,No submission,Team Alpha,,35.00,Yes,-,-,\n",
        encoding="utf-8",
    )
    roster = read_roster(worksheet)
    assert roster.source == "moodle" and len(roster) == 3
    archive = _zip(
        tmp_path / "moodle.zip",
        {
            "Jane Doe_1234567_assignsubmission_file_/collective_comms.ipynb": NB,
            # a team submission: the group's name and group id 1234568 (= Bob's participant id)
            "Team Alpha_1234568_assignsubmission_file_/collective_comms.ipynb": NB,
            "Eve Gone_1234599_assignsubmission_file_/collective_comms.ipynb": NB,
        },
    )
    entries = collect([archive], tmp_path / "work", roster=roster)
    assert [e.student_id for e in entries] == ["jane@uni.edu", "jane@uni.edu", "1234599"]
    assert entries[2].in_roster is False and "not in the roster" in entries[2].notes[-1]
    # the team's one submission: graded for Jane, its grade goes to Ann too (not to Bob)
    assert (entries[0].group_members, entries[1].group_members) == ([], ["ann@uni.edu"])


def test_nbgrader_submitted_folders_give_one_student_each(tmp_path) -> None:
    course = tmp_path / "course"
    for student in ("alice", "bob", "carol"):
        folder = course / "submitted" / student / "collective_comms"
        folder.mkdir(parents=True)
        (folder / "collective_comms.ipynb").write_text(NB)
        (folder / "timestamp.txt").write_text("2026-12-01 09:00:00.000000 UTC")
    entries = collect([course], tmp_path / "work")
    assert [e.student_id for e in entries] == ["alice", "bob", "carol"]
    assert {e.platform for e in entries} == {Platform.NBGRADER}


def test_a_gradescope_export_reads_its_metadata(tmp_path) -> None:
    metadata = (
        "submission_9001:\n"
        "  :submitters:\n"
        "  - :name: Jane Doe\n"
        "    :sid: '1234567'\n"
        "    :email: jane@uni.edu\n"
        "  :created_at: 2026-12-01 09:00:00.000000000 -08:00\n"
        "  :score: 35.0\n"
        "submission_9002:\n"
        "  :submitters:\n"
        "  - :name: Pair One\n"
        "    :email: one@uni.edu\n"
        "  - :name: Pair Two\n"
        "    :email: two@uni.edu\n"
    )
    archive = _zip(
        tmp_path / "assignment_123_export.zip",
        {
            "assignment_123_export/submission_metadata.yml": metadata,
            "assignment_123_export/submission_9001/collective_comms.ipynb": NB,
            "assignment_123_export/submission_9002/collective_comms.ipynb": NB,
            "assignment_123_export/submission_9002/.ipynb_checkpoints/x-checkpoint.ipynb": NB,
        },
    )
    entries = collect([archive], tmp_path / "work")
    assert [(e.platform, e.student_id) for e in entries] == [
        (Platform.GRADESCOPE, "1234567"),
        (Platform.GRADESCOPE, "one@uni.edu"),
    ]
    assert "group submission" in entries[1].notes[0]


# --- rosters --------------------------------------------------------------------------------


def test_a_canvas_gradebook_export_maps_sis_ids_and_logins(tmp_path) -> None:
    export = tmp_path / "2026-12-01T0900_Grades-CS101.csv"
    export.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Lab (98765)\n"
        "    Points Possible,,,,,35.00\n"
        '"Doe, Jane",111,S-001,jdoe,CS101-01,\n'
        '"Smith, Bob",222,S-002,bsmith,CS101-01,\n',
        encoding="utf-8",
    )
    roster = read_roster(export)
    assert roster.source == "canvas" and len(roster) == 2
    assert roster.match(LmsKey("canvas", "111")).student_id == "111"
    assert roster.match(LmsKey("nbgrader", "jdoe")).student_id == "111"
    assert read_roster(export, id_column="SIS User ID").match(
        LmsKey("canvas", "222")
    ).student_id == ("s-002")
    assert roster.match(LmsKey("canvas", "999")) is None


def test_a_plain_roster_never_merges_two_students(tmp_path) -> None:
    plain = tmp_path / "roster.csv"
    plain.write_text(
        "student_id,email,gradescope_sid\n1,a@uni.edu,777\n2,b@uni.edu,777\n", encoding="utf-8"
    )
    roster = read_roster(plain)
    assert roster.match(LmsKey("email", "A@UNI.EDU")).student_id == "1"
    assert roster.match(LmsKey("gradescope_sid", "777")) is None  # shared: never guessed
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a roster"):
        read_roster(tmp_path / "x.csv")


def _moodle_import(worksheet_text: str, participants: dict[str, str], max_grade: float) -> dict:
    """A port of Moodle's worksheet import (mod/assign/feedback/offline/importgradeslib.php
    `init`/`next` and locallib.php `process_import_grades`): the Identifier, Grade and
    Last modified (grade) columns must exist; "Participant " is stripped from the id, which
    must be a participant; an empty or negative grade is skipped; one above the maximum is
    out of range. Returns participant id -> grade imported; raises on what Moodle refuses."""
    import csv as _csv

    rows = list(_csv.reader(worksheet_text.splitlines()))
    header = rows[0]
    for column in ("Identifier", "Grade", "Last modified (grade)"):
        if column not in header:
            raise ValueError(f"invalidgradeimport: no {column} column")
    at_id, at_grade = header.index("Identifier"), header.index("Grade")
    imported = {}
    for record in rows[1:]:
        uniqueid = record[at_id][len("Participant ") :]
        if uniqueid not in participants:
            continue
        grade = record[at_grade].strip()
        if grade == "":
            continue
        value = float(grade.replace(",", "."))  # unformat_float
        if value < 0 or value > max_grade:
            raise ValueError(f"out of range: {value}")
        imported[uniqueid] = value
    return imported


def test_the_moodle_worksheet_comes_back_ready_to_import(tmp_path) -> None:
    from commslab.grading.grade import GradeResult
    from commslab.grading.outputs_gradebooks import write_outputs

    worksheet = tmp_path / "Grades-CS101-Lab-42.csv"
    worksheet.write_text(
        "Identifier,Full name,Email address,Status,Grade,Maximum grade,Grade can be changed,"
        "Last modified (submission),Last modified (grade),Feedback comments\n"
        "Participant 1234567,Jane Doe,jane@uni.edu,Submitted for grading,,35.00,Yes,-,-,\n"
        "Participant 1234568,Bob Smith,bob@uni.edu,No submission,,35.00,Yes,-,-,\n",
        encoding="utf-8",
    )
    roster = read_roster(worksheet)
    result = GradeResult("jane@uni.edu", 31.5, 35.0, "graded", max_points={"q": 35.0})
    write_outputs([result], tmp_path / "out", roster=roster)
    text = (tmp_path / "out" / "gradebook_moodle.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == worksheet.read_text().splitlines()[0]
    imported = _moodle_import(text, {"1234567": "Jane", "1234568": "Bob"}, 35.0)
    assert imported == {"1234567": 31.5}  # Bob has no submission: his grade stays empty


class InvalidHeaderRow(ValueError):
    pass


def _canvas_import(text: str, students: dict[int, dict]) -> tuple[dict, list[str]]:
    """A port of Canvas's gradebook import (canvas-lms app/models/gradebook_importer.rb):
    `row_has_student_headers?` (row[0] has "Student", row[1] has "ID"), `update_column_count`
    (SIS User ID, SIS Login ID, Integration ID, Root Account after ID), the last student column
    must be "Section", assignment titles "Name (id)" (`Assignment.title_and_id`), the
    "Points Possible" row, and `process_student` (Canvas ID, then SIS User ID, then login,
    then name; else a missing student). Returns ({user id: {assignment: grade}}, missing)."""
    import csv as _csv
    import re as _re

    rows = list(_csv.reader(text.splitlines()))
    header = rows[0]
    if not (len(header) > 3 and "Student" in header[0] and "ID" in header[1]):
        raise InvalidHeaderRow(header)
    columns = 3
    if _re.search(r"SIS\s+Login\s+ID", header[2]):
        columns += 1
    elif _re.search(r"SIS\s+User\s+ID", header[2]) and _re.search(r"SIS\s+Login\s+ID", header[3]):
        extra = 1 if _re.search(r"Integration\s+ID", header[4]) else 0
        columns += 2 + extra
        if _re.search(r"Root\s+Account", header[4 + extra]):
            columns += 1
    if "Section" not in header[columns - 1]:
        raise InvalidHeaderRow(header)
    assignments = {}
    for index, title in enumerate(header[columns:], start=columns):
        match = _re.match(r"^(.*?) \((\d+)\)$", title)
        assignments[index] = match[2] if match else title
    imported, missing = {}, []
    for row in rows[1:]:
        if "Points Possible" in row[0]:
            continue
        found = None
        if row[1].strip().isdigit() and int(row[1]) in students:
            found = int(row[1])
        for uid, s in students.items():
            if found is None and row[2] and s.get("sis") == row[2]:
                found = uid
            if found is None and row[3] and s.get("login") == row[3]:
                found = uid
        if found is None:
            missing.append(row[0] or row[1])
            continue
        imported[found] = {assignments[i]: row[i].strip() for i in assignments}
    return imported, missing


def test_the_canvas_gradebook_passes_canvas_importer(tmp_path) -> None:
    from commslab.grading.grade import GradeResult
    from commslab.grading.outputs_gradebooks import write_outputs

    export = tmp_path / "2026-12-01T0900_Grades-CS101.csv"
    export.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Lab (98765)\n"
        "    Points Possible,,,,,35.00\n"
        '"Doe, Jane",111,S-001,jdoe,CS101-01,\n'
        '"Smith, Bob",222,S-002,bsmith,CS101-02,\n',
        encoding="utf-8",
    )
    roster = read_roster(export, id_column="SIS User ID")  # ids are SIS ids here
    results = [
        GradeResult("s-001", 35.0, 35.0, "graded", max_points={"q": 35.0}),
        GradeResult("s-002", 12.5, 35.0, "graded", max_points={"q": 35.0}),
    ]
    write_outputs(results, tmp_path / "out", roster=roster, canvas_assignment_id="98765")
    text = (tmp_path / "out" / "gradebook_canvas.csv").read_text(encoding="utf-8")
    canvas = {111: {"sis": "S-001", "login": "jdoe"}, 222: {"sis": "S-002", "login": "bsmith"}}
    imported, missing = _canvas_import(text, canvas)
    assert missing == []
    assert imported == {111: {"98765": "35"}, 222: {"98765": "12.5"}}
    with pytest.raises(InvalidHeaderRow):  # the port refuses what Canvas refuses
        _canvas_import("Name,ID,Section,Lab\n", canvas)


def test_nbgrader_courses_get_the_csv_nbgrader_export_writes(tmp_path, monkeypatch) -> None:
    """The columns are checked against nbgrader itself: its CsvExportPlugin on a gradebook."""
    import csv as _csv
    import os
    import sys

    # nbgrader's Gradebook runs its `alembic` migrations from the environment's bin folder
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")

    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    from commslab.grading.grade import GradeResult
    from commslab.grading.outputs_gradebooks import write_outputs

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        gradebook.add_assignment("collective_comms")
        gradebook.add_student("alice")
        CsvExportPlugin(to=str(tmp_path / "nbgrader.csv")).export(gradebook)
    header = (tmp_path / "nbgrader.csv").read_text().splitlines()[0].split(",")
    results = [GradeResult("alice", 30.0, 35.0, "graded", max_points={"q": 35.0})]
    write_outputs(results, tmp_path / "out", nbgrader_assignment="collective_comms")
    with open(tmp_path / "out" / "grades_nbgrader.csv", newline="") as f:
        rows = list(_csv.DictReader(f))
    assert list(rows[0]) == header
    assert (rows[0]["student_id"], rows[0]["score"], rows[0]["max_score"]) == ("alice", "30", "35")


def test_a_blackboard_download_gives_each_username_a_row(tmp_path) -> None:
    """Blackboard Learn's "Assignment File Download" has no public specification; the names
    follow what vangef/BBGradebookOrganiser (utils/organiser.py) parses:
    <assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>, plus a .txt receipt."""
    archive = _zip(
        tmp_path / "gradebook_CS101_Lab.zip",
        {
            "Lab_1_jdoe_attempt_2026-12-01-09-00-00_collective_comms.ipynb": NB,
            "Lab_1_jdoe_attempt_2026-12-01-09-00-00.txt": "Name: Jane Doe (jdoe)\n",
            "Lab_1_jdoe_attempt_2026-12-02-10-00-00_collective_comms.ipynb": NB,
            "Lab_1_bsmith_attempt_2026-12-01-08-00-00_my lab.ipynb": NB,
        },
    )
    export = tmp_path / "roster.csv"
    export.write_text("student_id,login\n111,jdoe\n222,bsmith\n")
    entries = collect([archive], tmp_path / "work", roster=read_roster(export))
    assert len(entries) == 3  # the .txt receipt is Blackboard's, not a submission
    assert [e.student_id for e in entries] == ["111", "111", "222"]
    assert {e.platform for e in entries} == {Platform.BLACKBOARD}
    assert said(entries[0].status, Status.SUPERSEDED)  # the later attempt is graded
    assert entries[1].status is None and entries[2].status is None


# --- Canvas group assignments ---------------------------------------------------------------

# A Canvas group-set export, in the columns canvas-lms spec/apis/v1/group_categories_api_spec.rb
# expects of it (`name canvas_user_id user_id login_id sections group_name canvas_group_id
# group_id`); "Team_7_Alpha" shows a group name with "_<digits>_" in it.
CANVAS_GROUPS = (
    "name,canvas_user_id,user_id,login_id,sections,group_name,canvas_group_id,group_id\n"
    "Jane Doe,111,S-001,jdoe,CS101,Team_7_Alpha,501,\n"
    "Bob Smith,222,S-002,bsmith,CS101,Team_7_Alpha,501,\n"
    "Ann Lee,333,S-003,alee,CS101,Team_7_Alpha,501,\n"
    "Carl Roe,444,S-004,croe,CS101,Beta,502,\n"
    "Dana Poe,555,S-005,dpoe,CS101,,,\n"
)


def test_a_canvas_group_submission_gives_every_member_a_gradebook_row(tmp_path) -> None:
    """Canvas zips one submission per group (canvas-lms lib/content_zipper.rb `zip_assignment`
    takes `assignment.representatives`, which for a group assignment is one member per group
    renamed to the group: app/models/assignment.rb). The file is named
    `<group name made file-safe>_<representative's user id>_<attachment id>_<file>`:
    sanitize_user_name turns "Team_7_Alpha" into "team7alpha" (it drops the "_" around digits
    and lowercases), sanitize_file_name drops every non-word character. The export names no
    other member: the group-set export does."""
    from commslab.grading.grade import grade_entry
    from commslab.grading.outputs_gradebooks import write_outputs

    groups = tmp_path / "CS101_groups.csv"
    groups.write_text(CANVAS_GROUPS, encoding="utf-8")
    roster = read_roster(groups)
    assert roster.source == "canvas_groups" and len(roster) == 5
    export = _zip(
        tmp_path / "submissions.zip",
        {
            "team7alpha_222_900_collective_comms.ipynb": NB,  # Bob submitted for Team_7_Alpha
            "beta_444_901_collective_comms.ipynb": NB,  # Carl alone in Beta
            "poedana_555_902_collective_comms.ipynb": NB,  # Dana: no group, her own name
        },
    )
    entries = collect([export], tmp_path / "work", roster=roster)
    assert len(entries) == 3  # one row per file in grades.csv
    e = _by_source(entries)
    alpha = e["team7alpha_222_900_collective_comms.ipynb"]
    assert (alpha.student_id, alpha.group, alpha.group_members) == (
        "222",
        "Team_7_Alpha",
        ["111", "333"],
    )
    assert e["beta_444_901_collective_comms.ipynb"].group_members == []
    assert e["poedana_555_902_collective_comms.ipynb"].group == ""

    results = []
    for entry, score in zip(entries, (30.0, 20.0, 10.0), strict=True):
        entry.status = Verdict(
            Status.NOT_GRADED, "graded elsewhere"
        )  # a row without running the grader
        row = grade_entry(
            entry, term="t", autograder_dir=tmp_path, timeout=1, key=None, limits=None
        )
        row.score, row.max_score = score, 35.0
        results.append(row)
    assert results[0].group_members == ["111", "333"]
    write_outputs(results, tmp_path / "out", roster=roster)
    text = (tmp_path / "out" / "gradebook_canvas.csv").read_text(encoding="utf-8")
    canvas = {uid: {} for uid in (111, 222, 333, 444, 555)}
    imported, missing = _canvas_import(text, canvas)
    assert missing == []
    lab = "Collective Communication Lab"
    assert imported == {
        111: {lab: "30"},
        222: {lab: "30"},
        333: {lab: "30"},
        444: {lab: "20"},
        555: {lab: "10"},
    }
    grades = (tmp_path / "out" / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert len(grades) == 1 + 3  # grades.csv stays one row per file


def test_a_group_set_roster_does_not_share_an_individual_submission(tmp_path) -> None:
    """A student in a group who hands in an individual assignment is named after themselves
    (Canvas's sortable name, "Smith, Bob" -> smithbob): the grade is theirs alone."""
    groups = tmp_path / "groups.csv"
    groups.write_text(CANVAS_GROUPS, encoding="utf-8")
    export = _zip(tmp_path / "s.zip", {"smithbob_222_900_collective_comms.ipynb": NB})
    (entry,) = collect([export], tmp_path / "work", roster=read_roster(groups))
    assert (entry.student_id, entry.group, entry.group_members) == ("222", "", [])


# --- D2L Brightspace ------------------------------------------------------------------------

# D2L publishes no specification of its download; the names below are the ones public code
# reads: folders "<n>-<n> - <First Last> - <Mon D, YYYY HMM AM|PM>/<file>", a "<Group> - "
# chunk before the name in group assignments, and the download's own index.html beside the
# folders (saritonin/academic-shell-scripts rename_and_move.sh, its example
# "397063-2557369 - Mary-Ann Smith - Sep 24, 2024 926 PM/document.pdf"); older downloads are
# flat, "... - <date> - <file>" (the kodiak test fixtures, "13394-80551 - Charlie Brown -
# Mar 29, 2018 1205 PM - CBrown - Homework 6.zip").
D2L_DOWNLOAD = {
    "index.html": "<html>the download's table of contents</html>",
    "397063-2557369 - Mary-Ann Smith - Sep 24, 2024 926 PM/collective_comms.ipynb": NB,
    "397063-2557370 - John Doe - Sep 24, 2024 930 PM/collective_comms.ipynb": NB,
    "397063-2557371 - John Doe - Sep 25, 2024 1005 AM/collective_comms.ipynb": NB,  # later
    "397063-2557372 - Team Red - Ann Lee - Sep 24, 2024 1101 AM/lab.ipynb": NB,
    "397063-2557373 - Bo Chen - Sep 24, 2024 1102 AM/index.html": "<p>a student's own file</p>",
    "13394-80551 - Charlie Brown - Mar 29, 2018 1205 PM - CBrown - collective_comms.ipynb": NB,
}
# A D2L grades export (Grades > Export, key field "Both"): "#" before each OrgDefinedId and
# Username and in the End-of-Line Indicator column (University of Wisconsin KB 4330); two
# students named Ann Lee.
D2L_GRADES = (
    "OrgDefinedId,Username,Last Name,First Name,Email,Lab Points Grade,End-of-Line Indicator\n"
    "#001001,#msmith,Smith,Mary-Ann,msmith@uni.edu,,#\n"
    "#001002,#jdoe,Doe,John,jdoe@uni.edu,,#\n"
    "#001003,#alee,Lee,Ann,alee@uni.edu,,#\n"
    "#001004,#alee2,Lee,Ann,alee2@uni.edu,,#\n"
    "#001005,#cbrown,Brown,Charlie,cbrown@uni.edu,,#\n"
)


def test_a_d2l_download_gives_each_file_a_row_and_names_nobody_by_guess(tmp_path) -> None:
    export = _zip(tmp_path / "Lab 3 Download Nov 30, 2026 1015 AM.zip", D2L_DOWNLOAD)
    entries = collect([export], tmp_path / "work")
    assert len(entries) == len(D2L_DOWNLOAD) - 1  # every file but D2L's own index.html
    e = {x.source.split(":", 1)[-1]: x for x in entries}
    mary = e["397063-2557369 - Mary-Ann Smith - Sep 24, 2024 926 PM/collective_comms.ipynb"]
    assert (mary.platform, mary.student_id, mary.name) == (
        Platform.D2L,
        "mary-ann smith",
        "Mary-Ann Smith",
    )
    assert not mary.verified and "STUDENT_ID was used" in mary.notes[-1]
    first = e["397063-2557370 - John Doe - Sep 24, 2024 930 PM/collective_comms.ipynb"]
    later = e["397063-2557371 - John Doe - Sep 25, 2024 1005 AM/collective_comms.ipynb"]
    assert later.status is None and said(first.status, Status.SUPERSEDED)
    ann = e["397063-2557372 - Team Red - Ann Lee - Sep 24, 2024 1101 AM/lab.ipynb"]
    assert (ann.student_id, ann.group, ann.original) == ("ann lee", "Team Red", "lab.ipynb")
    bo = e["397063-2557373 - Bo Chen - Sep 24, 2024 1102 AM/index.html"]
    assert bo.student_id == "bo chen" and bo.path is not None  # the student's file is kept
    flat = e["13394-80551 - Charlie Brown - Mar 29, 2018 1205 PM - CBrown - collective_comms.ipynb"]
    assert (flat.student_id, flat.original) == ("charlie brown", "CBrown - collective_comms.ipynb")


def test_a_d2l_grades_export_maps_names_to_org_ids_and_takes_the_grades_back(tmp_path) -> None:
    import csv as _csv

    from commslab.grading.grade import grade_entry
    from commslab.grading.outputs_gradebooks import write_outputs

    grades_export = tmp_path / "Lab_GradesExport.csv"
    grades_export.write_text(D2L_GRADES, encoding="utf-8")
    roster = read_roster(grades_export)
    assert roster.source == "d2l" and len(roster) == 5
    export = _zip(tmp_path / "download.zip", D2L_DOWNLOAD)
    entries = collect([export], tmp_path / "work", roster=roster)
    by_name = {}
    for entry in entries:
        by_name.setdefault(entry.name, []).append(entry)
    assert [(x.student_id, x.verified) for x in by_name["Mary-Ann Smith"]] == [("001001", True)]
    assert {x.student_id for x in by_name["John Doe"]} == {"001002"}
    (ann,) = by_name["Ann Lee"]  # two Ann Lees in the class: neither is guessed
    assert (ann.student_id, ann.verified, ann.in_roster) == ("ann lee", False, False)

    results = []
    for entry in entries:
        entry.status = entry.status or Verdict(
            Status.NOT_GRADED, "graded elsewhere"
        )  # rows without running the grader
        row = grade_entry(
            entry, term="t", autograder_dir=tmp_path, timeout=1, key=None, limits=None
        )
        row.score, row.max_score = {"001001": 30.0, "001002": 20.0}.get(row.student_id, 0.0), 35.0
        results.append(row)
    write_outputs(results, tmp_path / "out", roster=roster, assignment="Lab")
    # D2L's import rules ("Importing grades", community.d2l.com kb 3538; KB 4330): OrgDefinedId
    # and/or Username identify the user, a numeric item is "<item> Points Grade", and the
    # End-of-Line Indicator closes each record with "#".
    with open(tmp_path / "out" / "gradebook_d2l.csv", newline="", encoding="utf-8") as f:
        rows = list(_csv.DictReader(f))
    assert list(rows[0]) == [
        "OrgDefinedId",
        "Username",
        "Lab Points Grade",
        "End-of-Line Indicator",
    ]
    assert {r["OrgDefinedId"]: r["Lab Points Grade"] for r in rows} == {
        "#001001": "30",
        "#001002": "20",
        "#001005": "0",
    }
    assert all(r["End-of-Line Indicator"] == "#" and r["Username"].startswith("#") for r in rows)


# --- issue 19: each platform's export read by that platform's own rules ---------------------
#
# The exports below are built by tests/platform_exports.py from each platform's source (cited
# there, per builder). A fake grader gives each notebook the score written in it ("# score N"),
# so a row's grade shows whose notebook it came from; gradebook.finalise applies the late
# policy as `commslab grade` does.

import csv  # noqa: E402
import re as _re  # noqa: E402

from platform_exports import (  # noqa: E402
    Upload,
    blackboard,
    canvas,
    d2l,
    gradescope,
    moodle,
    moodle_worksheet,
    nbgrader_course,
    nbgrader_inbound,
    notebook,
    write_folder,
    write_zip,
)

from commslab.grading import gradebook, outputs_gradebooks, pipeline  # noqa: E402
from commslab.grading.grade import GradeResult  # noqa: E402


def _fake_grade(entries) -> list[GradeResult]:
    """One row per entry: a notebook earns the score written in it, anything else 0."""
    rows = []
    for e in entries:
        if e.status is not None or e.path is None:
            r = GradeResult(e.student_id, 0.0, 35.0, e.status or Verdict(Status.MISSING))
        else:
            found = _re.search(r"# score (\d+)", e.path.read_text(encoding="utf-8"))
            r = GradeResult(e.student_id, float(found[1]) if found else 0.0, 35.0, "graded")
            r.points = {"all": r.score}
            r.max_points = {"all": 35.0}
        r.file, r.late, r.lms_name = e.source, e.late, e.name
        rows.append(r)
    return rows


def _gradebook(entries, policy=None) -> dict[str, GradeResult]:
    final = gradebook.finalise(_fake_grade(entries), [], policy or gradebook.LatePolicy())
    return outputs_gradebooks.gradebook_rows(final)


def _identities_unchanged(entries, expected: dict[str, str]) -> None:
    """n files in = n rows out, and every file's row is the student the platform named."""
    assert len(entries) == len(expected)
    got = {e.source.split(":", 1)[-1]: e.student_id for e in entries}
    assert got == expected


def test_a_canvas_display_name_shaped_like_blackboard_takes_nobody_s_row(tmp_path) -> None:
    """Takeover: Bob uploads (late) a file named like Blackboard's download of Jane's attempt;
    Canvas's prefix names Bob, the batch is Canvas (its signature), Bob keeps his late flag."""
    export = canvas(
        [
            Upload("111", "Doe, Jane", {"collective_comms.ipynb": notebook("111", "# score 35")}),
            Upload(
                "222",
                "Smith, Bob",
                {"x_111_attempt_2026-12-01-09-00-00_nb.ipynb": notebook("222", "# score 31")},
                late=True,
            ),
        ]
    )
    batch = lms.intake([write_zip(tmp_path / "s.zip", export)], tmp_path / "w")
    assert batch.platform is Platform.CANVAS and batch.decided_by == "the export's structure"
    _identities_unchanged(
        batch.entries,
        {
            "doejane_111_900_collective_comms.ipynb": "111",
            "smithbob_LATE_222_901_x_111_attempt_2026-12-01-09-00-00_nb.ipynb": "222",
        },
    )
    book = _gradebook(batch.entries, gradebook.LatePolicy(kind="flat", percent=50))
    assert book["111"].score == 35  # the victim keeps their own grade
    assert book["222"].late and book["222"].score == 15.5  # 31 with the 50% late policy


def test_a_moodle_folder_holding_an_nbgrader_layout_stays_its_participant_s(tmp_path) -> None:
    """Takeover: Ann's Moodle folder holds submitted/<Jane's id>/<a>/…: Moodle's rules read
    only the top-level folder, so it is Ann's file (and not graded over Ann's notebook)."""
    export = moodle(
        [
            Upload("8801", "Jane Doe", {"collective_comms.ipynb": notebook("8801", "# score 35")}),
            Upload(
                "8802",
                "Ann Lee",
                {
                    "collective_comms.ipynb": notebook("8802", "# score 20"),
                    "submitted/8801/collective_comms/collective_comms.ipynb": notebook(
                        "8801", "# score 34"
                    ),
                },
            ),
        ]
    )
    entries = collect([write_zip(tmp_path / "m.zip", export)], tmp_path / "w")
    prefix = "_assignsubmission_file/"
    _identities_unchanged(
        entries,
        {
            f"Jane Doe_8801{prefix}collective_comms.ipynb": "8801",
            f"Ann Lee_8802{prefix}collective_comms.ipynb": "8802",
            f"Ann Lee_8802{prefix}submitted/8801/collective_comms/collective_comms.ipynb": "8802",
        },
    )
    book = _gradebook(entries)
    assert (book["8801"].score, book["8802"].score) == (35, 20)
    flagged = _by_source(entries)[
        f"Ann Lee_8802{prefix}submitted/8801/collective_comms/collective_comms.ipynb"
    ]
    assert said(flagged.status, Status.NOT_GRADED, "TA")


def test_a_zip_member_named_like_a_classmate_s_file_stays_the_uploader_s(tmp_path) -> None:
    """Takeover: Bob's own zip holds a file named like Jane's Canvas export file; it inherits
    Bob's identity, and gradebook_canvas.csv keeps Jane's own grade."""
    inner = {"doejane_111_950_collective_comms.ipynb": notebook("111", "# score 1")}
    from platform_exports import zipped

    export = canvas(
        [
            Upload("111", "Doe, Jane", {"collective_comms.ipynb": notebook("111", "# score 30")}),
            Upload("222", "Smith, Bob", {"work.zip": zipped(inner)}),
        ]
    )
    entries = collect([write_zip(tmp_path / "s.zip", export)], tmp_path / "w")
    _identities_unchanged(
        entries,
        {
            "doejane_111_900_collective_comms.ipynb": "111",
            "smithbob_222_901_work.zip:doejane_111_950_collective_comms.ipynb": "222",
        },
    )
    final = gradebook.finalise(_fake_grade(entries), [], gradebook.LatePolicy())
    outputs_gradebooks.canvas_csv(final, tmp_path / "canvas.csv", "Lab", None)
    rows = (tmp_path / "canvas.csv").read_text().splitlines()[2:]
    assert sorted(r.split(",")[1:2][0] + ":" + r.split(",")[-1] for r in rows) == [
        "111:30",
        "222:1",
    ]


def test_a_metadata_file_inside_a_gradescope_upload_is_only_a_file(tmp_path) -> None:
    """Takeover: Bob uploads a submission_metadata.yml claiming Jane's folder is his; only the
    export's own metadata at its root names anyone: both keep their rows."""
    fake = "submission_9001:\n  :submitters:\n  - :name: Bob\n    :sid: '222'\n"
    export = gradescope(
        [
            Upload("111", "Jane Doe", {"collective_comms.ipynb": notebook("111", "# score 35")}),
            Upload(
                "222",
                "Bob Smith",
                {
                    "collective_comms.ipynb": notebook("222", "# score 10"),
                    "submission_metadata.yml": fake,
                },
            ),
        ]
    )
    entries = collect([write_zip(tmp_path / "g.zip", export)], tmp_path / "w")
    _identities_unchanged(
        entries,
        {
            "assignment_123_export/submission_9001/collective_comms.ipynb": "111",
            "assignment_123_export/submission_9002/collective_comms.ipynb": "222",
            "assignment_123_export/submission_9002/submission_metadata.yml": "222",
        },
    )
    assert (
        _by_source(entries)[
            "assignment_123_export/submission_9002/submission_metadata.yml"
        ].status.kind
        is Status.NOT_A_NOTEBOOK
    )
    book = _gradebook(entries)
    assert (book["111"].score, book["222"].score) == (35, 10)


@pytest.mark.parametrize("version", ["4.1", "4.0"])
def test_moodle_layouts_blind_marking_and_teams_give_one_row_each(tmp_path, version) -> None:
    """Collapse: Moodle 4.1+ folders (no "_" before "/"), <= 4.0 folders, blind marking
    (Participant_<id>), a team (<group>_<group id>) each stay their own participant."""
    uploads = [
        Upload("8801", "José Pérez", {"collective_comms.ipynb": notebook("8801")}),
        Upload("8812", "Participant", {"collective_comms.ipynb": notebook("s-8812")}),
        Upload("42", "Team Ring", {"collective_comms.ipynb": notebook("8803")}),
        Upload("8804", "Chloé O'Brien", {"collective_comms.ipynb": notebook("8804")}),
    ]
    entries = collect(
        [write_zip(tmp_path / "m.zip", moodle(uploads, version=version))], tmp_path / "w"
    )
    assert [e.student_id for e in entries] == ["8801", "8812", "42", "8804"]
    assert all(e.status is None and e.platform is Platform.MOODLE for e in entries)
    assert not entries[1].verified and "blind marking" in entries[1].notes[-1]
    assert entries[3].name == "Chloé OBrien"  # clean_filename dropped the apostrophe
    flat = collect(
        [write_zip(tmp_path / "f.zip", moodle(uploads[:1], folders=False))], tmp_path / "w2"
    )
    assert [e.student_id for e in flat] == ["8801"]


def test_a_moodle_worksheet_binds_names_as_clean_filename_writes_them_and_scales(tmp_path) -> None:
    """Names: Chloé O'Brien's folder is "Chloé OBrien_8804_…" and the worksheet says
    "Chloé O'Brien": she is matched; the worksheet's Maximum grade 100.00 is respected."""
    worksheet = tmp_path / "ws.csv"
    worksheet.write_text(
        moodle_worksheet(
            [("8804", "Chloé O'Brien", "chloe@uni.edu"), ("8805", "Li Wu", "li@uni.edu")]
        )
    )
    roster = read_roster(worksheet)
    assert roster.maximum == 100.0
    uploads = [
        Upload(
            "8804",
            "Chloé O'Brien",
            {"collective_comms.ipynb": notebook("chloe@uni.edu", "# score 35")},
        )
    ]
    entries = collect(
        [write_zip(tmp_path / "m.zip", moodle(uploads))], tmp_path / "w", roster=roster
    )
    assert entries[0].student_id == "chloe@uni.edu" and entries[0].in_roster
    final = gradebook.finalise(_fake_grade(entries), [], gradebook.LatePolicy())
    outputs_gradebooks.moodle_worksheet(final, roster, tmp_path / "back.csv")
    back = list(csv.DictReader((tmp_path / "back.csv").open(encoding="utf-8")))
    assert back[0]["Grade"] == "100.00" and back[1]["Grade"] == ""  # 35/35 of 100.00


def test_a_blind_worksheet_is_a_roster_and_a_scale_is_refused(tmp_path) -> None:
    blind = tmp_path / "blind.csv"
    blind.write_text(moodle_worksheet([("8812", "", ""), ("8813", "", "")], maximum="35.00"))
    roster = read_roster(blind)
    assert roster.source == "moodle" and [s.student_id for s in roster.students] == ["8812", "8813"]
    uploads = [Upload("8812", "Participant", {"collective_comms.ipynb": notebook("s1")})]
    (entry,) = collect(
        [write_zip(tmp_path / "m.zip", moodle(uploads))], tmp_path / "w", roster=roster
    )
    assert entry.student_id == "8812" and entry.in_roster and not entry.verified
    scale = tmp_path / "scale.csv"
    scale.write_text(moodle_worksheet([("8812", "A B", "a@b")], maximum="Excellent"))
    with pytest.raises(ValueError, match="scale"):
        read_roster(scale)


def test_nbgrader_submitted_course_and_exchange_layouts(tmp_path) -> None:
    """Collapse: `commslab grade COURSE/submitted`, the course folder (only submitted/ is
    graded, never source/), and the exchange's inbound/ each give one row per student;
    timestamp.txt and submission_secret.txt get none; the latest inbound attempt is graded."""
    uploads = [
        Upload(
            "alice",
            "alice",
            {"collective_comms.ipynb": notebook("alice")},
            when="2026-12-01-09-00-00",
        ),
        Upload(
            "bob", "bob", {"collective_comms.ipynb": notebook("bob")}, when="2026-12-01-10-00-00"
        ),
    ]
    course = write_folder(tmp_path / "course", nbgrader_course(uploads))
    (course / "submitted/bob/collective_comms/submission_secret.txt").write_text("s3cr3t")
    for given in (course, course / "submitted"):
        batch = lms.intake([given], tmp_path / "w" / given.name)
        assert batch.platform is Platform.NBGRADER
        assert [e.student_id for e in batch.entries] == ["alice", "bob"]
        assert all(e.status is None and e.assignment == "collective_comms" for e in batch.entries)
        assert batch.entries[0].timestamp == "2026-12-01 09:00:00.000000 UTC"
    later = Upload(
        "alice", "alice", {"collective_comms.ipynb": notebook("alice")}, when="2026-12-02-09-00-00"
    )
    exchange = write_folder(tmp_path / "exchange", nbgrader_inbound([*uploads, later]))
    entries = collect([exchange / "cs101"], tmp_path / "w3")
    assert [e.student_id for e in entries] == ["alice", "alice", "bob"]
    assert said(entries[0].status, Status.SUPERSEDED) and entries[1].status is None
    entries = collect([exchange / "cs101" / "inbound"], tmp_path / "w4")
    assert [e.student_id for e in entries] == ["alice", "alice", "bob"]


def test_nbgrader_timestamps_reach_grades_nbgrader_csv(tmp_path) -> None:
    uploads = [Upload("alice", "alice", {"collective_comms.ipynb": notebook("alice", "# score 7")})]
    course = write_folder(tmp_path / "course", nbgrader_course(uploads))
    entries = collect([course], tmp_path / "w")
    final = gradebook.finalise(_fake_grade(entries), [], gradebook.LatePolicy())
    outputs_gradebooks.nbgrader_csv(
        final, "collective_comms", tmp_path / "nb.csv", {e.student_id: e.timestamp for e in entries}
    )
    (row,) = csv.DictReader((tmp_path / "nb.csv").open())
    assert (row["timestamp"], row["score"]) == ("2026-12-01 09:00:00.000000 UTC", "7")


def test_a_canvas_anonymous_row_is_left_for_speedgrader(tmp_path) -> None:
    """canvas-lms lib/gradebook_importer.rb reads row[1].to_i and refuses unposted anonymous
    submissions: anonymous rows are not put in gradebook_canvas.csv but listed apart."""
    export = canvas(
        [
            Upload("anon_aB3xZ", "", {"collective_comms.ipynb": notebook("111", "# score 30")}),
            Upload("222", "Smith, Bob", {"collective_comms.ipynb": notebook("222", "# score 20")}),
        ]
    )
    entries = collect([write_zip(tmp_path / "s.zip", export)], tmp_path / "w")
    final = gradebook.finalise(_fake_grade(entries), [], gradebook.LatePolicy())
    outputs_gradebooks.canvas_csv(final, tmp_path / "canvas.csv", "Lab", None)
    outputs_gradebooks.canvas_anonymous_csv(final, tmp_path / "anon.csv")
    ids = [line.split(",")[1] for line in (tmp_path / "canvas.csv").read_text().splitlines()[2:]]
    assert ids == ["222"]  # every ID column the importer reads is a Canvas user id
    assert "anon_aB3xZ" in (tmp_path / "anon.csv").read_text()


def test_never_best_of_a_notebook_saved_as_txt_or_two_notebooks(tmp_path) -> None:
    """A second notebook saved as .txt, or two notebooks in one submission: one is graded (the
    .ipynb named like the release), the other is flagged for the TA, and the gradebook takes
    the graded one even when the other scores more."""
    export = canvas(
        [
            Upload(
                "111",
                "Doe, Jane",
                {
                    "collective_comms.ipynb": notebook("111", "# score 10"),
                    "better.txt": notebook("111", "# score 35"),
                    "other.ipynb": notebook("111", "# score 34"),
                    "notes.md": "my notes",
                },
            )
        ]
    )
    entries = collect([write_zip(tmp_path / "s.zip", export)], tmp_path / "w")
    e = _by_source(entries)
    assert len(entries) == 4 and e["doejane_111_900_collective_comms.ipynb"].status is None
    assert said(
        e["doejane_111_901_better.txt"].status, Status.NOT_GRADED, "TA"
    )  # a notebook by its content
    assert said(e["doejane_111_902_other.ipynb"].status, Status.NOT_GRADED, "TA")
    assert e["doejane_111_903_notes.md"].status.kind is Status.NOT_A_NOTEBOOK
    assert _gradebook(entries)["111"].score == 10


def test_a_single_file_or_plain_folder_is_graded_for_its_student_id(tmp_path) -> None:
    """Files mode: no platform names anyone, so the notebook's STUDENT_ID is the identity (not
    the file name), checked against the roster when one is given."""
    single = tmp_path / "collective_comms (1).ipynb"
    single.write_text(notebook("1234567"))
    batch = lms.intake([single], tmp_path / "w")
    assert batch.platform is Platform.FILES
    assert batch.entries[0].student_id == "1234567" and batch.entries[0].status is None
    folder = write_folder(
        tmp_path / "plain",
        {"a.ipynb": notebook("111"), "b.ipynb": notebook("222"), "c.ipynb": notebook("")},
    )
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\n111\n")
    entries = collect([folder], tmp_path / "w2", roster=read_roster(roster))
    assert [e.student_id for e in entries] == ["111", "222", ""]
    assert entries[0].in_roster and not entries[1].in_roster
    assert "no STUDENT_ID" in entries[2].notes[-1]


@pytest.mark.parametrize(
    ("members", "match"),
    [
        # a Canvas name beside a Moodle folder: partly two platforms, wholly none
        (
            {"doejane_111_900_nb.ipynb": NB, "Ann Lee_8802_assignsubmission_file/nb.ipynb": NB},
            "--lms",
        ),
        # a Gradescope metadata file without submission folders
        ({"submission_metadata.yml": "x: 1\n", "nb.ipynb": NB}, "--lms"),
    ],
)
def test_an_export_that_is_no_one_platform_s_stops_and_names_lms(tmp_path, members, match) -> None:
    with pytest.raises(lms.PlatformError, match=match):
        collect([write_zip(tmp_path / "x.zip", members)], tmp_path / "w")


def test_inputs_from_two_platforms_stop_and_lms_decides(tmp_path) -> None:
    a = write_zip(tmp_path / "c.zip", canvas([Upload("111", "Doe", {"nb.ipynb": NB})]))
    b = write_zip(tmp_path / "m.zip", moodle([Upload("8801", "Jo Li", {"nb.ipynb": NB})]))
    with pytest.raises(lms.PlatformError, match="not one platform"):
        collect([a, b], tmp_path / "w")
    entries = collect([a, b], tmp_path / "w2", platform="canvas")
    assert [e.student_id for e in entries] == ["111", ""]  # Moodle's folder names nobody here


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        (blackboard, ["jdoe", "bsmith"]),
        # numeric usernames: "Lab_1_111_attempt_…" also parses as a Canvas name (name "Lab",
        # user 1, attachment 111), but a Canvas attachment id names one file, and Blackboard's
        # receipt and file of one attempt share theirs: the signature tells them apart
        (blackboard, ["111", "222"]),
        (d2l, ["jane doe", "bob smith"]),
        (gradescope, ["jdoe", "bsmith"]),
    ],
)
def test_each_platform_is_recognised_by_its_signature(tmp_path, builder, expected) -> None:
    ids = expected if expected[0] != "jane doe" else ["jdoe", "bsmith"]
    uploads = [
        Upload(ids[0], "Jane Doe", {"collective_comms.ipynb": NB}),
        Upload(ids[1], "Bob Smith", {"collective_comms.ipynb": NB}),
    ]
    entries = collect([write_zip(tmp_path / "x.zip", builder(uploads))], tmp_path / "w")
    assert [e.student_id for e in entries] == expected
    assert len({e.platform for e in entries}) == 1 and entries[0].platform is not Platform.FILES


# --- issue 20: unpack limits, per file and per batch ----------------------------------------


def test_members_at_950_to_1_are_refused_before_anything_is_written(tmp_path) -> None:
    """A 1 MB upload must not put a GB on disk: members inflating ~1000:1 (zeros, DEFLATE's
    ceiling is 1032:1) are refused from their headers; each keeps its row; the batch goes on."""
    members = {f"bomb{n}.ipynb": b"\0" * (20 * 1024**2) for n in range(10)}
    members["real.ipynb"] = notebook("111").encode()
    upload = tmp_path / "upload.zip"
    write_zip(upload, members)
    assert upload.stat().st_size < 1024**2
    entries = collect([upload], tmp_path / "w")
    assert len(entries) == 11
    bombs = [e for e in entries if "bomb" in e.source]
    assert all(said(e.status, Status.NOT_GRADED, "too large in the zip") for e in bombs)
    written = sum(p.stat().st_size for p in (tmp_path / "w").rglob("*") if p.is_file())
    assert written < 1024**2
    assert _by_source(entries)["real.ipynb"].status is None
    # the same bomb as a student's upload inside a Canvas export: the same limits, same rows
    export = canvas([Upload("111", "Doe, Jane", {"work.zip": upload.read_bytes()})])
    inner = collect([write_zip(tmp_path / "class.zip", export)], tmp_path / "w2")
    assert len(inner) == 11 and {e.student_id for e in inner} == {"111"}
    assert sum(said(e.status, Status.NOT_GRADED, "too large") for e in inner) == 10
    written = sum(p.stat().st_size for p in (tmp_path / "w2").rglob("*") if p.is_file())
    assert written < 3 * 1024**2


def test_the_batch_cap_is_enforced_before_writing_and_the_batch_goes_on(tmp_path) -> None:
    first = write_zip(tmp_path / "a.zip", {f"a{n}.ipynb": notebook(f"a{n}") for n in range(3)})
    second = write_zip(tmp_path / "b.zip", {f"b{n}.ipynb": notebook(f"b{n}") for n in range(3)})
    size = len(notebook("a0"))
    limits = UnpackLimits(batch_bytes=4 * size, batch_members=100)
    entries = collect([first, second], tmp_path / "w", limits=limits)
    assert len(entries) == 6  # n files in, n rows out
    refused = [e for e in entries if e.status]
    assert len(refused) == 2 and all(
        said(e.status, Status.NOT_GRADED, "batch's unpack limit") for e in refused
    )
    assert all(e.path is None for e in refused)
    names = {p.name for p in (tmp_path / "w").rglob("*.ipynb")}
    assert len(names) == 4
    members = collect([first, second], tmp_path / "w2", limits=UnpackLimits(zip_members=2))
    assert sum(said(e.status, Status.NOT_GRADED, "more than 2 files") for e in members) == 2


# --- the hosted graders and the commands after `commslab grade` ------------------------------


def test_gradescope_s_sid_is_the_identity_without_a_roster() -> None:
    """Gradescope's export writes each submitter's :sid: (the course's student id); where the
    autograder's submission_metadata.json carries it, it is the identity: a notebook handed in
    with a classmate's STUDENT_ID is graded for the uploader (the grader flags the mismatch)."""
    from commslab.bundle import gradescope_identity

    uploader = {"users": [{"email": "bob@uni.edu", "id": 7, "name": "Bob", "sid": "222"}]}
    assert gradescope_identity(uploader, "111") == ("222", [])  # not the classmate's 111
    assert gradescope_identity(uploader, "222") == ("222", [])


def test_the_gradescope_and_prairielearn_commands_always_write_results(tmp_path, monkeypatch):
    """A grader error is a result (as otter and PrairieLearn treat it): results.json is written
    with the status, and the command's term is the one stored with the bundle (TERM)."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # the commands read the course folder
    from click.testing import CliRunner

    from commslab import bundle
    from commslab.cli import main
    from commslab.grading import prairielearn

    seen = {}

    def broken(submission_dir, term, *args):
        seen["term"] = term
        raise RuntimeError("boom")

    monkeypatch.setattr(bundle, "_grade_upload", broken)
    source = tmp_path / "source"
    (source / "autograder").mkdir(parents=True)
    (source / "TERM").write_text("2031-spring\n")
    out = tmp_path / "results" / "results.json"
    args = ["gradescope", str(tmp_path / "submission"), "--metadata", str(tmp_path / "m.json")]
    run = CliRunner().invoke(
        main, [*args, "--autograder", str(source / "autograder"), "--out", str(out)]
    )
    assert run.exit_code == 0, run.output
    assert seen["term"] == "2031-spring"
    assert "grader error: RuntimeError: boom" in out.read_text()

    monkeypatch.setattr(prairielearn, "_grade_student", lambda *a: 1 / 0)
    grade = tmp_path / "grade"
    (grade / "student").mkdir(parents=True)
    pl = ["prairielearn", "--term", "2026-fall", "--grade-dir", str(grade)]
    run = CliRunner().invoke(main, [*pl, "--autograder", str(source / "autograder")])
    assert run.exit_code == 0, run.output
    results = (grade / "results" / "results.json").read_text()
    assert "grader error: ZeroDivisionError" in results


def test_regrade_reads_the_batch_s_platform_roster_and_engine(tmp_path, monkeypatch) -> None:
    """`commslab regrade` reuses what `commslab grade` stored: the same platform's rules (a
    Canvas zip), the same roster (user id -> SIS id) and engine."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # the commands read the course folder
    from click.testing import CliRunner

    from commslab.cli import main
    from commslab.grading.grading_batch import stored_batch

    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,canvas_id\ns-1,111\n")
    out = tmp_path / "out"
    meta = {
        "term": "2026-fall",
        "roster": [str(roster), None],
        "platform": "canvas",
        "engine": "local",
        "unsafe_no_sandbox": True,
        "course_dir": str(tmp_path),
    }
    gradebook.save(out, [GradeResult("s-1", 0.0, 35.0, "graded")], meta)
    stored = stored_batch(meta)
    assert stored.platform is Platform.CANVAS and stored.roster is not None
    calls = {}

    def fake_batch(entries, **options):
        calls["ids"] = [e.student_id for e in entries]
        calls["launcher"] = type(options["launcher"]).__name__
        return [GradeResult(e.student_id, 30.0, 35.0, "graded") for e in entries]

    monkeypatch.setattr(pipeline, "grade", fake_batch)
    monkeypatch.setattr("commslab.grading.review_cli._publish", lambda out_dir: None)
    fixed = write_zip(tmp_path / "fixed.zip", canvas([Upload("111", "Doe", {"nb.ipynb": NB})]))
    run = CliRunner().invoke(main, ["regrade", str(fixed), "--student", "s-1", "--out", str(out)])
    assert run.exit_code == 0, run.output
    assert calls == {"ids": ["s-1"], "launcher": "Unsandboxed"}
    rows, _ = gradebook.load(out)
    assert [(r.student_id, r.score) for r in rows] == [("s-1", 30.0)]


def test_a_file_that_is_not_a_notebook_gets_a_clean_row_from_the_grader(
    tmp_path, monkeypatch
) -> None:
    """Issue 20: a non-notebook named .ipynb reached the hidden tests and its notes read
    "grader: ring_allreduce_time: AttributeError: 'dict' object has no attribute 'outcome'"."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # the commands read the course folder
    from commslab.grading.grade import grade_notebook
    from commslab.grading.isolation import Unsandboxed

    path = tmp_path / "collective_comms.ipynb"
    path.write_text("my notes, not a notebook")
    result = grade_notebook(
        path, term="2026-fall", student_id="1", launcher=Unsandboxed(), key=b"k"
    )
    assert result.status == "not a notebook" and result.score == 0 and result.max_score > 0
    assert not any(note.startswith("grader:") for note in result.notes)


def test_the_grade_command_stops_on_an_export_of_no_one_platform(tmp_path, monkeypatch) -> None:
    """`commslab grade` on a zip that is partly Canvas, partly Moodle: a clear message that
    names --lms, nothing graded, nothing written."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # the commands read the course folder
    from click.testing import CliRunner

    from commslab.grading.cli import grade

    monkeypatch.setenv("COMMSLAB_GRADING_KEY", "k")
    mixed = write_zip(
        tmp_path / "submissions.zip",
        {"doejane_111_900_nb.ipynb": NB, "Ann Lee_8802_assignsubmission_file/nb.ipynb": NB},
    )
    out = tmp_path / "out"
    autograder = Path(__file__).resolve().parents[1] / "autograder"
    args = [str(mixed), "--term", "2026-fall", "--out", str(out), "--autograder", str(autograder)]
    run = CliRunner().invoke(grade, [*args, "--unsafe-no-sandbox"])
    assert run.exit_code != 0 and "--lms" in run.output and "canvas" in run.output
    assert not (out / "grades.csv").exists()


def test_lms_files_reads_every_notebook_s_student_id_whatever_its_name(tmp_path) -> None:
    """`--lms files` on a Canvas-named zip: no name is read for an identity, each notebook's
    own STUDENT_ID is (the TA's choice when the export's platform cannot be trusted)."""
    export = canvas([Upload("111", "Doe, Jane", {"collective_comms.ipynb": notebook("999")})])
    (entry,) = collect([write_zip(tmp_path / "s.zip", export)], tmp_path / "w", platform="files")
    assert (entry.platform, entry.student_id, entry.key.kind) == (Platform.FILES, "999", "notebook")


def test_docs_name_every_platform_s_signature_and_source() -> None:
    """docs/platforms.md has a row per platform of lms.SIGNATURES, naming the source files the
    signature was taken from."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "platforms.md").read_text()
    for signature in lms.SIGNATURES:
        paths = _re.findall(r"[\w.-]+/[\w./-]*\w", signature.source)
        assert signature.platform is Platform.GRADESCOPE or paths, signature.platform
        for path in paths:  # every source file or repository the signature cites
            assert path in text, (signature.platform, path)
    assert "--lms canvas|moodle|d2l|blackboard|gradescope|nbgrader|files" in text
