"""The hidden otter tests, run in the grader in two passes around one probe.

The test files in autograder/tests/ are otter exception-based test files (OK_FORMAT = False,
`name`, `@test_case(points=..., hidden=True)`). Their functions ask otter's env for:

    student     a proxy: student.ring_allreduce_time(M, N, alpha, beta), student.iterate(...)
    cases       cases("label") -> numpy Generator seeded by sha256(key, term, LMS id, test, label)
    scenario    comms_core Scenario of the LMS identity (None if TRACK is not a track)
    submission  SubmissionView: the static read and the probe's LEDGER, K_TRIES, predictions
    feedback    Feedback: feedback.note("...") adds a line to the student's feedback

1. record pass: `student` returns Pending placeholders and remembers each call (the checks
   return at once on Pending, so a whole loop of calls is recorded); results are ignored;
2. the probe evaluates every recorded call in one sandboxed process;
3. replay pass: the same tests, the same seeds, now with the probe's plain JSON results;
   otter's ExceptionTestFile.run computes the points; GradingResults gives results.json.

A failed call (exception, time-out, not a number) raises StudentCallError in the test, which
fails that test case with the reason. Messages never include the test's source line.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from commslab.grading.checks import CheckFailed, Pending
from commslab.grading.notebook import parse_python
from commslab.grading.protocol import Kind, Outcome

KEY_FILE = "instructor.key"
KEY_ENV = "COMMSLAB_GRADING_KEY"


class StudentCallError(Exception):
    """A call of the student's function did not give a plain number (the reason is shown)."""


class GraderError(Exception):
    """A problem in the grader or a hidden test, not in the submission."""


# --- the per-term secret ------------------------------------------------------------------


def instructor_key(autograder_dir: str | Path, *, create: bool = True) -> bytes:
    """The secret that seeds the hidden tests' inputs: $COMMSLAB_GRADING_KEY, else
    autograder/instructor.key (created with 32 random bytes, mode 0600, if missing).

    Keep the file out of version control and out of release/; the container needs it.
    """
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV].strip().encode()
    path = Path(autograder_dir) / KEY_FILE
    if not path.exists():
        if not create:
            raise GraderError(f"{path} is missing: the hidden tests need the instructor key")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip().encode()


class Cases:
    """Seeded input generators: the same (key, term, LMS id, test, label) gives the same draws."""

    def __init__(self, key: bytes, term: str, student_id: str, test: str) -> None:
        self._prefix = b"|".join(
            [
                b"comms-lab-cases",
                key,
                term.strip().lower().encode(),
                student_id.strip().lower().encode(),
                test.encode(),
            ]
        )

    def __call__(self, label: str = "") -> np.random.Generator:
        digest = hashlib.sha256(self._prefix + b"|" + label.encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:16], "big"))


# --- the student proxy ----------------------------------------------------------------------


def encode_argument(value):
    """A test's argument as JSON: numbers stay numbers, arrays become {"array": nested list}."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, np.ndarray | list | tuple):
        return {"array": np.asarray(value, dtype=float).tolist()}
    raise GraderError(f"cannot send {type(value).__name__} to the probe")


def decode_result(value):
    """The probe's plain JSON as floats and float arrays (ragged lists stay lists)."""
    if isinstance(value, dict):
        return {k: decode_result(v) for k, v in value.items()}
    if isinstance(value, list):
        try:
            return np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            return [decode_result(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise GraderError(f"unexpected value from the probe: {type(value).__name__}")


def _call_spec(function: str, args: list, iterate: dict | None = None) -> dict:
    spec: dict[str, object] = {"function": function, "args": args}
    if iterate is not None:
        spec["iterate"] = iterate
    key = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    spec["id"] = hashlib.sha256(key.encode()).hexdigest()[:20]
    return spec


def _reason(function: str, outcome: Outcome) -> str:
    """Why a call has no value, for the student's feedback."""
    if outcome.kind is Kind.ERROR:
        if outcome.detail.startswith("NameError: ") and "not defined in your notebook" in (
            outcome.detail
        ):
            return outcome.detail.removeprefix("NameError: ")
        return f"{function} raised {outcome.detail}"
    if outcome.kind is Kind.NOT_A_NUMBER:
        return outcome.detail
    if outcome.kind is Kind.TIMED_OUT:
        return f"{function} did not finish in time (an endless loop?)"
    return f"{function} could not be run: {outcome.text()}"


class StudentProxy:
    """`student` in the tests: records calls (results=None) or returns the probe's results."""

    def __init__(self, results: dict | None = None) -> None:
        self._results = results
        self.calls: dict[str, dict] = {}

    def __getattr__(self, function: str) -> Callable:
        if function.startswith("_"):
            raise AttributeError(function)

        def call(*args):
            return self._resolve(_call_spec(function, [encode_argument(a) for a in args]))

        return call

    def iterate(self, function: str, steps: list[tuple], *, carry: tuple[int, int], initial):
        """function(*steps[t]) for each t, argument carry[0] replaced by output[carry[1]] of
        the previous step (initial at the start): a run of a state-carrying function such
        as error_feedback_step. Returns the list of outputs."""
        iterate = {
            "steps": [[encode_argument(a) for a in step] for step in steps],
            "carry": list(carry),
            "initial": encode_argument(initial),
        }
        spec = _call_spec(function, [], iterate)
        if self._results is None:
            self.calls.setdefault(spec["id"], spec)
            return [Pending() for _ in steps]
        outputs = self._resolve(spec, decode=False)
        return [decode_result(out) for out in outputs]

    def _resolve(self, spec: dict, decode: bool = True):
        if self._results is None:
            self.calls.setdefault(spec["id"], spec)
            return Pending()
        result = self._results.get(spec["id"])
        if result is None:
            raise GraderError(f"the call {spec['function']} was not recorded in the first pass")
        if not result.outcome.ok:
            raise StudentCallError(_reason(spec["function"], result.outcome))
        return decode_result(result.value) if decode else result.value


# --- what the tests see of the submission -----------------------------------------------------


@dataclass
class SubmissionView:
    """The static read plus the probe's exports (LEDGER is None until the probe ran)."""

    lms_id: str
    notebook_id: str
    track: str
    term: str
    predictions: dict[str, object] = field(default_factory=dict)
    recorded: dict[str, str] = field(default_factory=dict)  # Locks' first predictions, saved
    k_tries: object = None
    ledger: dict | None = None
    written: dict[str, str] = field(default_factory=dict)
    templates: dict[str, list[str]] = field(default_factory=dict)


class Feedback:
    """`feedback` in the tests: notes for the student (kept only from the replay pass)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, text: str) -> None:
        self.lines.append(text)


# --- loading and running the test files -------------------------------------------------------


def _test_file_class():
    from otter.test_files.exception_test import ExceptionTestFile

    class HiddenTestFile(ExceptionTestFile):
        """otter's exception test file, with messages that never quote the test's source."""

        grader_errors: list

        def _generate_error_message(self, excp: Exception, context: int = 0) -> str:
            if isinstance(excp, CheckFailed | StudentCallError):
                return str(excp)
            self.grader_errors.append(f"{self.name}: {type(excp).__name__}: {excp}")
            return "the grader could not check this (reported to the instructor)"

    return HiddenTestFile


def _constant(source: str, name: str):
    """A module-level `name = <literal>` in a test file, without executing it."""
    for node in parse_python(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None


def load_test_files(tests_dir: str | Path, track: str) -> list:
    """The hidden test files for a track, sorted by file name (their `track`, if any,
    must match; an unknown track gets the first track's files, which then fail)."""
    from comms_core.scenarios import TRACKS

    if track not in TRACKS:
        track = next(iter(TRACKS))
    cls = _test_file_class()
    files = []
    for path in sorted(Path(tests_dir).glob("*.py")):
        source = path.read_text(encoding="utf-8")
        file_track = _constant(source, "track")
        if file_track is not None and file_track != track:
            continue
        test_file = cls.from_string(source, path=str(path))
        test_file.grader_errors = []
        files.append(test_file)
    if not files:
        raise GraderError(f"no hidden tests in {tests_dir}")
    return files


def question_points(tests_dir: str | Path) -> dict[str, float]:
    """Points possible per question (test file `name`), the same for every track."""
    from comms_core.scenarios import TRACKS

    points: dict[str, float] = {}
    for track in TRACKS:
        for test_file in load_test_files(tests_dir, track):
            previous = points.setdefault(test_file.name, round(test_file.possible, 6))
            if abs(previous - test_file.possible) > 1e-9:
                raise GraderError(
                    f"{test_file.name} is worth {previous} for one track and "
                    f"{test_file.possible} for another"
                )
    return points


@dataclass
class HarnessResult:
    test_files: list
    feedback: list[str]
    grader_errors: list[str]
    calls: int


def run_hidden_tests(
    view: SubmissionView,
    *,
    tests_dir: str | Path,
    key: bytes,
    scenario,
    evaluate: Callable[[list[dict]], tuple[dict[str, dict], dict]],
) -> HarnessResult:
    """Record, evaluate (the probe), replay. evaluate(calls) -> (results by id, exports)."""
    files = load_test_files(tests_dir, view.track)

    def env(test_file, student, feedback):
        return {
            "student": student,
            "cases": Cases(key, view.term, view.lms_id, test_file.name),
            "scenario": scenario,
            "submission": view,
            "feedback": feedback,
        }

    recorder = StudentProxy()
    for test_file in files:
        test_file.run(env(test_file, recorder, Feedback()))
        test_file.grader_errors.clear()  # placeholders make the record pass fail: ignored
    results, exports = evaluate(list(recorder.calls.values()))
    _apply_exports(view, exports)
    replay, feedback = StudentProxy(results), Feedback()
    for test_file in files:
        test_file.run(env(test_file, replay, feedback))
    errors = [e for f in files for e in f.grader_errors]
    return HarnessResult(files, feedback.lines, errors, len(recorder.calls))


def _apply_exports(view: SubmissionView, exports: dict) -> None:
    ledger = exports.get("LEDGER")
    view.ledger = ledger if isinstance(ledger, dict) else None
    if isinstance(exports.get("K_TRIES"), list):
        view.k_tries = exports["K_TRIES"]
    for name, value in exports.items():
        if name.startswith("PREDICTION_") and isinstance(value, str) and name not in view.recorded:
            view.predictions[name] = value  # a Lock's recorded first prediction stays
