"""The probe image and its container, for real: podman + runc builds and runs it here.

Fast tests (no engine): the tag follows the sources, .dockerignore lets in what the tag
hashes, a missing engine or a docker client without a daemon gives a clear message.
Slow tests (@slow, @container): build the Debian base and the probe image, then
* the container itself, run with ContainerLauncher's flags: no network, the memory and pids
  limits hold, the root file system is read-only, the user is 65534, and nothing of the grader
  (comms_core, commslab, otter, the key, the tests) is in the image;
* real grading: sample submissions (solved, untouched, buggy, broken, a memory bomb, a fork
  bomb, a socket attempt) get the same row with the probe in a container as in the bubblewrap
  sandbox, and a probe that runs out of time or memory still gives a clear row.
On a fresh CI machine (root) the fixture installs podman, runc and debootstrap with apt-get.
"""

from __future__ import annotations

import stat
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from adversarial import notebooks

from commslab.grading import container
from commslab.grading.grade import grade_notebook, question_points
from commslab.grading.records import Status

ROOT = container.PROJECT_ROOT
AUTOGRADER = ROOT / "autograder"
TERM = notebooks.TERM
STUDENT = "1234567"


# ----------------------------------------------------------------------------- fast, no engine


def _fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for rel in ("autograder/Dockerfile", ".dockerignore", "autograder/probe-requirements.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"{rel}\n")
    (root / "commslab" / "grading").mkdir(parents=True)
    (root / "commslab" / "grading" / "probe.py").write_text("x = 1\n")
    return root


def test_image_tag_follows_the_sources_and_nothing_else(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    first = container.image_tag(root)
    assert first.startswith(f"{container.IMAGE_REPOSITORY}:")
    assert container.image_tag(root) == first  # deterministic
    (root / "commslab" / "grading" / "__pycache__").mkdir()
    (root / "commslab" / "grading" / "__pycache__" / "probe.cpython-311.pyc").write_bytes(b"j")
    (root / "notes.txt").write_text("not in the image")
    (root / "autograder" / "tests").mkdir()
    (root / "autograder" / "tests" / "q1.py").write_text("hidden\n")
    (root / "autograder" / "instructor.key").write_text("secret\n")
    assert container.image_tag(root) == first  # bytecode, tests, the key: not in the image
    (root / "commslab" / "grading" / "probe.py").write_text("x = 2\n")
    changed_source = container.image_tag(root)
    assert changed_source != first
    (root / "autograder" / "Dockerfile").write_text("FROM other\n")
    assert container.image_tag(root) != changed_source
    assert container.image_tag(root, "localhost/x:1") != container.image_tag(root)


def test_dockerignore_lets_in_exactly_what_the_tag_hashes() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].strip("/") for line in lines if line.startswith("!")}
    assert "*" in lines  # everything else is left out
    assert allowed == set(container.IMAGE_SOURCES)


def test_dockerfile_takes_its_base_as_a_build_argument() -> None:
    text = (ROOT / "autograder" / "Dockerfile").read_text()
    arg = text.index("ARG BASE_IMAGE=python:3.11-slim")
    assert arg < text.index("FROM ${BASE_IMAGE}")
    assert "--mount" not in text  # plain syntax: a real Docker without BuildKit builds it too


def test_the_image_is_built_from_the_course_folder(tmp_path: Path) -> None:
    """`commslab grade --engine podman` in a course folder builds from its autograder/ files
    (an instructor's edit counts) and the package's probe.py; the repository is its own."""
    from commslab.course import init_course

    course = tmp_path / "my-course"
    init_course(course)
    with open(course / "autograder" / "Dockerfile", "a") as f:
        f.write('LABEL org.comms-lab.course="my-course"\n')
    root = container.image_root(course)
    assert (root / "autograder" / "Dockerfile").read_text().endswith('"my-course"\n')
    probe = ROOT / "commslab" / "grading" / "probe.py"
    assert (root / "commslab" / "grading" / "probe.py").read_bytes() == probe.read_bytes()
    assert container.image_tag(root) != container.image_tag(ROOT)
    assert container.image_root(ROOT) == ROOT


def _fake_bin(tmp_path: Path, name: str, script: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / name
    exe.write_text(f"#!/bin/sh\n{script}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def test_missing_engine_says_what_to_do(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no docker, no podman
    monkeypatch.setattr(container, "_READY", {})  # nothing remembered from other tests
    with pytest.raises(container.ContainerEngineError) as error:
        container.check_engine("docker")
    assert str(error.value) == (
        "docker not found: install Docker or use --engine podman / --engine local"
    )
    with pytest.raises(container.ContainerEngineError, match="podman not found"):
        container.ensure_image("podman")


def test_docker_client_without_daemon_is_detected(tmp_path: Path, monkeypatch) -> None:
    daemon_down = 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2'
    bin_dir = _fake_bin(tmp_path, "docker", f'[ "$1" = info ] && {{ {daemon_down}; exit 1; }}')
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    with pytest.raises(container.ContainerEngineError) as error:
        container.check_engine("docker")
    message = str(error.value)
    assert "engine does not answer" in message
    assert "Cannot connect to the Docker daemon" in message
    assert "--engine podman" in message


def test_unknown_engine_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="engine"):
        container.check_engine("lxc")


# ----------------------------------------------------------------------------- slow, real podman


def _run(image: str, tmp_path: Path, code: str, *, memory: str = "1g", pids: int = 64):
    """`python -c code` in the probe image with exactly the flags of ContainerLauncher."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    launcher = container.ContainerLauncher("podman", image=image, pids=pids, memory=memory)
    launch = launcher.launch(str(tmp_path), 64 * 1024**2)
    assert launch.argv[-4:] == ["python", "-s", "-P", "/opt/probe/probe.py"]
    try:
        return subprocess.run(
            [*launch.argv[:-4], "python", "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            env=launch.env,
            cwd=tmp_path,  # runc leaves an empty "oom" file in its cwd after an OOM kill
        )
    finally:
        launch.cleanup()


@pytest.mark.slow
@pytest.mark.container
def test_image_holds_the_probe_and_nothing_of_the_grader(grader_image: str, tmp_path: Path):
    code = (
        "import importlib.util, os, numpy, matplotlib\n"
        "found = [m for m in ('comms_core', 'commslab', 'otter', 'nbformat')\n"
        "         if importlib.util.find_spec(m)]\n"
        "print(found, os.getuid(), os.environ['HOME'], os.path.exists('/opt/probe/probe.py'))\n"
    )
    run = _run(grader_image, tmp_path, code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["[]", "65534", "/tmp", "True"]


@pytest.mark.slow
@pytest.mark.container
def test_no_network_only_loopback(grader_image: str, tmp_path: Path) -> None:
    code = (
        "import errno, socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
        "s.settimeout(5)\n"
        "try:\n"
        "    s.connect(('1.1.1.1', 443)); print('CONNECTED')\n"
        "except OSError as e:\n"
        "    print(errno.errorcode.get(e.errno, e))\n"
        "print(sorted(name for _, name in socket.if_nameindex()))\n"
    )
    run = _run(grader_image, tmp_path, code)
    assert run.returncode == 0, run.stderr
    outcome, interfaces = run.stdout.splitlines()
    assert outcome == "ENETUNREACH"
    assert interfaces == "['lo']"


@pytest.mark.slow
@pytest.mark.container
def test_memory_limit_kills_a_3_gb_allocation(grader_image: str, tmp_path: Path) -> None:
    # Touch every page so the memory is really used (a lazy calloc would not count).
    code = "b = bytearray(3 * 1024**3)\nb[::4096] = b'x' * len(b[::4096])\nprint('ALLOCATED')"
    run = _run(grader_image, tmp_path, code, memory="1g")
    assert run.returncode == container.EXIT_KILLED
    assert "ALLOCATED" not in run.stdout
    small = _run(grader_image, tmp_path / "small", "b = bytearray(200 * 1024**2); print('OK')")
    assert small.stdout.strip() == "OK"  # the limit, not the image, is what killed it


@pytest.mark.slow
@pytest.mark.container
def test_pids_limit_stops_a_fork_bomb(grader_image: str, tmp_path: Path) -> None:
    code = (
        "import os, time\n"
        "children = 0\n"
        "try:\n"
        "    while children < 5000:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60); os._exit(0)\n"
        "        children += 1\n"
        "except OSError as e:\n"
        "    print(children, e.errno)\n"
    )
    start = time.monotonic()
    run = _run(grader_image, tmp_path, code, pids=64)
    children, error = run.stdout.split()
    assert int(children) < 64  # the 64th process of the container is refused
    assert error == "11"  # EAGAIN
    assert time.monotonic() - start < 60  # --rm ends the sleeping children with the container


@pytest.mark.slow
@pytest.mark.container
def test_root_file_system_is_read_only(grader_image: str, tmp_path: Path) -> None:
    code = (
        "import pathlib\n"
        "for place in ('/opt/probe/probe.py', '/opt/venv/x', '/tmp/scratch'):\n"
        "    try:\n"
        "        pathlib.Path(place).write_text('x'); print(place, 'writable')\n"
        "    except OSError as e:\n"
        "        print(place, e.errno)\n"
    )
    run = _run(grader_image, tmp_path, code)
    assert run.returncode == 0, run.stderr
    outcome = dict(line.split() for line in run.stdout.splitlines())
    assert outcome["/opt/probe/probe.py"] in ("13", "30")  # EACCES or EROFS
    assert outcome["/opt/venv/x"] in ("13", "30")
    assert outcome["/tmp/scratch"] == "writable"


# ----------------------------------------------------------------------------- slow, real grading

MEMORY_BOMB = (  # grows 64 MiB at a time and touches every page: real memory, not a reservation
    "chunks = []\n"
    "while True:\n"
    "    chunk = bytearray(64 * 1024**2)\n"
    "    chunk[::4096] = b'x' * len(chunk[::4096])\n"
    "    chunks.append(chunk)\n"
)
FORK_BOMB = "import os\nwhile True:\n    os.fork()\n"
SOCKET = (
    "import socket\n"
    "s = socket.create_connection(('1.1.1.1', 443), timeout=3)\n"
    "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n"
)
AFTER_PART1 = 7  # position of a student-added cell: right after the Part 1 stubs
SAMPLES = {
    "solved": lambda: notebooks.solved_notebook(STUDENT),
    "untouched": lambda: notebooks.untouched_notebook(),
    "buggy": lambda: notebooks.buggy_notebook(STUDENT),
    "memory_bomb": lambda: notebooks.solved_notebook(STUDENT, extra=[(AFTER_PART1, MEMORY_BOMB)]),
    "fork_bomb": lambda: notebooks.solved_notebook(STUDENT, extra=[(AFTER_PART1, FORK_BOMB)]),
    "socket": lambda: notebooks.solved_notebook(STUDENT, extra=[(AFTER_PART1, SOCKET)]),
}


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> dict[str, Path]:
    # LMS-style names with spaces and a colon: nothing of the host's paths reaches the engine.
    folder = tmp_path_factory.mktemp("submissions")
    paths = {
        name: notebooks.write(build(), folder / f"doe, jane: {name}.ipynb")
        for name, build in SAMPLES.items()
    }
    broken = folder / "doe, jane: broken.ipynb"
    broken.write_text('{"cells": [ this is not JSON')
    return {**paths, "broken": broken}


def _full_marks() -> float:
    return sum(question_points(AUTOGRADER).values())


def _refused(row, what: str) -> bool:
    return any("SandboxError" in line and what in line for line in row.feedback)


# What each sample must get, from the spec and the samples' construction (not from a run).
# The bombs sit in a student-added cell: it is refused or stopped, the rest still counts.
EXPECTED = {
    "solved": lambda row, full: row.score == full and row.status == "graded",
    "untouched": lambda row, full: row.score == 0,
    "buggy": lambda row, full: 0 < row.score < full,
    "broken": lambda row, full: row.score == 0 and row.status.kind is Status.CORRUPT,
    "memory_bomb": lambda row, full: row.score == full and row.status == "memory limit",
    "fork_bomb": lambda row, full: row.score == full and _refused(row, "os.fork"),
    "socket": lambda row, full: row.score == full and _refused(row, "socket"),
}


def _left_running(prefix: str = "comms-lab-probe-") -> str:
    left = subprocess.run(
        ["podman", "ps", "-a", "--filter", f"name={prefix}", "--format", "{{.Names}}"],
        capture_output=True, text=True, env=container.engine_env("podman"), check=True,
    )  # fmt: skip
    return left.stdout.strip()


@pytest.mark.slow
@pytest.mark.container
@pytest.mark.parametrize("name", list(EXPECTED))
def test_container_grades_like_the_sandbox(
    name: str, submissions: dict[str, Path], grader_image: str
) -> None:
    path = submissions[name]
    local = grade_notebook(path, term=TERM, student_id=STUDENT, autograder_dir=AUTOGRADER)
    start = time.monotonic()
    boxed = grade_notebook(
        path, term=TERM, student_id=STUDENT, autograder_dir=AUTOGRADER,
        launcher=container.ContainerLauncher("podman", image=grader_image),
    )  # fmt: skip
    print(f"\n{name}: {time.monotonic() - start:.1f} s in the container")
    full = _full_marks()
    assert full > 0
    assert boxed.max_score == full  # every row is out of the full total, broken ones too
    assert EXPECTED[name](boxed, full), (boxed.score, boxed.status, boxed.feedback)
    assert boxed.row() == local.row()  # score, points, status, feedback: all of it


@pytest.mark.slow
@pytest.mark.container
def test_a_probe_out_of_time_is_killed_and_its_container_removed(
    grader_image: str, tmp_path: Path
) -> None:
    looping = notebooks.write(
        notebooks.solved_notebook(STUDENT, extra=[(0, "while True:\n    pass\n")]),
        tmp_path / "loop.ipynb",
    )
    # a prefix of its own: other tests' containers may be running at the same time
    prefix = f"comms-lab-test-{uuid.uuid4().hex[:8]}"
    launcher = container.ContainerLauncher("podman", image=grader_image, prefix=prefix)
    start = time.monotonic()
    row = grade_notebook(
        looping, term=TERM, student_id=STUDENT, autograder_dir=AUTOGRADER,
        timeout=3, launcher=launcher,
    )  # fmt: skip
    assert time.monotonic() - start < 60  # killed at 3 s, not left to finish
    assert row.status.kind is Status.TIMED_OUT, row.status
    assert row.student_id == STUDENT
    assert _left_running(f"{prefix}-probe-") == ""  # no container left behind


@pytest.mark.slow
@pytest.mark.container
def test_the_container_memory_limit_stops_a_bomb_below_the_probes_own(
    submissions: dict[str, Path], grader_image: str
) -> None:
    # 256 MB for the container, 1 GiB of address space for the probe: the memory cgroup kills
    # the probe first; the grader restarts it without that cell and the rest still counts.
    row = grade_notebook(
        submissions["memory_bomb"], term=TERM, student_id=STUDENT, autograder_dir=AUTOGRADER,
        launcher=container.ContainerLauncher("podman", image=grader_image, memory="256m"),
    )  # fmt: skip
    assert row.score == row.max_score > 0
    assert row.status in ("kernel exited", "memory limit"), row.status
    assert any("restarted without it" in note for note in row.notes), row.notes
