"""Written answers earn no automatic point for filler; CSV cells never run as formulas.

Filler (docs/LAB_SPEC.md "Grading rules"): the question text (once, twice, lightly edited), the
placeholder, lorem ipsum, repeated text, and an answer identical to another submission's.
Each is flagged for the TA. The honest answers of the test class keep their points.
Formula injection: OWASP "CSV Injection" (https://owasp.org/www-community/attacks/CSV_Injection)
lists =, +, -, @, tab and carriage return as the characters that start a formula.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from adversarial import notebooks as nbs

from commslab.grading import pipeline
from commslab.grading.checks import written_problem
from commslab.grading.csvsafe import spreadsheet_safe
from commslab.grading.gradebook import LatePolicy, finalise
from commslab.grading.lms import Entry
from commslab.grading.outputs_gradebooks import write_outputs
from commslab.grading.written import class_flags, filler_problem
from commslab.release import TEXT_STUB

ROOT = Path(__file__).resolve().parents[1]
AUTOGRADER = ROOT / "autograder"
TERM = "2026-fall"
KEY = b"written-test-key"
QUESTION = nbs.PROMPTS["reflect_part1"]
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
    "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat."
)
# Latin letters and the Cyrillic letters that look the same (Unicode's confusables.txt maps
# each Cyrillic one to the Latin one), U+1D41A.. MATHEMATICAL BOLD SMALL A.., U+FF21.. FULLWIDTH
CYRILLIC = str.maketrans("aceopxyiACEHKMOPTXBS", "асеорхуіАСЕНКМОРТХВЅ")
BOLD = {ord("a") + i: chr(0x1D41A + i) for i in range(26)}
FULLWIDTH = {ord("A") + i: chr(0xFF21 + i) for i in range(26)}
FILLER = {
    "the question": (QUESTION, "copy of the question"),
    "the question pasted twice": (QUESTION + "\n\n" + QUESTION, "copy of the question"),
    "the question, lightly edited": (
        QUESTION.replace("Patterson asks", "Patterson asked").replace("Use", "I use"),
        "copy of the question",
    ),
    "the placeholder": (TEXT_STUB, "placeholder"),
    "the placeholder repeated": ("YOUR ANSWER HERE " * 12, "placeholder"),
    "lorem ipsum": (LOREM, "lorem ipsum"),
    "lorem ipsum around the latency term": (LOREM + " 2(N−1)α latency. " + LOREM, "lorem"),
    "a sentence repeated": (
        "The ring AllReduce latency term 2(N−1)α grows with N. " * 6,
        "repeated",
    ),
    "one word repeated": ("latency " * 40, "repeated"),
    # disguises (issue 20): the comparison is on the folded text (written.fold)
    "the question in Cyrillic look-alike letters": (QUESTION.translate(CYRILLIC), "copy"),
    "the question twice, look-alike letters": ((QUESTION * 2).translate(CYRILLIC), "copy"),
    "the question with zero-width spaces": ("\u200b".join(QUESTION), "copy of the question"),
    "the question in mathematical bold": (QUESTION.translate(BOLD), "copy of the question"),
    "the question in fullwidth letters": (QUESTION.translate(FULLWIDTH), "copy of the question"),
    "the question, its words shuffled": (" ".join(sorted(QUESTION.split())), "copy"),
    "question, lorem ipsum and placeholder, repeated": (
        (QUESTION + "\n" + LOREM + "\nYOUR ANSWER HERE ") * 3,
        "lorem ipsum",
    ),
    "question, lorem ipsum, placeholder repeated": (
        QUESTION + "\n" + LOREM + " " + "YOUR ANSWER HERE " * 6,
        "lorem ipsum",
    ),
}


@pytest.mark.parametrize("case", list(FILLER))
def test_filler_earns_nothing_and_says_why(case) -> None:
    text, why = FILLER[case]
    assert why in filler_problem(text, [QUESTION])
    assert why in written_problem("reflect_part1", text, [QUESTION])


@pytest.mark.parametrize("grade_id", list(nbs.ANSWERS))
def test_an_honest_answer_is_not_filler(grade_id) -> None:
    text = nbs.ANSWERS[grade_id]
    assert filler_problem(text, [nbs.PROMPTS[grade_id]]) == ""
    assert written_problem(grade_id, text, [nbs.PROMPTS[grade_id]]) == ""
    # quoting the question inside a real answer is fine
    quoted = f"> {nbs.PROMPTS[grade_id]}\n\n{text}"
    assert written_problem(grade_id, quoted, [nbs.PROMPTS[grade_id]]) == ""


@pytest.mark.parametrize("grade_id", list(nbs.ANSWERS))
def test_every_question_disguised_earns_nothing(grade_id) -> None:
    """For each question (the 11_written hidden test's three): its text in look-alike
    letters, and the issue's "question + lorem ipsum + placeholder repeated", earn nothing;
    the honest answer in look-alike letters is still the honest answer."""
    question = nbs.PROMPTS[grade_id]
    for text in (
        question.translate(CYRILLIC),
        (question + " " + LOREM + " YOUR ANSWER HERE") * 3,
        question + " " + LOREM + " YOUR ANSWER HERE" * 6,
    ):
        assert written_problem(grade_id, text, [question]), text
    assert written_problem(grade_id, nbs.ANSWERS[grade_id].translate(CYRILLIC), [question]) == ""


def test_near_copies_and_disguised_copies_are_found() -> None:
    """A copy with a few words changed, or in look-alike letters, is a copy; two answers on
    the same question in different words are not."""
    same = nbs.ANSWERS["reflect_part2"]
    edited = same.replace("divides", "cuts").replace("keep computing", "compute on")
    rows = [
        ("a", {"reflect_part2": same}),
        ("b", {"reflect_part2": edited}),
        ("c", {"reflect_part2": same.translate(CYRILLIC)}),
        ("d", {"reflect_part2": nbs.ANSWERS["strategy"]}),
    ]
    assert class_flags(rows) == [
        {"reflect_part2": ["b", "c"]},
        {"reflect_part2": ["a", "c"]},
        {"reflect_part2": ["a", "b"]},
        {},
    ]


def test_similarity_of_huge_answers_is_fast_and_stored(tmp_path, monkeypatch) -> None:
    """Two answers of 20,000 words (the issue's stall: 220 s with difflib) compare in under a
    second; within stored_in the result is kept in OUT/similarity.json and read back."""
    import random
    import time

    from commslab.grading import written

    vocabulary = [f"w{i}" for i in range(3000)]
    rng = random.Random(1)
    a = [rng.choice(vocabulary) for _ in range(20_000)]
    b = list(a)
    for i in range(0, len(b), 40):
        b[i] = "changed"  # 2.5% of the words
    c = [rng.choice(vocabulary) for _ in range(20_000)]
    started = time.perf_counter()
    with written.stored_in(tmp_path):
        pairs = written.near_pairs({"a": a, "b": b, "c": c})
    assert time.perf_counter() - started < 1.0
    assert [(x, y) for x, y, _ in pairs] == [("a", "b")] and pairs[0][2] > 0.95
    assert (tmp_path / written.STORE).exists()

    def fail(*args):
        raise AssertionError("compared again")

    monkeypatch.setattr(written, "_compare", fail)
    with written.stored_in(tmp_path):
        assert written.near_pairs({"a": a, "b": b, "c": c}) == pairs


def test_identical_answers_are_found_across_students_not_within_one() -> None:
    same = nbs.ANSWERS["strategy"]
    rows = [
        ("a", {"strategy": same}),
        ("b", {"strategy": same.upper().replace(",", " ,")}),  # case and spacing do not hide it
        ("c", {"strategy": "My own answer."}),
        ("a", {"strategy": same}),  # the same student's resubmission is not a copy
        ("d", {"strategy": "YOUR ANSWER HERE"}),
        ("e", {"strategy": "YOUR ANSWER HERE"}),  # the placeholder is filler, not a copy
    ]
    flags = class_flags(rows)
    assert flags == [{"strategy": ["b"]}, {"strategy": ["a"]}, {}, {"strategy": ["b"]}, {}, {}]


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Two honest students who hand in the same written answers, one filler notebook, one
    with formula-like identity and answers; graded as a batch, outputs written."""
    folder = tmp_path_factory.mktemp("written")
    filler = {
        "reflect_part1": QUESTION + "\n" + QUESTION,
        "reflect_part2": LOREM,
        "strategy": TEXT_STUB,
    }
    hostile = dict(nbs.ANSWERS, strategy='=HYPERLINK("http://127.0.0.1/x","click") ' * 3)
    notebooks = {
        "111": nbs.build(nbs.solved_cells("111"), nbs.ANSWERS),
        "222": nbs.build(nbs.solved_cells("222", "edge_guardian"), nbs.ANSWERS),
        "333": nbs.build(nbs.solved_cells("333"), filler),
        "=1+2": nbs.build(nbs.solved_cells("=1+2"), hostile),
    }
    entries = []
    for sid, nb in notebooks.items():
        path = nbs.write(nb, folder / f"{len(entries)}.ipynb")
        entries.append(Entry(path, f"@SUM(A1)_{path.name}", sid, name="-2+3"))
    raw = pipeline.grade(
        entries, term=TERM, autograder_dir=AUTOGRADER, jobs=2, key=KEY, timeout=600
    )
    results = finalise(raw, [], LatePolicy())  # what `commslab grade` publishes
    out = write_outputs(results, folder / "out")
    return {r.student_id: r for r in results}, out


def test_filler_and_copies_get_no_automatic_point_and_are_flagged(graded_class) -> None:
    rows, _ = graded_class
    # 111 and 222 wrote the same three answers (the test class's model answers): copies
    for sid, other in (("111", "222"), ("222", "111")):
        r = rows[sid]
        assert r.points["written"] == 0, r.feedback
        assert r.score == r.max_score - 4  # all the written points
        for grade_id in nbs.ANSWERS:
            assert r.written_flags[grade_id].startswith("identical to another"), r.written_flags
            assert other in r.written_flags[grade_id]
        assert any("word for word or nearly" in line for line in r.feedback)
    filler = rows["333"]
    assert filler.points["written"] == 0
    assert "copy of the question" in filler.written_flags["reflect_part1"]
    assert "lorem ipsum" in filler.written_flags["reflect_part2"]
    assert "placeholder" in filler.written_flags["strategy"]
    assert filler.score == filler.max_score - 4
    # the hostile student's first two answers are the model answers too: copies
    assert rows["=1+2"].points["written"] == 0
    assert "repeated" in rows["=1+2"].written_flags["strategy"]


def _cells(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return [cell for row in csv.reader(f) for cell in row]


@pytest.mark.parametrize("name", ["grades.csv", "written_answers.csv", "gradebook_canvas.csv"])
def test_no_csv_cell_starts_a_formula(graded_class, name) -> None:
    _, out = graded_class
    cells = _cells(out / name)
    for cell in cells:
        if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
            float(cell)  # only a plain number may start with '-'
    text = "\n".join(cells)
    assert "'=1+2" in text  # the value is kept, neutralised
    if name != "gradebook_canvas.csv":
        assert "'@SUM(A1)_" in text
    if name == "written_answers.csv":
        assert "'=HYPERLINK(" in text
    if name == "gradebook_canvas.csv":
        assert "'-2+3" in text


@pytest.mark.parametrize(
    "value, safe",
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-0.5", "-0.5"),
        ("plain", "plain"),
        (3.5, 3.5),
    ],
)
def test_spreadsheet_safe(value, safe) -> None:
    assert spreadsheet_safe(value) == safe


def test_a_roster_name_is_neutralised_and_a_huge_cell_is_cut(tmp_path) -> None:
    """The Moodle worksheet copies the roster's own columns: they go through the same rule;
    a cell longer than a spreadsheet holds (Excel: 32,767 characters) is cut, saying so."""
    from commslab.grading.csvsafe import MAX_CELL_CHARS, SafeDictWriter

    path = tmp_path / "w.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = SafeDictWriter(f, ["Full name", "Grade", "Last modified (grade)", "notes"])
        writer.writeheader()
        writer.writerow(
            {"Full name": "=HYPERLINK(1)", "Grade": "-1.50", "Last modified (grade)": "-"}
        )
        writer.writerow({"Full name": "@A1", "notes": "x" * 10**6})
    rows = list(csv.reader(open(path, encoding="utf-8", newline="")))
    assert rows[1] == ["'=HYPERLINK(1)", "-1.50", "-", ""]
    assert rows[2][0] == "'@A1"
    assert MAX_CELL_CHARS < len(rows[2][3]) < 32_767 and "cut]" in rows[2][3]


def test_a_neutralised_cell_reads_back_as_written(tmp_path) -> None:
    """overrides.csv (and the review page's ta_scores.csv) go through the same rule, so a
    student id or comment that starts like a formula must come back unchanged on import."""
    from commslab.grading.gradebook import Override, add_overrides, read_overrides

    scores = [
        Override("=1+2", "written:strategy", 1.5, "-> see the crisis numbers"),
        Override("@sum", "ledger", 0.0, "+1 for trying"),
    ]
    path = add_overrides(tmp_path, scores)
    assert "'=1+2" in path.read_text(encoding="utf-8")  # neutralised on disk
    assert read_overrides(path) == scores
