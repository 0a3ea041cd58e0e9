"""Grading whole notebooks: what the course relies on.

A solved notebook scores full marks for any student and track; the untouched release scores
zero; a notebook copied from another student loses the scenario-bound items and is flagged;
every file in gives one row and a batch never stops; grading twice gives the same row; the
outputs (CSV, Canvas gradebook, feedback, written answers, results.json) are complete and
never show a hidden value.
"""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest
from adversarial import notebooks as nbs
from click.testing import CliRunner

from comms_core.scenarios import TRACKS, ledger_fields, scenario_for
from commslab.grading import grade as grading
from commslab.grading import pipeline
from commslab.grading.answers import mission_answers
from commslab.grading.checks import shown_match
from commslab.grading.cli import grade, grade_one
from commslab.grading.grade import GradeResult, grade_notebook
from commslab.grading.lms import Entry
from commslab.grading.outputs import feedback_lines, gradescope_results
from commslab.grading.outputs_gradebooks import write_outputs
from commslab.grading.protocol import Kind, Outcome
from commslab.grading.records import Status, Verdict
from commslab.grading.sandbox import CallResult

ROOT = Path(__file__).resolve().parents[1]
AUTOGRADER = ROOT / "autograder"
TERM = "2026-fall"
KEY = b"grading-test-key"
IDS = {
    "cloud_titan": "1234567",
    "edge_guardian": "u-7x",
    "mobile_nomad": "42",
    "tiny_pioneer": "Z9",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, GradeResult]:
    """One parallel batch: a solved notebook per track, the untouched release, a copy."""
    folder = tmp_path_factory.mktemp("class")
    entries = []
    for track, sid in IDS.items():
        path = nbs.write(nbs.solved_notebook(sid, track), folder / f"solved_{track}.ipynb")
        entries.append(Entry(path, path.name, sid))
    untouched = nbs.write(nbs.untouched_notebook(), folder / "untouched.ipynb")
    copied = nbs.write(nbs.solved_notebook("7654321"), folder / "copied.ipynb")
    entries += [Entry(untouched, untouched.name, "1234567"), Entry(copied, copied.name, "1234567")]
    results = pipeline.grade(entries, term=TERM, autograder_dir=AUTOGRADER, jobs=2, key=KEY)
    return {Path(r.file).stem: r for r in results}


@pytest.mark.parametrize("track", list(TRACKS))
def test_a_solved_notebook_scores_full_marks(graded, track) -> None:
    result = graded[f"solved_{track}"]
    assert result.status == "graded", result.feedback
    assert result.score == result.max_score == 35
    assert result.points == result.max_points
    assert not any(n.startswith("grader:") for n in result.notes)  # no test fell over
    assert result.track == track and result.student_id == IDS[track].lower()


def test_the_untouched_release_scores_zero(graded) -> None:
    result = graded["untouched"]
    assert result.score == 0 and result.max_score == 35
    assert result.status == "graded (identity mismatch)"  # STUDENT_ID was never filled in
    assert "the notebook has no STUDENT_ID" in result.identity_note


def test_a_copied_notebook_loses_the_scenario_bound_items(graded) -> None:
    result = graded["copied"]
    assert result.status == "graded (identity mismatch)"
    assert result.identity_note == "notebook says '7654321', LMS says '1234567'"
    # the functions are the same for everyone (their inputs are not): full marks there
    for question in ("ring_allreduce_time", "one_bit_compress", "error_feedback_step"):
        assert result.points[question] == result.max_points[question]
    # the ledger is checked against the LMS student's scenario: every number fails; only a
    # choice that happens to agree (ring or tree) can survive
    fields = [f for f in ledger_fields("cloud_titan") if f.graded]
    numbers = [f.key for f in fields if f.kind in ("number", "int")]
    text = "\n".join(feedback_lines(result))
    # every number that differs between the two scenarios fails; what depends on k is graded
    # at the student's k (docs/LAB_SPEC.md "Fairness rule"), so the LMS student's ratio is
    # taken at the copied k: T_hier / (k · t_compute), with T_hier = own ratio · own k · t_compute
    copied = mission_answers(scenario_for("cloud_titan", TERM, "7654321"))
    own = mission_answers(scenario_for("cloud_titan", TERM, "1234567"))
    own["comm_to_compute_ratio"] *= own["accumulation_steps"] / copied["accumulation_steps"]
    differing = [key for key in numbers if not shown_match(copied[key], own[key], 0.0)]
    assert len(differing) >= len(numbers) - 2
    for key in differing:
        assert f"  - {key}: " in text, key
    share = result.max_points["ledger"] / len(fields)
    assert result.points["ledger"] <= share * (len(fields) - len(differing)) + 1e-9


def test_grading_twice_gives_the_same_row(tmp_path, graded) -> None:
    path = nbs.write(nbs.buggy_notebook("1234567"), tmp_path / "buggy.ipynb")
    first = grade_notebook(
        path, term=TERM, student_id="1234567", autograder_dir=AUTOGRADER, key=KEY
    )
    second = grade_notebook(
        path, term=TERM, student_id="1234567", autograder_dir=AUTOGRADER, key=KEY
    )
    assert first.row() == second.row()
    assert 0 < first.score < first.max_score
    again = pipeline.grade(
        [Entry(path, "buggy.ipynb", "1234567")],
        term=TERM,
        autograder_dir=AUTOGRADER,
        jobs=1,
        key=KEY,
    )[0]
    assert again.points == first.points and again.feedback == first.feedback


def test_the_hidden_inputs_differ_per_student_and_per_term(tmp_path) -> None:
    from commslab.grading import harness

    def recorded(term, sid):
        view = harness.SubmissionView(lms_id=sid, notebook_id=sid, track="cloud_titan", term=term)
        seen = []

        def evaluate(calls):
            seen.extend(
                json.dumps(c["args"]) for c in calls if c["function"] == "ring_allreduce_time"
            )
            return {c["id"]: CallResult(Outcome(Kind.NOT_RUN)) for c in calls}, {}

        harness.run_hidden_tests(
            view, tests_dir=AUTOGRADER / "tests", key=KEY, scenario=None, evaluate=evaluate
        )
        return seen

    base = recorded(TERM, "1")
    assert base == recorded(TERM, "1") and len(base) > 10
    assert not set(base) & set(recorded(TERM, "2"))
    assert not set(base) & set(recorded("2027-spring", "1"))


def test_feedback_never_shows_a_hidden_value(tmp_path) -> None:
    """Wrong ledger numbers: the feedback says how far off, never the expected number."""
    sid = "1234567"
    answers = mission_answers(scenario_for("cloud_titan", TERM, sid))
    wrong = {k: (v * 1.3 if isinstance(v, float) else v) for k, v in answers.items()}
    ledger = "LEDGER = " + repr({**wrong, "compression": "on", "strategy": "raw speed (ring)"})
    path = nbs.write(nbs.solved_notebook(sid, replace={"ledger": ledger}), tmp_path / "w.ipynb")
    result = grade_notebook(path, term=TERM, student_id=sid, autograder_dir=AUTOGRADER, key=KEY)
    assert result.points["ledger"] < result.max_points["ledger"]
    shown = "\n".join(feedback_lines(result)) + json.dumps(gradescope_results(result))
    assert "30% too large" in shown
    for value in answers.values():
        if isinstance(value, float):
            for text in (repr(value), f"{value:g}", f"{value:.3g}", f"{value:.4g}"):
                assert text not in shown, text


def test_predictions_earn_a_point_for_being_made_and_say_if_they_were_right(tmp_path) -> None:
    sid = "1234567"
    path = nbs.write(
        nbs.solved_notebook(
            sid,
            replace={
                "lock_part1": 'PREDICTION_PART1 = "more"\n',
                "lock_part2": 'PREDICTION_PART2 = "maybe"\n',
            },
        ),
        tmp_path / "p.ipynb",
    )
    result = grade_notebook(path, term=TERM, student_id=sid, autograder_dir=AUTOGRADER, key=KEY)
    assert result.points["predictions"] == 2
    text = "\n".join(feedback_lines(result))
    assert "PREDICTION_PART1 = 'more': the workbench says otherwise" in text
    assert "PREDICTION_PART2 is not one of 'yes', 'no'" in text
    assert "PREDICTION_PART3 = 'worse': right." in text


def test_the_ten_iteration_rule(tmp_path) -> None:
    sid = "1234567"
    cells = nbs.solved_cells(sid)
    k = nbs.solved_answers(sid)["LEDGER"]["accumulation_steps"]
    too_many = nbs.solved_notebook(sid, replace={"part2_tries": f"K_TRIES = {list(range(1, 13))}"})
    not_tried = nbs.solved_notebook(sid, replace={"part2_tries": f"K_TRIES = [{k + 50}]"})
    results = [
        grade_notebook(
            nbs.write(nb, tmp_path / f"{i}.ipynb"),
            term=TERM,
            student_id=sid,
            autograder_dir=AUTOGRADER,
            key=KEY,
        )
        for i, nb in enumerate((too_many, not_tried))
    ]
    assert results[0].points["part2_tries"] == 1  # k is right, but 12 tries break the rule
    assert "at most 10" in "\n".join(feedback_lines(results[0]))
    assert results[1].points["part2_tries"] == 1
    assert "not one of your K_TRIES" in "\n".join(feedback_lines(results[1]))
    assert "K_TRIES" in cells["part2_tries"]


def test_every_file_gives_a_row_and_a_grader_fault_does_not_stop_the_batch(
    tmp_path, monkeypatch
) -> None:
    good = nbs.write(nbs.solved_notebook("1"), tmp_path / "good.ipynb")
    fails = nbs.write(nbs.solved_notebook("2"), tmp_path / "fails.ipynb")
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    real = grading.grade_notebook

    def flaky(path, **kw):
        if Path(path).name == "fails.ipynb":
            raise RuntimeError("disk on fire")
        return real(path, **kw)

    monkeypatch.setattr(grading, "grade_notebook", flaky)
    entries = [
        Entry(good, "good", "1"),
        Entry(fails, "fails", "2"),
        Entry(pdf, "x.pdf", "3"),
        Entry(None, "gone", "4", status=Verdict(Status.NOT_GRADED, "too large in the zip")),
    ]
    results = pipeline.grade(entries, term=TERM, autograder_dir=AUTOGRADER, jobs=2, key=KEY)
    assert [r.file for r in results] == ["good", "fails", "x.pdf", "gone"]
    assert [r.status for r in results] == [
        "graded",
        "grader error: RuntimeError: disk on fire",
        "not a notebook",
        "not graded: too large in the zip",
    ]
    assert [r.max_score for r in results] == [35] * 4


def _canvas_zip(folder: Path) -> Path:
    notebooks = folder / "nbs"
    solved = nbs.write(nbs.solved_notebook("111"), notebooks / "a.ipynb")
    buggy = nbs.write(nbs.buggy_notebook("222"), notebooks / "b.ipynb")
    archive = folder / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(solved, "doejane_111_500_collective_comms.ipynb")
        z.write(buggy, "doejane_111_400_collective_comms.ipynb")  # older: superseded
        z.write(buggy, "smithbob_LATE_222_510_collective_comms.ipynb")
        z.writestr("smithbob_222_510_notes.pdf", b"%PDF-1.4 ...")
        z.writestr("../../../etc/evil_333_1_collective_comms.ipynb", b"{")
        z.writestr("__MACOSX/._doejane_111_500_collective_comms.ipynb", b"junk")
    return archive


def test_the_grade_command_writes_every_output(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COMMSLAB_GRADING_KEY", KEY.decode())
    archive, out = _canvas_zip(tmp_path), tmp_path / "out"
    run = CliRunner().invoke(
        grade,
        [
            str(archive),
            "--term",
            TERM,
            "--out",
            str(out),
            "--autograder",
            str(AUTOGRADER),
            "--jobs",
            "2",
            "--canvas-assignment-id",
            "98765",
        ],
    )
    assert run.exit_code == 0, run.output
    assert "5 files: " in run.output
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5  # n files in, n rows out (macOS metadata is not a file of theirs)
    assert list(rows[0])[:4] == ["student_id", "score", "max_score", "status"]
    by_file = {r["file"].split(":", 1)[1]: r for r in rows}
    assert by_file["doejane_111_500_collective_comms.ipynb"]["score"] == "35"
    assert by_file["doejane_111_400_collective_comms.ipynb"]["status"].startswith("superseded")
    late = by_file["smithbob_LATE_222_510_collective_comms.ipynb"]
    assert late["late"] == "yes" and late["status"] == "graded" and 0 < float(late["score"]) < 35
    assert by_file["smithbob_222_510_notes.pdf"]["status"].startswith("not a notebook")
    assert by_file["../../../etc/evil_333_1_collective_comms.ipynb"]["status"].startswith(
        "not graded: an unsafe path"  # lms/unpack.py: its own row, nothing written
    )
    assert float(late["ring_allreduce_time"]) == 0 and late["crossover_message_size"] == "3"

    with open(out / "gradebook_canvas.csv", newline="") as f:
        canvas = list(csv.reader(f))
    assert canvas[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "Collective Communication Lab (98765)",
    ]
    assert canvas[1][0].strip() == "Points Possible" and canvas[1][5] == "35"
    assert {tuple(r[:2]): r[5] for r in canvas[2:]} == {
        ("doejane", "111"): "35",
        ("smithbob", "222"): late["score"],
    }  # the unsafe path names nobody: no gradebook row

    assert (
        (out / "feedback" / "111.md")
        .read_text()
        .startswith("# Collective Communication Lab: feedback for 111")
    )
    smith = (out / "feedback" / "222.md").read_text()
    assert "## What to fix" in smith and "Submitted late" in smith
    results = json.loads((out / "results" / "111.json").read_text())
    assert results["score"] == 35
    assert {t["name"] for t in results["tests"]} >= {"ring_allreduce_time", "ledger", "written"}
    assert all(t["visibility"] == "after_published" for t in results["tests"])
    assert "latency term" in (out / "written_answers.md").read_text()
    with open(out / "written_answers.csv", newline="") as f:
        written = list(csv.DictReader(f))
    assert len(written) == 5 and "reflect_part1" in written[0]


def test_grade_one_writes_a_result_the_container_engine_can_read(tmp_path) -> None:
    path = nbs.write(nbs.solved_notebook("55"), tmp_path / "nb.ipynb")
    out = tmp_path / "result.json"
    run = CliRunner(env={"COMMSLAB_GRADING_KEY": "k"}).invoke(
        grade_one,
        [
            str(path),
            "--term",
            TERM,
            "--student-id",
            "55",
            "--out",
            str(out),
            "--autograder",
            str(AUTOGRADER),
        ],
    )
    assert run.exit_code == 0, run.output
    assert run.output.strip() == "55: 35/35 (graded)"
    result = GradeResult.from_json(out.read_text())
    assert (result.score, result.status, result.file) == (35, "graded", "nb.ipynb")
    failed = GradeResult.failed(
        path=path, term=TERM, student_id="55", status="timed out", autograder_dir=AUTOGRADER
    )
    assert failed.max_score == 35 and failed.points["ledger"] == 0


def test_a_missing_container_engine_gives_a_clear_message(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no podman here
    path = nbs.write(nbs.solved_notebook("1"), tmp_path / "nb.ipynb")
    run = CliRunner(env={"COMMSLAB_GRADING_KEY": "k"}).invoke(
        grade,
        [
            str(path),
            "--term",
            TERM,
            "--engine",
            "podman",
            "--out",
            str(tmp_path / "out"),
            "--autograder",
            str(AUTOGRADER),
        ],
    )
    assert run.exit_code != 0
    assert "podman not found" in run.output and "--engine local" in run.output


def test_the_lab_notebook_itself_is_graded(tmp_path) -> None:
    """The instructor's notebook (solutions in place, ledger left to `commslab solutions`):
    its functions, predictions and written answers earn every point."""
    source = ROOT / "source" / "collective_comms" / "collective_comms.ipynb"
    result = grade_notebook(
        source, term=TERM, student_id="demo", autograder_dir=AUTOGRADER, key=KEY
    )
    assert result.status == "graded", result.feedback
    for question in (
        "ring_allreduce_time",
        "tree_allreduce_time",
        "crossover_message_size",
        "hierarchical_allreduce_time",
        "hierarchical_breakdown",
        "one_bit_compress",
        "error_feedback_step",
        "predictions",
        "written",
    ):
        assert result.points[question] == result.max_points[question], (question, result.feedback)


def test_write_outputs_keeps_one_file_per_row(tmp_path) -> None:
    rows = [
        GradeResult.failed(
            path=None, term=TERM, student_id="7", status=s, autograder_dir=AUTOGRADER
        )
        for s in ("empty", "not a notebook")
    ]
    for row, name in zip(rows, ("a.ipynb", "b.pdf"), strict=True):
        row.file = name
    write_outputs(rows, tmp_path)
    assert sorted(p.name for p in (tmp_path / "feedback").iterdir()) == ["7.md", "7__b.md"]


def _released(pattern: str) -> list[Path]:
    return sorted(ROOT.glob(pattern))


@pytest.mark.parametrize(
    "path", _released("solutions/collective_comms/*.ipynb"), ids=lambda p: p.stem
)
def test_the_generated_solutions_score_full_marks(path) -> None:
    """`commslab release` writes a solved notebook per track for the demo student."""
    from commslab.grading.notebook import literal_assignments, read_submission

    cells = json.loads(path.read_text())["cells"]
    setup = next(c for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id") == "setup")
    term = literal_assignments("".join(setup["source"]), ("TERM",)).get("TERM", TERM)
    sid = read_submission(path).student_id
    result = grade_notebook(path, term=term, student_id=sid, autograder_dir=AUTOGRADER, key=KEY)
    assert (result.status, result.score) == ("graded", result.max_score), result.feedback


@pytest.mark.parametrize(
    "path", _released("release/collective_comms/*.ipynb"), ids=lambda p: p.stem
)
def test_the_release_as_students_get_it_scores_zero(path) -> None:
    result = grade_notebook(
        path, term=TERM, student_id="1234567", autograder_dir=AUTOGRADER, key=KEY
    )
    assert result.score == 0 and result.max_score == 35
    assert result.status == "graded (identity mismatch)"


def test_a_copy_in_the_same_attempt_never_replaces_the_graded_notebook(
    tmp_path, monkeypatch
) -> None:
    """Canvas: two files in one attempt (content_zipper.rb names each by attachment id); the
    copy has the higher id. Anonymous grading: the notebook's own id binds the variant."""
    monkeypatch.setenv("COMMSLAB_GRADING_KEY", KEY.decode())
    notebooks = tmp_path / "nbs"
    solved = nbs.write(nbs.solved_notebook("111"), notebooks / "a.ipynb")
    untouched = nbs.write(nbs.untouched_notebook(), notebooks / "b.ipynb")
    anonymous = nbs.write(nbs.solved_notebook("777"), notebooks / "c.ipynb")
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(solved, "doejane_111_500_collective_comms.ipynb")
        z.write(untouched, "doejane_111_501_Untitled (copy).ipynb")
        z.write(anonymous, "anon_aB3xZ_600_collective_comms.ipynb")
    roster = tmp_path / "gradebook.csv"
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Lab\n"
        "    Points Possible,,,,,35.00\n"
        '"Doe, Jane",111,S-001,jdoe,CS101-01,\n'
    )
    out = tmp_path / "out"
    args = [str(archive), "--term", TERM, "--out", str(out), "--autograder", str(AUTOGRADER)]
    run = CliRunner().invoke(grade, [*args, "--roster", str(roster), "--jobs", "2"])
    assert run.exit_code == 0, run.output
    with open(out / "grades.csv", newline="") as f:
        rows = {r["file"].split(":", 1)[1]: r for r in csv.DictReader(f)}
    assert len(rows) == 3
    assert rows["doejane_111_500_collective_comms.ipynb"]["score"] == "35"
    copy = rows["doejane_111_501_Untitled (copy).ipynb"]
    assert copy["student_id"] == "111" and copy["status"].startswith("not graded")
    anon = rows["anon_aB3xZ_600_collective_comms.ipynb"]
    assert anon["score"] == "35" and anon["student_id"].startswith("anon-")
    assert "not in the roster" in anon["notes"] and "STUDENT_ID '777'" in anon["notes"]
    with open(out / "gradebook_canvas.csv", newline="") as f:
        canvas = {r[1]: r[5] for r in list(csv.reader(f))[2:]}
    assert canvas["111"] == "35"


def test_a_job_array_plan_is_merged_into_one_grades_csv(tmp_path, monkeypatch) -> None:
    """`grade --plan`, one `grade-one --plan --index I` per file (as a Slurm or Kubernetes
    array would run them), then `grade --merge`: the same rows as one run; a job that never
    wrote its result still gets its row."""
    monkeypatch.setenv("COMMSLAB_GRADING_KEY", KEY.decode())
    archive, out = _canvas_zip(tmp_path), tmp_path / "job"
    common = ["--term", TERM, "--autograder", str(AUTOGRADER)]
    run = CliRunner().invoke(grade, [str(archive), *common, "--plan", "--out", str(out)])
    assert run.exit_code == 0, run.output
    plan = out / "plan.json"
    entries = json.loads(plan.read_text())["entries"]
    assert len(entries) == 5
    for index in range(len(entries)):
        if index == 3:
            continue  # this job died
        args = ["--plan", str(plan), "--index", str(index), "--out", f"{out}/results/{index}.json"]
        run = CliRunner().invoke(grade_one, [*args, *common])
        assert run.exit_code == 0, run.output
    run = CliRunner().invoke(grade, [str(plan), "--merge", *common, "--out", str(out / "merged")])
    assert run.exit_code == 0, run.output
    with open(out / "merged" / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["file"] for r in rows] == [e["source"] for e in entries]
    by_file = {r["file"].split(":", 1)[1]: r for r in rows}
    assert by_file["doejane_111_500_collective_comms.ipynb"]["score"] == "35"
    assert rows[3]["status"] == "missing result: the job for entry 3 did not finish"


@pytest.mark.parametrize(
    "typed",
    ["edge_guardian", "Edge Guardian", " edge-guardian ", "EDGE_GUARDIAN", "Edge  guardian"],
)
def test_track_spellings_are_normalised_like_the_notebook_does(tmp_path, typed) -> None:
    """lab.start accepts these spellings (comms_core.scenarios.track_key); the grader must
    grade them as that track, hidden tests and ledger included."""
    nb = nbs.solved_notebook("31", track="edge_guardian")
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "identity":
            cell.source = cell.source.replace('"edge_guardian"', repr(typed))
    path = nbs.write(nb, tmp_path / "nb.ipynb")
    result = grade_notebook(path, term=TERM, student_id="31", autograder_dir=AUTOGRADER, key=KEY)
    assert (result.track, result.status) == ("edge_guardian", "graded"), result.feedback
    assert result.score == result.max_score


def test_an_unknown_track_is_named_in_the_row(tmp_path) -> None:
    nb = nbs.solved_notebook("32", track="edge_guardian")
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "identity":
            cell.source = cell.source.replace('"edge_guardian"', '"edge guardian 2"')
    path = nbs.write(nb, tmp_path / "nb.ipynb")
    result = grade_notebook(path, term=TERM, student_id="32", autograder_dir=AUTOGRADER, key=KEY)
    assert result.status.unknown_track and str(result.status).endswith("(unknown TRACK)")
    assert any("names no track" in line for line in feedback_lines(result))
    assert result.score < result.max_score  # the track-bound ledger cannot be right
