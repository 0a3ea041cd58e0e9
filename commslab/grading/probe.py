"""The probe: runs a student's cells in a sandboxed child process and reports plain JSON.

    python -S -s -P probe.py < REQUEST.json     (events on stdout; see protocol.py)

The grader never runs student code in its own process. This script, in a fresh temp dir with
a minimal environment and stdin closed, does the following:

1. reads the request (the student's cells as Python, the calls to make, the claimed scenario)
   and deletes it;
2. prepares a namespace like the release's setup cells: `np`, `math`, `scenario`, `TERM`,
   `STUDENT_ID`, `TRACK`, and no-op `lab` / `grader` (every attribute is a callable that
   returns None);
3. locks itself down: resource limits (address space, CPU, file size, open files, processes),
   stand-ins in `sys.modules` so that `comms_core` cannot be used (a stub that delegates to
   the reference fails with ReferenceUseError) and `commslab` / `otter` are no-ops, and an
   audit hook (PEP 578) that refuses sockets, subprocesses, forks, signals to other
   processes, ctypes, and opening files outside the temp dir and the Python installation
   (the reference, the autograder and the submissions are refused by name);
4. runs each cell with a time limit (SIGALRM), catching everything, one status per cell;
5. converts `LEDGER` and the other exported names to plain JSON, then makes each requested
   call with a time limit and converts its result to plain JSON numbers: a float, a nested
   list of floats, or a dict of those. Objects that "equal anything" cannot cross; numpy is
   used through references taken before any student code ran.

Every step is one JSON line on RESULT_FD as soon as it is known, so a crash keeps what came
before; sandbox.py restarts the probe past a cell or a function that killed it.

What the probe cannot prevent is the student's own code choosing its outputs: the probe
reports data that the student's functions produced, never a verdict, and the expected values
never enter this process. That is why tampering here cannot earn points.
"""

from __future__ import annotations

import _signal
import builtins
import json
import math
import os
import posix
import resource
import signal
import stat
import sys
import types

import numpy as np

# --- references taken before student code runs (they cannot be monkeypatched later) --------
_asarray = np.asarray
_array = np.array
_isfinite = np.isfinite
_np_all = np.all
_ndarray = np.ndarray
_float64 = np.float64
_np_bool = np.bool_
_np_integer = np.integer
_np_floating = np.floating
_tolist = np.ndarray.tolist
_float = float
_int = int
_str = str
_len = len
_isinstance = isinstance
_type = type
_dict_items = dict.items
_dict_get = dict.get
_list = list
_tuple = tuple
_bool = bool
_repr = repr
_callable = callable
_compile = compile
_exec = exec
_json_loads = json.loads
# json's C encoder, called directly: json.dumps is Python code that calls isinstance()
_encode_json = json.encoder.c_make_encoder(
    None, None, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, False
)
_set = set
_dict = dict
_bytes = bytes
_finite = math.isfinite
# The exceptions the probe catches after student code ran, as module globals (these are found
# before builtins): a student who reaches the real builtins cannot redirect the probe's except.
BaseException, Exception, MemoryError, SystemExit, OSError = (
    builtins.BaseException,
    builtins.Exception,
    builtins.MemoryError,
    builtins.SystemExit,
    builtins.OSError,
)
IndexError, KeyError, TypeError, ValueError = (
    builtins.IndexError,
    builtins.KeyError,
    builtins.TypeError,
    builtins.ValueError,
)
_os_write = os.write
_os_exit = os._exit
_setitimer = _signal.setitimer  # the C functions: signal.signal wraps _signal.signal
_signal_signal = _signal.signal
_ITIMER_REAL = signal.ITIMER_REAL
_SIGALRM = signal.SIGALRM

MAX_NUMBERS = 200_000  # per converted value: enough for any graded call, bounded output

# The protocol's names (commslab/grading/protocol.py: Kind's values and EVENTS). The probe runs
# alone in its sandbox, where no commslab is importable, so they are written out here;
# tests/test_grading_probe.py checks they are the protocol's, and that the probe sends no other.
OK, ERROR, NOT_A_NUMBER = "ok", "error", "not a number"
TIMED_OUT, MEMORY_LIMIT, EXITED = "timed out", "memory limit", "kernel exited"
KINDS = (OK, ERROR, NOT_A_NUMBER, TIMED_OUT, MEMORY_LIMIT, EXITED)
READY, CELL_START, CELL_END, EXPORTS_START = "ready", "cell_start", "cell_end", "exports_start"
EXPORTS, CALL_START, CALL, DONE = "exports", "call_start", "call", "done"
EVENTS = (READY, CELL_START, CELL_END, EXPORTS_START, EXPORTS, CALL_START, CALL, DONE)
MAX_MESSAGE = 300  # characters of an error message that we report


class ReferenceUseError(RuntimeError):
    """Raised when student code tries to use the reference implementation (comms_core)."""


class SandboxError(PermissionError):
    """Raised by the audit hook when student code does something the grader does not allow."""


class _Timeout(BaseException):
    """Raised by SIGALRM when a cell or a call runs past its time limit."""


class Unconvertible(Exception):
    """A result that is not a plain number, array of numbers or dict of those."""


# --- the output channel -------------------------------------------------------------------


class _Channel:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, **event) -> None:
        data = ("".join(_encode_json(event, 0)) + "\n").encode()
        while data:
            written = _os_write(self.fd, data)
            data = data[written:]


class _Sink:
    """sys.stdout / sys.stderr for student code: counts what is printed and keeps none of it."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text) -> int:
        n = _len(text)
        self.chars += n
        return n

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


# --- stand-ins ------------------------------------------------------------------------------


def _none(*args, **kwargs) -> None:
    return None


class StandIn:
    """`lab` and `grader` in the grader: every attribute is a callable that returns None."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _none

    def __setattr__(self, name: str, value) -> None:  # patching the grader changes nothing
        return None

    def __call__(self, *args, **kwargs) -> StandIn:
        return StandIn()

    def __repr__(self) -> str:
        return "<no-op stand-in in the grader>"


class _StandInModule(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return StandIn()

    def __setattr__(self, name: str, value) -> None:
        if name.startswith("__"):
            types.ModuleType.__setattr__(self, name, value)


class _ReferenceModule(types.ModuleType):
    """comms_core in the grader: any use raises ReferenceUseError."""

    def __getattr__(self, name: str):
        if name in ("__file__", "__path__", "__all__"):
            raise ReferenceUseError(
                f"using {self.__name__} is not allowed in your "
                "implementation; implement it yourself"
            )
        if name.startswith("__"):
            raise AttributeError(name)
        raise ReferenceUseError(
            f"calling {self.__name__}.{name} is not allowed in your "
            "implementation; implement it yourself"
        )


class _Track:
    def __init__(self, key: str) -> None:
        self.key = key
        self.title = key.replace("_", " ").title()


class ScenarioStandIn:
    """`scenario` in the grader: the scenario values of the identity the notebook claims."""

    def __init__(self, values: dict, track: str, term: str, student_id: str, problem: str):
        object.__setattr__(self, "values", dict(values))
        object.__setattr__(self, "track", _Track(track))
        object.__setattr__(self, "term", term)
        object.__setattr__(self, "student_id", student_id)
        object.__setattr__(self, "_problem", problem)

    def __getattr__(self, name: str):
        values = object.__getattribute__(self, "values")
        if name in values:
            return values[name]
        problem = object.__getattribute__(self, "_problem")
        if problem:
            raise AttributeError(f"no scenario: {problem}")
        raise AttributeError(f"this scenario has no number called {name!r}")

    def __getitem__(self, name: str):
        return object.__getattribute__(self, "values")[name]

    def table(self) -> list:
        return [(k, v, "", "") for k, v in object.__getattribute__(self, "values").items()]


class _IPythonStandIn:
    """get_ipython() in the grader: %time / %%time run their code once, other magics do nothing."""

    RUN_ONCE = ("time", "timeit", "capture", "prun")

    def __init__(self, namespace: dict) -> None:
        self._ns = namespace

    def run_line_magic(self, name, line, *args, **kwargs):
        if _str(name).lstrip("%") in self.RUN_ONCE and line:
            _exec(_compile(line, "<magic>", "exec"), self._ns)
        return None

    def run_cell_magic(self, name, line, cell, *args, **kwargs):
        if _str(name) in self.RUN_ONCE:
            _exec(_compile(cell, "<cell magic>", "exec"), self._ns)
        return None

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _none


# --- the lock-down --------------------------------------------------------------------------


def _set_limits(limits: dict) -> None:
    """Resource limits; soft = hard so student code cannot raise them again."""
    wanted = {
        resource.RLIMIT_AS: limits.get("memory_bytes"),
        resource.RLIMIT_CPU: limits.get("cpu_seconds"),
        resource.RLIMIT_FSIZE: limits.get("file_bytes"),
        resource.RLIMIT_NOFILE: limits.get("open_files"),
        resource.RLIMIT_CORE: 0,
    }
    if hasattr(resource, "RLIMIT_NPROC"):  # no new processes or threads (not for root)
        wanted[resource.RLIMIT_NPROC] = 0
    for which, value in wanted.items():
        if value is None:
            continue
        _soft, hard = resource.getrlimit(which)
        value = _int(value)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass
    # a write past RLIMIT_FSIZE raises OSError(EFBIG) instead of killing the probe
    _signal_signal(_signal.SIGXFSZ, _signal.SIG_IGN)


def _install_stand_ins() -> None:
    """comms_core raises ReferenceUseError; commslab (lab) and otter (grader) are no-ops;
    subprocess and ctypes are replaced by modules that refuse (matplotlib imports
    subprocess, numpy imports ctypes: both load, neither can start or poke anything)."""
    for name in [m for m in sys.modules if m.split(".")[0] in ("comms_core", "commslab", "otter")]:
        del sys.modules[name]
    sys.modules["comms_core"] = _ReferenceModule("comms_core")
    commslab = _StandInModule("commslab")
    lab = _StandInModule("commslab.lab")
    types.ModuleType.__setattr__(commslab, "lab", lab)
    sys.modules["commslab"] = commslab
    sys.modules["commslab.lab"] = lab
    sys.modules["otter"] = _StandInModule("otter")
    refusing = {name: _refusing_module(name) for name in ("subprocess", "ctypes", "_ctypes")}
    for name in [m for m in sys.modules if m.split(".")[0] in ("ctypes", "_ctypes")]:
        del sys.modules[name]
    sys.modules.update(refusing)
    for module in list(sys.modules.values()):  # numpy keeps a reference to ctypes
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict) or module in refusing.values():
            continue
        for key, value in list(namespace.items()):
            if isinstance(value, types.ModuleType) and value.__name__ in refusing:
                namespace[key] = refusing[value.__name__]


class SubprocessError(Exception):
    pass


class CalledProcessError(SubprocessError):
    pass


class TimeoutExpired(SubprocessError):
    pass


def _refusing_module(name: str) -> types.ModuleType:
    """A module whose functions refuse; exception classes exist so `except` clauses work."""

    def refuse(*args, **kwargs):
        raise SandboxError(f"{name} is not available in the grader")

    module = _RefusingModule(name)
    module.__dict__.update(
        SubprocessError=SubprocessError,
        CalledProcessError=CalledProcessError,
        TimeoutExpired=TimeoutExpired,
        PIPE=-1,
        STDOUT=-2,
        DEVNULL=-3,
        _refuse=refuse,
    )
    return module


class _RefusingModule(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self.__dict__["_refuse"]


def _guard_signals() -> None:
    """Student code may not silence or re-arm the alarm that enforces the time limits."""

    def refuse(*args, **kwargs):
        raise SandboxError("signals are not available in the grader")

    for module_name in ("signal", "_signal"):
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for name in (
            "signal",
            "setitimer",
            "alarm",
            "pthread_sigmask",
            "siginterrupt",
            "set_wakeup_fd",
            "pthread_kill",
            "sigwait",
            "pause",
        ):
            if hasattr(module, name):
                setattr(module, name, refuse)


# What the audit hook refuses with a friendly message (the sandbox refuses it anyway: the hook
# is not the boundary, docs/DESIGN.md). Read once by _make_audit_hook into its closure.
_REFUSED_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.kill",
        "os.killpg",
        "signal.pthread_kill",
        "os.startfile",
        "resource.setrlimit",
        "resource.prlimit",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "sys.settrace",
        "sys.setprofile",
        "os.link",
        "os.symlink",
        "webbrowser.open",
        "_posixsubprocess.fork_exec",
        "sys.remote_exec",
        "os.mkfifo",
        "os.mknod",
    }
)
_MUTATING_EVENTS = frozenset(
    {
        "os.mkdir",
        "os.remove",
        "os.rmdir",
        "os.rename",
        "os.truncate",
        "os.utime",
        "os.chmod",
        "os.chown",
        "os.chflags",
        "os.setxattr",
        "os.removexattr",
        "shutil.copyfile",
        "shutil.copymode",
        "shutil.copystat",
        "shutil.copytree",
        "shutil.move",
        "shutil.rmtree",
        "shutil.chown",
        "shutil.make_archive",
        "shutil.unpack_archive",
        "tempfile.mkstemp",
        "tempfile.mkdtemp",
    }
)
_LISTING_EVENTS = frozenset({"os.listdir", "os.scandir", "os.chdir", "os.listxattr", "os.getxattr"})
# importing socket is fine (every socket.* event is refused); these cannot be made safe:
# ctypes pokes memory, _posixsubprocess forks without an audit event, and a sub-interpreter
# would run without this hook
_FORBIDDEN_IMPORTS = (
    "ctypes",
    "_ctypes",
    "cffi",
    "_posixsubprocess",
    "subprocess",
    "_xxsubinterpreters",
    "_xxinterpchannels",
    "_interpreters",
)


def _path_resolver():
    """resolve(path) -> the real absolute path, symbolic links followed; everything it uses is
    bound here, so student code cannot patch it."""
    lstat, readlink, getcwd = posix.lstat, posix.readlink, posix.getcwd
    is_link = stat.S_ISLNK
    str_type, bytes_type = _str, bytes
    fs_encoding = sys.getfilesystemencoding()
    path_types = _tuple(_path_types())
    fspath_of, str_of = _path_types()[0].__fspath__, _path_types()[0].__str__
    type_of, is_instance = _type, _isinstance
    bytes_decode, str_str = bytes.decode, _str.__str__
    sandbox_error, os_error = SandboxError, OSError

    def as_text(path) -> str:
        if type_of(path) is bytes_type:
            return bytes_decode(path, fs_encoding, "surrogateescape")
        if is_instance(path, str_type):
            return str_str(path)
        kind = type_of(path)
        # a pathlib path only with pathlib's own methods: a patched __fspath__ could name one
        # file to this check and another to open()
        if kind in path_types and kind.__fspath__ is fspath_of and kind.__str__ is str_of:
            return str_str(str_of(path))
        raise sandbox_error("the grader only opens files named by a str path")

    def resolve(path) -> str:
        path = as_text(path)
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        parts, done, hops = path.split("/"), [], 0
        while parts:
            part = parts.pop(0)
            if part in ("", ".", ".."):
                if part == ".." and done:
                    done.pop()
                continue
            candidate = "/" + "/".join([*done, part])
            try:
                link = is_link(lstat(candidate).st_mode)
            except os_error:
                link = False
            if not link:
                done.append(part)
                continue
            hops += 1
            if hops > 40:
                raise sandbox_error("too many symbolic links")
            target = readlink(candidate)
            done = [] if target.startswith("/") else done
            parts = target.split("/") + parts
        return "/" + "/".join(done)

    return resolve


def _path_checker(read_dirs, write_dirs, blocked_dirs):
    """check(path, write, what): raises SandboxError unless the longest matching rule allows
    it (blocked dirs beat a shorter allowed prefix: the reference inside site-packages stays
    blocked); no rule means refused."""
    rules = _tuple(
        sorted(
            [(d, "read") for d in read_dirs]
            + [(d, "write") for d in write_dirs]
            + [(d, "blocked") for d in blocked_dirs],
            key=lambda rule: -_len(rule[0]),
        )
    )
    resolve, type_of, int_type, bool_type = _path_resolver(), _type, _int, _bool
    sandbox_error = SandboxError

    def decide(real: str) -> str:
        for prefix, kind in rules:
            if real == prefix or real.startswith(prefix + "/"):
                return kind
        return "none"

    def check(path, write: bool, what: str) -> None:
        if type_of(path) is int_type or type_of(path) is bool_type:
            return  # an fd that was already opened (and checked) earlier
        real = resolve(path)
        kind = decide(real)
        if kind == "blocked":
            raise sandbox_error(
                f"the grader does not allow {what} {real!r} (reference, "
                "autograder or submission files)"
            )
        if kind == "write" or (kind == "read" and not write):
            return
        verb = "writing" if write else what
        raise sandbox_error(
            f"the grader does not allow {verb} {real!r}: only your temp "
            "folder is writable and only the Python installation is readable"
        )

    return check, resolve


def _open_handler(check, resolve):
    """The hook's handler of "open": a path the rules allow, and no directory fds (openat
    escapes)."""
    is_dir, stat_of, os_error, type_of = stat.S_ISDIR, posix.stat, OSError, _type
    int_type, bool_type, sandbox_error = _int, _bool, SandboxError
    o_write = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def on_open(event: str, args: tuple) -> None:
        path, mode, flags = args
        if mode is not None:
            write = "w" in mode or "a" in mode or "x" in mode or "+" in mode
            check(path, write, "opening")
            return
        check(path, bool_type(flags & o_write), "opening")  # os.open: the flags decide
        if type_of(path) is int_type:
            return
        try:
            folder = is_dir(stat_of(resolve(path)).st_mode)
        except os_error:
            folder = False
        if folder:
            raise sandbox_error("the grader does not allow opening folders")

    return on_open


def _import_handler():
    """The hook's handler of "import": the reference is the student's to write, the grader's
    packages are not there, a few modules cannot be made safe."""
    str_str, forbidden_imports = _str.__str__, _FORBIDDEN_IMPORTS
    sandbox_error, reference_error, import_error = SandboxError, ReferenceUseError, ImportError

    def on_import(event: str, args: tuple) -> None:
        name = str_str(args[0])
        top = name.split(".")[0]
        if top == "comms_core":
            raise reference_error(
                f"importing {name} is not allowed in your implementation; implement it yourself"
            )
        if top in ("commslab", "otter"):
            raise import_error(f"{name} is not available in the grader")
        if top in forbidden_imports or top.startswith("_test"):
            raise sandbox_error(f"the grader does not allow importing {name}")

    return on_import


def _make_audit_hook(read_dirs, write_dirs, blocked_dirs, cwd: str):
    """The PEP 578 audit hook: friendly, early messages for what the OS sandbox refuses anyway
    (it is not the boundary). Everything it uses is bound here, so it cannot be patched: one
    handler per kind of event, looked up in a dict."""
    check, resolve = _path_checker(read_dirs, write_dirs, blocked_dirs)
    type_of, is_instance, length = _type, _isinstance, _len
    str_type, bytes_type, int_type = _str, bytes, _int
    path_types = _tuple(_path_types())
    sandbox_error, refused = SandboxError, _REFUSED_EVENTS

    def on_mutating(event: str, args: tuple) -> None:
        for arg in args:
            if is_instance(arg, str_type) or type_of(arg) in (bytes_type, *path_types):
                check(arg, True, event)

    def on_listing(event: str, args: tuple) -> None:
        path = args[0] if length(args) and args[0] is not None else "."
        if event == "os.chdir" and type_of(path) is int_type:
            raise sandbox_error("the grader does not allow os.fchdir")
        check(path, False, "listing")

    def on_setattr(event: str, args: tuple) -> None:
        if length(args) >= 2 and args[1] == "__code__":
            raise sandbox_error("the grader does not allow replacing __code__")

    def on_refused(event: str, args: tuple) -> None:
        raise sandbox_error(f"the grader does not allow {event}")

    handlers = {
        "open": _open_handler(check, resolve),
        "import": _import_handler(),
        "object.__setattr__": on_setattr,
    }
    handlers.update(dict.fromkeys(_MUTATING_EVENTS, on_mutating))
    handlers.update(dict.fromkeys(_LISTING_EVENTS, on_listing))
    handlers.update(dict.fromkeys(refused, on_refused))
    lookup = handlers.get

    def hook(event: str, args: tuple) -> None:
        handler = lookup(event)
        if handler is not None:
            handler(event, args)
        elif event.startswith("socket.") or event.startswith("ctypes."):
            raise sandbox_error(f"the grader does not allow {event} (no network, no ctypes)")

    return hook


def _path_types() -> list:
    import pathlib

    return [pathlib.PosixPath, pathlib.PurePosixPath]


# --- converting results to plain JSON -----------------------------------------------------


def _plain(value, depth: int = 0):
    """A student's result as JSON: float, nested list of floats, or dict of those.

    bool, str, None and objects that only pretend to be numbers are refused; a number must
    survive float() or numpy's float64 conversion and be finite.
    """
    if depth > 4:
        raise Unconvertible("is nested too deeply")
    if _isinstance(value, (_bool, _np_bool)):
        raise Unconvertible("is True/False, not a number")
    if value is None:
        raise Unconvertible("is None: did you forget `return`?")
    if _isinstance(value, (_str, _bytes)):
        raise Unconvertible(f"is a string ({_repr(value)[:40]}), not a number")
    if _isinstance(value, _dict):
        out = {}
        for key, item in _dict_items(value):
            if not _isinstance(key, _str):
                raise Unconvertible("is a dict whose keys are not strings")
            out[_str.__str__(key)] = _plain(item, depth + 1)
        return out
    if _isinstance(value, (_list, _tuple)):
        try:
            return _number_array(value)
        except Unconvertible:
            return [_plain(item, depth + 1) for item in value]
    return _number_array(value)


def _number_array(value):
    try:
        arr = _asarray(value, dtype=_float64)
    except Exception as err:
        raise Unconvertible(f"is a {_type(value).__name__}, not a number") from err
    if _type(arr) is not _ndarray:
        arr = _array(arr, dtype=_float64, copy=True, subok=False)
    if arr.size > MAX_NUMBERS:
        raise Unconvertible(f"has {arr.size} numbers (more than {MAX_NUMBERS})")
    if not _bool(_np_all(_isfinite(arr))):
        raise Unconvertible("contains nan or inf")
    return _tolist(arr)


def _decode(arg):
    """Arguments come as JSON: numbers as numbers, arrays tagged {"array": nested list}."""
    if _isinstance(arg, _dict) and "array" in arg:
        return _array(arg["array"], dtype=_float64)
    if _isinstance(arg, _list):
        return [_decode(a) for a in arg]
    return arg


def _ledger_value(value):
    """LEDGER values: numbers via float(), True/False, strings; anything else is refused."""
    if _isinstance(value, (_bool, _np_bool)):
        return _bool(value)
    if _isinstance(value, _str):
        return _str.__str__(value)[:200]
    if value is None:
        return None
    if _isinstance(value, (_int, _float, _np_integer, _np_floating)):
        number = _float(value)
        if _finite(number):
            return number
        return {"invalid": "not a finite number"}
    return {"invalid": f"not a number or a choice ({_type(value).__name__})"}


def _export(name: str, value):
    if name == "LEDGER":
        if not _isinstance(value, _dict):
            return {"invalid": f"LEDGER is a {_type(value).__name__}, not a dict"}
        return {
            _str(k)[:100]: _ledger_value(v) for k, v in _dict_items(value) if _isinstance(k, _str)
        }
    if _isinstance(value, (_list, _tuple)):
        return [_ledger_value(v) for v in value][:1000]
    return _ledger_value(value)


# --- running cells and calls --------------------------------------------------------------


def _on_alarm(signum, frame):
    raise _Timeout()


def _describe(err: BaseException) -> str:
    """'Type: message (line N)', computed inside the time limit (student __str__ may loop)."""
    name = _type(err).__name__
    try:
        message = _str(err)
    except Exception:
        message = "<unprintable message>"
    message = " ".join(message.split())[:MAX_MESSAGE]
    where = ""
    tb = err.__traceback__
    while tb is not None:  # the innermost frame in the student's cells
        filename = tb.tb_frame.f_code.co_filename
        if _isinstance(filename, _str) and filename.startswith("<cell"):
            where = f" ({filename[1:-1]}, line {tb.tb_lineno})"
        tb = tb.tb_next
    return f"{name}: {message}{where}" if message else f"{name}{where}"


def _classify(err: BaseException) -> tuple[str, str]:
    """(kind, detail) of what the student's code raised."""
    if _isinstance(err, _Timeout):
        return TIMED_OUT, ""
    if _isinstance(err, MemoryError):
        return MEMORY_LIMIT, ""
    if _isinstance(err, SystemExit):
        return EXITED, "SystemExit"
    if _isinstance(err, Unconvertible):
        return NOT_A_NUMBER, " ".join(_str(err).split())[:MAX_MESSAGE]
    return ERROR, _describe(err)


def _guarded(work, seconds: float):
    """Run work() under a wall-clock alarm; returns ((OK, ""), value) or ((kind, detail), None)."""
    try:
        _signal_signal(_SIGALRM, _on_alarm)
        _setitimer(_ITIMER_REAL, seconds, 0.1)  # keeps firing until disarmed
        try:
            return (OK, ""), work()
        except BaseException as err:  # everything the student raises
            if _isinstance(err, _Timeout):
                raise
            try:
                return _classify(err), None
            except _Timeout:
                raise
            except BaseException:
                return (ERROR, _type(err).__name__), None
        finally:
            _setitimer(_ITIMER_REAL, 0, 0)
    except _Timeout:
        _setitimer(_ITIMER_REAL, 0, 0)
        return (TIMED_OUT, ""), None
    except MemoryError:
        _setitimer(_ITIMER_REAL, 0, 0)
        return (MEMORY_LIMIT, ""), None


def _call(spec: dict, ns: dict, timeout: float, channel: _Channel) -> str:
    """Run one graded call and send its event; returns its kind."""
    name = spec["function"]
    function = _dict_get(ns, name)
    if function is None:
        detail = f"NameError: {name} is not defined in your notebook"
        channel.send(event=CALL, id=spec["id"], kind=ERROR, detail=detail)
        return ERROR
    if not _callable(function):
        channel.send(event=CALL, id=spec["id"], kind=ERROR, detail=f"{name} is not a function")
        return ERROR

    def once():
        return _plain(function(*[_decode(a) for a in spec["args"]]))

    def iterate():
        carry_arg, carry_out = spec["iterate"]["carry"]
        state = _decode(spec["iterate"]["initial"])
        outputs = []
        for args in spec["iterate"]["steps"]:
            args = [_decode(a) for a in args]
            args[carry_arg] = state
            out = function(*args)
            plain = _plain(out)
            outputs.append(plain)
            try:
                state = _array(plain[carry_out], dtype=_float64)
            except (IndexError, KeyError, TypeError, ValueError) as err:
                raise Unconvertible("does not return the pair (sent, new residual)") from err
        return outputs

    (kind, detail), value = _guarded(iterate if "iterate" in spec else once, timeout)
    if kind == NOT_A_NUMBER:
        detail = f"{name} returned a value that {detail}"
    if kind == OK:
        channel.send(event=CALL, id=spec["id"], kind=OK, value=value)
    else:
        channel.send(event=CALL, id=spec["id"], kind=kind, detail=detail)
    return kind


def _private_builtins() -> dict:
    """The student's builtins: a copy, also behind `import builtins`. Patching it changes the
    student's own code only; the probe, numpy and json keep the real ones."""
    private = types.ModuleType("builtins", builtins.__doc__)
    private.__dict__.update(builtins.__dict__)
    sys.modules["builtins"] = private
    return private.__dict__


def _namespace(request: dict) -> dict:
    claimed = request.get("claimed", {})
    ns: dict = {"__name__": "__main__", "__builtins__": _private_builtins()}
    ns.update(
        np=np,
        math=math,
        TERM=request.get("term", ""),
        STUDENT_ID=claimed.get("student_id", ""),
        TRACK=claimed.get("track", ""),
        lab=StandIn(),
        grader=StandIn(),
        display=_none,
        scenario=ScenarioStandIn(
            claimed.get("scenario") or {},
            claimed.get("track", ""),
            request.get("term", ""),
            claimed.get("student_id", ""),
            claimed.get("problem", ""),
        ),
    )
    ipython = _IPythonStandIn(ns)
    ns["get_ipython"] = lambda: ipython
    return ns


def _read_request() -> dict:
    """The request, from stdin (closed by the grader after one JSON document)."""
    chunks = []
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(0)
    return _json_loads(b"".join(chunks).decode("utf-8"))


def main(argv: list[str]) -> None:
    # the channel is a private duplicate of stdout; fd 1 itself then points at /dev/null, so
    # a C extension or os.write(1, ...) in student code prints nowhere
    channel = _Channel(os.dup(1))
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    request = _read_request()
    limits = request["limits"]
    ns = _namespace(request)
    cells = request["cells"]
    _install_stand_ins()
    _set_limits(limits)
    cwd = posix.getcwd()
    read_dirs = sorted(
        {
            os.path.realpath(p)
            for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
        }
        | {os.path.realpath(p) for p in sys.path if p}
        | {"/dev/null", "/dev/urandom", "/dev/zero"}
    )
    hook = _make_audit_hook(read_dirs, [cwd], request.get("blocked_dirs", []), cwd)
    sys.addaudithook(hook)
    del hook
    _guard_signals()
    sink = _Sink()
    sys.stdout = sys.stderr = sink
    channel.send(event=READY)

    for index, cell in enumerate(cells):
        if cell.get("skip"):
            continue
        channel.send(event=CELL_START, index=index)

        label = cell.get("label") or f"cell {index}"

        def run(code=cell["code"], filename=f"<{label}>"):
            _exec(_compile(code, filename, "exec"), ns)

        (kind, detail), _ = _guarded(run, limits["cell_seconds"])
        channel.send(event=CELL_END, index=index, kind=kind, detail=detail)

    if not request.get("skip_exports"):
        channel.send(event=EXPORTS_START)
        exports, failed = {}, {}
        for name in request.get("exports", []):
            if name in ns:
                (kind, detail), value = _guarded(
                    lambda n=name: _export(n, ns[n]), limits["call_seconds"]
                )
                if kind == OK:
                    exports[name] = value
                else:
                    exports[name] = {"invalid": f"{kind}: {detail}" if detail else kind}
                    failed[name] = {"kind": kind, "detail": detail}
        channel.send(event=EXPORTS, values=exports, failed=failed)

    timed_out = _set()
    for spec in request["calls"]:
        if spec["function"] in timed_out:
            channel.send(event=CALL, id=spec["id"], kind=TIMED_OUT)
            continue
        channel.send(event=CALL_START, id=spec["id"])
        if _call(spec, ns, limits["call_seconds"], channel) == TIMED_OUT:
            timed_out.add(spec["function"])  # one time-out per function is enough
    channel.send(event=DONE, printed=sink.chars)
    _os_exit(0)  # skip atexit handlers and finalizers the student may have registered


if __name__ == "__main__":
    try:
        main(sys.argv)
    except BaseException:  # a fault of the probe itself (not of a cell): say so on stderr
        import traceback

        os.write(2, traceback.format_exc().encode("utf-8", "replace"))
        _os_exit(70)
