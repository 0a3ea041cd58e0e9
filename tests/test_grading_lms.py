"""LMS files in: Canvas names, the latest submission wins, zips unpacked safely, one entry
per file."""

from __future__ import annotations

import zipfile

import pytest

from commslab.grading import lms
from commslab.grading.lms import collect, parse_lms_name


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        (
            "doejane_1234567_89012_collective_comms.ipynb",
            {
                "name": "doejane",
                "late": False,
                "student_id": "1234567",
                "submission_id": 89012,
                "original": "collective_comms.ipynb",
                "resubmission": 0,
            },
        ),
        (
            "doejane_LATE_1234567_89013_collective_comms-2.ipynb",
            {
                "name": "doejane",
                "late": True,
                "student_id": "1234567",
                "submission_id": 89013,
                "original": "collective_comms-2.ipynb",
                "resubmission": 2,
            },
        ),
        (
            "smith_77_5_my_lab_final.ipynb",
            {
                "name": "smith",
                "late": False,
                "student_id": "77",
                "submission_id": 5,
                "original": "my_lab_final.ipynb",
                "resubmission": 0,
            },
        ),
    ],
)
def test_canvas_names_are_parsed(name, parts) -> None:
    got = parse_lms_name(name)
    assert {k: got[k] for k in parts} == parts


@pytest.mark.parametrize(
    "name", ["collective_comms.ipynb", "alice.ipynb", "a_b_c.ipynb", "doejane_x12_3_nb.ipynb"]
)
def test_other_names_are_not_lms_names(name) -> None:
    assert parse_lms_name(name) is None


def test_a_folder_gives_one_entry_per_file_and_the_latest_notebook_wins(tmp_path) -> None:
    files = {
        "doejane_111_500_collective_comms.ipynb": "{}",
        "doejane_111_400_collective_comms.ipynb": "{}",  # older: superseded
        "doejane_111_500_notes.pdf": "%PDF",  # another file of the latest submission
        "smith_222_600_collective_comms.ipynb": "{}",
        "smith_222_600_collective_comms-1.ipynb": "{}",  # resubmitted: wins over the first
        "lee_LATE_333_700_collective_comms.ipynb": "{}",
        "plain_notebook.ipynb": "{}",
        "sub/nested_444_800_collective_comms.ipynb": "{}",
        ".ipynb_checkpoints/doejane_111_500_collective_comms-checkpoint.ipynb": "{}",
        ".DS_Store": "junk",
    }
    for name, text in files.items():
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_text(text)
    entries = {e.source: e for e in collect([tmp_path / "in"], tmp_path / "work")}
    assert len(entries) == 8  # hidden files and folders are not submissions
    assert entries["doejane_111_400_collective_comms.ipynb"].status == (
        "superseded (newer submission 500)"
    )
    assert entries["doejane_111_500_collective_comms.ipynb"].status is None
    assert entries["doejane_111_500_notes.pdf"].status is None  # graded: "not a notebook"
    assert entries["smith_222_600_collective_comms.ipynb"].status == (
        "superseded (newer submission 600, file -1)"
    )
    assert entries["smith_222_600_collective_comms-1.ipynb"].status is None
    late = entries["lee_LATE_333_700_collective_comms.ipynb"]
    assert (late.student_id, late.late, late.status, late.notes) == ("333", True, None, ["late"])
    plain = entries["plain_notebook.ipynb"]
    assert plain.student_id == "plain_notebook" and "not an LMS export name" in plain.notes[0]
    assert entries["sub/nested_444_800_collective_comms.ipynb"].student_id == "444"


def test_a_zip_is_unpacked_without_escaping_and_without_bombs(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(lms, "MAX_NOTEBOOK_BYTES", 1000)
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("doejane_111_500_collective_comms.ipynb", "{}")
        z.writestr("../../escape_222_1_collective_comms.ipynb", "{}")
        z.writestr("/abs/root_333_1_collective_comms.ipynb", "{}")
        z.writestr("bomb_444_1_collective_comms.ipynb", "0" * 100_000)
        z.writestr("inner.zip", b"PK\x05\x06" + bytes(18))
        z.writestr("__MACOSX/._doejane_111_500_collective_comms.ipynb", "junk")
        z.writestr("folder/", "")
    entries = collect([archive], tmp_path / "work")
    by_id = {e.student_id: e for e in entries}
    assert len(entries) == 5
    for e in entries:
        if e.path is not None:  # every unpacked file is inside the work folder
            assert e.path.resolve().is_relative_to((tmp_path / "work").resolve())
    assert not (tmp_path / "escape_222_1_collective_comms.ipynb").exists()
    assert by_id["222"].status is None and by_id["333"].status is None
    assert by_id["444"].status == "not graded: too large in the zip"
    assert by_id["inner"].status is None  # graded: "not a notebook"
    assert by_id["111"].source == "class.zip:doejane_111_500_collective_comms.ipynb"


def test_a_member_that_lies_about_its_size_stops_at_the_cap(tmp_path, monkeypatch) -> None:
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("liar_1_1_nb.ipynb", "x" * 5000)
    data = bytearray(archive.read_bytes())
    # shrink the declared size in the central directory: the stream still inflates 5000 bytes
    central = data.rindex(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    monkeypatch.setattr(lms, "MAX_NOTEBOOK_BYTES", 1000)
    (entry,) = collect([archive], tmp_path / "work")
    assert entry.status is not None and entry.path is None  # not unpacked past the cap


def test_a_broken_zip_and_a_missing_path_still_give_rows(tmp_path) -> None:
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    entries = collect([tmp_path / "broken.zip", tmp_path / "missing.ipynb"], tmp_path / "w")
    statuses = [e.status for e in entries]
    assert len(entries) == 2
    assert statuses[1] == "missing: no such file"
    # a file named .zip that zipfile does not recognise is graded as a file: not a notebook
    assert statuses[0] is None or statuses[0].startswith("corrupt zip")
