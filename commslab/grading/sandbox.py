"""The grader's side of the probe: start it, watch it, read its JSON lines, restart past a crash.

`run_probe` starts `probe.py` in a fresh temp dir (minimal environment, stdin closed, its own
process group, stdout to /dev/null, stderr to a size-capped file), reads one JSON event per
line from a pipe, and enforces the wall-clock limits from outside:

* each cell and each call has a deadline (its own limit plus a grace period); a probe that
  misses one, or the overall budget, is killed with its whole process group;
* a probe that dies (os._exit, a signal, the CPU limit, a closed pipe) keeps every result it
  already sent; the grader then starts it again, skipping the cell that killed it, or every
  remaining call of the function that killed it, so one bad cell does not stop the rest;
* at most `max_output_bytes` are read, and a line longer than `max_line_bytes` ends the probe.

Statuses per cell and per call: "ok", "error: <Type: message>", "timed out", "memory limit",
"kernel exited (...)", "kernel died (signal ...)", "not run (...)".
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PROBE = Path(__file__).with_name("probe.py")
SANDBOXED_PACKAGES = ("comms_core", "commslab", "otter")


# Python 3.11's -P keeps the script's folder off sys.path; on 3.10 -I (isolated mode) does that
# too (it also ignores PYTHON* variables, which the probe does not read).
NO_SCRIPT_DIR = ("-P",) if sys.version_info >= (3, 11) else ("-I",)


@dataclass(frozen=True)
class Limits:
    """Time, memory and output limits for one submission's probe."""

    total_seconds: float = 120.0  # all attempts together
    cell_seconds: float = 10.0
    call_seconds: float = 5.0
    startup_seconds: float = 30.0  # Python + numpy start-up on a loaded machine
    grace_seconds: float = 2.0  # on top of a cell/call limit before the grader kills
    memory_bytes: int = 2 * 1024**3  # RLIMIT_AS
    file_bytes: int = 16 * 1024**2  # RLIMIT_FSIZE
    open_files: int = 64  # RLIMIT_NOFILE
    max_output_bytes: int = 32 * 1024**2
    max_line_bytes: int = 8 * 1024**2
    max_attempts: int = 8


@dataclass
class ProbeResult:
    """What the probe reported: a status per cell, the exported names, the calls' results."""

    cells: list[str]
    exports: dict = field(default_factory=dict)
    calls: dict[str, dict] = field(default_factory=dict)
    attempts: int = 0
    notes: list[str] = field(default_factory=list)
    started: bool = True  # False: the probe never got ready (a grader-side problem)
    printed_chars: int = 0


@dataclass
class _Attempt:
    cells: dict[int, str] = field(default_factory=dict)
    exports: dict | None = None
    calls: dict[str, dict] = field(default_factory=dict)
    finished: bool = False
    ready: bool = False
    inflight: tuple = ("setup", None)
    last_cell: int | None = None
    death: str = ""
    printed_chars: int = 0
    stderr: str = ""


def sandbox_blocked_dirs(extra: list[str | os.PathLike] = ()) -> list[str]:
    """Folders the probe may never read: the reference, the tooling, otter, their checkout.

    A package installed from a source checkout (an editable install) blocks the checkout
    too (solutions, autograder, tests); the Python installation inside it stays readable
    because the longer, allowed prefix wins.
    """
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


def _environment(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": os.path.join(workdir, ".matplotlib"),
    }


def _death(returncode: int | None) -> str:
    if returncode is None:
        return "kernel exited (closed the grader's channel)"
    if returncode < 0:
        number = -returncode
        if number == signal.SIGXCPU:
            return "timed out (CPU limit)"
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        return f"kernel died (signal {name})"
    return f"kernel exited (exit code {returncode})"


def _kill(proc: subprocess.Popen) -> None:
    """Kill the probe's process group. Only while the probe is not yet reaped: its pid (and
    group id) cannot have been reused by another process, such as a parallel probe."""
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


def _run_once(request: dict, limits: Limits, deadline: float) -> _Attempt:
    """One probe process: start, read events until done, death or a missed deadline."""
    attempt = _Attempt()
    workdir = tempfile.mkdtemp(prefix="commslab-probe-")
    read_fd = write_fd = -1
    try:
        request_path = os.path.join(workdir, "request.json")
        with open(request_path, "w", encoding="utf-8") as f:
            json.dump(request, f)
        read_fd, write_fd = os.pipe()
        stderr_path = os.path.join(workdir, ".probe-stderr")
        # read back through a handle opened now: the probe may rename, unlink or replace the
        # file (with a FIFO that would block an open) by the time we read it
        with open(stderr_path, "wb") as stderr, open(stderr_path, "rb") as stderr_back:
            proc = subprocess.Popen(
                [sys.executable, "-s", *NO_SCRIPT_DIR, str(PROBE), request_path, str(write_fd)],
                cwd=workdir,
                env=_environment(workdir),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                pass_fds=(write_fd,),
                start_new_session=True,
            )
            os.close(write_fd)
            write_fd = -1
            _read_events(proc, read_fd, attempt, request, limits, deadline)
            if not attempt.finished and not attempt.death:
                try:
                    proc.wait(timeout=limits.grace_seconds)
                    attempt.death = _death(proc.returncode)
                except subprocess.TimeoutExpired:
                    attempt.death = _death(None)
            _kill(proc)
            attempt.stderr = stderr_back.read(4000).decode("utf-8", "replace")
    finally:
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)
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
            attempt.death = "timed out"
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
            attempt.death = "kernel died (too much output on the grader's channel)"
            return
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        if len(buffer) > limits.max_line_bytes:
            _kill(proc)
            attempt.death = "kernel died (too much output on the grader's channel)"
            return
        for line in lines:  # read on to EOF: a "done" forged by the student ends nothing
            item_deadline = _handle(line, attempt, wanted_calls, limits, item_deadline)


def _handle(
    line: bytes, attempt: _Attempt, wanted_calls: set, limits: Limits, item_deadline: float
) -> float:
    """Apply one event; returns the deadline of whatever the probe is doing now."""
    try:
        event = json.loads(line)
    except ValueError:
        return item_deadline  # not ours (a student writing into the pipe): ignored
    if not isinstance(event, dict):
        return item_deadline
    now = time.monotonic()
    idle = now + limits.startup_seconds
    kind = event.get("event")
    if kind == "ready":
        attempt.ready = True
        attempt.inflight = ("idle", None)
        return idle
    if kind == "cell_start" and isinstance(event.get("index"), int):
        attempt.inflight = ("cell", event["index"])
        return now + limits.cell_seconds + limits.grace_seconds
    if kind == "cell_end" and isinstance(event.get("index"), int):
        attempt.cells.setdefault(event["index"], str(event.get("status", "error"))[:500])
        attempt.last_cell = event["index"]
        attempt.inflight = ("idle", None)
        return idle
    if kind == "exports_start":
        attempt.inflight = ("exports", None)
        return now + 10 * limits.call_seconds + limits.grace_seconds
    if kind == "exports" and isinstance(event.get("values"), dict) and attempt.exports is None:
        attempt.exports = event["values"]
        attempt.inflight = ("idle", None)
        return idle
    if kind == "call_start" and event.get("id") in wanted_calls:
        attempt.inflight = ("call", event["id"])
        return now + limits.call_seconds + limits.grace_seconds
    if kind == "call" and event.get("id") in wanted_calls:
        result = {"status": str(event.get("status", "error"))[:500]}
        if result["status"] == "ok":
            result["value"] = event.get("value")
        attempt.calls.setdefault(event["id"], result)
        attempt.inflight = ("idle", None)
        return idle
    if (
        kind == "done"
        and wanted_calls <= set(attempt.calls)
        and (attempt.exports is not None or attempt.inflight[0] == "idle")
    ):
        attempt.finished = True
        printed = event.get("printed", 0)
        attempt.printed_chars = printed if isinstance(printed, int) else 0
    return item_deadline


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
) -> ProbeResult:
    """Run the cells, export the names, make the calls; restart past whatever kills the probe.

    cells: Python sources (IPython syntax already translated), in notebook order.
    calls: [{"id", "function", "args"} or {"id", "function", "args": [], "iterate": {...}}].
    claimed: {"student_id", "track", "scenario": {name: value} | None, "problem": str}.
    labels: a name per cell for messages ("cell 12 (part1_stubs)").
    """
    deadline = time.monotonic() + limits.total_seconds
    result = ProbeResult(cells=["not run"] * len(cells))
    skip: set[int] = set()
    dead_functions: dict[str, str] = {}
    skip_exports = False
    function_of = {c["id"]: c["function"] for c in calls}
    for number in range(1, limits.max_attempts + 1):
        pending = [
            c for c in calls if c["id"] not in result.calls and c["function"] not in dead_functions
        ]
        request = {
            "cells": [
                {"code": code, "skip": i in skip, "label": labels[i] if labels else ""}
                for i, code in enumerate(cells)
            ],
            "calls": pending,
            "claimed": claimed,
            "term": term,
            "exports": [] if skip_exports else exports,
            "skip_exports": skip_exports,
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
        attempt = _run_once(request, limits, deadline)
        result.attempts = number
        result.printed_chars = max(result.printed_chars, attempt.printed_chars)
        for i, status in attempt.cells.items():
            if 0 <= i < len(cells) and i not in skip:
                result.cells[i] = status
        if attempt.exports is not None:
            result.exports = attempt.exports
        for call_id, call in attempt.calls.items():
            result.calls.setdefault(call_id, call)
        if not attempt.ready:
            result.started = False
            result.notes.append(
                "the probe did not start: "
                + (attempt.death or "?")
                + " "
                + attempt.stderr.strip()[-500:]
            )
            break
        if attempt.finished:
            break
        reason = attempt.death or "kernel died"
        kind, where = attempt.inflight
        if kind == "idle" and attempt.last_cell is not None and not attempt.calls:
            kind, where = "cell", attempt.last_cell  # died just after a cell (e.g. atexit)
        if kind == "cell":
            result.cells[where] = reason
            skip.add(where)
            result.notes.append(f"cell {where}: {reason}; restarted without it")
        elif kind == "call":
            function = function_of.get(where, "?")
            dead_functions[function] = reason
            result.notes.append(f"{function}: {reason}; its remaining calls were not run")
        elif kind == "exports":
            skip_exports = True
            result.exports = {name: {"invalid": reason} for name in exports}
            result.notes.append(f"reading LEDGER and the other answers: {reason}")
        else:
            result.notes.append(f"the probe stopped ({reason}) between steps")
            break
        if time.monotonic() >= deadline:
            result.notes.append("the time budget for this submission ran out")
            break
    for call in calls:
        if call["id"] not in result.calls:
            status = dead_functions.get(call["function"], "not run (the probe stopped)")
            result.calls[call["id"]] = {"status": status}
    return result
