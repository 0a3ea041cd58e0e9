"""Test notebooks with the DESIGN.md cell contract, written with nbformat.

    solved_notebook(student_id, track, term)      every function written out, ledger filled
    untouched_notebook()                          the release as a student gets it
    buggy_notebook(student_id, track, term)       honest but partly wrong (a mid-range score)

The solved functions are the reference formulas written out with numpy (never calls to
comms_core: the probe refuses those). The ledger holds the numbers a student reads from the
workbench: here they come from commslab.grading.answers.mission_answers, as literals.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from comms_core.scenarios import scenario_for
from commslab.grading.answers import mission_answers

TERM = "2026-fall"

SETUP = """\
import math
import numpy as np
import otter
from commslab import lab

TERM = "{term}"
grader = otter.Notebook("collective_comms.ipynb")
"""

PART1 = '''\
def ring_allreduce_time(M, N, alpha, beta):
    """Ring AllReduce time in seconds. M bytes, N ranks, alpha s, beta bytes/s."""
    return 2 * (N - 1) * alpha + 2 * (N - 1) / N * M / beta


def tree_allreduce_time(M, N, alpha, beta):
    """Tree AllReduce time in seconds (binomial reduce + broadcast, unpipelined)."""
    L = np.ceil(np.log2(N))
    return 2 * L * (alpha + M / beta)


def crossover_message_size(N, alpha, beta):
    """The message size in bytes where ring and tree take the same time (0 if never)."""
    N = np.asarray(N, dtype=float)
    L = np.ceil(np.log2(N))
    numerator = N - 1 - L
    denominator = L - (N - 1) / N
    with np.errstate(divide="ignore", invalid="ignore"):
        M_star = np.where(numerator > 0, alpha * beta * numerator / denominator, 0.0)
    return M_star[()] if M_star.ndim == 0 else M_star
'''

PART2 = '''\
def hierarchical_breakdown(M, G, K, alpha_intra, beta_intra, alpha_inter, beta_inter):
    """The three phases of hierarchical AllReduce, in seconds, by name."""
    intra = (G - 1) * (alpha_intra + M / (G * beta_intra))
    inter = 2 * (K - 1) * (alpha_inter + M / (G * K * beta_inter))
    return {"intra_reduce_scatter": intra, "inter_allreduce": inter, "intra_all_gather": intra}


def hierarchical_allreduce_time(M, G, K, alpha_intra, beta_intra, alpha_inter, beta_inter):
    """Hierarchical AllReduce time in seconds: the sum of its three phases."""
    phases = hierarchical_breakdown(M, G, K, alpha_intra, beta_intra, alpha_inter, beta_inter)
    return sum(phases.values())
'''

PART3 = '''\
def one_bit_compress(v):
    """Scaled sign: (||v||_1 / d) * sign(v), with sign(0) = +1."""
    v = np.asarray(v, dtype=float)
    scale = np.abs(v).sum() / v.size
    return scale * np.where(v >= 0, 1.0, -1.0)


def error_feedback_step(g, e):
    """One step of error feedback: returns (sent, new_residual)."""
    corrected = np.asarray(g, dtype=float) + np.asarray(e, dtype=float)
    sent = one_bit_compress(corrected)
    return sent, corrected - sent
'''

STUBS = {
    "part1_stubs": [
        "ring_allreduce_time(M, N, alpha, beta)",
        "tree_allreduce_time(M, N, alpha, beta)",
        "crossover_message_size(N, alpha, beta)",
    ],
    "part2_stubs": [
        "hierarchical_breakdown(M, G, K, alpha_intra, beta_intra, alpha_inter, beta_inter)",
        "hierarchical_allreduce_time(M, G, K, alpha_intra, beta_intra, alpha_inter, beta_inter)",
    ],
    "part3_stubs": ["one_bit_compress(v)", "error_feedback_step(g, e)"],
}

# honest mistakes: ring latency uses N, tree rounds down, 1-bit uses the max, breakdown
# misnames a phase; the crossover, the hierarchy and error feedback are right
BUGGY = {
    "part1_stubs": PART1.replace(
        "return 2 * (N - 1) * alpha + 2", "return 2 * N * alpha + 2"
    ).replace(
        "L = np.ceil(np.log2(N))\n    return 2 * L", "L = np.floor(np.log2(N))\n    return 2 * L"
    ),
    "part2_stubs": PART2.replace('"intra_all_gather": intra}', '"all_gather": intra}').replace(
        "return sum(phases.values())",
        "return 2 * phases['intra_reduce_scatter'] + phases['inter_allreduce']",
    ),
    "part3_stubs": PART3.replace("np.abs(v).sum() / v.size", "np.abs(v).max()"),
}

PROMPTS = {
    "reflect_part1": '### Reflect\n*Patterson asks: "Why is Ring AllReduce considered '
    'bandwidth-optimal but latency-inefficient?"* Use the 2(N−1)α term.',
    "reflect_part2": '### Reflect\n*Jeff Dean observes: "Your intra-node link is 90% idle while '
    'the network is 100% saturated."* Propose a gradient-accumulation change.',
    "strategy": '### Your Communication Strategy\nDid you choose "raw speed" (ring) or "rigor" '
    "(sync + compression)? Justify it with your communication-to-compute ratio.",
}

ANSWERS = {
    "reflect_part1": "The ring's bandwidth term 2(N−1)/N·M/β meets the lower bound for "
    "AllReduce, because every rank sends and receives exactly its share and "
    "every link stays busy. Its latency term 2(N−1)α grows linearly in N, so "
    "for small messages the latency dominates and the tree wins below M*.",
    "reflect_part2": "Accumulating k micro-batches before each hierarchical AllReduce divides "
    "the number of slow inter-node syncs by k, so the network share of a step "
    "falls while the GPUs keep computing; past the optimal k the larger batch "
    "needs more examples and the time to train rises again.",
    "strategy": "My communication-to-compute ratio stays above one at the optimal k, so "
    "communication still dominates a step; I keep the ring for large buckets above "
    "the crossover, accumulate k micro-batches, and turn on 1-bit compression with "
    "error feedback because it keeps the accuracy and cuts the bytes thirtyfold.",
}


# Words a student's own remarks are drawn from (personal_answers).
REMARK_WORDS = (
    "checked measured plotted compared noticed expected surprised curve slider bucket model "
    "cluster node link budget epoch batch gradient step rank chunk message hop tree ring "
    "compression residual error feedback loss accuracy deadline track scenario ledger "
    "workbench table number estimate bound cost price saving speed rigor network compute "
    "idle busy fast slow small large early late first last again twice half quarter double"
).split()


def personal_answers(student_id: str) -> dict[str, str]:
    """ANSWERS in this student's own words: students write differently, and an answer handed
    in identically or nearly so by two students is flagged as a copy
    (commslab.grading.written.class_flags): each answer ends with the student's own remark,
    30 words drawn by the student id, so two students' answers are far below NEAR_RATIO."""
    import random

    answers = {}
    for k, v in ANSWERS.items():
        rng = random.Random(f"{student_id}|{k}")
        remark = " ".join(rng.choice(REMARK_WORDS) for _ in range(30))
        answers[k] = f"{v} My own remark ({student_id}): {remark}."
    return answers


def _nbgrader(grade_id: str, *, solution: bool, grade: bool = False, points=None) -> dict:
    meta = {
        "grade_id": grade_id,
        "solution": solution,
        "locked": not solution,
        "grade": grade,
        "schema_version": 3,
    }
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def _code(grade_id: str, source: str, solution: bool = True):
    return new_code_cell(source, metadata=_nbgrader(grade_id, solution=solution))


def _markdown(grade_id: str, source: str, solution: bool = False):
    points = 1 if solution else None
    return new_markdown_cell(
        source, metadata=_nbgrader(grade_id, solution=solution, grade=solution, points=points)
    )


def stub_source(grade_id: str) -> str:
    parts = []
    for signature in STUBS[grade_id]:
        name = signature.split("(")[0]
        parts.append(f'def {signature}:\n    raise NotImplementedError("write {name}")\n')
    return "\n\n".join(parts)


def solved_answers(student_id: str, track: str = "cloud_titan", term: str = TERM) -> dict:
    """LEDGER, K_TRIES for a student: the mission answers of their scenario, as a student
    would read them from the workbench (decisions filled with valid choices)."""
    scenario = scenario_for(track, term, student_id)
    ledger = dict(mission_answers(scenario))
    ledger.update(compression="on", strategy="rigor (sync + compression)")
    k = ledger["accumulation_steps"]
    tries = sorted({1, 2, 4, 8, max(1, k - 1), k, k + 1})[:10]
    return {"LEDGER": ledger, "K_TRIES": tries}


def _ledger_source(ledger: dict) -> str:
    lines = [f"    {key!r}: {value!r}," for key, value in ledger.items()]
    return "LEDGER = {\n" + "\n".join(lines) + "\n}\n"


def build(
    cells: dict[str, str],
    written: dict[str, str],
    *,
    term: str = TERM,
    extra: list[tuple[int, str]] = (),
) -> nbformat.NotebookNode:
    """A notebook with the contract's cells; extra = [(position, source)] student-added cells."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    body = [
        _markdown("md_title", "# Collective Communication"),
        _code("setup", SETUP.format(term=term), solution=False),
        _code("identity", cells["identity"]),
        _code("scenario", "scenario = lab.start(TRACK, TERM, STUDENT_ID)", solution=False),
        _code("lock_part1", cells["lock_part1"]),
        _code("workbench_part1", "lab.part1(scenario, PREDICTION_PART1, globals())", False),
        _code("part1_stubs", cells["part1_stubs"]),
        _code("check_part1", 'grader.check("part1")', solution=False),
        _markdown("md_reflect1", PROMPTS["reflect_part1"]),
        _markdown("reflect_part1", written["reflect_part1"], solution=True),
        _code("lock_part2", cells["lock_part2"]),
        _code("part2_stubs", cells["part2_stubs"]),
        _code("part2_tries", cells["part2_tries"]),
        _code("workbench_part2", "lab.part2(scenario, PREDICTION_PART2, globals())", False),
        _markdown("md_reflect2", PROMPTS["reflect_part2"]),
        _markdown("reflect_part2", written["reflect_part2"], solution=True),
        _code("lock_part3", cells["lock_part3"]),
        _code("part3_stubs", cells["part3_stubs"]),
        _code("check_part3", 'grader.check("part3")', solution=False),
        _code("ledger", cells["ledger"]),
        _markdown("md_strategy", PROMPTS["strategy"]),
        _markdown("strategy", written["strategy"], solution=True),
        _code("check_all", "grader.check_all()", solution=False),
    ]
    if "bonus_ring" in cells:  # the optional MPI bonus, when a test writes one
        body.insert(len(body) - 1, _code("bonus_ring", cells["bonus_ring"]))
    for position, source in sorted(extra, key=lambda e: e[0], reverse=True):
        body.insert(position, new_code_cell(source))  # no nbgrader metadata: student-added
    nb.cells = body
    return nb


def solved_cells(student_id: str, track: str = "cloud_titan", term: str = TERM) -> dict:
    answers = solved_answers(student_id, track, term)
    return {
        "identity": f'STUDENT_ID = "{student_id}"\nTRACK = "{track}"\n',
        "lock_part1": 'PREDICTION_PART1 = "less"\n',
        "lock_part2": 'PREDICTION_PART2 = "yes"\n',
        "lock_part3": 'PREDICTION_PART3 = "worse"\n',
        "part1_stubs": PART1,
        "part2_stubs": PART2,
        "part3_stubs": PART3,
        "part2_tries": f"K_TRIES = {answers['K_TRIES']!r}\n",
        "ledger": _ledger_source(answers["LEDGER"]),
    }


def solved_notebook(
    student_id: str,
    track: str = "cloud_titan",
    term: str = TERM,
    *,
    replace: dict[str, str] | None = None,
    extra: list[tuple[int, str]] = (),
) -> nbformat.NotebookNode:
    cells = solved_cells(student_id, track, term)
    cells.update(replace or {})
    return build(cells, personal_answers(student_id), term=term, extra=extra)


def untouched_notebook(
    term: str = TERM, *, replace: dict[str, str] | None = None, extra: list[tuple[int, str]] = ()
) -> nbformat.NotebookNode:
    cells = {
        "identity": 'STUDENT_ID = ""   # your LMS id\nTRACK = ""\n',
        "lock_part1": 'PREDICTION_PART1 = ""   # "more" or "less"\n',
        "lock_part2": 'PREDICTION_PART2 = ""   # "yes" or "no"\n',
        "lock_part3": 'PREDICTION_PART3 = ""   # "worse", "same" or "better"\n',
        "part1_stubs": stub_source("part1_stubs"),
        "part2_stubs": stub_source("part2_stubs"),
        "part3_stubs": stub_source("part3_stubs"),
        "part2_tries": "K_TRIES = []   # the values of k you tried, at most 10\n",
        "ledger": 'LEDGER = {\n    "crossover_bytes": None,\n    "comm_to_compute_ratio": None,\n'
        '    "accumulation_steps": None,\n    "compression": None,\n}\n',
    }
    cells.update(replace or {})
    written = dict.fromkeys(ANSWERS, "YOUR ANSWER HERE")
    return build(cells, written, term=term, extra=extra)


def buggy_notebook(
    student_id: str,
    track: str = "cloud_titan",
    term: str = TERM,
    *,
    replace: dict[str, str] | None = None,
    extra: list[tuple[int, str]] = (),
) -> nbformat.NotebookNode:
    cells = solved_cells(student_id, track, term)
    cells.update(BUGGY)
    answers = solved_answers(student_id, track, term)["LEDGER"]
    answers["crossover_bytes"] *= 1.5  # one number read off the wrong curve
    answers["comm_to_compute_ratio"] = None  # not done
    cells["ledger"] = _ledger_source(answers)
    cells.update(replace or {})
    written = dict(personal_answers(student_id), strategy="Ring, because it is fast.")
    return build(cells, written, term=term, extra=extra)


def write(nb: nbformat.NotebookNode, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def dedent(source: str) -> str:
    return textwrap.dedent(source).lstrip("\n")


# An honest bonus cell: ring AllReduce by Sendrecv, reduce-scatter then all-gather (the
# bonus tests grade it on real MPI ranks and derive their cheats from it).
HONEST_BONUS_RING = """
def my_ring_allreduce(comm, buffer):
    r, n = comm.Get_rank(), comm.Get_size()
    chunks = np.array_split(buffer.copy(), n)
    right, left = (r + 1) % n, (r - 1) % n
    for s in range(n - 1):
        i, j = (r - s) % n, (r - s - 1) % n
        incoming = np.empty_like(chunks[j])
        comm.Sendrecv(chunks[i], dest=right, recvbuf=incoming, source=left)
        chunks[j] = chunks[j] + incoming
    for s in range(n - 1):
        i, j = (r + 1 - s) % n, (r - s) % n
        incoming = np.empty_like(chunks[j])
        comm.Sendrecv(chunks[i], dest=right, recvbuf=incoming, source=left)
        chunks[j] = incoming
    return np.concatenate(chunks)
"""
