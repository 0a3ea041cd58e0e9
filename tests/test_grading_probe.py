"""The sandboxed probe, driven directly: what crosses the JSON boundary, what it refuses,
and how the grader outlives cells that loop, exit or flood it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import comms_core
from commslab.grading.sandbox import Limits, run_probe, sandbox_blocked_dirs

FAST = Limits(total_seconds=60, cell_seconds=2, call_seconds=1, grace_seconds=1.5)
CLAIMED = {
    "student_id": "s1",
    "track": "cloud_titan",
    "scenario": {"N": 1024, "alpha": 3e-6},
    "problem": "",
}
REFERENCE = Path(comms_core.__file__).parent


def probe(cells, calls=(), *, exports=("LEDGER",), limits=FAST, blocked=()):
    calls = [dict(c, id=c.get("id", f"c{i}")) for i, c in enumerate(calls)]
    return run_probe(
        list(cells),
        calls,
        claimed=CLAIMED,
        term="2026-fall",
        exports=list(exports),
        limits=limits,
        blocked_dirs=sandbox_blocked_dirs([str(p) for p in blocked]),
    )


def texts(outcomes) -> list[str]:
    return [o.text() for o in outcomes]


def answers(result) -> dict:
    return {k: (v.value if v.outcome.ok else v.outcome.text()) for k, v in result.calls.items()}


def call(function, *args, **kw):
    encoded = [{"array": a.tolist()} if isinstance(a, np.ndarray) else a for a in args]
    return {"function": function, "args": encoded, **kw}


CONVERSIONS = """
class Anything:
    def __eq__(self, other): return True
class Liar(float):
    def __eq__(self, other): return True
class Arr(np.ndarray):
    def tolist(self): return [1.0]
def anything(): return Anything()
def liar(): return Liar(2.5)
def arr(): return np.arange(3.0).view(Arr)
def flag(): return True
def text(): return "1.5"
def nothing(): pass
def nan(): return float("nan")
def phases(): return {"a": 1, "b": np.ones(2)}
def pair(): return (np.zeros(2), np.ones(2))
def ragged(): return (np.zeros(2), 3.0)
def boom(): raise ValueError("boom")
def echo(x, n): return x * n
"""


def test_only_plain_numbers_cross_the_boundary() -> None:
    names = [
        "anything",
        "liar",
        "arr",
        "flag",
        "text",
        "nothing",
        "nan",
        "phases",
        "pair",
        "ragged",
        "boom",
    ]
    calls = [call(n, id=n) for n in names]
    calls += [call("echo", np.array([1.0, 2.0]), 3, id="echo"), call("missing", id="missing")]
    result = probe([CONVERSIONS], calls)
    got = answers(result)
    assert got["anything"].startswith("not a number: anything returned a value that is a Anything")
    assert got["liar"] == 2.5  # a float subclass crosses as its float value, no __eq__ with it
    assert got["arr"] == [0.0, 1.0, 2.0]  # the array's numbers, not its tolist()
    assert "True/False" in got["flag"] and "string" in got["text"]
    assert "None" in got["nothing"] and "nan or inf" in got["nan"]
    assert got["phases"] == {"a": 1.0, "b": [1.0, 1.0]}
    assert got["pair"] == [[0.0, 0.0], [1.0, 1.0]]
    assert got["ragged"] == [[0.0, 0.0], 3.0]
    line = CONVERSIONS.splitlines().index('def boom(): raise ValueError("boom")') + 1
    assert got["boom"] == f"error: ValueError: boom (cell 0, line {line})"
    assert got["echo"] == [3.0, 6.0]  # arrays arrive as float arrays, ints as ints
    assert got["missing"] == "error: NameError: missing is not defined in your notebook"
    assert texts(result.cells) == ["ok"]


def test_the_reference_the_tests_and_the_world_are_out_of_reach(tmp_path) -> None:
    secret = tmp_path / "submissions" / "other.ipynb"
    secret.parent.mkdir()
    secret.write_text("{}")
    cells = [
        "import comms_core",
        "from comms_core.cost_models import ring_allreduce_time",
        "import comms_core as c\nc.ring_allreduce_time(1, 2, 3, 4)",
        f"open({str(REFERENCE / 'cost_models.py')!r}).read()",
        f"open({str(secret)!r}).read()",
        "import os\nos.listdir('/')",
        "import os\nos.kill(os.getppid(), 0)",
        "import subprocess\nsubprocess.run(['true'])",
        "import socket\nsocket.socket()",
        "import ctypes\nctypes.CDLL(None)",
        f"open({str(tmp_path / 'escape.txt')!r}, 'w')",
        "import os\nos.symlink('/etc/passwd', 'link')",
        "import os\nos.open('.', os.O_RDONLY)",
        "open('mine.txt', 'w').write('ok')\nMINE = open('mine.txt').read()",
        "import numpy\nNUMPY = open(numpy.__file__).read()[:10]",
        "lab.part1(scenario, 'less', globals())\ngrader.check('part1')\n"
        "import otter\notter.Notebook().check('x')\nfrom commslab import lab as L\nL.start()",
        "N = scenario.N\nLEDGER = {'n': N, 'track': scenario.track.key}",
    ]
    result = probe(cells, blocked=[secret.parent])
    s = texts(result.cells)
    assert s[0] == "ok"  # importing the stand-in is allowed; using it is not
    assert "ReferenceUseError" in s[1] and "implement it yourself" in s[1]
    assert "ReferenceUseError: calling comms_core.ring_allreduce_time is not allowed" in s[2]
    assert "SandboxError" in s[3] and "reference, autograder or submission" in s[3]
    assert "SandboxError" in s[4] and "reference, autograder or submission" in s[4]
    for status in s[5:13]:  # the hook's message, or the sandbox's own refusal
        assert status.startswith(("error: SandboxError", "error: FileNotFoundError")), status
    assert not (tmp_path / "escape.txt").exists()
    assert s[13:] == ["ok"] * 4
    assert result.exports["LEDGER"] == {"n": 1024.0, "track": "cloud_titan"}


def test_a_cell_that_loops_exits_or_floods_does_not_stop_the_rest() -> None:
    cells = [
        "def good(x):\n    return 2 * x",
        "while True:\n    pass",  # caught by the probe's own alarm
        "import os\nos._exit(3)",  # kills the probe: restarted without this cell
        "import os\nfor fd in range(3, 40):\n    try:\n        os.write(fd, b'x' * 3_000_000)\n"
        "    except OSError:\n        pass",  # floods the grader's channel: killed, restarted
        "def spin(x):\n    while True:\n        pass",
        "import sys\nsys.exit(1)",
        "print('y' * 50_000_000)",
        "LEDGER = {'after': 1}",
    ]
    calls = [
        call("good", 21, id="good"),
        call("spin", 1, id="s1"),
        call("spin", 2, id="s2"),
        call("good", 1.5, id="good2"),
    ]
    limits = Limits(
        total_seconds=60,
        cell_seconds=2,
        call_seconds=0.5,
        grace_seconds=1.5,
        max_output_bytes=2_000_000,
    )
    result = probe(cells, calls, limits=limits)
    cells = texts(result.cells)
    assert cells[0] == "ok"
    assert cells[1] == "timed out"
    assert cells[2] == "kernel exited (exit code 3)"
    assert cells[3].startswith("kernel died (too much output")
    assert cells[4:] == ["ok", "kernel exited (SystemExit)", "ok", "ok"]
    got = answers(result)
    assert got["good"] == 42.0 and got["good2"] == 3.0
    assert got["s1"] == got["s2"] == "timed out"
    assert result.exports["LEDGER"] == {"after": 1.0}
    assert result.attempts == 3
    assert result.printed_chars >= 50_000_000  # counted, not kept


def test_memory_and_forged_messages() -> None:
    cells = [
        "x = np.ones((10**6, 10**5))",
        "s = 'x' * 10**10",
        "import os\nfor fd in range(3, 40):\n    try:\n        os.write(fd, "
        'b\'{"event": "done"}\\n{"event": "call", "id": "c0", "status": "ok", '
        '"value": 99.0}\\n\')\n    except OSError:\n        pass',
        "def f():\n    return 1.0",
    ]
    result = probe(cells, [call("f", id="c0")])
    cells = texts(result.cells)
    assert cells[:2] == ["memory limit", "memory limit"]
    # a line that breaks the protocol (no outcome kind) ends the probe like a crash: the
    # cell that wrote it is skipped on restart, the rest is graded
    assert cells[2].startswith("protocol violation") and cells[3] == "ok"
    # a student can write into the grader's pipe, but cannot know the call ids (they derive
    # from the secret key), and a forged "done" does not end the probe early. Here the id is
    # known to the test: the first answer wins, and it is data the student chose anyway.
    assert answers(result)["c0"] == 1.0


def test_a_probe_that_cannot_start_is_reported(monkeypatch) -> None:
    from commslab.grading import isolation

    monkeypatch.setattr(isolation, "PROBE", Path(__file__).with_name("no_such_probe.py"))
    result = probe(["x = 1"], [call("f")])
    assert not result.started
    assert "did not start" in result.notes[0]
    assert answers(result)["c0"].startswith("not run")


def test_the_probe_runs_with_the_same_python() -> None:
    assert Path(sys.executable).exists()
    result = probe(["import sys\nLEDGER = {'v': float(sys.version_info[1])}"])
    assert result.exports["LEDGER"] == {"v": float(sys.version_info[1])}


@pytest.mark.parametrize("magic", ["%time y = 5", "%%time\ny = 5"])
def test_ipython_magics_run_their_code_once(magic) -> None:
    from commslab.grading.notebook import python_source

    result = probe([python_source(magic + "\n"), "LEDGER = {'y': y}"])
    assert result.exports["LEDGER"] == {"y": 5.0}


def test_the_probe_speaks_the_protocols_names() -> None:
    """probe.py runs alone in its sandbox (no commslab there), so it writes the protocol's
    names out: they must be protocol.py's, and every event it sends and every kind it reports
    must be one of those names (read from its source: the probe is not imported here)."""
    import ast

    from commslab.grading import protocol
    from commslab.grading.isolation import PROBE

    tree = ast.parse(PROBE.read_text(encoding="utf-8"))
    names: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):
            for target, value in zip(node.targets[0].elts, node.value.elts, strict=True):
                if isinstance(value, ast.Constant):
                    names[target.id] = value.value
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple):
            if all(isinstance(e, ast.Name) and e.id in names for e in node.value.elts):
                names[node.targets[0].id] = tuple(names[e.id] for e in node.value.elts)
    assert names["EVENTS"] == protocol.EVENTS
    assert set(names["KINDS"]) <= {k.value for k in protocol.Kind}
    sent = [
        (keyword.arg, keyword.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "send"
        for keyword in node.keywords
        if keyword.arg in ("event", "kind")
    ]
    assert {arg for arg, _ in sent} == {"event", "kind"}
    for arg, value in sent:  # a name, never a literal string
        assert isinstance(value, ast.Name), ast.unparse(value)
        if value.id in names:
            allowed = names["EVENTS"] if arg == "event" else names["KINDS"]
            assert names[value.id] in allowed, (arg, value.id)
        else:  # a variable holding a kind (from _classify)
            assert arg == "kind" and value.id == "kind", ast.unparse(value)
