"""How the class did: OUT/class_report.html (figures inside) and the numbers as CSV.

    OUT/class_report/scores.csv         per track and question: students, mean, median, max
    OUT/class_report/predictions.csv    per Lock and track: how many predicted each choice,
                                        before the workbench showed the answer
    OUT/class_report/misconceptions.csv per known mistake: students whose hidden tests
                                        showed it (commslab.notebook.misconceptions)
    OUT/class_report/ledger.csv         per track: the ledger's decisions (algorithm, k,
                                        compression, strategy) and how many chose each
    OUT/class_report/written.csv        per written question: answers by flag

One row per student: the gradebook row (the latest submission's best file), as the Canvas
gradebook counts them. The predictions are what each student locked in before the reveal: the
misconceptions the class came in with, which no course grader gives back to the instructor.
"""

from __future__ import annotations

import base64
import html
import io
import statistics
from collections import Counter, defaultdict
from pathlib import Path

from comms_core.scenarios import TRACKS
from commslab.grading.grade import GradeResult
from commslab.grading.notebook import PREDICTION_NAMES, WRITTEN_IDS
from commslab.grading.review import kind_of, students
from commslab.notebook.locks import LOCKS
from commslab.notebook.misconceptions import CATALOGUE, Misconception

REPORT_HTML = "class_report.html"
REPORT_DIR = "class_report"
LOCK_QUESTIONS = {
    "PREDICTION_PART1": "For a fixed N, does the tree become more or less attractive as M grows?",
    "PREDICTION_PART2": "Does hierarchical AllReduce beat the flat ring on your cluster?",
    "PREDICTION_PART3": "One step of 1-bit compression: is the update worse, the same or better?",
}
DECISIONS: tuple[str, ...] = ("bucket_algorithm", "deadline_algorithm", "accumulation_steps")
DECISIONS += ("compression", "strategy", "ef_keeps_accuracy", "gossip_within_budget")
MAX_VALUE_CHARS = 60  # a ledger value longer than this is the student's text, shown cut


def track_of(r: GradeResult) -> str:
    """The row's track as the report groups it: one of the tracks, "no track", or "unknown
    TRACK" for every other string (a student's TRACK is free text: a thousand of them must
    not make a thousand groups)."""
    if not r.track:
        return "no track"
    return r.track if r.track in TRACKS else "unknown TRACK"


def score_table(rows: list[GradeResult]) -> list[dict]:
    """Per track ("all" first) and question ("total" last): n, mean, median, max points."""
    table = []
    tracks = ["all", *sorted({track_of(r) for r in rows})]
    questions = [q for r in rows for q in r.max_points]
    questions = list(dict.fromkeys(questions))
    for track in tracks:
        mine = [r for r in rows if track == "all" or track_of(r) == track]
        for question in [*questions, "total"]:
            values = [r.score if question == "total" else r.points.get(question, 0.0) for r in mine]
            possible = max(
                (r.max_score if question == "total" else r.max_points.get(question, 0.0))
                for r in mine
            )
            table.append(
                {
                    "track": track,
                    "question": question,
                    "students": len(values),
                    "mean": round(statistics.fmean(values), 3),
                    "median": round(statistics.median(values), 3),
                    "possible": possible,
                }
            )
    return table


def prediction_table(rows: list[GradeResult]) -> list[dict]:
    """Per Lock, track ("all" first) and choice: how many predicted it; right marks the
    answer the workbench reveals; "(none)" counts students with no valid prediction."""
    table = []
    tracks = ["all", *sorted({track_of(r) for r in rows})]
    for lock in LOCKS.values():
        for track in tracks:
            mine = [r for r in rows if track == "all" or track_of(r) == track]
            made = Counter(lock.normalise(r.predictions.get(lock.name)) for r in mine)
            for choice in [*lock.choices, "(none)"]:
                count = made[None if choice == "(none)" else choice]
                table.append(
                    {
                        "lock": lock.name,
                        "track": track,
                        "choice": choice,
                        "students": count,
                        "right": "yes" if choice == lock.answer else "",
                    }
                )
    return table


def misconception_id(m: Misconception) -> str:
    """A catalogue entry's name in the report: "<function>: <mistake>"."""
    return f"{m.function}: {m.mistake}"


def misconceptions_of(r: GradeResult) -> list[str]:
    """The catalogue entries the hidden tests named in this student's failed checks or notes
    (each once).

    The hidden tests' checks (commslab.grading.checks.expect_close, known=...) put
    Misconception.message() into the failure message; that sentence is the entry's tag."""
    text = "\n".join(f.message for found in r.failures.values() for f in found)
    text += "\n" + "\n".join(r.feedback)
    return [misconception_id(m) for m in CATALOGUE if m.message() in text]


def misconception_table(rows: list[GradeResult]) -> list[dict]:
    """Per catalogue entry (commslab.notebook.misconceptions): the students showing it."""
    seen: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        for name in misconceptions_of(r):
            seen[name].append(r.student_id)
    return [
        {
            "misconception": misconception_id(m),
            "question": m.function,
            "what": f"{m.mistake}: {m.fix}",
            "students": len(seen[misconception_id(m)]),
            "share": round(len(seen[misconception_id(m)]) / len(rows), 3) if rows else 0.0,
            "student_ids": " ".join(seen[misconception_id(m)]),
        }
        for m in CATALOGUE
    ]


def ledger_table(rows: list[GradeResult]) -> list[dict]:
    """Per track and decision: each value chosen and how many chose it."""
    counts: Counter = Counter()
    for r in rows:
        for key in DECISIONS:
            if key in r.ledger:
                value = r.ledger[key]
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                value = str(value)
                if len(value) > MAX_VALUE_CHARS:
                    value = value[:MAX_VALUE_CHARS] + "…"
                counts[track_of(r), key, value] += 1
    return [
        {"track": t, "decision": k, "value": v, "students": n}
        for (t, k, v), n in sorted(counts.items())
    ]


def written_table(rows: list[GradeResult]) -> list[dict]:
    """Per written question and flag kind ("ok": earned the automatic point)."""
    counts: Counter = Counter()
    for r in rows:
        if not r.written_flags:
            continue
        for grade_id in WRITTEN_IDS:
            counts[grade_id, kind_of(r.written_flags.get(grade_id, "")) or "ok"] += 1
    return [{"question": q, "flag": k, "students": n} for (q, k), n in sorted(counts.items())]


# --- writing --------------------------------------------------------------------------------


def _csv(path: Path, table: list[dict]) -> None:
    from commslab.grading.csvsafe import SafeWriter

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = SafeWriter(f)
        if table:
            writer.writerow(list(table[0]))
            writer.writerows([list(row.values()) for row in table])


def _png(fig) -> str:
    """The figure as base64 PNG, every text drawn as plain text: a student's TRACK such as
    "$\\rtthree$" would otherwise be parsed as mathtext and stop the report
    (matplotlib's Text.set_parse_math)."""
    from matplotlib.text import Text

    for text in fig.findobj(Text):
        text.set_parse_math(False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def _figures(rows: list[GradeResult], predictions: list[dict], mistakes: list[dict]) -> list:
    """(title, base64 PNG): score histogram by track, predictions per Lock, mistakes."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figures = []
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    tracks = sorted({track_of(r) for r in rows})
    top = max((r.max_score for r in rows), default=1) or 1
    ax.hist(
        [[r.score for r in rows if track_of(r) == t] for t in tracks],
        bins=[top * i / 10 for i in range(11)],
        stacked=True,
        label=tracks,
    )
    ax.set_xlabel("score")
    ax.set_ylabel("students")
    ax.legend(fontsize=8)
    figures.append(("Scores by track", _png(fig)))

    fig = Figure(figsize=(7, 2.8))
    axes = fig.subplots(1, len(PREDICTION_NAMES))
    for ax, lock in zip(axes, PREDICTION_NAMES, strict=True):
        mine = [p for p in predictions if p["lock"] == lock and p["track"] == "all"]
        colours = ["#2e7d32" if p["right"] else "#c62828" for p in mine]
        ax.bar([p["choice"] for p in mine], [p["students"] for p in mine], color=colours)
        ax.set_title(lock.replace("PREDICTION_", "").lower(), fontsize=10)
        ax.tick_params(labelsize=8)
    fig.suptitle(
        "Predictions before the reveal (green: what the workbench shows)", fontsize=10, y=1.04
    )
    figures.append(("Predictions", _png(fig)))

    fig = Figure(figsize=(7, 0.5 + 0.4 * max(1, len(mistakes))))
    ax = fig.add_subplot()
    ax.barh([m["misconception"] for m in mistakes], [m["students"] for m in mistakes])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.invert_yaxis()
    ax.set_xlabel("students")
    ax.tick_params(labelsize=8)
    figures.append(("Known mistakes in the hidden tests", _png(fig)))
    return figures


def _table_html(table: list[dict], columns: list[str] | None = None) -> str:
    if not table:
        return "<p>(none)</p>"
    columns = columns or list(table[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in columns) + "</tr>"
        for row in table
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def write_class_report(rows: list[GradeResult], out: str | Path, *, term: str = "") -> Path:
    from commslab.grading.review import _PAGE

    out = Path(out)
    folder = out / REPORT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    class_rows = [r for r in students(rows) if r.max_points]
    tables = {
        "scores": score_table(class_rows) if class_rows else [],
        "predictions": prediction_table(class_rows),
        "misconceptions": misconception_table(class_rows),
        "ledger": ledger_table(class_rows),
        "written": written_table(class_rows),
    }
    for name, table in tables.items():
        _csv(folder / f"{name}.csv", table)
    body = [
        f"<h1>Class report{': ' + html.escape(term) if term else ''}</h1>",
        f"<p>{len(class_rows)} students (one gradebook row each). The numbers are in "
        f"<code>{REPORT_DIR}/*.csv</code>.</p>",
    ]
    figures = dict(_figures(class_rows, tables["predictions"], tables["misconceptions"]))
    body += [
        "<h2>Scores</h2>",
        f'<img alt="scores by track" src="data:image/png;base64,{figures["Scores by track"]}">',
        _table_html(
            [s for s in tables["scores"] if s["track"] == "all"],
            ["question", "students", "mean", "median", "possible"],
        ),
        "<details><summary>per track</summary>"
        + _table_html([s for s in tables["scores"] if s["track"] != "all"])
        + "</details>",
        "<h2>What the class predicted before seeing the answer</h2>",
        f'<img alt="predictions" src="data:image/png;base64,{figures["Predictions"]}">',
    ]
    for lock in PREDICTION_NAMES:
        mine = [p for p in tables["predictions"] if p["lock"] == lock and p["track"] == "all"]
        wrong = sum(p["students"] for p in mine if not p["right"] and p["choice"] != "(none)")
        body.append(
            f"<p><b>{lock}</b>: {html.escape(LOCK_QUESTIONS[lock])} "
            f"{wrong} of {len(class_rows)} predicted wrong.</p>"
            + _table_html(mine, ["choice", "students", "right"])
        )
    body += [
        "<h2>Known mistakes the hidden tests recognised</h2>",
        f'<img alt="mistakes" src="data:image/png;base64,'
        f'{figures["Known mistakes in the hidden tests"]}">',
        _table_html(tables["misconceptions"], ["misconception", "what", "students", "share"]),
        "<h2>Ledger decisions by track</h2>",
        _table_html(tables["ledger"]),
        "<h2>Written answers: flags</h2>",
        _table_html(tables["written"]),
    ]
    path = out / REPORT_HTML
    path.write_text(_PAGE.format(title="Class report", body="\n".join(body)), encoding="utf-8")
    return path
