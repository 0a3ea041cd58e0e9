"""The TA's pages: written answers to score, and what looks copied.

    write_review(rows, out)      OUT/review.html: one written question at a time, every
                                 student's answer, the rubric, the model answer, the flags;
                                 the TA types scores and exports ta_scores.csv, which
                                 `commslab review import ta_scores.csv --out OUT` puts into
                                 grades.csv and the Canvas gradebook (commslab.grading.gradebook)
    write_similarity(rows, out)  OUT/similarity.html and similarity.csv: groups of identical or
                                 near-identical written answers and code, for a TA to look at
                                 (a report, not a penalty)

Both pages are single self-contained HTML files (no network, no server): open them in a
browser from the output folder.

Code similarity follows MOSS's idea (Schleimer, Wilkerson & Aiken 2003, "Winnowing: local
algorithms for document fingerprinting", SIGMOD): compare k-token fingerprints, and ignore the
fingerprints many students share (the release's template, the textbook formula): what two
students share and nobody else does is what a TA should look at.
"""

from __future__ import annotations

import html
import io
import json
import re
import tokenize
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from commslab.grading.grade import GradeResult
from commslab.grading.notebook import WRITTEN_IDS, written_share
from commslab.grading.outputs_gradebooks import gradebook_rows
from commslab.grading.written import (
    IDENTICAL,
    MIN_NEAR_WORDS,
    NEAR_RATIO,
    input_digest,
    near_pairs,
    own_words,
    remembered,
    stored_in,
)

REVIEW = "review.html"
TEMPLATE = "review_page.html"  # the page's HTML, CSS and script; the data goes in its DATA
SIMILARITY_HTML = "similarity.html"
SIMILARITY_CSV = "similarity.csv"
SHINGLE = 8  # tokens per code fingerprint (MOSS's k)
MIN_SHARED = 12  # personal fingerprints two notebooks must share to be listed
SHARED_SHARE = 0.5  # ... and this share of the smaller notebook's personal fingerprints
# A fingerprint is personal if it holds a comment or a number of three digits or more: what a
# student types as their own (the ledger's numbers read off their scenario, their notes).
# Names, keywords and small constants (the 2 of 2(N−1)) are everyone's and prove nothing.
PERSONAL = re.compile(r"#|(?:\D*\d){3}")
RUBRIC = {
    "reflect_part1": "1 point: says why the ring is bandwidth-optimal (its bandwidth term "
    "2(N−1)/N·M/β meets the lower bound) and latency-inefficient (2(N−1) sequential steps, "
    "2(N−1)α grows linearly in N), and where the student's crossover lies. ½ point: one of "
    "the two halves right.",
    "reflect_part2": "1 point: a gradient-accumulation change (accumulate k micro-batches "
    "per AllReduce) with the student's k and numbers, and why it balances the idle fast link "
    "and the saturated network; mentions the cost of a too-large k. ½ point: the idea "
    "without the student's numbers.",
    "strategy": "2 points: a strategy (raw speed or rigor) justified with the student's "
    "communication-to-compute ratio and the track's crisis numbers (1), and an answer to the "
    "ML Lead from the convergence monitor: 1-bit without error feedback stalls, with it the "
    "loss reaches the uncompressed one at ~1/32 of the bytes, because the residual carries "
    "what was not sent (1). 1 point: one of the two. ½ point: a generic justification.",
}


# --- the questions: prompt and model answer from the source notebook -------------------------


def questions(course_dir: str | Path | None = None) -> dict[str, dict[str, str]]:
    """{grade_id: {"prompt", "model"}} from the course's source notebook (the package's
    template course when the course folder is not known)."""
    import nbformat

    from commslab.course import Course, template_root

    found = {k: {"prompt": "", "model": ""} for k in WRITTEN_IDS}
    if course_dir is not None:
        source = Course(Path(course_dir)).source_notebook
    else:
        template = Course(template_root())
        source = template.source_notebook
    try:
        nb = nbformat.reads(source.read_text(encoding="utf-8"), as_version=4)
    except (OSError, ValueError):
        return found
    previous = ""
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in found:
            found[grade_id] = {"prompt": previous, "model": cell.source}
        elif cell.cell_type == "markdown":
            previous = cell.source
    return found


def kind_of(flag: str) -> str:
    """The flag's family for the page's badges: empty, placeholder, copied, identical, filler,
    short, content."""
    if not flag:
        return ""
    for word, kind in (
        ("no answer", "empty"),
        ("placeholder", "empty"),
        ("copy of the question", "copied"),
        (IDENTICAL, "identical"),
        ("lorem", "filler"),
        ("repeated", "filler"),
        ("too short", "short"),
    ):
        if word in flag:
            return kind
    return "content"


def students(rows: list[GradeResult]) -> list[GradeResult]:
    """One row per student, by id: the gradebook's row (latest submission, best file)."""
    chosen = gradebook_rows(rows)
    return [chosen[k] for k in sorted(chosen)]


def review_data(
    rows: list[GradeResult], term: str = "", course_dir: str | Path | None = None
) -> dict:
    """What review.html shows, as JSON (also what the test reads)."""
    answered = [r for r in students(rows) if r.written]
    items = []
    qs = questions(course_dir)
    for grade_id in WRITTEN_IDS:
        answers = []
        for r in answered:
            worth = written_share(grade_id, r.max_points.get("written", 0.0))
            flag = r.written_flags.get(grade_id, "")
            answers.append(
                {
                    "student_id": r.student_id,
                    "name": r.lms_name,
                    "track": r.track,
                    "text": r.written.get(grade_id, ""),
                    "words": len(own_words(r.written.get(grade_id, ""))),
                    "flag": flag,
                    "kind": kind_of(flag),
                    "automatic": worth if flag == "" else 0.0,
                    "points": r.written_points.get(grade_id, 0.0),  # with the TA's scores
                    "max": worth,
                }
            )
        items.append(
            {
                "id": grade_id,
                "prompt": qs[grade_id]["prompt"],
                "model": qs[grade_id]["model"],
                "rubric": RUBRIC.get(grade_id, ""),
                "answers": answers,
            }
        )
    return {"term": term, "questions": items}


def write_review(
    rows: list[GradeResult],
    out: str | Path,
    *,
    term: str = "",
    course_dir: str | Path | None = None,
) -> Path:
    data = review_data(rows, term, course_dir)
    template = resources.files("commslab.grading").joinpath(TEMPLATE).read_text("utf-8")
    page = template.replace("/*DATA*/null", _json_for_script(data))
    path = Path(out) / REVIEW
    path.write_text(page, encoding="utf-8")
    return path


def _json_for_script(data) -> str:
    """JSON safe inside <script>: no "</script>" or "<!--" can close or open anything."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --- similarity ------------------------------------------------------------------------------


@dataclass
class Group:
    kind: str  # "written" or "code"
    item: str  # grade_id of the written answer, or "code"
    students: list[str]
    similarity: float  # the smallest pairwise similarity in the group
    sample: str


def _code_tokens(code: dict[str, str]) -> list[str]:
    """The notebook's code as tokens (comments and names kept: they are what copies share)."""
    tokens = []
    for source in code.values():
        try:
            for tok in tokenize.generate_tokens(io.StringIO(source).readline):
                if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT):
                    if tok.type != tokenize.DEDENT and tok.string.strip():
                        tokens.append(re.sub(r"\s+", " ", tok.string))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            tokens.extend(source.split())
    return tokens


def _union(pairs: list[tuple[str, str, float]]) -> list[tuple[list[str], float]]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, other, _ in pairs:
        parent[find(a)] = find(other)
    groups: dict[str, list[str]] = defaultdict(list)
    lowest: dict[str, float] = defaultdict(lambda: 1.0)
    for a, _, score in pairs:
        lowest[find(a)] = min(lowest[find(a)], score)
    for x in list(parent):
        groups[find(x)].append(x)
    return [(sorted(members), lowest[root]) for root, members in groups.items()]


def similarity_groups(rows: list[GradeResult]) -> list[Group]:
    """Identical or near-identical written answers (per question: word-sequence similarity at
    least NEAR_RATIO, commslab.grading.written.near_pairs) and code (per notebook): two
    notebooks share at least MIN_SHARED personal fingerprints (SHINGLE tokens holding a
    comment or a number of 3+ digits, that no third student has), and SHARED_SHARE of the
    smaller notebook's personal fingerprints. Near-linear in the class's text; within
    written.stored_in(OUT) computed once and read back from OUT/similarity.json."""
    handed_in = [r for r in students(rows) if r.written or r.code]
    groups: list[Group] = []
    for grade_id in WRITTEN_IDS:
        texts = {r.student_id: own_words(r.written.get(grade_id, "")) for r in handed_in}
        texts = {k: v for k, v in texts.items() if len(v) >= MIN_NEAR_WORDS}
        for members, score in _union(near_pairs(texts, NEAR_RATIO)):
            sample = " ".join(texts[members[0]])[:300]
            groups.append(Group("written", grade_id, members, score, sample))
    tokens = {r.student_id: _code_tokens(r.code) for r in handed_in}
    digest = input_digest({k: v for k, v in tokens.items()}, SHARED_SHARE, kind="code")
    pairs = remembered(digest, lambda: _code_pairs(tokens))
    for members, score in _union([(a, b, float(x)) for a, b, x in pairs]):
        sample = " ".join(tokens[members[0]])[:300]
        groups.append(Group("code", "code", members, score, sample))
    return groups


def _code_pairs(tokens: dict[str, list[str]]) -> list[tuple[str, str, float]]:
    """Pairs of notebooks sharing personal fingerprints (MOSS-style), with their share."""
    shingles = {
        sid: {
            tuple(t[i : i + SHINGLE])
            for i in range(len(t) - SHINGLE + 1)
            if any(PERSONAL.match(token) for token in t[i : i + SHINGLE])
        }
        for sid, t in tokens.items()
    }
    owners: dict[tuple, list[str]] = defaultdict(list)
    for sid, found in shingles.items():
        for s in found:
            owners[s].append(sid)
    # personal: at most two students have it (a value shared by a whole track is nobody's)
    personal = {sid: {s for s in found if len(owners[s]) <= 2} for sid, found in shingles.items()}
    shared: dict[tuple[str, str], int] = defaultdict(int)
    for holders in owners.values():
        if len(holders) == 2:
            first, second = sorted(holders)
            shared[first, second] += 1
    pairs = []
    for (a, b), count in sorted(shared.items()):
        share = count / (min(len(personal[a]), len(personal[b])) or 1)
        if count >= MIN_SHARED and share >= SHARED_SHARE:
            pairs.append((a, b, round(share, 3)))
    return pairs


def write_similarity(rows: list[GradeResult], out: str | Path) -> list[Group]:
    from commslab.grading.csvsafe import SafeWriter

    out = Path(out)
    with stored_in(out):
        groups = similarity_groups(rows)
    with open(out / SIMILARITY_CSV, "w", newline="", encoding="utf-8") as f:
        writer = SafeWriter(f)
        writer.writerow(["group", "kind", "item", "students", "similarity", "sample"])
        for n, g in enumerate(groups, start=1):
            writer.writerow([n, g.kind, g.item, " ".join(g.students), g.similarity, g.sample])
    body = [
        "<h1>Similarity report</h1>",
        "<p>Identical or near-identical written answers (per question, word similarity "
        f"≥ {NEAR_RATIO:g}) and notebooks whose code shares fingerprints no other student has "
        "(MOSS-style). A report for the TA to look at, not a penalty: answers identical word "
        "for word already earned no automatic point.</p>",
    ]
    if not groups:
        body.append("<p><b>No similar answers or code found.</b></p>")
    else:
        body.append(
            "<table><tr><th>#</th><th>what</th><th>students</th><th>similarity</th>"
            "<th>sample</th></tr>"
        )
        for n, g in enumerate(groups, start=1):
            what = "code (all cells)" if g.kind == "code" else f"written: {g.item}"
            body.append(
                f"<tr><td>{n}</td><td>{html.escape(what)}</td>"
                f"<td>{html.escape(', '.join(g.students))}</td><td>{g.similarity:.0%}</td>"
                f"<td class=sample>{html.escape(g.sample)}…</td></tr>"
            )
        body.append("</table>")
    page = _PAGE.format(title="Similarity report", body="\n".join(body))
    (out / SIMILARITY_HTML).write_text(page, encoding="utf-8")
    return groups


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222;padding:0 1em}
table{border-collapse:collapse;width:100%;margin:.5em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:14px}
th{background:#f0f3f7} .sample{font-family:monospace;font-size:12px;color:#555}
h1{font-size:1.6em} h2{font-size:1.25em;margin-top:1.4em}
"""
_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
    "<title>{title}</title><style>" + _STYLE.replace("{", "{{").replace("}", "}}") + "</style>"
    "</head><body>{body}</body></html>\n"
)
