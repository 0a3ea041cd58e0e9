"""The adversarial corpus: broken and cheating submissions, each one change away from an honest
notebook (its baseline), with what the grader must say about it.

Every case is graded in one parallel batch (tests/test_grading_adversarial.py) and must give:
a row, the expected status, and a score NOT above its honest baseline (the same notebook with
the tampering removed). Cases whose baseline is the untouched release must score 0: calling the
reference, patching numpy or otter, or returning objects that "equal anything" earns nothing.

    build_corpus(folder, context) -> {name: Case}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from adversarial import notebooks as nbs

STUDENT = "2468013"


@dataclass
class Case:
    name: str
    base: str  # "buggy", "untouched", "solved": the honest baseline
    status: str  # the expected status ("a|b": either; "a*": starts with a)
    build: Callable[[dict], object]  # context -> notebook node, or bytes for a raw file
    zero: tuple[str, ...] = ()  # questions that must score 0
    slow: bool = False  # needs a time-out or a restart
    why: str = ""
    path: Path | None = field(default=None, repr=False)

    def status_ok(self, status: str) -> bool:
        """`status` matches: "a|b" means either, a trailing "*" means "starts with"."""
        status = str(status)  # a records.Verdict matches on its rendered text
        for expected in self.status.split("|"):
            if expected.endswith("*") and status.startswith(expected[:-1]):
                return True
            if status == expected:
                return True
        return False


def _extra(base: str, *sources: str, position: int = 18):
    """The base notebook with student-added cells (no nbgrader metadata) at `position`."""

    def build(ctx):
        maker = {"buggy": nbs.buggy_notebook, "solved": nbs.solved_notebook}.get(base)
        extra = [(position, s.format(**ctx)) for s in sources]
        if maker is None:
            return nbs.untouched_notebook(extra=extra)
        return maker(STUDENT, extra=extra)

    return build


def _replace(base: str, **cells: str):
    def build(ctx):
        replace = {k: v.format(**ctx) for k, v in cells.items()}
        if base == "untouched":
            return nbs.untouched_notebook(replace=replace)
        return {"buggy": nbs.buggy_notebook, "solved": nbs.solved_notebook}[base](
            STUDENT, replace=replace
        )

    return build


PART1_NAMES = ("ring_allreduce_time", "tree_allreduce_time", "crossover_message_size")
PART1 = PART1_NAMES


def _part1(body: str, header: str = "") -> str:
    """The three Part 1 functions, each with `body` ({name} is the function's name)."""
    signature = {
        "ring_allreduce_time": "M, N, alpha, beta",
        "tree_allreduce_time": "M, N, alpha, beta",
        "crossover_message_size": "N, alpha, beta",
    }
    functions = [f"def {n}({signature[n]}):\n    {body.replace('NAME', n)}\n" for n in PART1]
    return header + "\n\n".join(functions)


ANYTHING = "class Anything:\n    def __eq__(self, other): return True\n    def __ne__(self, other): return False\n    def __lt__(self, other): return False\n    __le__ = __ge__ = __eq__\n    def __abs__(self): return 0.0\n    def __sub__(self, other): return 0.0\n    __rsub__ = __sub__\n\n\n"  # noqa: E501
LIAR = "class Liar(float):\n    def __eq__(self, other): return True\n    def __abs__(self): return Liar(0.0)\n    def __sub__(self, other): return Liar(0.0)\n    __rsub__ = __sub__\n\n\n"  # noqa: E501


def _raw(data: bytes):
    return lambda ctx: data


def _nbformat3(ctx):
    return json.dumps(
        {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}
    ).encode()


def _no_cells(ctx):
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}).encode()


def _huge_outputs(ctx):
    nb = nbs.buggy_notebook(STUDENT)
    nb.cells[6].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 40_000_000)]
    return nb


CASES = [
    # --- tampering with the checking machinery: nothing to tamper with in the grader -----
    Case(
        "monkeypatch_numpy",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "np.isclose = lambda *a, **k: True\nnp.allclose = lambda *a, **k: True\n"
            "np.testing.assert_allclose = lambda *a, **k: None\nimport math\n"
            "math.isclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True",
        ),
        why="the one-liner that passes otter's and nbgrader's in-kernel tests",
    ),
    Case(
        "monkeypatch_numpy_untouched",
        "untouched",
        "graded (identity mismatch)",
        _extra(
            "untouched",
            "np.isclose = lambda *a, **k: True\nnp.allclose = lambda *a, **k: True\n"
            "import math\nmath.isclose = lambda *a, **k: True",
        ),
    ),
    Case(
        "patched_builtins",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "import builtins\nbuiltins.abs = lambda x: 0\n"
            "builtins.float = lambda *a: 0.0\nbuiltins.isinstance = lambda *a: True\n"
            "builtins.len = lambda x: 0",
            position=24,
        ),
    ),
    Case(
        "patched_real_builtins",
        "buggy",
        "graded|kernel exited",
        _extra(
            "buggy",
            "real = np.__builtins__\nreal['isinstance'] = lambda *a: True\n"
            "real['len'] = lambda x: 0\nreal['float'] = lambda *a: 0.0",
            position=24,
        ),
        why="the real builtins dict is reachable through any module: the probe's own code "
        "does not look names up there",
    ),
    Case(
        "monkeypatch_numpy_conversion",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "np.asarray = lambda *a, **k: np.zeros(1)\nnp.array = np.asarray\n"
            "np.isfinite = lambda *a, **k: True\nimport json\n"
            'json.dumps = lambda *a, **k: \'{{"event": "done"}}\'',
            position=24,
        ),
    ),
    Case(
        "patched_otter",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "import otter\notter.Notebook.check = lambda *a, **k: True\n"
            "grader.check = lambda *a, **k: True\ngrader.check_all = lambda *a: True\n"
            "import otter.test_files",
        ),
    ),
    Case(
        "patched_doctest_unittest",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "import doctest\ndoctest.OutputChecker.check_output = lambda *a, **k: True\n"
            "import unittest\nunittest.TestCase.assertEqual = lambda *a, **k: None\n"
            "unittest.TestCase.assertAlmostEqual = lambda *a, **k: None",
        ),
    ),
    Case(
        "probe_tamper",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "import sys\nmain = sys.modules['__main__']\n"
            "for name in dir(main):\n    if name.startswith(('_plain', '_number', '_export')):\n"
            "        setattr(main, name, lambda *a, **k: 1.0)",
            position=24,
        ),
    ),
    Case(
        "forged_results",
        "buggy",
        "protocol violation",
        _extra(
            "buggy",
            "import os\nfor fd in range(3, 64):\n    try:\n"
            '        os.write(fd, b\'{{"event": "done"}}\\n{{"event": "call", "id": "x", '
            '"status": "ok", "value": 1.0}}\\n\')\n    except OSError:\n        pass',
        ),
    ),
    Case(
        "settrace_and_code_swap",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "import sys\ntry:\n    sys.settrace(lambda *a: None)\nexcept Exception:\n"
            "    pass\ndef f(): return 1\nf.__code__ = (lambda: 2).__code__",
        ),
    ),
    # --- objects that "equal anything", and values that are not numbers ---------------------
    Case(
        "equals_anything",
        "untouched",
        "graded (identity mismatch)",
        _replace("untouched", part1_stubs=_part1("return Anything()", ANYTHING)),
        zero=PART1_NAMES,
    ),
    Case(
        "float_subclass_liar",
        "untouched",
        "graded (identity mismatch)",
        _replace("untouched", part1_stubs=_part1("return Liar(0.0)", LIAR)),
        zero=PART1_NAMES,
    ),
    Case(
        "array_subclass_liar",
        "untouched",
        "graded (identity mismatch)",
        _replace(
            "untouched",
            part1_stubs=_part1(
                "return LiarArray(np.zeros(np.shape(N if 'NAME' == 'crossover_message_size' "
                "else M)))",
                "class LiarArray(np.ndarray):\n    def __new__(cls, a):\n"
                "        return np.asarray(a).view(cls)\n    def __eq__(self, o):\n"
                "        return np.ones(self.shape, bool)\n    def tolist(self):\n"
                "        return [1.0] * self.size\n\n\n",
            ),
        ),
        zero=PART1_NAMES,
    ),
    Case(
        "strings_and_bools",
        "untouched",
        "graded (identity mismatch)",
        _replace(
            "untouched", part1_stubs=_part1("return 'close enough' if 'NAME' < 's' else True")
        ),
        zero=PART1_NAMES,
    ),
    Case(
        "ledger_objects",
        "buggy",
        "graded",
        _extra("buggy", ANYTHING + "LEDGER = {{k: Anything() for k in LEDGER}}", position=22),
        zero=("ledger",),
    ),
    # --- calling the reference instead of implementing it -------------------------------------
    Case(
        "delegate_from_import",
        "untouched",
        "graded (identity mismatch)",
        _replace(
            "untouched",
            part1_stubs="from comms_core import ring_allreduce_time, "
            "tree_allreduce_time, crossover_message_size\n",
        ),
        zero=PART1_NAMES,
    ),
    Case(
        "delegate_in_body",
        "untouched",
        "graded (identity mismatch)",
        _replace(
            "untouched",
            part1_stubs=_part1(
                "return comms_core.cost_models.NAME(*locals().values())", "import comms_core\n\n"
            ),
        ),
        zero=PART1_NAMES,
    ),
    Case(
        "delegate_importlib",
        "untouched",
        "graded (identity mismatch)",
        _replace(
            "untouched",
            part1_stubs=_part1(
                "return importlib.import_module('comms_core.cost_models').NAME(*locals().values())",
                "import importlib\n\n",
            ),
        ),
        zero=PART1_NAMES,
    ),
    Case(
        "delegate_spec_from_file",
        "untouched",
        "graded (identity mismatch)",
        _replace(
            "untouched",
            part1_stubs="import importlib.util\n"
            "spec = importlib.util.spec_from_file_location('cm', '{comms_core}/cost_models.py')\n"
            "cm = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(cm)\n"
            "ring_allreduce_time = cm.ring_allreduce_time\ntree_allreduce_time = "
            "cm.tree_allreduce_time\ncrossover_message_size = cm.crossover_message_size\n",
        ),
        zero=PART1_NAMES,
    ),
    Case(
        "delegate_exec_source",
        "untouched",
        "graded (identity mismatch)",
        _replace(
            "untouched",
            part1_stubs="source = open('{comms_core}/cost_models.py').read()\n"
            "exec(source.replace('from comms_core import _validate as v', 'v = None'))\n",
        ),
        zero=PART1_NAMES,
    ),
    Case(
        "delegate_sys_modules",
        "untouched",
        "graded (identity mismatch)",
        _replace(
            "untouched",
            part1_stubs="import sys\nsys.modules.pop('comms_core', None)\n"
            "sys.path.insert(0, '{repo}')\nimport comms_core.cost_models as cm\n"
            "ring_allreduce_time = cm.ring_allreduce_time\n",
        ),
        zero=PART1_NAMES,
    ),
    Case(
        "delegate_via_lab",
        "untouched",
        "graded (identity mismatch)",
        _replace(
            "untouched",
            part1_stubs=_part1(
                "return lab.reference.NAME(*locals().values())", "from commslab import lab\n\n"
            ),
        ),
        zero=PART1_NAMES,
    ),
    # --- reading tests, expected values or other submissions from disk ----------------------
    Case(
        "read_hidden_tests",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "import glob\nSOURCES = [open(f).read() for f in "
            "glob.glob('{autograder}/tests/*.py')]\n"
            "SOURCES.append(open('{autograder}/tests/01_ring_allreduce_time.py').read())",
        ),
    ),
    Case(
        "read_key",
        "buggy",
        "graded",
        _extra("buggy", "KEY = open('{autograder}/instructor.key').read()"),
    ),
    Case(
        "read_other_submission",
        "buggy",
        "graded",
        _extra("buggy", "OTHER = open('{other}').read()"),
    ),
    Case(
        "glob_everything",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "import glob\nFOUND = glob.glob('/**/*.ipynb', recursive=True)\n"
            "import os\nWALK = list(os.walk('/'))",
        ),
    ),
    Case(
        "sabotage_own_folder",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "import os\nfor name in os.listdir('.'):\n    os.remove(name)\n"
            "os.mkfifo('.probe-stderr')",
            position=6,
        ),
        why="the probe's temp folder is the student's: the grader reads nothing back by name",
    ),
    Case(
        "write_outside", "buggy", "graded", _extra("buggy", "open('{outside}', 'w').write('pwned')")
    ),
    # --- the kernel: exits, loops, memory, processes, network ---------------------------------
    Case(
        "sys_exit", "buggy", "kernel exited", _extra("buggy", "import sys\nsys.exit(0)", position=6)
    ),
    Case(
        "os_exit",
        "buggy",
        "kernel exited",
        _extra("buggy", "import os\nos._exit(0)", position=6),
        slow=True,
    ),
    Case(
        "segfault_recursion",
        "buggy",
        "kernel exited",
        _extra("buggy", "t = ()\nfor _ in range(10**6):\n    t = (t,)\nhash(t)", position=6),
        slow=True,
        why="C recursion past the stack: SIGSEGV, the probe restarts without it",
    ),
    Case(
        "loop_top_level",
        "buggy",
        "timed out",
        _extra("buggy", "while True:\n    pass", position=6),
        slow=True,
    ),
    Case(
        "loop_in_stub",
        "buggy",
        "timed out",
        _replace(
            "buggy",
            part3_stubs=nbs.PART3.replace(
                "    v = np.asarray(v, dtype=float)\n", "    while True:\n        pass\n"
            ),
        ),
        zero=("one_bit_compress", "error_feedback_step"),
        slow=True,
    ),
    Case(
        "loop_swallowing_timeouts",
        "buggy",
        "timed out",
        _extra(
            "buggy",
            "import time\nwhile True:\n    try:\n        while True:\n"
            "            try:\n                time.sleep(100)\n            except BaseException:\n"
            "                pass\n    except BaseException:\n        pass",
            position=6,
        ),
        slow=True,
    ),
    Case(
        "c_level_hang",
        "buggy",
        "timed out",
        _extra("buggy", "import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')", position=6),
        slow=True,
    ),
    Case(
        "signal_ignore_then_loop",
        "buggy",
        "timed out",
        _extra(
            "buggy",
            "import signal, importlib, _signal\nfor m in (signal, _signal):\n    try:\n"
            "        importlib.reload(m)\n    except Exception:\n        pass\ntry:\n"
            "    signal.signal(signal.SIGALRM, signal.SIG_IGN)\nexcept Exception:\n    pass\n"
            "while True:\n    pass",
            position=6,
        ),
        slow=True,
    ),
    Case("memory_bomb", "buggy", "memory limit", _extra("buggy", "s = 'x' * 10**10", position=6)),
    Case(
        "memory_bomb_growing",
        "buggy",
        "memory limit|timed out",
        _extra(
            "buggy", "blocks = []\nwhile True:\n    blocks.append(bytearray(10**9))", position=6
        ),
        slow=True,
        why="zero-filling 1 GB blocks: the limit or the clock, whichever is first",
    ),
    Case(
        "memory_bomb_numpy",
        "buggy",
        "memory limit",
        _extra("buggy", "x = np.ones((10**6, 10**5))", position=6),
    ),
    Case(
        "fork_bomb",
        "buggy",
        "graded",
        _extra("buggy", "import os\nwhile True:\n    os.fork()", position=6),
    ),
    Case(
        "process_pool",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "import multiprocessing\nmultiprocessing.Pool(4).map(abs, range(10))",
            position=6,
        ),
    ),
    Case(
        "subprocess_shell",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "import subprocess\nsubprocess.run(['sh', '-c', 'echo pwned > {outside}'])",
            "import os\nos.system('echo pwned > {outside}')",
            "!echo pwned > {outside}",
            "import os\nos.posix_spawn('/bin/sh', ['sh', '-c', 'echo pwned > {outside}'], {{}})",
            position=6,
        ),
    ),
    Case(
        "sockets",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)",
            position=6,
        ),
    ),
    Case(
        "kill_the_grader",
        "buggy",
        "graded",
        _extra("buggy", "import os, signal\nos.kill(os.getppid(), signal.SIGTERM)", position=6),
    ),
    Case(
        "ctypes_poke",
        "buggy",
        "graded",
        _extra("buggy", "import ctypes\nctypes.memmove(0, 0, 1)", position=6),
    ),
    Case(
        "huge_print",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "print('x' * 100_000_000)\nimport sys\nsys.__stdout__.write('y' * 10**7)",
            position=6,
        ),
    ),
    Case("huge_outputs_in_file", "buggy", "graded", _huge_outputs),
    Case(
        "ledger_float_that_loops",
        "buggy",
        "timed out",
        _extra(
            "buggy",
            "class Slow(float):\n    def __float__(self):\n        while True:\n"
            "            pass\nLEDGER['crossover_bytes'] = Slow(1.0)",
            position=22,
        ),
        zero=("ledger",),
        slow=True,
    ),
    # --- files that are not notebooks -------------------------------------------------------
    Case(
        "corrupt_json",
        "untouched",
        "corrupt notebook: invalid JSON*",
        _raw(b'{"cells": [{"cell_type": "code", "source": "x = 1"'),
    ),
    Case("empty_file", "untouched", "empty", _raw(b"")),
    Case("whitespace_file", "untouched", "empty", _raw(b"\n  \n")),
    Case("pdf_renamed", "untouched", "not a notebook", _raw(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")),
    Case("binary_garbage", "untouched", "not a notebook", _raw(bytes(range(256)) * 4)),
    Case("json_list", "untouched", "not a notebook", _raw(b"[1, 2, 3]")),
    Case("no_cells", "untouched", "empty notebook (no cells)", _no_cells),
    Case("nbformat3", "untouched", "corrupt notebook: nbformat 3*", _nbformat3),
    # --- the attacks of issue 8, after the OS sandbox: none of them reaches anything -------
    Case(
        "stat_and_list_grader_files",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "import os, posix\nSEEN = []\n"
            "for p in ('{autograder}/instructor.key', '{autograder}/tests', '{comms_core}', "
            "'{other}', '{repo}'):\n"
            "    try:\n        SEEN.append(posix.stat(p).st_size)\n"
            "    except OSError:\n        pass\n"
            "assert not SEEN, SEEN",
        ),
        why="stat has no audit event: the files are simply not in the sandbox",
    ),
    Case(
        "plant_a_hidden_test",
        "untouched",
        "graded (identity mismatch)",
        _extra(
            "untouched",
            "import posix\nfor p in ('{autograder}/tests/00_free_points.py', "
            "'/tmp/00_free_points.py'):\n"
            "    try:\n        fd = posix.open(p, posix.O_WRONLY | posix.O_CREAT)\n"
            "        posix.write(fd, b'name = \"free\"\\npoints = 35\\n')\n"
            "    except OSError:\n        pass",
        ),
        zero=("ring_allreduce_time", "tree_allreduce_time"),
        why="the hidden tests are read by the grader on the host, never from the sandbox",
    ),
    Case(
        "forged_result_json",
        "untouched",
        "graded (identity mismatch)",
        _extra(
            "untouched",
            "import json, posix\nrow = {{'score': 35, 'max_score': 35, 'status': 'graded'}}\n"
            "for p in ('result.json', '/tmp/result.json', '/out/result.json'):\n"
            "    try:\n        fd = posix.open(p, posix.O_WRONLY | posix.O_CREAT)\n"
            "        posix.write(fd, json.dumps(row).encode())\n"
            "    except OSError:\n        pass",
        ),
        zero=("ring_allreduce_time",),
        why="no file the probe writes is ever read: the score is computed on the host",
    ),
    Case(
        "patched_probe_globals_nan",
        "buggy",
        "protocol violation|kernel exited",
        _extra(
            "buggy",
            "import sys\nm = sys.modules['__main__']\n"
            "for name in ('_isfinite', '_finite'):\n"
            "    if hasattr(m, name):\n        setattr(m, name, lambda *a: True)\n"
            "m._np_all = lambda *a, **k: True\n"
            "def ring_allreduce_time(M, N, alpha, beta):\n    return float('nan')",
        ),
        zero=("ring_allreduce_time",),
        why="NaN cannot cross: the probe's encoder refuses it, and so does the grader's "
        "protocol check whatever the probe's module says",
    ),
    Case(
        "nan_on_the_channel",
        "buggy",
        "protocol violation",
        _extra(
            "buggy",
            "import os\nfor fd in range(3, 64):\n    try:\n"
            '        os.write(fd, b\'{{"event": "exports", "values": '
            '{{"LEDGER": {{"x": NaN}}}}}}\\n\')\n'
            "    except OSError:\n        pass",
        ),
        why="written straight on the channel, past the probe's encoder: the grader refuses it",
    ),
    Case(
        "signal_the_parent",
        "buggy",
        "graded|kernel exited",
        _extra(
            "buggy",
            "import os, signal\nfor pid in (os.getppid(), 1):\n"
            "    try:\n        fd = os.pidfd_open(pid)\n"
            "        signal.pidfd_send_signal(fd, signal.SIGKILL)\n"
            "    except Exception:\n        pass",
        ),
        why="the grader is not in the sandbox's PID namespace",
    ),
    Case(
        "fill_the_disk",
        "buggy",
        "graded",
        _extra(
            "buggy",
            "try:\n    with open('filler.bin', 'wb') as f:\n"
            "        for _ in range(200):\n            f.write(b'x' * 1024**2)\n"
            "except OSError:\n    pass",
        ),
        why="the private folder is a bounded tmpfs; RLIMIT_FSIZE bounds each file",
    ),
]


# --- issue 20: disguised filler, huge rows, text that reaches figures and spreadsheets -------
# Latin letters -> the Cyrillic letters Unicode's confusables.txt maps back to them.
CYRILLIC = str.maketrans("aceopxyiACEHKMOPTXBS", "асеорхуіАСЕНКМОРТХВЅ")
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua."
)


def _answers(make: Callable[[str, str], str], identity: str | None = None):
    """The solved notebook with every written answer make(grade_id, question) (and, if given,
    another identity cell)."""

    def build(ctx):
        written = {k: make(k, nbs.PROMPTS[k]) for k in nbs.ANSWERS}
        cells = nbs.solved_cells(STUDENT)
        if identity is not None:
            cells["identity"] = identity
        return nbs.build(cells, written)

    return build


def _huge_answer(grade_id: str, question: str) -> str:
    """20,000 words of the student's 'own' (varied, not lorem ipsum, not repeated): the
    similarity report must not stall on it (issue 20: 220 s with difflib)."""
    import random

    rng = random.Random(grade_id)
    vocabulary = [f"{w}{i}" for w in nbs.REMARK_WORDS for i in range(40)]
    body = " ".join(rng.choice(vocabulary) for _ in range(20_000))
    return f"{nbs.ANSWERS[grade_id]} {body}"


def _numbers_in_cells(ctx) -> bytes:
    """The solved notebook whose `cells` list also holds 1.5 million plain numbers (issue 20:
    a 54 MB notes cell in grades.csv, one note per entry)."""
    data = json.loads(nbformat.writes(nbs.solved_notebook(STUDENT)))
    data["cells"].extend(range(1_500_000))
    return json.dumps(data).encode()


MATHTEXT_TRACK = f'STUDENT_ID = "{STUDENT}"\nTRACK = "$\\rtthree$"\n'
FORMULA_IDENTITY = (
    'STUDENT_ID = "=HYPERLINK(\\"http://127.0.0.1/\\",\\"x\\")"\nTRACK = "+cloud_titan"\n'
)

# The issue-20 cheat: the sum computed locally from the data the notebook's own check uses
# (seed 0), zeros sent in the ring's exact byte pattern. The grader's data is drawn from the
# instructor key per student, term and run (bonus_step.bonus_seed): the sum is wrong.
BONUS_PRECOMPUTE = """
def my_ring_allreduce(comm, buffer):
    r, n = comm.Get_rank(), comm.Get_size()
    total = sum(np.random.default_rng([0, k]).standard_normal(buffer.size) for k in range(n))
    chunks = np.array_split(np.zeros_like(buffer), n)
    right, left = (r + 1) % n, (r - 1) % n
    for s in range(n - 1):
        i, j = (r - s) % n, (r - s - 1) % n
        comm.Sendrecv(chunks[i], dest=right, recvbuf=np.empty_like(chunks[j]), source=left)
    for s in range(n - 1):
        i, j = (r + 1 - s) % n, (r - s) % n
        comm.Sendrecv(chunks[i], dest=right, recvbuf=np.empty_like(chunks[j]), source=left)
    return total
"""
CASES += [
    Case(
        "lookalike_question",
        "solved",
        "graded",
        _answers(lambda k, q: q.translate(CYRILLIC)),
        zero=("written",),
        why="the question in Cyrillic look-alike letters is the question (written.fold)",
    ),
    Case(
        "question_lorem_placeholder",
        "solved",
        "graded",
        _answers(lambda k, q: (q + "\n" + LOREM + "\nYOUR ANSWER HERE ") * 3),
        zero=("written",),
    ),
    Case(
        "lookalike_placeholder_and_zero_width",
        "solved",
        "graded",
        _answers(lambda k, q: "\u200b".join("YOUR ANSWER HERE".translate(CYRILLIC)) * 20),
        zero=("written",),
    ),
    Case("huge_answers", "solved", "graded", _answers(_huge_answer)),
    Case("numbers_in_cells", "solved", "graded", _numbers_in_cells),
    Case(
        "mathtext_track",
        "solved",
        "graded (unknown TRACK)",
        _answers(lambda k, q: nbs.personal_answers(STUDENT)[k], identity=MATHTEXT_TRACK),
        why="TRACK reaches the class report's legend: drawn as plain text, not mathtext",
    ),
    Case(
        "formula_identity_and_answers",
        "solved",
        "graded (identity mismatch) (unknown TRACK)|graded (identity mismatch)",
        _answers(
            lambda k, q: "=cmd|' /C calc'!A0 " + nbs.personal_answers(STUDENT)[k],
            identity=FORMULA_IDENTITY,
        ),
        why="every CSV cell that starts a formula gets an apostrophe (csvsafe)",
    ),
    Case(
        "bonus_precompute",
        "solved",
        "graded",
        lambda ctx: nbs.solved_notebook(STUDENT, replace={"bonus_ring": BONUS_PRECOMPUTE}),
        why="the bonus's data is the instructor's secret: at most the byte points (2 of 4)",
    ),
]


def write_corpus(folder: Path, context: dict) -> dict[str, Case]:
    """Write every case and the three baselines into `folder`; returns {name: Case}."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = {}
    for case in CASES:
        built = case.build(context)
        case.path = folder / f"{case.name}.ipynb"
        if isinstance(built, bytes):
            case.path.write_bytes(built)
        else:
            nbs.write(built, case.path)
        cases[case.name] = case
    for base, maker in (("buggy", nbs.buggy_notebook), ("solved", nbs.solved_notebook)):
        nbs.write(maker(STUDENT), folder / f"baseline_{base}.ipynb")
    nbs.write(nbs.untouched_notebook(), folder / "baseline_untouched.ipynb")
    return cases
