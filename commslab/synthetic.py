"""A synthetic class for the demo and the tests: notebooks as students hand them in.

    make_class(term, folder) -> Manifest: submissions.zip (a Canvas bulk download) and what
                                was planted in it (tracks, predictions, known mistakes)

Every notebook starts from the term's solved notebook of that student (commslab.release
.solved_notebook: the student's own scenario numbers, as read from the workbench). Then:

- honest: two per track, all functions right, their own written answers (sentences drawn from
  a pool per question, so no two students write the same text), their own predictions;
- partial: one or two of the known mistakes of commslab.notebook.misconceptions.CATALOGUE
  written into the functions, one ledger number left out;
- late: an honest notebook the LMS marked LATE;
- copied: a student who hands in a classmate's notebook (code, ledger and answers);
- filler: written answers made of the question, lorem ipsum and repetition;
- tampering: `np.isclose` patched to say yes, the instructor key read from disk;
- broken: a truncated notebook and a PDF.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from comms_core.scenarios import TRACKS
from commslab.course import Course
from commslab.release import TEXT_STUB, solved_notebook

FILE = "collective_comms.ipynb"
# What each known mistake (commslab/notebook/misconceptions.py, named "<function>: <mistake>"
# as in the class report) does to the solved code.
MISTAKES = {
    "ring_allreduce_time: N in place of N−1": (
        "part1_stubs",
        "return 2 * (N - 1) * alpha + 2 * (N - 1) / N * M / beta",
        "return 2 * N * alpha + 2 * M / beta",
    ),
    "tree_allreduce_time: log₂N without ceil": (
        "part1_stubs",
        "L = np.ceil(np.log2(N))\n    return 2 * L",
        "L = np.log2(N)\n    return 2 * L",
    ),
    "one_bit_compress: ‖v‖₁ without dividing by d": (
        "part3_stubs",
        "np.abs(v).sum() / v.size",
        "np.abs(v).sum()",
    ),
    "error_feedback_step: the old residual forgotten": (
        "part3_stubs",
        "return sent, corrected - sent",
        "return sent, np.asarray(g, dtype=float) - sent",
    ),
}
# Sentence pools: an honest answer takes one sentence from each slot, chosen by the student id.
SENTENCES = {
    "reflect_part1": [
        [
            "The ring is bandwidth-optimal because its bandwidth term 2(N−1)/N·M/β meets the "
            "lower bound: every rank sends and receives just its share.",
            "Each rank in the ring moves 2(N−1)/N of the message, which is the least any "
            "AllReduce can move, so the bandwidth part cannot be beaten.",
            "Splitting the buffer into N chunks keeps every link busy at once, so the ring "
            "uses the full bandwidth and reaches the lower bound on bytes.",
            "Bandwidth-wise nothing beats the ring: 2(N−1)/N·M bytes per rank is exactly what "
            "the lower bound for AllReduce asks for.",
        ],
        [
            "But it needs 2(N−1) steps one after the other, so the latency term 2(N−1)α grows "
            "linearly with the number of ranks.",
            "Its weakness is latency: 2(N−1) sequential messages cost 2(N−1)α, linear in N, "
            "while a tree pays only 2⌈log2 N⌉ α.",
            "The price is the startup latency of 2(N−1) hops in a row; with thousands of "
            "ranks the 2(N−1)α term is large.",
            "Latency is where it loses: the 2(N−1)α term grows with every rank added, unlike "
            "the logarithmic depth of a tree.",
        ],
        [
            "Below my crossover the tree is faster, above it the ring wins.",
            "For my scenario small buckets favour the tree and large ones the ring.",
            "So the crossover message size decides which algorithm I use for each bucket.",
            "My workbench shows the two curves crossing at the crossover I recorded.",
        ],
    ],
    "reflect_part2": [
        [
            "I accumulate k micro-batches before each hierarchical AllReduce, which divides "
            "the number of slow inter-node syncs by k.",
            "Gradient accumulation over k steps means the network is used k times less often "
            "while the GPUs keep computing.",
            "With k micro-batches per sync the inter-node traffic per optimizer step stays the "
            "same but happens k times less often.",
            "Syncing only every k micro-batches takes the saturated network out of most steps.",
        ],
        [
            "The hierarchical scheme already keeps most traffic on the fast intra-node link.",
            "Inside a node the fast link does the reduce-scatter, so only a shard crosses the "
            "slow network.",
            "Only M/G per GPU goes over the slow link, which is what leaves the fast link idle.",
            "The idle fast link does the intra-node phases, the slow one only the shard.",
        ],
        [
            "A too large k grows the batch past the noise scale and wastes examples, so I "
            "picked the k with the lowest time to train.",
            "Past the optimal k the larger batch needs more steps, so my k is the minimum of "
            "the time-to-train curve.",
            "I kept the k my tries found best, since bigger batches need more examples to "
            "reach the target.",
            "My tries showed the time to train rising again beyond the best k.",
        ],
    ],
    "strategy": [
        [
            "My communication-to-compute ratio stays above one, so communication dominates.",
            "Communication is the bottleneck in my scenario, as the ratio in my ledger shows.",
            "The ratio of communication to compute I measured says the network is the limit.",
            "My ledger's ratio tells me a step waits on the network more than on compute.",
        ],
        [
            "I choose rigor: synchronous training with 1-bit compression and error feedback.",
            "I go for rigor, sync plus compression, because EF keeps the accuracy.",
            "Rigor wins for me: keep synchronous updates and compress them.",
            "My strategy is sync with compression, since the bytes are what hurt.",
        ],
        [
            "The crisis numbers of my track back this choice.",
            "My track's crisis showed the same: the algorithm matters less than the bytes.",
            "The crossover and my k complete the plan.",
            "Together with the right algorithm per bucket this is my plan.",
        ],
        [
            "To the ML Lead: with EF the curve reaches the uncompressed loss while sending "
            "about 1/32 of the bytes.",
            "The monitor shows EF recovers the accuracy and keeps the roughly thirty-fold saving.",
            "The EF run ends at the uncompressed loss with d/8 + 4 bytes per step instead of 4d.",
            "Without EF the loss stalls, with it the residual carries what was not sent.",
        ],
    ],
}
FILLER = {
    "reflect_part1": "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do "
    "eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam.",
    "reflect_part2": "Gradient accumulation is good. " * 10,
    "strategy": "",  # the question pasted twice (filled in from the notebook)
}
TAMPER = """
import numpy as _np
_np.isclose = lambda *a, **k: True
_np.allclose = lambda *a, **k: True
try:
    KEY = open("autograder/instructor.key").read()
except Exception as err:
    KEY = str(err)
"""


@dataclass
class Student:
    student_id: str
    name: str
    kind: str  # honest, partial, late, copied, filler, tampering, broken
    track: str = ""
    mistakes: list[str] = field(default_factory=list)
    predictions: dict[str, str] = field(default_factory=dict)
    file: str = ""


@dataclass
class Manifest:
    term: str
    archive: Path
    students: list[Student]


def _pick(student_id: str, salt: str, n: int) -> int:
    digest = hashlib.sha256(f"{student_id}|{salt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % n


def own_answer(student_id: str, grade_id: str) -> str:
    """An honest answer: one sentence per slot; the choice of sentences is the student's
    number in base 4, so no two students of a class under 64 hand in the same answer."""
    slots = SENTENCES[grade_id]
    number = int(student_id) if student_id.isdigit() else _pick(student_id, grade_id, 64)
    number += 21 * list(SENTENCES).index(grade_id)
    return " ".join(slot[(number // 4**i) % len(slot)] for i, slot in enumerate(slots))


def _cell(nb, grade_id: str):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def notebook(student: Student, term: str, course: Course):
    """The notebook this student hands in (without copies, tampering or broken files)."""
    nb = solved_notebook(term, student.student_id, student.track, course)
    for lock, value in student.predictions.items():
        cell = _cell(nb, "lock_" + lock.removeprefix("PREDICTION_").lower())
        cell.source = re.sub(rf'^{lock} = ".*"$', f'{lock} = "{value}"', cell.source, flags=re.M)
    for grade_id in SENTENCES:
        _cell(nb, grade_id).source = own_answer(student.student_id, grade_id)
    for mistake in student.mistakes:
        grade_id, right, wrong = MISTAKES[mistake]
        cell = _cell(nb, grade_id)
        if right not in cell.source:
            raise ValueError(f"the solved {grade_id} no longer contains {right!r}")
        cell.source = cell.source.replace(right, wrong)
    if student.mistakes:  # a partial notebook also leaves one ledger number out
        ledger = _cell(nb, "ledger")
        ledger.source = re.sub(
            r"'comm_to_compute_ratio': [^,\n]+", "'comm_to_compute_ratio': None", ledger.source
        )
    return nb


PREDICTION_PATTERNS = [  # right, or one of the misconceptions the Locks are there to surface
    {"PREDICTION_PART1": "less", "PREDICTION_PART2": "yes", "PREDICTION_PART3": "worse"},
    {"PREDICTION_PART1": "more", "PREDICTION_PART2": "yes", "PREDICTION_PART3": "worse"},
    {"PREDICTION_PART1": "less", "PREDICTION_PART2": "no", "PREDICTION_PART3": "same"},
    {"PREDICTION_PART1": "more", "PREDICTION_PART2": "yes", "PREDICTION_PART3": "better"},
]


def plan(size: str = "demo") -> list[Student]:
    """Who is in the class. "demo": every kind; "small": honest, partial, copied, filler."""
    names = iter(
        "ada bob cyd dee eli fay gus hal ivy jon kim lou max ned oda pam quy rex sam tia".split()
    )
    students: list[Student] = []

    def add(kind: str, track: str = "", mistakes=(), pattern: int = 0) -> Student:
        n = len(students)
        s = Student(
            student_id=str(2026100 + n),
            name=f"{next(names)}student",
            kind=kind,
            track=track,
            mistakes=list(mistakes),
            predictions=dict(PREDICTION_PATTERNS[pattern % len(PREDICTION_PATTERNS)]),
        )
        students.append(s)
        return s

    tracks = list(TRACKS)
    per_track = 2 if size == "demo" else 1
    for i, track in enumerate(tracks * per_track):
        add("honest", track, pattern=i)
    mistakes = list(MISTAKES)
    partial = (
        [mistakes[:2], mistakes[2:3], mistakes[3:], mistakes[:1] + mistakes[2:3]]
        if size == "demo"
        else [mistakes[:2], mistakes[2:3]]
    )
    for i, planted in enumerate(partial):
        add("partial", tracks[i % 4], planted, pattern=i + 1)
    add("copied", "cloud_titan", pattern=0)
    add("filler", "tiny_pioneer", pattern=3)
    if size == "demo":
        add("late", "edge_guardian", pattern=2)
        add("tampering", "cloud_titan", pattern=0)
        add("broken")
        add("broken")
    return students


def make_class(term: str, folder: str | Path, course: Course, size: str = "demo") -> Manifest:
    """Write the class as a Canvas bulk download: folder/submissions.zip (the notebooks
    start from the course's source notebook)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    students = plan(size)
    first_honest = next(s for s in students if s.kind == "honest")
    files: dict[str, bytes] = {}
    for n, s in enumerate(students):
        late = "LATE_" if s.kind == "late" else ""
        s.file = f"{s.name}_{late}{s.student_id}_{900 + n}_{FILE}"
        if s.kind == "broken":
            if n % 2:
                s.file = s.file.replace(".ipynb", ".pdf")
                files[s.file] = b"%PDF-1.4\n% not a notebook\n"
            else:
                text = nbformat.writes(notebook(first_honest, term, course))
                files[s.file] = text[: len(text) // 2].encode()  # the upload broke off
            s.predictions = {}
            continue
        if s.kind == "copied":  # a classmate's notebook, handed in as is
            s.track, s.predictions = first_honest.track, dict(first_honest.predictions)
            nb = notebook(first_honest, term, course)
        else:
            nb = notebook(s, term, course)
        if s.kind == "filler":
            for grade_id, text in FILLER.items():
                cell = _cell(nb, grade_id)
                if grade_id == "strategy":
                    text = _prompt(nb, grade_id) * 2
                cell.source = text or TEXT_STUB
        if s.kind == "tampering":
            _cell(nb, "part1_stubs").source = TAMPER + "\n" + _cell(nb, "part1_stubs").source
        files[s.file] = nbformat.writes(nb).encode()
    archive = folder / "submissions.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    manifest = Manifest(term, archive, students)
    (folder / "class.json").write_text(
        json.dumps([s.__dict__ for s in students], indent=1), encoding="utf-8"
    )
    return manifest


def _prompt(nb, grade_id: str) -> str:
    previous = ""
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return previous
        if cell.cell_type == "markdown":
            previous = cell.source + "\n"
    return previous
