"""The probe ↔ grader protocol, written down in one place.

The probe (probe.py, the student's code in its sandbox) and the grader (sandbox.py) talk over
two byte streams and nothing else:

* **request** (grader → probe, on the probe's stdin, closed after one JSON document):
  ``{"cells": [{"code": str, "skip": bool, "label": str}], "calls": [Call], "claimed": {...},
  "term": str, "exports": [str], "skip_exports": bool, "limits": {...}}``.
* **events** (probe → grader, on the probe's stdout, one JSON object per line, in this order):

  =============== ======================================== =========================================
  event           fields                                   meaning
  =============== ======================================== =========================================
  ``ready``       –                                        set-up done, student code starts now
  ``cell_start``  ``index``: int                           cell `index` starts
  ``cell_end``    ``index``: int, ``kind``, ``detail``     cell `index` ended with an Outcome
  ``exports_start`` –                                      reading LEDGER and the other answers
  ``exports``     ``values``: {name: Answer},              the answers, converted to plain JSON;
                  ``failed``: {name: {kind, detail}}       how reading a name failed, if it did
  ``call_start``  ``id``: str                              a graded call starts
  ``call``        ``id``, ``kind``, ``detail``, ``value``? its Outcome; ``value`` only when ok
  ``done``        ``printed``: int                         all work done
  =============== ======================================== =========================================

Everything on that stream may have been written by the student (their code runs in the same
process and can write to the same descriptor), so the grader trusts nothing it did not check:
`parse_event` turns one line into an `Event` or raises `ProtocolError`. The grader then treats
a violation as the end of that probe (it is killed and reaped) and the row says so. Limits:

* a line is at most `MAX_LINE_BYTES`; JSON nesting at most `MAX_DEPTH`;
* a call's value is a finite number, a (nested) list of finite numbers, or a dict of those, at
  most `MAX_NUMBERS` numbers; NaN and ±Infinity are refused wherever they appear;
* an answer (LEDGER entry, K_TRIES item) is a finite number, True/False, a string of at most
  `MAX_STRING` characters, None, a list of those, or ``{"invalid": reason}``;
* a second event for the same cell, call or export is a violation, as is an unknown event.

The probe reports data, never a verdict: the expected values never enter its process, and the
score is computed only here, in the grader, from validated data.
"""

from __future__ import annotations

import enum
import json
import math
import re
from dataclasses import dataclass
from typing import Any

MAX_LINE_BYTES = 4 * 1024**2
MAX_DEPTH = 8
MAX_NUMBERS = 200_000
MAX_STRING = 200
MAX_DETAIL = 500
MAX_NAMES = 1000


class Kind(enum.Enum):
    """How a cell or a call ended (the ``kind`` field)."""

    OK = "ok"
    ERROR = "error"  # the student's code raised
    NOT_A_NUMBER = "not a number"  # returned something that is not a finite number/array
    TIMED_OUT = "timed out"
    MEMORY_LIMIT = "memory limit"
    EXITED = "kernel exited"  # SystemExit, os._exit, a closed channel
    DIED = "kernel died"  # a signal, too much output
    NOT_RUN = "not run"
    PROTOCOL = "protocol violation"  # the probe's stream broke the protocol


@dataclass(frozen=True)
class Outcome:
    """A typed status: the kind, and a short human-readable detail."""

    kind: Kind
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.kind is Kind.OK

    def text(self) -> str:
        """One line for feedback: 'error: ValueError: ...', 'timed out', ..."""
        if not self.detail:
            return self.kind.value
        if self.kind in (Kind.ERROR, Kind.NOT_A_NUMBER):
            return f"{self.kind.value}: {self.detail}"
        return f"{self.kind.value} ({self.detail})"


# Outcomes the grader itself decides (never read from the stream).
SEVERITY = (Kind.MEMORY_LIMIT, Kind.TIMED_OUT, Kind.EXITED, Kind.DIED, Kind.PROTOCOL)


class ProtocolError(ValueError):
    """A line on the probe's stream that breaks the protocol."""


@dataclass(frozen=True)
class Event:
    name: str
    index: int | None = None
    id: str | None = None
    outcome: Outcome | None = None
    value: Any = None
    values: dict | None = None
    failed: dict[str, Outcome] | None = None
    printed: int = 0


EVENTS = (
    "ready",
    "cell_start",
    "cell_end",
    "exports_start",
    "exports",
    "call_start",
    "call",
    "done",
)
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _depth(line: bytes) -> int:
    """Maximum bracket depth of a JSON text, strings ignored (checked before parsing, so
    that a deeply nested line cannot exhaust the parser's recursion)."""
    depth = deepest = 0
    for byte in _STRING.sub(b'""', line):
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str):
    raise ProtocolError(f"{name} is not a number the grader accepts")


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and type(x) in (int, float) and math.isfinite(x)


def check_value(value: Any, depth: int = 0, count: list[int] | None = None) -> Any:
    """A call's result: finite numbers, nested lists of them, dicts of those."""
    count = count if count is not None else [0]
    if depth > MAX_DEPTH:
        raise ProtocolError("value nested too deeply")
    if _is_number(value):
        count[0] += 1
        if count[0] > MAX_NUMBERS:
            raise ProtocolError(f"value has more than {MAX_NUMBERS} numbers")
        return float(value)
    if type(value) is list:
        return [check_value(v, depth + 1, count) for v in value]
    if type(value) is dict and all(type(k) is str for k in value):
        return {k: check_value(v, depth + 1, count) for k, v in value.items()}
    raise ProtocolError(f"value of type {type(value).__name__} is not a finite number")


def check_answer(value: Any, depth: int = 0) -> Any:
    """An exported answer (LEDGER entry, K_TRIES item, a prediction)."""
    if value is None or type(value) is bool:
        return value
    if _is_number(value):
        return float(value)
    if type(value) is str:
        if len(value) > MAX_STRING:
            raise ProtocolError("answer string too long")
        return value
    if type(value) is dict and set(value) == {"invalid"} and type(value["invalid"]) is str:
        return {"invalid": value["invalid"][:MAX_DETAIL]}
    if depth < 2 and type(value) is dict and len(value) <= MAX_NAMES:
        if not all(type(k) is str and len(k) <= MAX_STRING for k in value):
            raise ProtocolError("answer keys must be short strings")
        return {k: check_answer(v, depth + 1) for k, v in value.items()}
    if depth < 2 and type(value) is list and len(value) <= MAX_NAMES:
        return [check_answer(v, depth + 1) for v in value]
    raise ProtocolError(f"answer of type {type(value).__name__} is not allowed")


def _outcome(event: dict) -> Outcome:
    try:
        kind = Kind(event.get("kind"))
    except ValueError as err:
        raise ProtocolError(f"unknown outcome kind {event.get('kind')!r}") from err
    if kind in (Kind.PROTOCOL, Kind.NOT_RUN):  # decided by the grader, never by the probe
        raise ProtocolError(f"the probe may not report {kind.value!r}")
    detail = event.get("detail", "")
    if type(detail) is not str:
        raise ProtocolError("detail must be a string")
    return Outcome(kind, detail[:MAX_DETAIL])


def _index(event: dict) -> int:
    index = event.get("index")
    if type(index) is not int or index < 0:
        raise ProtocolError("index must be a non-negative integer")
    return index


def _id(event: dict) -> str:
    call_id = event.get("id")
    if type(call_id) is not str or len(call_id) > MAX_STRING:
        raise ProtocolError("id must be a short string")
    return call_id


def parse_event(line: bytes) -> Event:
    """One line of the probe's stream as a validated Event, or ProtocolError."""
    if len(line) > MAX_LINE_BYTES:
        raise ProtocolError(f"line longer than {MAX_LINE_BYTES} bytes")
    if _depth(line) > MAX_DEPTH + 2:
        raise ProtocolError("JSON nested too deeply")
    try:
        event = json.loads(line, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as err:
        raise ProtocolError(f"not a JSON line ({type(err).__name__})") from err
    if type(event) is not dict:
        raise ProtocolError("an event must be a JSON object")
    name = event.get("event")
    if name not in EVENTS:
        raise ProtocolError(f"unknown event {str(name)[:40]!r}")
    if name in ("cell_start",):
        return Event(name, index=_index(event))
    if name == "cell_end":
        return Event(name, index=_index(event), outcome=_outcome(event))
    if name == "call_start":
        return Event(name, id=_id(event))
    if name == "call":
        outcome = _outcome(event)
        value = check_value(event["value"]) if outcome.ok and "value" in event else None
        if outcome.ok and "value" not in event:
            raise ProtocolError("an ok call must carry a value")
        return Event(name, id=_id(event), outcome=outcome, value=value)
    if name == "exports":
        values = event.get("values")
        if type(values) is not dict or len(values) > MAX_NAMES:
            raise ProtocolError("exports must be a dict of answers")
        failed = event.get("failed", {})
        if type(failed) is not dict or not all(type(v) is dict for v in failed.values()):
            raise ProtocolError("failed must be a dict of outcomes")
        return Event(
            name,
            values={str(k): check_answer(v) for k, v in values.items()},
            failed={str(k): _outcome(v) for k, v in failed.items() if k in values},
        )
    if name == "done":
        printed = event.get("printed", 0)
        return Event(name, printed=printed if type(printed) is int and printed >= 0 else 0)
    return Event(name)
