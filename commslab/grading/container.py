"""Grade submissions inside the grading image, with docker or podman.

The image (autograder/Dockerfile) holds the course's Python environment and runs
`commslab grade-one` as the non-root user `grader`. Each submission gets its own container:

    ENGINE run --rm --network none --memory M --memory-swap M --pids-limit P --cpus 1
        --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges
        -v STAGE/in:/submission:ro -v STAGE/out:/out IMAGE
        commslab grade-one /submission/FILE --term=T --student-id=ID --timeout=S
        --out=/out/result.json

and a wall-clock timeout around it (the container is killed by name when it expires). These
limits are a second wall around the grader's own sandboxed probe (commslab/grading/grade.py):
they also hold if the grader itself is what breaks.

Facts this relies on, measured on the course machines (no Docker engine, no registry; podman
with runc as root): crun fails on hybrid cgroups, so podman runs with autograder/containers.conf
(runc, cgroupfs); `--memory` kills with exit 137 while `podman inspect` still reports
OOMKilled=false on cgroup v1, so the exit code is what we read; the base image is built from
Debian packages by scripts/build_base_image.sh. Source: /work/shared/notes/containers.md.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from commslab.grading.harness import KEY_ENV, instructor_key
from commslab.grading.sandbox import Limits

if TYPE_CHECKING:
    from commslab.grading.grade import GradeResult

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = PROJECT_ROOT / "autograder" / "Dockerfile"
PODMAN_CONF = PROJECT_ROOT / "autograder" / "containers.conf"
# What goes into the image; .dockerignore lets in exactly these (a test checks they agree).
IMAGE_SOURCES = (
    "pyproject.toml",
    "README.md",
    "comms_core",
    "commslab",
    "autograder/tests",
    "autograder/instructor.key",
)
IMAGE_REPOSITORY = "localhost/comms-lab-grader"
LOCAL_BASE_IMAGE = "localhost/comms-lab-base:bookworm"  # scripts/build_base_image.sh
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
ENGINES = ("docker", "podman")
EXIT_KILLED = 137  # 128 + SIGKILL: the memory cgroup's OOM killer (or our own kill)
EXIT_ENGINE_FAILED = (125, 126, 127)  # the engine could not start the command: not the student
STARTUP_GRACE = 60.0  # s on top of the grader's own timeout: engine start-up, imports, tests
# The container's memory is the probe's own limit (RLIMIT_AS) plus room for the grader process
# (Python, numpy, otter: ~0.2 GB) and /tmp. Below that, a memory bomb meets the cgroup's OOM
# killer before its MemoryError and the row says "kernel exited" where the local engine says
# "memory limit" (measured: 2g did that, 3g gives the same row as the local engine).
GRADER_HEADROOM_BYTES = 1024**3
DEFAULT_MEMORY = f"{(Limits().memory_bytes + GRADER_HEADROOM_BYTES) // 1024**2}m"


_BUILD_LOCK = threading.Lock()  # grading threads share one build, never start several
_READY: dict[tuple[str, str | None, str], str] = {}  # images ensured by this process


class ContainerEngineError(RuntimeError):
    """The container engine is missing, not running, or cannot build/start the image."""


def engine_env(engine: str) -> dict[str, str]:
    """The environment for engine commands: podman gets the project's containers.conf."""
    env = dict(os.environ)
    if engine == "podman" and "CONTAINERS_CONF" not in env:
        env["CONTAINERS_CONF"] = str(PODMAN_CONF)
    return env


def _engine(engine: str, *args: str, timeout: float | None = 60) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [engine, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=engine_env(engine),
            check=False,
        )
    except FileNotFoundError:
        raise ContainerEngineError(_not_found_message(engine)) from None


def _not_found_message(engine: str) -> str:
    others = " / ".join(f"--engine {e}" for e in (*ENGINES, "local") if e != engine)
    how = "install Docker" if engine == "docker" else "install podman"
    return f"{engine} not found: {how} or use {others}"


def check_engine(engine: str) -> None:
    """Raise ContainerEngineError unless `engine` is installed AND answers.

    A docker client without a daemon (as on the course machines) is installed but useless:
    `docker info` fails, and we say so instead of failing later on the first build.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if shutil.which(engine) is None:
        raise ContainerEngineError(_not_found_message(engine))
    info = _engine(engine, "info", timeout=60)
    if info.returncode != 0:
        reason = _last_line(info.stderr) or f"exit {info.returncode}"
        others = " / ".join(f"--engine {e}" for e in (*ENGINES, "local") if e != engine)
        raise ContainerEngineError(
            f"{engine} is installed but its engine does not answer (`{engine} info`: {reason}); "
            f"start the {engine} service or use {others}"
        )


def image_exists(engine: str, image: str) -> bool:
    """True if `image` is in the engine's local store (never pulls)."""
    return _engine(engine, "image", "inspect", image).returncode == 0


def _source_files(root: Path) -> Iterator[Path]:
    for name in IMAGE_SOURCES:
        path = root / name
        if path.is_file():
            yield path
        elif path.is_dir():
            for file in sorted(path.rglob("*")):
                junk = {"__pycache__", ".ipynb_checkpoints"} & set(file.parts)
                if file.is_file() and not junk and file.suffix != ".pyc":
                    yield file


def image_tag(root: Path = PROJECT_ROOT, base_image: str | None = None) -> str:
    """`localhost/comms-lab-grader:<hash>`, the hash of everything that goes into the image.

    Hashed: the Dockerfile, .dockerignore, the base image's name and every file of
    IMAGE_SOURCES (relative path and bytes). A changed grader, hidden test or term key gives
    a new tag, hence a rebuild; an unchanged checkout reuses the image.
    """
    digest = hashlib.sha256()
    digest.update(f"base={base_image or ''}\0".encode())
    dockerfile = root / DOCKERFILE.relative_to(PROJECT_ROOT)
    for file in [dockerfile, root / ".dockerignore", *_source_files(root)]:
        if file.is_file():
            digest.update(f"{file.relative_to(root)}\0".encode())
            digest.update(file.read_bytes())
            digest.update(b"\0")
    return f"{IMAGE_REPOSITORY}:{digest.hexdigest()[:16]}"


def default_base_image(engine: str) -> str | None:
    """The base to build on: $COMMSLAB_BASE_IMAGE, else for podman the local Debian base when
    it exists (machines without a registry), else None = the Dockerfile's python:3.11-slim."""
    if os.environ.get("COMMSLAB_BASE_IMAGE"):
        return os.environ["COMMSLAB_BASE_IMAGE"]
    if engine == "podman" and image_exists(engine, LOCAL_BASE_IMAGE):
        return LOCAL_BASE_IMAGE
    return None


def build_command(engine: str, tag: str, base_image: str | None, root: Path) -> list[str]:
    """The `ENGINE build` command line (plain Dockerfile syntax: real Docker builds it too)."""
    dockerfile = root / DOCKERFILE.relative_to(PROJECT_ROOT)
    command = [engine, "build", "-f", str(dockerfile), "-t", tag]
    if base_image:
        command += ["--build-arg", f"BASE_IMAGE={base_image}"]
    if engine == "podman" and HOST_CA_BUNDLE.is_file():
        # pip inside the build may sit behind a TLS-intercepting proxy whose CA is only in the
        # host bundle; a build-time mount does not end up in the image.
        command += ["-v", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
    return [*command, str(root)]


def ensure_image(
    engine: str,
    *,
    base_image: str | None = None,
    rebuild: bool = False,
    root: Path = PROJECT_ROOT,
    timeout: float = 1800,
) -> str:
    """Build the grading image unless an image of the same sources exists; return its tag.

    Thread-safe and remembered for the process: a batch asks once per submission and pays
    for the engine check and the build once.
    """
    with _BUILD_LOCK:
        ready = (engine, base_image, str(root))
        if not rebuild and ready in _READY:
            return _READY[ready]
        check_engine(engine)
        if not os.environ.get(KEY_ENV):  # the image grades with this checkout's key
            instructor_key(root / "autograder", create=True)
        base = base_image or default_base_image(engine)
        tag = image_tag(root, base)
        if rebuild or not image_exists(engine, tag):
            _build(engine, tag, base, root, timeout)
        _READY[ready] = tag
        return tag


def _build(engine: str, tag: str, base: str | None, root: Path, timeout: float) -> None:
    command = build_command(engine, tag, base, root)
    try:
        build = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=engine_env(engine),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ContainerEngineError(f"building {tag} took more than {timeout:.0f} s") from None
    if build.returncode != 0:
        tail = "\n".join((build.stdout + build.stderr).strip().splitlines()[-15:])
        hint = ""
        if not base and engine == "podman":
            hint = (
                f"\nNo registry reachable? Build a local base first: scripts/build_base_image.sh "
                f"(then {LOCAL_BASE_IMAGE} is used automatically)."
            )
        raise ContainerEngineError(f"`{' '.join(command)}` failed:\n{tail}{hint}")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _safe_name(path: Path) -> str:
    """The submission's file name, reduced to characters that are safe in a -v mount spec."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", path.name) or "submission"


def run_command(
    engine: str,
    image: str,
    name: str,
    stage: Path,
    argv: list[str],
    *,
    memory: str = DEFAULT_MEMORY,
    pids: int = 256,
) -> list[str]:
    """`ENGINE run` with the sandbox flags; STAGE/in -> /submission (ro), STAGE/out -> /out."""
    # The term key, if the host takes it from the environment, goes in by name (-e NAME): the
    # value travels in the engine's environment, never on a command line.
    key = ["-e", KEY_ENV] if os.environ.get(KEY_ENV) else []
    return [
        engine, "run", "--rm", "--name", name,
        "--network", "none",
        "--memory", memory, "--memory-swap", memory,  # swap = memory: no swap on top
        "--pids-limit", str(pids),
        "--cpus", "1",
        "--read-only", "--tmpfs", "/tmp:rw,size=512m,mode=1777",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        *key,
        "-v", f"{stage / 'in'}:/submission:ro",
        "-v", f"{stage / 'out'}:/out",
        image, *argv,
    ]  # fmt: skip


def _stage(path: Path, out_dir: Path) -> tuple[Path, str]:
    """A private copy of the submission the container's `grader` user can read, and an output
    folder it can write (it is another uid than ours). Copying also keeps odd LMS file names
    (colons, commas, spaces) out of the engine's -v syntax."""
    stage = Path(tempfile.mkdtemp(prefix=".container-", dir=out_dir))
    (stage / "in").mkdir()
    (stage / "out").mkdir()
    stage.chmod(0o755)
    (stage / "out").chmod(0o777)
    name = _safe_name(path)
    shutil.copyfile(path, stage / "in" / name)
    (stage / "in" / name).chmod(0o644)
    return stage, name


def _in_question_order(result: GradeResult) -> GradeResult:
    """Points in the tests' order (the JSON has sorted keys; grades.csv columns follow this)."""
    from commslab.grading.grade import default_autograder_dir, question_points

    order = {name: i for i, name in enumerate(question_points(default_autograder_dir()))}
    for field in ("points", "max_points"):
        items = getattr(result, field).items()
        setattr(result, field, dict(sorted(items, key=lambda kv: order.get(kv[0], len(order)))))
    return result


def grade_in_container(
    engine: str,
    path: Path | str,
    *,
    term: str,
    student_id: str,
    out_dir: Path | str,
    timeout: float,
    image: str | None = None,
    memory: str = DEFAULT_MEMORY,
    pids: int = 256,
    grace: float = STARTUP_GRACE,
) -> GradeResult:
    """Grade one submission with `commslab grade-one` in a fresh, locked-down container.

    `timeout` is the grader's own budget for the submission (grade-one --timeout); the
    container is killed `grace` seconds after it, so a result is lost only if the grader
    itself hangs. A broken submission always gives a GradeResult with a clear status
    ("timed out", "memory limit", "grader error: ..."), never an exception;
    ContainerEngineError is raised only when the engine cannot run the image at all.
    """
    from commslab.grading.grade import GradeResult

    if not timeout >= 1:
        raise ValueError(f"timeout must be >= 1 second, got {timeout}")
    if not grace >= 0:
        raise ValueError(f"grace must be >= 0 seconds, got {grace}")
    if pids < 1:
        raise ValueError(f"pids must be >= 1, got {pids}")
    path = Path(path)
    out_dir = Path(out_dir)
    if not path.is_file():
        raise ValueError(f"path must be a file, got {path}")
    out_dir.mkdir(parents=True, exist_ok=True)
    image = image or ensure_image(engine)
    stage, name = _stage(path, out_dir)
    container = f"comms-lab-grade-{uuid.uuid4().hex[:12]}"
    argv = [
        "commslab", "grade-one", f"/submission/{name}",
        f"--term={term}", f"--student-id={student_id}",  # = form: an id may start with "-"
        f"--timeout={timeout:g}", "--out=/out/result.json",
    ]  # fmt: skip
    command = run_command(engine, image, container, stage, argv, memory=memory, pids=pids)

    def failed(status: str) -> GradeResult:
        return GradeResult.failed(path=path, term=term, student_id=student_id, status=status)

    try:
        try:
            run = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout + grace,
                env=engine_env(engine),
                cwd=stage,  # runc leaves an empty "oom" file in its cwd after an OOM kill
                check=False,
            )
        except FileNotFoundError:
            raise ContainerEngineError(_not_found_message(engine)) from None
        except subprocess.TimeoutExpired:
            _engine(engine, "kill", container, timeout=60)
            _engine(engine, "rm", "-f", container, timeout=60)
            return failed(f"timed out (container killed after {timeout + grace:g} s)")
        result_file = stage / "out" / "result.json"
        if result_file.is_file():
            try:
                result = GradeResult.from_json(result_file.read_text(encoding="utf-8"))
            except (ValueError, TypeError) as error:
                return failed(f"grader error: unreadable result from the container ({error})")
            result.file = path.name  # the host's file, not its copy in the container
            return _in_question_order(result)
        if run.returncode in EXIT_ENGINE_FAILED:
            raise ContainerEngineError(
                f"{engine} could not run {image} (exit {run.returncode}): {_last_line(run.stderr)}"
            )
        if run.returncode == EXIT_KILLED:
            return failed(f"memory limit (container killed: exit 137 with --memory {memory})")
        why = _last_line(run.stderr) or _last_line(run.stdout) or "no output"
        status = f"grader error: the container exited {run.returncode} without a result: {why}"
        return failed(status[:300])
    finally:
        shutil.rmtree(stage, ignore_errors=True)
