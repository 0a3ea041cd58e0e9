"""The typed records grading makes once, and every output renders (commslab.grading.outputs).

    Verdict      what happened to the file: a Status kind, its detail, and the flags
                 (identity mismatch, unknown TRACK) as fields, never as string suffixes
    Failure      one failed check of a question: its name and the student-facing reason
    Question     one question's result: points, possible, failures
    BonusRun     one MPI run of the bonus (2 or 3 ranks): points, possible, verdict, messages
    Bonus        the bonus, apart from the score (extra credit): its runs, or why not graded

A GradeResult (commslab.grading.grade) carries them. Each status is made typed where it is
decided (the static read, unpack, intake, the probe's outcome, the hosted graders); nothing
parses a status or a feedback line. The only text-to-kind step is `Verdict.from_text`, for
gradebook.json rows written before the records existed (format version 1) and a literal text
given to GradeResult (tests).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Status(enum.Enum):
    """The kind of a row's status; the value is the text grades.csv shows."""

    GRADED = "graded"
    TIMED_OUT = "timed out"
    MEMORY_LIMIT = "memory limit"
    KERNEL_EXITED = "kernel exited"
    PROTOCOL_VIOLATION = "protocol violation"
    # the static read (commslab.grading.notebook.read_submission)
    EMPTY = "empty"
    NOT_A_NOTEBOOK = "not a notebook"
    CORRUPT = "corrupt notebook"
    NO_CELLS = "empty notebook (no cells)"
    # intake (commslab.grading.lms) and the hosted graders
    NO_NOTEBOOK = "no notebook submitted"
    SUPERSEDED = "superseded"
    NOT_GRADED = "not graded"
    MISSING = "missing"
    MISSING_RESULT = "missing result"
    CORRUPT_ZIP = "corrupt zip"  # commslab.grading.unpack
    CORRUPT_ZIP_MEMBER = "corrupt zip member"
    # the grader's own fault (the row is still written)
    GRADER_ERROR = "grader error"

    @property
    def ran(self) -> bool:
        """The student's code ran (its points count; identity flags apply)."""
        return self in RAN

    @property
    def not_a_submission(self) -> bool:
        """A file that is not a gradable notebook (PrairieLearn: "gradable": false)."""
        return self in UNGRADABLE


RAN = frozenset(
    {
        Status.GRADED,
        Status.TIMED_OUT,
        Status.MEMORY_LIMIT,
        Status.KERNEL_EXITED,
        Status.PROTOCOL_VIOLATION,
    }
)
UNGRADABLE = frozenset(
    {Status.EMPTY, Status.NOT_A_NOTEBOOK, Status.CORRUPT, Status.NO_CELLS, Status.NO_NOTEBOOK}
)
# never the student's gradebook row while another row of theirs was graded
NOT_THE_GRADED_ROW = frozenset({Status.SUPERSEDED, Status.NOT_GRADED, Status.NOT_A_NOTEBOOK})


@dataclass(frozen=True, eq=False)
class Verdict:
    """A row's status: kind, detail (why, for the reasons that have one) and flags."""

    kind: Status
    detail: str = ""
    identity_mismatch: bool = False
    unknown_track: bool = False

    def text(self) -> str:
        """grades.csv's `status`: "graded", "timed out (identity mismatch)", "grader error: …"."""
        text = self.kind.value
        if self.detail:
            text += (" " if self.detail.startswith("(") else ": ") + self.detail
        if self.identity_mismatch:
            text += " (identity mismatch)"
        if self.unknown_track:
            text += " (unknown TRACK)"
        return text

    def __str__(self) -> str:
        return self.text()

    def __eq__(self, other: object) -> bool:
        """Equal to another Verdict with the same fields, or to its own rendered text."""
        if isinstance(other, str):
            return self.text() == other
        if isinstance(other, Verdict):
            return (self.kind, self.detail, self.identity_mismatch, self.unknown_track) == (
                other.kind,
                other.detail,
                other.identity_mismatch,
                other.unknown_track,
            )
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.text())

    def to_dict(self) -> dict:
        return {
            "kind": self.kind.value,
            "detail": self.detail,
            "identity_mismatch": self.identity_mismatch,
            "unknown_track": self.unknown_track,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Verdict:
        return cls(
            Status(data["kind"]),
            str(data.get("detail", "")),
            bool(data.get("identity_mismatch")),
            bool(data.get("unknown_track")),
        )

    @classmethod
    def from_text(cls, text: str | None) -> Verdict:
        """The kind of a status written as text: a version-1 gradebook.json row (or a literal
        given to GradeResult). An unknown text is "not graded" with the text as its detail
        (never silently "graded")."""
        text = (text or "").strip() or Status.MISSING.value
        unknown = text.endswith(" (unknown TRACK)")
        text = text.removesuffix(" (unknown TRACK)")
        identity = text.endswith(" (identity mismatch)")
        text = text.removesuffix(" (identity mismatch)")
        if text == "kernel died":
            text = Status.KERNEL_EXITED.value
        for kind in sorted(Status, key=lambda k: -len(k.value)):
            rest = text.removeprefix(kind.value)
            if rest == text:
                continue
            if not rest or rest.startswith((": ", " (")):
                detail = rest.removeprefix(": ").removeprefix(" ")
                return cls(kind, detail, identity, unknown)
        return cls(Status.NOT_GRADED, text)  # intake's own reason not to grade a file


def coerce(status: Verdict | Status | str | dict | None) -> Verdict:
    if isinstance(status, Verdict):
        return status
    if isinstance(status, Status):
        return Verdict(status)
    if isinstance(status, dict):
        return Verdict.from_dict(status)
    return Verdict.from_text(status)


@dataclass(frozen=True)
class Failure:
    """One failed check of a question: its name and why (never a hidden value)."""

    check: str
    message: str


@dataclass(frozen=True)
class Question:
    """One question's result, as every output shows it."""

    name: str
    points: float
    possible: float
    failures: tuple[Failure, ...] = ()


@dataclass
class BonusRun:
    """One run of the MPI bonus (commslab.grading.bonus_step)."""

    ranks: int
    points: float
    possible: float
    verdict: str  # "ok", or bonus.grade_bonus_ring's status ("partial", "timeout", ...)
    messages: list[str] = field(default_factory=list)


@dataclass
class Bonus:
    """The MPI bonus: extra credit, never part of score / max_score.

    points: the mean over the runs; possible: one run's worth; graded False: MPI or the
    sandbox could not run here (`note` says why) and the row gets no points for it."""

    points: float
    possible: float
    runs: list[BonusRun] = field(default_factory=list)
    graded: bool = True
    note: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> Bonus:
        runs = [BonusRun(**r) for r in data.get("runs", [])]
        return cls(
            float(data["points"]),
            float(data["possible"]),
            runs,
            bool(data.get("graded", True)),
            str(data.get("note", "")),
        )
