"""The operating system is the boundary: code in the sandbox with NO audit hook at all (as if a
student had switched it off) still cannot reach the grader's files, the network or the grader.

The sandbox's own command line (isolation.Bubblewrap) runs `python -S -c ATTACK` in place of
probe.py, so nothing of the probe's Python-level defences is in the way. Then a whole batch
through `commslab grade` with submissions that try the same from a notebook: every row is
written, nobody scores above the honest baseline, no probe is left running.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest

import comms_core
from commslab.grading import isolation, protocol

ROOT = Path(__file__).resolve().parent.parent


def _sandboxed_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    launch = isolation.Bubblewrap().launch(str(tmp_path), 8 * 1024**2)
    assert launch.argv[-1] == isolation.PROBE_IN_SANDBOX
    argv = [*launch.argv[:-1], "-c", code]  # the probe's interpreter, no probe, no hook
    return subprocess.run(
        argv, env=launch.env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def listener():
    """A TCP listener on the host's loopback that records whether anyone connected."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    connected = []

    def accept():
        for _ in range(30):
            try:
                conn, _ = server.accept()
                connected.append(True)
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], connected
    server.close()


def test_without_any_audit_hook_the_grader_is_out_of_reach(tmp_path, listener) -> None:
    isolation.Bubblewrap().check()
    port, connected = listener
    key = tmp_path / "autograder" / "instructor.key"
    key.parent.mkdir()
    key.write_text("secret")
    (tmp_path / "autograder" / "tests").mkdir()
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "classmate.ipynb").write_text("{}")
    out = tmp_path / "grading-out"
    out.mkdir()
    targets = {
        "key": str(key),
        "tests": str(key.parent / "tests"),
        "reference": str(Path(comms_core.__file__).parent),
        "grader": str(Path(isolation.__file__).parent),
        "batch": str(batch),
        "classmate": str(batch / "classmate.ipynb"),
        "out": str(out),
        "checkout": str(ROOT),
    }
    attack = f"""
import json, os, socket, errno
targets = {targets!r}
seen = {{}}
for name, path in targets.items():
    tries = []
    for how in (os.stat, os.listdir, lambda p: open(p).read(), lambda p: open(p + '/x', 'w')):
        try:
            how(path)
            tries.append('ok')
        except OSError as e:
            tries.append(errno.errorcode.get(e.errno, str(e.errno)))
    seen[name] = tries
s = socket.socket()
s.settimeout(2)
try:
    s.connect(('127.0.0.1', {port}))
    seen['loopback'] = 'connected'
except OSError as e:
    seen['loopback'] = errno.errorcode.get(e.errno, str(e.errno))
try:
    os.kill({os.getpid()}, 0)
    seen['grader_pid'] = 'visible'
except OSError as e:
    seen['grader_pid'] = errno.errorcode.get(e.errno, str(e.errno))
try:
    fd = os.pidfd_open({os.getpid()})
    seen['pidfd'] = 'opened'
except OSError as e:
    seen['pidfd'] = errno.errorcode.get(e.errno, str(e.errno))
seen['uid'] = os.getuid()
seen['root_entries'] = sorted(os.listdir('/'))
try:
    open('/tmp/fill', 'wb').write(b'x' * (32 * 1024**2))
    seen['disk'] = 'filled'
except OSError as e:
    seen['disk'] = errno.errorcode.get(e.errno, str(e.errno))
print(json.dumps(seen))
"""
    run = _sandboxed_python(attack, tmp_path)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    for name in targets:
        assert "ok" not in seen[name], (name, seen[name])  # not even a stat
        assert seen[name][0] == "ENOENT", (name, seen[name])  # not there at all
    assert seen["loopback"] in ("ECONNREFUSED", "ENETUNREACH"), seen["loopback"]
    assert not connected  # the host's listener never saw a connection
    assert seen["grader_pid"] == "ESRCH" and seen["pidfd"] == "ESRCH"
    assert seen["uid"] == isolation.SANDBOX_UID
    assert seen["disk"] == "ENOSPC"  # the private folder is bounded
    assert set(seen["root_entries"]) <= {
        "usr",
        "lib",
        "lib64",
        "bin",
        "etc",
        "dev",
        "proc",
        "tmp",
        "sandbox",
        "root",
        "opt",
        "home",
        "work",
    }
    assert key.read_text() == "secret" and not (batch / "x").exists()


def test_site_packages_are_hidden_and_only_the_allowed_packages_import(tmp_path) -> None:
    code = (
        "import importlib.util, json, sys\n"
        "mods = ['numpy', 'matplotlib', 'comms_core', 'commslab', 'otter', 'nbformat', 'pip']\n"
        "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in mods}))\n"
    )
    run = _sandboxed_python(code, tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "numpy": True,
        "matplotlib": True,
        "comms_core": False,
        "commslab": False,
        "otter": False,
        "nbformat": False,
        "pip": False,
    }


@pytest.mark.parametrize(
    "line",
    [
        b'{"event": "call", "id": "c", "kind": "ok", "value": NaN}',
        b'{"event": "call", "id": "c", "kind": "ok", "value": [1.0, Infinity]}',
        b'{"event": "call", "id": "c", "kind": "ok", "value": -Infinity}',
        b'{"event": "call", "id": "c", "kind": "ok", "value": 1e999}',
        b'{"event": "call", "id": "c", "kind": "ok", "value": "1.0"}',
        b'{"event": "call", "id": "c", "kind": "ok", "value": true}',
        b'{"event": "call", "id": "c", "kind": "ok"}',
        b'{"event": "call", "id": "c", "kind": "not run"}',
        b'{"event": "call", "id": "c", "status": "ok", "value": 1.0}',
        b'{"event": "exports", "values": {"LEDGER": {"k": NaN}}}',
        b'{"event": "exports", "values": {"LEDGER": {"k": "' + b"x" * 300 + b'"}}}',
        b'{"event": "cell_end", "index": -1, "kind": "ok"}',
        b'{"event": "shutdown_grader"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"event": "call", "id": "c", "kind": "ok", "value": '
        + b"[" * 50
        + b"1"
        + b"]" * 50
        + b"}",
        b'{"event": "done", "printed": 1}' + b" " * (protocol.MAX_LINE_BYTES + 1),
        b"not json",
    ],
    ids=lambda line: line[:40].decode("latin-1"),
)
def test_the_protocol_refuses_what_the_grader_must_not_trust(line: bytes) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_event(line)


def test_the_protocol_accepts_what_the_probe_sends() -> None:
    event = protocol.parse_event(
        b'{"event": "call", "id": "c", "kind": "ok", "value": {"a": [1, 2.5], "b": 3}}'
    )
    assert event.outcome.ok and event.value == {"a": [1.0, 2.5], "b": 3.0}
    failed = protocol.parse_event(
        b'{"event": "call", "id": "c", "kind": "error", "detail": "ValueError: no"}'
    )
    assert failed.outcome.text() == "error: ValueError: no" and failed.value is None
