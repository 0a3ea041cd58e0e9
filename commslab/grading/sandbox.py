"""The grader's side of the probe: start it in its sandbox, watch it, validate what it says,
restart past a crash.

`run_probe` starts `probe.py` through a launcher (isolation.Bubblewrap by default, a container
engine, or isolation.Unsandboxed when asked for by name), writes the request on its stdin, and
reads one event per line from its stdout. Every line is checked against the protocol
(protocol.py); a violation ends that probe like a crash. Wall-clock limits are enforced from
outside:

* each cell and each call has a deadline (its own limit plus a grace period); a probe that
  misses one, or the overall budget, is killed;
* a probe that dies (os._exit, a signal, the CPU limit, a closed pipe, a protocol violation)
  keeps every result it already sent; the grader then starts it again, skipping the cell that
  killed it, or every remaining call of the function that killed it;
* at most `max_output_bytes` are read.

Every path kills and reaps the probe (and, through bubblewrap's PID namespace and
--die-with-parent, everything it started). Results are typed: an `Outcome` per cell and per
call (protocol.Kind and a detail), the call's validated value, the validated exports.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from commslab.grading import isolation
from commslab.grading.protocol import MAX_LINE_BYTES, Kind, Outcome, ProtocolError, parse_event

SANDBOXED_PACKAGES = ("comms_core", "commslab", "otter")
NOT_RUN = Outcome(Kind.NOT_RUN)


class Launcher(Protocol):
    """Where student code runs: isolation.Bubblewrap, hosted.UnprivilegedUser,
    container.ContainerLauncher (or isolation.Unsandboxed, asked for by name)."""

    name: str

    def check(self) -> None: ...

    def launch(self, workdir: str, disk_bytes: int) -> isolation.Launch: ...

    def spec(self) -> str:
        """A string that `launchers.launcher_from_spec` turns back into this launcher in
        another process (the MPI bonus's ranks start their own sandboxes)."""
        ...


@dataclass(frozen=True)
class Limits:
    """Time, memory, disk and output limits for one submission's probe."""

    total_seconds: float = 120.0  # all attempts together
    cell_seconds: float = 10.0
    call_seconds: float = 5.0
    startup_seconds: float = 30.0  # Python + numpy start-up on a loaded machine
    grace_seconds: float = 2.0  # on top of a cell/call limit before the grader kills
    memory_bytes: int = 1024**3  # RLIMIT_AS (Gradescope's default container has ~768 MB-6 GB)
    file_bytes: int = 16 * 1024**2  # RLIMIT_FSIZE
    disk_bytes: int = 64 * 1024**2  # the private writable folder (tmpfs --size)
    open_files: int = 64  # RLIMIT_NOFILE
    max_output_bytes: int = 32 * 1024**2
    max_attempts: int = 8


@dataclass(frozen=True)
class CallResult:
    outcome: Outcome
    value: Any = None


@dataclass
class ProbeResult:
    """What the probe reported: an Outcome per cell, the exported names, the calls' results."""

    cells: list[Outcome]
    exports: dict = field(default_factory=dict)
    calls: dict[str, CallResult] = field(default_factory=dict)
    attempts: int = 0
    notes: list[str] = field(default_factory=list)
    started: bool = True  # False: the probe never got ready (a grader-side problem)
    printed_chars: int = 0
    deaths: list[Outcome] = field(default_factory=list)  # attempts that died, exports that failed


@dataclass
class _Attempt:
    cells: dict[int, Outcome] = field(default_factory=dict)
    exports: dict | None = None
    export_outcomes: list[Outcome] = field(default_factory=list)
    calls: dict[str, CallResult] = field(default_factory=dict)
    finished: bool = False
    ready: bool = False
    inflight: tuple = ("setup", None)
    last_cell: int | None = None
    death: Outcome | None = None
    printed_chars: int = 0
    stderr: str = ""


def sandbox_blocked_dirs(extra: Sequence[str | os.PathLike] = ()) -> list[str]:
    """Folders the probe's audit hook names as refused (a friendly message in the unsafe
    mode; in the sandbox they are not there at all): the reference, the tooling, otter."""
    blocked: set[str] = {os.path.realpath(p) for p in extra}
    for name in SANDBOXED_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            real = os.path.realpath(location)
            blocked.add(real)
            parent = os.path.dirname(real)
            if not parent.rstrip("/").endswith(("site-packages", "dist-packages")):
                blocked.add(parent)
    return sorted(blocked)


def _death(returncode: int | None) -> Outcome:
    if returncode is None:
        return Outcome(Kind.EXITED, "closed the grader's channel")
    if returncode < 0:
        number = -returncode
        if number == signal.SIGXCPU:
            return Outcome(Kind.TIMED_OUT, "CPU limit")
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        return Outcome(Kind.DIED, f"signal {name}")
    if returncode in (128 + signal.SIGKILL, 128 + signal.SIGXCPU):  # reported by bwrap's init
        return _death(128 - returncode)
    return Outcome(Kind.EXITED, f"exit code {returncode}")


def _kill(proc: subprocess.Popen) -> None:
    """Kill the probe's process group and reap it. Only while the probe is not yet reaped:
    its pid (and group id) cannot have been reused by another process."""
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _write_request(proc: subprocess.Popen, data: bytes) -> None:
    assert proc.stdin is not None  # Popen(stdin=PIPE)
    try:
        proc.stdin.write(data)
    except (BrokenPipeError, OSError, ValueError):
        pass  # the probe died before reading: its death is reported by the reader
    finally:
        try:
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass


def _run_once(request: dict, limits: Limits, deadline: float, launcher: Launcher) -> _Attempt:
    """One probe process: start, read events until done, death or a missed deadline."""
    attempt = _Attempt()
    workdir = tempfile.mkdtemp(prefix="commslab-probe-")
    try:
        launch = launcher.launch(workdir, limits.disk_bytes)
        stderr_path = os.path.join(workdir, "probe-stderr")
        with open(stderr_path, "w+b") as stderr:
            proc = subprocess.Popen(
                launch.argv,
                cwd=launch.cwd or workdir,
                env=launch.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            )
            writer = threading.Thread(
                target=_write_request, args=(proc, json.dumps(request).encode()), daemon=True
            )
            writer.start()
            assert proc.stdout is not None  # Popen(stdout=PIPE)
            try:
                _read_events(proc, proc.stdout.fileno(), attempt, request, limits, deadline)
                if not attempt.finished and attempt.death is None:
                    try:
                        proc.wait(timeout=limits.grace_seconds)
                        attempt.death = _death(proc.returncode)
                    except subprocess.TimeoutExpired:
                        attempt.death = _death(None)
            finally:
                _kill(proc)
                proc.stdout.close()
                writer.join(timeout=10)
                if launch.cleanup is not None:
                    launch.cleanup()
            stderr.seek(0)
            attempt.stderr = stderr.read(4000).decode("utf-8", "replace")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return attempt


def _read_events(
    proc, fd: int, attempt: _Attempt, request: dict, limits: Limits, deadline: float
) -> None:
    wanted_calls = {c["id"] for c in request["calls"]}
    buffer, total = b"", 0
    item_deadline = time.monotonic() + limits.startup_seconds
    while True:
        now = time.monotonic()
        wait = min(item_deadline, deadline) - now
        if wait <= 0:
            _kill(proc)
            attempt.death = Outcome(Kind.TIMED_OUT)
            return
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return  # the probe closed the pipe: finished, exited or died
        total += len(chunk)
        if total > limits.max_output_bytes:
            _kill(proc)
            attempt.death = Outcome(Kind.DIED, "too much output on the grader's channel")
            return
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        if len(buffer) > MAX_LINE_BYTES:
            lines.append(buffer)  # an over-long line: parse_event refuses it
            buffer = b""
        for line in lines:  # read on to EOF: a "done" forged by the student ends nothing
            try:
                event = parse_event(line)
                item_deadline = _handle(event, attempt, wanted_calls, limits, item_deadline)
            except ProtocolError as err:
                _kill(proc)
                attempt.death = Outcome(Kind.PROTOCOL, str(err))
                return


def _handle(
    event, attempt: _Attempt, wanted_calls: set, limits: Limits, item_deadline: float
) -> float:
    """Apply one validated event; returns the deadline of whatever the probe is doing now."""
    now = time.monotonic()
    idle = now + limits.startup_seconds
    name = event.name
    if name == "ready":
        if attempt.ready:
            raise ProtocolError("a second 'ready'")
        attempt.ready = True
        attempt.inflight = ("idle", None)
        return idle
    if not attempt.ready:
        raise ProtocolError(f"{name!r} before 'ready'")
    if name == "cell_start":
        attempt.inflight = ("cell", event.index)
        return now + limits.cell_seconds + limits.grace_seconds
    if name == "cell_end":
        if event.index in attempt.cells:
            raise ProtocolError(f"a second result for cell {event.index}")
        attempt.cells[event.index] = event.outcome
        attempt.last_cell = event.index
        attempt.inflight = ("idle", None)
        return idle
    if name == "exports_start":
        attempt.inflight = ("exports", None)
        return now + 10 * limits.call_seconds + limits.grace_seconds
    if name == "exports":
        if attempt.exports is not None:
            raise ProtocolError("a second 'exports'")
        attempt.exports = event.values
        attempt.export_outcomes = list(event.failed.values())
        attempt.inflight = ("idle", None)
        return idle
    if name in ("call_start", "call") and event.id not in wanted_calls:
        raise ProtocolError("a call the grader did not ask for")
    if name == "call_start":
        attempt.inflight = ("call", event.id)
        return now + limits.call_seconds + limits.grace_seconds
    if name == "call":
        if event.id in attempt.calls:
            raise ProtocolError("a second answer to the same call")
        attempt.calls[event.id] = CallResult(event.outcome, event.value)
        attempt.inflight = ("idle", None)
        return idle
    if (
        name == "done"
        and wanted_calls <= set(attempt.calls)
        and (attempt.exports is not None or attempt.inflight[0] == "idle")
    ):
        attempt.finished = True
        attempt.printed_chars = event.printed
    return item_deadline


@dataclass
class _Retry:
    """What the next attempt leaves out: the cells that killed the probe, the functions one
    of whose calls did, and the exports if reading them did."""

    skip: set[int] = field(default_factory=set)
    dead_functions: dict[str, Outcome] = field(default_factory=dict)
    skip_exports: bool = False


def run_probe(
    cells: list[str],
    calls: list[dict],
    *,
    claimed: dict,
    term: str,
    exports: list[str],
    blocked_dirs: list[str],
    limits: Limits = Limits(),
    labels: list[str] | None = None,
    launcher: Launcher | None = None,
) -> ProbeResult:
    """Run the cells, export the names, make the calls; restart past whatever kills the probe.

    cells: Python sources (IPython syntax already translated), in notebook order.
    calls: [{"id", "function", "args"} or {"id", "function", "args": [], "iterate": {...}}].
    claimed: {"student_id", "track", "scenario": {name: value} | None, "problem": str}.
    labels: a name per cell for messages ("cell 12 (part1_stubs)").
    launcher: where the probe runs (default: the bubblewrap sandbox).
    """
    launcher = launcher or isolation.Bubblewrap()
    deadline = time.monotonic() + limits.total_seconds
    result = ProbeResult(cells=[NOT_RUN] * len(cells))
    retry = _Retry()
    fixed = {
        "claimed": claimed,
        "term": term,
        "blocked_dirs": blocked_dirs,
        "limits": {
            "cell_seconds": limits.cell_seconds,
            "call_seconds": limits.call_seconds,
            "memory_bytes": limits.memory_bytes,
            "file_bytes": limits.file_bytes,
            "open_files": limits.open_files,
            "cpu_seconds": int(limits.total_seconds) + 5,
        },
    }
    for number in range(1, limits.max_attempts + 1):
        request = {**fixed, **_attempt_request(cells, calls, labels, exports, result, retry)}
        attempt = _run_once(request, limits, deadline, launcher)
        result.attempts = number
        _take(result, attempt, retry, len(cells))
        if not attempt.ready:
            result.started = False
            why = attempt.death.text() if attempt.death else "?"
            result.notes.append(f"the probe did not start: {why} {attempt.stderr.strip()[-500:]}")
            break
        if attempt.finished or not _leave_out(result, attempt, retry, calls, exports):
            break
        if time.monotonic() >= deadline:
            result.notes.append("the time budget for this submission ran out")
            break
    for call in calls:
        if call["id"] not in result.calls:
            stopped = Outcome(Kind.NOT_RUN, "the probe stopped")
            outcome = retry.dead_functions.get(call["function"], stopped)
            result.calls[call["id"]] = CallResult(outcome)
    return result


def _attempt_request(
    cells: list[str],
    calls: list[dict],
    labels: list[str] | None,
    exports: list[str],
    result: ProbeResult,
    retry: _Retry,
) -> dict:
    """The part of the probe's request that changes between attempts: what is left to do."""
    pending = [
        c
        for c in calls
        if c["id"] not in result.calls and c["function"] not in retry.dead_functions
    ]
    return {
        "cells": [
            {"code": code, "skip": i in retry.skip, "label": labels[i] if labels else ""}
            for i, code in enumerate(cells)
        ],
        "calls": pending,
        "exports": [] if retry.skip_exports else exports,
        "skip_exports": retry.skip_exports,
    }


def _take(result: ProbeResult, attempt: _Attempt, retry: _Retry, n_cells: int) -> None:
    """What one attempt reported, into the result (the first answer to a call stands)."""
    result.printed_chars = max(result.printed_chars, attempt.printed_chars)
    for i, outcome in attempt.cells.items():
        if 0 <= i < n_cells and i not in retry.skip:
            result.cells[i] = outcome
    if attempt.exports is not None:
        result.exports = attempt.exports
        result.deaths.extend(attempt.export_outcomes)
    for call_id, called in attempt.calls.items():
        result.calls.setdefault(call_id, called)


def _leave_out(
    result: ProbeResult, attempt: _Attempt, retry: _Retry, calls: list[dict], exports: list[str]
) -> bool:
    """The attempt died: note why and leave out what it was doing (a cell, a function, the
    exports). False if it died between steps (nothing to leave out: no restart)."""
    reason = attempt.death or Outcome(Kind.DIED)
    result.deaths.append(reason)
    kind, where = attempt.inflight
    if kind == "idle" and attempt.last_cell is not None and not attempt.calls:
        kind, where = "cell", attempt.last_cell  # died just after a cell (e.g. atexit)
    if kind == "cell":
        result.cells[where] = reason
        retry.skip.add(where)
        result.notes.append(f"cell {where}: {reason.text()}; restarted without it")
    elif kind == "call":
        function = {c["id"]: c["function"] for c in calls}.get(where, "?")
        retry.dead_functions[function] = reason
        result.notes.append(f"{function}: {reason.text()}; its remaining calls were not run")
    elif kind == "exports":
        retry.skip_exports = True
        result.exports = {name: {"invalid": reason.text()} for name in exports}
        result.notes.append(f"reading LEDGER and the other answers: {reason.text()}")
    else:
        result.notes.append(f"the probe stopped ({reason.text()}) between steps")
        return False
    return True
