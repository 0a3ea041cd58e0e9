"""Grade one notebook: static read, hidden tests around one sandboxed probe, one GradeResult.

    grade_notebook(path, term="2026-fall", student_id="1234567") -> GradeResult

The LMS identity (`student_id`, from the LMS file name or the command line) decides the
expected values: the scenario, the ledger, the seeds of the hidden inputs. The notebook's own
STUDENT_ID only decides the scenario the student's code sees in the probe; if it differs, the
row says "notebook says X, LMS says Y" and the variant-bound items (the ledger, the k of Part 2)
are graded against Y, so a notebook copied from another student loses them.

The row's status is a records.Verdict: a records.Status kind ("graded", "timed out",
"kernel exited", "memory limit", "protocol violation"; from the static read "empty", "not a
notebook", "corrupt notebook", "empty notebook (no cells)"; "grader error" for a fault on the
grader's side, the row still written), its detail, and the identity-mismatch and unknown-TRACK
flags. Per question the row keeps points, possible and the failed checks (records.Failure);
the bonus is a records.Bonus apart from the score. Every output renders these
(commslab.grading.outputs); nothing reads a rendered line back.
Grading the same file twice gives the same row: inputs are seeded, the probe is deterministic.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from comms_core.scenarios import TRACKS
from commslab.grading import bonus_step, checks, harness, notebook, sandbox
from commslab.grading.isolation import Bubblewrap
from commslab.grading.lms import Entry
from commslab.grading.protocol import SEVERITY, Kind
from commslab.grading.records import Bonus, Failure, Question, Status, Verdict, coerce


@dataclass
class GradeResult:
    """One submission's grade, typed: every output (grades.csv, gradebooks, feedback,
    results.json, review page, class report) is rendered from it by commslab.grading.outputs
    and commslab.grading.outputs_gradebooks after the late policy and the TA's scores."""

    student_id: str
    score: float
    max_score: float
    status: Verdict  # a Status or a literal text given here is made one (records.coerce)
    points: dict[str, float] = field(default_factory=dict)
    max_points: dict[str, float] = field(default_factory=dict)
    failures: dict[str, list[Failure]] = field(default_factory=dict)  # per question
    feedback: list[str] = field(default_factory=list)  # notes for the student, one per line
    written: dict[str, str] = field(default_factory=dict)
    # per written answer, why it earned no automatic point ("" if it did): for the TA review
    written_flags: dict[str, str] = field(default_factory=dict)
    # per written answer, the points it counts for (the TA's or the automatic): gradebook.finalise
    written_points: dict[str, float] = field(default_factory=dict)
    # what the class report reads: the Lock predictions and the ledger's decisions
    predictions: dict[str, str] = field(default_factory=dict)
    ledger: dict = field(default_factory=dict)
    code: dict[str, str] = field(default_factory=dict)  # the student's code cells, by label
    late_penalty: float = 0.0  # points taken off by the late policy (commslab.grading.gradebook)
    late_note: str = ""  # the late policy's sentence for this row (gradebook.finalise)
    identity_note: str = ""
    notebook_student_id: str = ""
    track: str = ""
    file: str = ""
    lms_name: str = ""  # the LMS's name for the student (Canvas file names), if known
    late: bool = False
    notes: list[str] = field(default_factory=list)
    group_members: list[str] = field(default_factory=list)  # a group submission's others
    bonus: float = 0.0  # extra credit (the MPI ring), not part of score / max_score
    bonus_max: float = 0.0  # 0: the bonus was not tried or not graded here
    bonus_run: Bonus | None = None  # the bonus's runs, or why it was not graded here
    seconds: float = 0.0  # wall time; not part of the row

    def __post_init__(self) -> None:
        self.status = coerce(self.status)
        self.failures = {
            q: [f if isinstance(f, Failure) else Failure(**f) for f in found]
            for q, found in self.failures.items()
        }
        if isinstance(self.bonus_run, dict):
            self.bonus_run = Bonus.from_dict(self.bonus_run)

    def questions(self) -> list[Question]:
        """Each question's result, in test-file order."""
        return [
            Question(q, self.points.get(q, 0.0), possible, tuple(self.failures.get(q, ())))
            for q, possible in self.max_points.items()
        ]

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["status"] = self.status.to_dict()
        return data

    def row(self) -> dict:
        """The deterministic part (what grading twice must reproduce)."""
        data = self.to_dict()
        data.pop("seconds")
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    def bound(self) -> GradeResult:
        """Cap what the row carries, in place (a crafted notebook must not make a 50 MB row):
        MAX_NOTES notes and MAX_FEEDBACK feedback lines (the last line says how many were cut),
        MAX_LINE_CHARS per line, MAX_TEXT_CHARS per written answer or code cell, MAX_CODE_CELLS
        code cells of MAX_CODE_CHARS in all, MAX_FIELD_CHARS per identity field, ledger value
        or prediction."""
        self.notes = bounded_lines(self.notes, MAX_NOTES, "notes")
        self.feedback = bounded_lines(self.feedback, MAX_FEEDBACK, "feedback lines")
        self.written = {k: _cut(v, MAX_TEXT_CHARS) for k, v in self.written.items()}
        code, left = {}, MAX_CODE_CHARS
        for k, v in list(self.code.items())[:MAX_CODE_CELLS]:
            code[k] = _cut(v, min(MAX_TEXT_CHARS, left))
            left = max(0, left - len(v))
        self.code = code
        for name in ("track", "notebook_student_id", "identity_note", "lms_name"):
            setattr(self, name, _cut(getattr(self, name), MAX_FIELD_CHARS))
        self.status = dataclasses.replace(
            self.status, detail=_cut(self.status.detail, MAX_FIELD_CHARS)
        )
        self.failures = {
            q: [Failure(f.check, _cut(f.message, MAX_LINE_CHARS)) for f in found[:MAX_FEEDBACK]]
            for q, found in self.failures.items()
        }
        self.ledger = {
            _cut(str(k), MAX_FIELD_CHARS): _cut(v, MAX_FIELD_CHARS)
            for k, v in list(self.ledger.items())[:MAX_CODE_CELLS]
        }
        self.predictions = {k: _cut(v, MAX_FIELD_CHARS) for k, v in self.predictions.items()}
        return self

    @classmethod
    def from_json(cls, text: str) -> GradeResult:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict) -> GradeResult:
        """A row as to_dict wrote it, or as gradebook.json's version 1 did (a status string,
        feedback lines with "Status:", per-question and "note: " lines: the notes are kept)."""
        names = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k in names}
        if isinstance(data.get("status"), str):  # version 1
            data["feedback"] = [
                line.removeprefix("note: ")
                for line in data.get("feedback", [])
                if line.startswith("note: ")
            ]
        return cls(**data)

    @classmethod
    def failed(
        cls,
        *,
        path: str | Path | None,
        term: str,
        student_id: str,
        status: Verdict | Status | str,
        autograder_dir: str | Path | None = None,
    ) -> GradeResult:
        """The row of a file that was not graded (superseded, unreadable zip member, a
        container that died): zero points out of the full total, and the reason."""
        try:
            max_points = question_points(autograder_dir or default_autograder_dir())
        except Exception:  # no tests to count: the row still gets written
            max_points = {}
        return cls(
            student_id=normalise_id(student_id),
            score=0.0,
            max_score=float(sum(max_points.values())),
            status=coerce(status),
            points=dict.fromkeys(max_points, 0.0),
            max_points=max_points,
            file=Path(path).name if path else "",
        )


# What one row may carry (GradeResult.bound). A written answer of 20,000 words is ~120,000
# characters; the notebook itself is at most notebook.MAX_NOTEBOOK_BYTES.
MAX_NOTES = 40
MAX_FEEDBACK = 300
MAX_LINE_CHARS = 2_000
MAX_TEXT_CHARS = 200_000
MAX_CODE_CELLS = 500
MAX_CODE_CHARS = 1_000_000  # all code cells together (the similarity report reads them)
MAX_FIELD_CHARS = 1_000  # TRACK, STUDENT_ID, a ledger value: a name or a number, not a book


def _cut(text: str, limit: int) -> str:
    if not isinstance(text, str) or len(text) <= limit:
        return text
    return f"{text[:limit]} […{len(text) - limit} more characters cut]"


def bounded_lines(lines: list[str], limit: int, what: str = "lines") -> list[str]:
    """At most `limit` lines of at most MAX_LINE_CHARS each; past the limit, the last line
    says how many were cut."""
    kept = [_cut(str(line), MAX_LINE_CHARS) for line in lines[:limit]]
    if len(lines) > limit:
        kept[-1] = f"… {len(lines) - limit + 1} more {what} cut"
    return kept


def default_autograder_dir() -> Path:
    """./autograder if it has tests (run in a course folder), else the autograder/ of the
    checkout this package runs from (an editable install). `commslab grade` uses the course
    folder's instead (commslab/course.py)."""
    here = Path("autograder")
    if (here / "tests").is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "autograder"


def normalise_id(student_id: object) -> str:
    return str(student_id or "").strip().lower()


@functools.lru_cache(maxsize=8)
def _question_points(tests_dir: str) -> tuple[tuple[str, float], ...]:
    return tuple(harness.question_points(tests_dir).items())


def question_points(autograder_dir: str | Path = "autograder") -> dict[str, float]:
    """Points possible per question, in test-file order."""
    return dict(_question_points(str(Path(autograder_dir) / "tests")))


def _scenario(track: str, term: str, student_id: str):
    """(Scenario, "") or (None, why not)."""
    from comms_core.scenarios import scenario_for

    if not track:
        return None, "TRACK is empty"
    if not student_id:
        return None, "STUDENT_ID is empty"
    try:
        return scenario_for(track, term, student_id), ""
    except ValueError as err:
        return None, str(err)


def _plain_values(scenario) -> dict:
    return {
        k: (v if isinstance(v, str | int | float) else float(v)) for k, v in scenario.values.items()
    }


_STATUS_OF_KIND = {
    Kind.MEMORY_LIMIT: Status.MEMORY_LIMIT,
    Kind.TIMED_OUT: Status.TIMED_OUT,
    Kind.EXITED: Status.KERNEL_EXITED,
    Kind.DIED: Status.KERNEL_EXITED,
    Kind.PROTOCOL: Status.PROTOCOL_VIOLATION,
}


def _status_of(probe: sandbox.ProbeResult) -> Verdict:
    """The row's status: the worst outcome of any cell, call or export."""
    if not probe.started:
        return Verdict(Status.GRADER_ERROR, "the probe did not start")
    kinds = {o.kind for o in probe.cells} | {c.outcome.kind for c in probe.calls.values()}
    kinds |= {o.kind for o in probe.deaths}
    for worst in SEVERITY:
        if worst in kinds:
            return Verdict(_STATUS_OF_KIND[worst])
    return Verdict(Status.GRADED)


def _templates(sub: notebook.Submission, autograder_dir: Path) -> dict[str, list[str]]:
    """Question text per written cell: the Markdown before it, plus written_templates.json."""
    templates = {k: [v] for k, v in sub.prompts.items() if v}
    path = autograder_dir / "written_templates.json"
    if path.exists():
        for key, texts in json.loads(path.read_text(encoding="utf-8")).items():
            templates.setdefault(key, []).extend([texts] if isinstance(texts, str) else texts)
    return templates


def grade_notebook(
    path: str | Path,
    *,
    term: str,
    student_id: str,
    autograder_dir: str | Path = Path("autograder"),
    timeout: float = 120.0,
    limits: sandbox.Limits | None = None,
    key: bytes | None = None,
    blocked_dirs: list[str] | None = None,
    launcher: sandbox.Launcher | None = None,
    bonus: bool = True,
) -> GradeResult:
    """Grade one file for the LMS identity `student_id`; never raises for a bad submission."""
    started = time.monotonic()
    path, autograder_dir = Path(path), Path(autograder_dir)
    limits = limits or sandbox.Limits(total_seconds=timeout)
    lms_id = normalise_id(student_id)
    sub = notebook.read_submission(path)
    if sub.status is not None:  # nothing to run or check: the row says why (no grader notes)
        failed = GradeResult.failed(
            path=path,
            term=term,
            student_id=lms_id,
            status=sub.status,
            autograder_dir=autograder_dir,
        )
        failed.notes = list(sub.notes)
        failed.seconds = time.monotonic() - started
        return failed
    result = _row(sub, path, lms_id)
    claimed = normalise_id(sub.student_id)
    lms_scenario, _ = _scenario(sub.track, term, lms_id)
    view = _view(sub, lms_id, term, autograder_dir)
    blocked = blocked_dirs
    if blocked is None:
        blocked = sandbox.sandbox_blocked_dirs([autograder_dir, path.parent])
    probes: list[sandbox.ProbeResult] = []
    evaluate = _evaluator(sub, claimed, term, limits, blocked, launcher, probes)
    try:
        key = key if key is not None else harness.instructor_key(autograder_dir)
        outcome = harness.run_hidden_tests(
            view,
            tests_dir=autograder_dir / "tests",
            key=key,
            scenario=lms_scenario,
            evaluate=evaluate,
        )
    except Exception as err:  # a grader fault: the row still gets written
        _grader_error(result, err, autograder_dir)
        result.seconds = time.monotonic() - started
        return result.bound()
    _fill(result, outcome, probes[0] if probes else None, sub)
    result.written_flags = {
        k: checks.written_problem(k, sub.written.get(k), view.templates.get(k, []))
        for k in notebook.WRITTEN_IDS
    }
    result.predictions = {k: str(v) for k, v in view.predictions.items() if v is not None}
    result.ledger = _plain_ledger(view.ledger)
    result.code = {c.label: c.python for c in sub.cells}
    if bonus:
        _add_bonus(result, sub, launcher or Bubblewrap(), key=key, term=term)
    result.seconds = time.monotonic() - started
    return result.bound()


def _row(sub: notebook.Submission, path: Path, lms_id: str) -> GradeResult:
    """The row of a readable notebook before grading, with its identity note."""
    result = GradeResult(
        student_id=lms_id,
        score=0.0,
        max_score=0.0,
        status=Verdict(Status.GRADED),
        file=path.name,
        written=dict(sub.written),
        track=sub.track,
        notebook_student_id=sub.student_id,
        notes=list(sub.notes),
    )
    claimed = normalise_id(sub.student_id)
    if claimed != lms_id:
        said = f"notebook says {sub.student_id!r}" if claimed else "the notebook has no STUDENT_ID"
        result.identity_note = f"{said}, LMS says {lms_id!r}"
    return result


def _view(
    sub: notebook.Submission, lms_id: str, term: str, autograder_dir: Path
) -> harness.SubmissionView:
    """What the hidden tests read of the notebook without running it."""
    return harness.SubmissionView(
        lms_id=lms_id,
        notebook_id=sub.student_id,
        track=sub.track,
        term=term,
        predictions={
            **{k: v for k, v in sub.literals.items() if k.startswith("PREDICTION_")},
            **sub.firsts,  # the Locks' recorded first predictions win over the variables
        },
        recorded=dict(sub.firsts),
        k_tries=sub.literals.get("K_TRIES"),
        written=dict(sub.written),
        templates=_templates(sub, autograder_dir),
    )


def _evaluator(
    sub: notebook.Submission,
    claimed: str,
    term: str,
    limits: sandbox.Limits,
    blocked_dirs: list[str],
    launcher: sandbox.Launcher | None,
    probes: list[sandbox.ProbeResult],
):
    """evaluate(calls) for the hidden tests: one sandboxed probe of the student's cells, in
    the scenario the notebook's own STUDENT_ID names; each probe is kept in `probes`."""
    claimed_scenario, problem = _scenario(sub.track, term, claimed)

    def evaluate(calls: list[dict]):
        probe = sandbox.run_probe(
            [c.python for c in sub.cells],
            calls,
            claimed={
                "student_id": claimed,
                "track": sub.track,
                "scenario": _plain_values(claimed_scenario) if claimed_scenario else None,
                "problem": problem,
            },
            term=term,
            exports=list(notebook.EXPORT_NAMES),
            limits=limits,
            blocked_dirs=blocked_dirs,
            labels=[c.label for c in sub.cells],
            launcher=launcher,
        )
        probes.append(probe)
        return probe.calls, probe.exports

    return evaluate


def _grader_error(result: GradeResult, err: Exception, autograder_dir: Path) -> None:
    """A fault on the grader's side: zero points out of the full total, and why."""
    result.status = Verdict(Status.GRADER_ERROR, f"{type(err).__name__}: {err}"[:300])
    try:
        result.max_points = question_points(autograder_dir)
    except Exception:  # no usable tests at all
        result.max_points = {}
    result.points = dict.fromkeys(result.max_points, 0.0)
    result.max_score = float(sum(result.max_points.values()))


def _add_bonus(
    result: GradeResult,
    sub: notebook.Submission,
    launcher: sandbox.Launcher,
    *,
    key: bytes,
    term: str,
) -> None:
    """The MPI bonus, apart from the score (None from bonus_step: not tried)."""
    tried = bonus_step.grade_bonus(sub, launcher, key=key, term=term, student_id=result.student_id)
    if tried is None:
        return
    result.bonus_run = tried
    if tried.graded:
        result.bonus, result.bonus_max = round(tried.points, 6), tried.possible
    else:
        result.notes.append(f"bonus: not graded here ({tried.note})")


def grade_entry(
    entry: Entry,
    *,
    term: str,
    autograder_dir: Path,
    timeout: float,
    key: bytes | None,
    limits: sandbox.Limits | None,
    launcher: sandbox.Launcher | None = None,
) -> GradeResult:
    """One entry's row: graded, or the reason it was not; never raises. Every entry point
    grades through here (commslab grade, grade-one, regrade, demo, and the hosted graders).
    `launcher` says where the probe runs (None: bubblewrap)."""
    try:
        if entry.status is not None or entry.path is None:
            result = GradeResult.failed(
                path=entry.path,
                term=term,
                student_id=entry.student_id,
                status=entry.status or Verdict(Status.MISSING),
                autograder_dir=autograder_dir,
            )
        else:
            result = grade_notebook(
                entry.path,
                term=term,
                student_id=_variant_id(entry),
                autograder_dir=autograder_dir,
                timeout=timeout,
                limits=limits,
                key=key,
                launcher=launcher,
            )
    except Exception as err:  # a grader fault: the row still gets written, the batch goes on
        result = GradeResult.failed(
            path=entry.path,
            term=term,
            student_id=entry.student_id,
            status=Verdict(Status.GRADER_ERROR, f"{type(err).__name__}: {err}"[:300]),
            autograder_dir=autograder_dir,
        )
    if not entry.verified and result.student_id != normalise_id(entry.student_id):
        result.identity_note = (
            f"the LMS hides who this is: graded for the notebook's STUDENT_ID {result.student_id!r}"
        )
        result.student_id = normalise_id(entry.student_id)
    result.file = entry.source
    result.lms_name = entry.name
    result.late = entry.late
    result.notes = [*entry.notes, *result.notes]
    result.bound()
    result.group_members = list(entry.group_members)
    return result


def _variant_id(entry: Entry) -> str:
    """The id the scenario is bound to: the LMS's, or the notebook's own STUDENT_ID where the
    LMS hides the student (anonymous grading), since nothing else can be checked there."""
    if entry.verified or entry.path is None:
        return entry.student_id
    return notebook.read_submission(entry.path).student_id or entry.student_id


def _plain_ledger(ledger) -> dict:
    """The LEDGER's plain entries (strings, numbers, booleans) for the class report."""
    if not isinstance(ledger, dict):
        return {}
    return {
        str(k): v
        for k, v in ledger.items()
        if isinstance(v, str | bool | int | float) and not isinstance(v, dict)
    }


def _fill(
    result: GradeResult,
    outcome: harness.HarnessResult,
    probe: sandbox.ProbeResult | None,
    sub: notebook.Submission,
) -> None:
    """Points, failures, status and notes from the hidden tests and the probe."""
    files = outcome.test_files
    result.points = {f.name: round(float(f.score), 6) for f in files}
    result.max_points = {f.name: round(float(f.possible), 6) for f in files}
    result.score = round(sum(result.points.values()), 6)
    result.max_score = round(sum(result.max_points.values()), 6)
    status = Verdict(Status.GRADED)
    if probe is not None:
        status = _status_of(probe)
        result.notes.extend(probe.notes)
    if outcome.grader_errors:
        result.notes.extend("grader: " + e for e in outcome.grader_errors)
    unknown_track = sub.ok and bool(sub.track) and sub.track not in TRACKS
    result.status = dataclasses.replace(
        status,
        identity_mismatch=bool(result.identity_note) and status.kind.ran,
        unknown_track=unknown_track,
    )
    result.failures = {
        f.name: [
            Failure(
                tcr.test_case.name,
                (tcr.message or "").removeprefix("❌ Test case failed").strip(),
            )
            for tcr in f.test_case_results
            if not tcr.passed
        ]
        for f in files
    }
    result.failures = {q: found for q, found in result.failures.items() if found}
    lines = []
    if probe is not None:
        for cell, ended in zip(sub.cells, probe.cells, strict=True):
            if not ended.ok:
                lines.append(f"{cell.label}: {ended.text()}")
    lines.extend(outcome.feedback)
    if unknown_track:
        lines.append(f"TRACK = {sub.track!r} names no track: use one of {', '.join(TRACKS)}")
    result.feedback = bounded_lines(lines, MAX_FEEDBACK, "feedback lines")
