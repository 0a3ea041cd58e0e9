"""The instructor's loop: a class with known mistakes and predictions, graded by the commands
the README gives, the class report's counts checked against what was planted; TA scores
through the review flow into grades.csv and the Canvas gradebook; one student regraded.

The course folder is made by `commslab init`; the class is commslab.synthetic's "small"
plan: one honest notebook per track, two partial ones with known mistakes
(commslab/notebook/misconceptions.py), a copied one, a filler one.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from commslab import synthetic
from commslab.course import Course
from commslab.grading.notebook import PREDICTION_NAMES

TERM = "2026-fall"
COMMSLAB = str(Path(sys.executable).parent / "commslab")


def run(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        [COMMSLAB, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=dict(os.environ, COMMSLAB_GRADING_KEY="loop-test-key", COLUMNS="200"),
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def table(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The small class, graded with the README's command from the course folder."""
    parent = tmp_path_factory.mktemp("courses")
    run("init", "course", "--term", TERM, cwd=parent)
    course = parent / "course"
    with open(course / "commslab.toml", "a") as config:
        config.write('[late]\nkind = "per_day"\npercent = 10\n')
    manifest = synthetic.make_class(TERM, course / "submissions", Course.at(course), "small")
    output = run("grade", "submissions/submissions.zip", "--jobs", "2", cwd=course)
    return course, manifest, output


def test_the_class_report_counts_what_was_planted(graded) -> None:
    course, manifest, output = graded
    out = course / "grading-out"
    assert "class_report.html" in output
    students = manifest.students
    assert len(table(out / "grades.csv")) == len(students)

    planted = Counter(m for s in students for m in s.mistakes)
    assert sum(planted.values()) >= 3
    found = {r["misconception"]: r for r in table(out / "class_report" / "misconceptions.csv")}
    for mistake in synthetic.MISTAKES:
        assert int(found[mistake]["students"]) == planted[mistake], mistake
        owners = {s.student_id for s in students if mistake in s.mistakes}
        assert set(found[mistake]["student_ids"].split()) == owners

    predicted = table(out / "class_report" / "predictions.csv")
    for lock in PREDICTION_NAMES:
        made = Counter(s.predictions[lock] for s in students)
        for row in predicted:
            if row["lock"] == lock and row["track"] == "all" and row["choice"] != "(none)":
                assert int(row["students"]) == made[row["choice"]], (lock, row)
        by_track = Counter((s.track, s.predictions[lock]) for s in students)
        for row in predicted:
            if row["lock"] == lock and row["track"] != "all" and row["choice"] != "(none)":
                assert int(row["students"]) == by_track[row["track"], row["choice"]], row

    written = {
        (r["question"], r["flag"]): int(r["students"])
        for r in table(out / "class_report" / "written.csv")
    }
    # the copy and its original share every answer; the filler student has four flags
    assert written[("reflect_part1", "identical")] == 2
    assert written[("reflect_part1", "filler")] == 1  # lorem ipsum
    assert written[("strategy", "copied")] == 1  # the question pasted twice
    html = (out / "class_report.html").read_text()
    for mistake in synthetic.MISTAKES:
        assert mistake in html
    assert html.count("data:image/png;base64,") == 3

    groups = table(out / "similarity.csv")
    copied = next(s for s in students if s.kind == "copied")
    original = next(s for s in students if s.kind == "honest")
    pair = f"{original.student_id} {copied.student_id}"
    assert any(g["kind"] == "code" and g["students"] == pair for g in groups), groups
    assert all(g["students"] == pair for g in groups), groups  # nobody else looks copied


def _rows(path: Path) -> dict[str, list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return {row[0] if "grades" in path.name else row[1]: row for row in rows}


def test_ta_scores_and_a_regrade_change_only_their_student(graded, tmp_path) -> None:
    course, manifest, _ = graded
    work = tmp_path / "course"
    shutil.copytree(course, work)
    out = work / "grading-out"
    before, canvas_before = _rows(out / "grades.csv"), _rows(out / "gradebook_canvas.csv")
    header = before["student_id"]
    column = {name: i for i, name in enumerate(header)}
    original = next(s for s in manifest.students if s.kind == "honest").student_id
    # the TA restores the original's written points (the copy took them) through the CSV
    # review.html exports: student_id, question, points, comment
    assert before[original][column["written"]] == "0"
    (work / "ta_scores.csv").write_text(
        "student_id,question,points,comment\n"
        + "".join(
            f"{original},written:{q},1,your own words: the classmate copied you\n"
            for q in ("reflect_part1", "reflect_part2")
        )
        + f"{original},written:strategy,1.5,say which track's numbers\n"
    )
    run("review", "import", "ta_scores.csv", cwd=work)
    after, canvas_after = _rows(out / "grades.csv"), _rows(out / "gradebook_canvas.csv")
    assert after[original][column["written"]] == "3.5"
    score = float(before[original][column["score"]]) + 3.5
    assert float(after[original][column["score"]]) == score
    assert float(canvas_after[original][5]) == score
    for sid in before:
        if sid != original:
            assert after[sid] == before[sid], sid
            assert canvas_after.get(sid) == canvas_before.get(sid), sid
    feedback = (out / "feedback" / f"{original}.md").read_text()
    assert "the classmate copied you" in feedback and "| written | 3.5 / 4 |" in feedback

    # one question overridden for another student, with the command
    partial = next(s for s in manifest.students if s.kind == "partial")
    run(
        "review",
        "set",
        "--student",
        partial.student_id,
        "--question",
        "ring_allreduce_time",
        "--points",
        "2",
        "--comment",
        "partial credit",
        cwd=work,
    )
    overridden = _rows(out / "grades.csv")
    assert overridden[partial.student_id][column["ring_allreduce_time"]] == "2"
    assert all(overridden[s] == after[s] for s in after if s != partial.student_id)

    # the partial student uploads a fixed notebook; only their row changes
    fixed = synthetic.Student(
        partial.student_id,
        partial.name,
        "honest",
        partial.track,
        predictions=partial.predictions,
    )
    nb = synthetic.notebook(fixed, TERM, Course.at(course))
    upload = work / "fixed.zip"
    with zipfile.ZipFile(upload, "w") as z:
        z.writestr(partial.file.replace("_90", "_95"), nbformat.writes(nb))
    run("regrade", "fixed.zip", "--student", partial.student_id, cwd=work)
    regraded = _rows(out / "grades.csv")
    assert float(regraded[partial.student_id][column["score"]]) > float(
        overridden[partial.student_id][column["score"]]
    )
    # the TA's override stays (the TA decided it); every other row is as it was
    assert regraded[partial.student_id][column["ring_allreduce_time"]] == "2"
    assert all(regraded[s] == overridden[s] for s in overridden if s != partial.student_id)
    assert len(regraded) == len(overridden)


def test_a_bad_ta_score_is_refused_with_a_clear_message(graded, tmp_path) -> None:
    course, _, _ = graded
    work = tmp_path / "course"
    shutil.copytree(course, work)
    (work / "bad.csv").write_text("student_id,question,points\nnobody,written:strategy,1\n")
    proc = subprocess.run(
        [COMMSLAB, "review", "import", "bad.csv"], cwd=work, capture_output=True, text=True
    )
    assert proc.returncode != 0 and "no student 'nobody'" in proc.stderr
    (work / "bad.csv").write_text("student_id,question,points\nx,written:strategy,NaN\n")
    proc = subprocess.run(
        [COMMSLAB, "review", "import", "bad.csv"], cwd=work, capture_output=True, text=True
    )
    assert proc.returncode != 0 and "points must be" in proc.stderr


def test_the_late_policy(graded) -> None:
    from commslab.grading.gradebook import LatePolicy, load_late_policy

    policy = LatePolicy("per_day", 10, 25)
    assert [policy.share(d) for d in (0, 1, 2, 3, 9)] == [0, 0.1, 0.2, 0.25, 0.25]
    assert LatePolicy("flat", 15).share(4) == 0.15
    assert LatePolicy().share(3) == 0
    with pytest.raises(ValueError):
        LatePolicy("per_week", 10)
    course, _, _ = graded
    assert load_late_policy(course / "commslab.toml") == LatePolicy("per_day", 10, 100)
    assert load_late_policy(course / "no such file.toml") == LatePolicy()


def _chromium() -> str:
    """Debian's chromium, installed here when the tests run as root (CI) and it is missing."""
    found = shutil.which("chromium")
    if found is None and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "chromium"], capture_output=True, check=False)
        found = shutil.which("chromium")
    if found is None:
        pytest.fail("chromium is needed: apt-get install -y chromium")
    return found


def test_the_pages_render_in_headless_chromium(graded, tmp_path) -> None:
    """The review page's script runs (one card per student), every page renders; the
    screenshots go to tmp_path (docs/screenshots/loop_*.png are the same, looked at)."""
    course, manifest, _ = graded
    out = course / "grading-out"
    browser = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [*browser, "--dump-dom", (out / "review.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    graded_ids = [s.student_id for s in manifest.students]
    for sid in graded_ids:
        assert f'data-student="{sid}"' in dom, sid
    assert "identical: identical to another" in dom and "filler: lorem ipsum" in dom
    for page in ("review", "class_report", "similarity"):
        shot = tmp_path / f"{page}.png"
        subprocess.run(
            [
                *browser,
                "--window-size=1200,1400",
                f"--screenshot={shot}",
                (out / f"{page}.html").as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def _drive_page(page: Path, script: str, profile: Path):
    """Open PAGE in headless Chromium and return what SCRIPT evaluates to, through the
    DevTools protocol on a loopback port (Chromium's own remote debugging)."""
    import asyncio
    import json
    import re
    import urllib.request

    from tornado.ioloop import IOLoop
    from tornado.websocket import websocket_connect

    browser = subprocess.Popen(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            page.as_uri(),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in browser.stderr:
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if found:
                break
        else:
            pytest.fail("chromium did not open its DevTools port")
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{found[1]}/json/list"))
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")

        async def evaluate():
            connection = await websocket_connect(url)
            request = {"expression": script, "returnByValue": True, "awaitPromise": True}
            for attempt in range(1, 20):  # the page may still be loading (a new context)
                await connection.write_message(
                    json.dumps({"id": attempt, "method": "Runtime.evaluate", "params": request})
                )
                while True:
                    message = json.loads(await connection.read_message())
                    if message.get("id") == attempt:
                        break
                if "result" in message:
                    result = message["result"]
                    assert "exceptionDetails" not in result, result["exceptionDetails"]
                    return result["result"]
                await asyncio.sleep(0.5)
            pytest.fail(f"the page did not answer: {message}")

        return IOLoop.current().run_sync(evaluate, timeout=90)
    finally:
        browser.kill()
        browser.wait()


def test_scores_typed_into_the_review_page_reach_grades_and_canvas(graded, tmp_path) -> None:
    """The TA types scores into review.html (input events, the page's own state), the page's
    export is imported: grades.csv and the Canvas gradebook change for those students only."""
    course, manifest, _ = graded
    work = tmp_path / "course"
    shutil.copytree(course, work)
    out = work / "grading-out"
    filler = next(s for s in manifest.students if s.kind == "filler").student_id
    before, canvas_before = _rows(out / "grades.csv"), _rows(out / "gradebook_canvas.csv")
    column = {name: i for i, name in enumerate(before["student_id"])}
    script = """
    new Promise(done => {
      const ready = () => document.querySelector('[data-student="STUDENT"]');
      const start = () => ready() ? fill() : setTimeout(start, 100);
      const fill = () => {
      const type = (id, points, comment) => {
        const card = document.querySelector(`[data-student="${id}"]`);
        const p = card.querySelector("input.points"), c = card.querySelector("input.comment");
        p.value = points; p.dispatchEvent(new Event("input"));
        c.value = comment; c.dispatchEvent(new Event("input"));
      };
      type("STUDENT", "0.5", "lorem ipsum is not an answer, but the last line is yours");
      document.getElementById("next").click();          // reflect_part2
      type("STUDENT", "0", "repeated text");
      done(scoresCsv());
      };
      start();
    })""".replace("STUDENT", filler)
    exported = _drive_page(out / "review.html", script, tmp_path / "profile")
    assert exported["type"] == "string", exported
    (work / "ta_scores.csv").write_text(exported["value"])
    assert exported["value"].splitlines()[1:] == [
        f'{filler},written:reflect_part1,0.5,"lorem ipsum is not an answer, but the last line '
        'is yours"',
        f"{filler},written:reflect_part2,0,repeated text",
    ]
    run("review", "import", "ta_scores.csv", cwd=work)
    after, canvas_after = _rows(out / "grades.csv"), _rows(out / "gradebook_canvas.csv")
    # reflect_part1 and _part2 had no automatic point (filler): the TA gave 0.5 and 0
    written = float(before[filler][column["written"]]) + 0.5
    assert float(after[filler][column["written"]]) == written
    assert float(after[filler][column["score"]]) == float(before[filler][column["score"]]) + 0.5
    assert float(canvas_after[filler][5]) == float(after[filler][column["score"]])
    assert all(after[s] == before[s] for s in before if s != filler)
    assert all(canvas_after[s] == canvas_before[s] for s in canvas_before if s != filler)
