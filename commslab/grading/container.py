"""The probe in a container, with docker or podman: the same boundary as the bubblewrap
sandbox, for TAs who grade in containers.

The image (autograder/Dockerfile) holds Python, numpy, matplotlib and probe.py: no grader, no
hidden tests, no instructor key, no reference. The grader stays on the host: it runs the hidden
tests, starts one container per probe attempt, writes the request on the container's stdin,
reads the protocol's events from its stdout (protocol.py) and computes the score itself. No
file is shared with the container, so nothing it writes can become a result, and the host's
paths (relative or not) never reach the engine's command line:

    ENGINE run -i --rm --name NAME --network none --memory M --memory-swap M --pids-limit P
        --cpus 1 --read-only --tmpfs /tmp:size=D --user 65534:65534 --cap-drop ALL
        --security-opt no-new-privileges IMAGE python -s -P /opt/probe/probe.py

A probe that runs past its deadline is killed by the grader, and its container by name.

Facts this relies on, measured on the course machines (no Docker engine, no registry; podman
with runc as root): crun fails on hybrid cgroups, so podman runs with autograder/containers.conf
(runc, cgroupfs); `--memory` kills with exit 137 while `podman inspect` still reports
OOMKilled=false on cgroup v1, so the exit code is what we read; the base image is built from
Debian packages by scripts/build_base_image.sh (docs/notes/containers.md).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from commslab.grading.isolation import SANDBOX_UID, Launch
from commslab.grading.sandbox import Limits

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = PROJECT_ROOT / "autograder" / "Dockerfile"
# What goes into the image; .dockerignore lets in exactly these (a test checks they agree).
IMAGE_SOURCES = (
    "autograder/probe-requirements.txt",
    "commslab/grading/probe.py",
    "commslab/mpi/relay_rank.py",  # the bonus's student side (commslab/mpi/bonus_relay.py)
)
# A plain (non-editable) install has no checkout around it: the image's files come from the
# package's course template (commslab/templates/course/autograder) and probe.py.
_TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "course" / "autograder"
PODMAN_CONF = (
    PROJECT_ROOT / "autograder" / "containers.conf"
    if DOCKERFILE.is_file()
    else _TEMPLATE / "containers.conf"
)
IMAGE_REPOSITORY = "localhost/comms-lab-probe"
IN_IMAGE = ("probe.py", "relay_rank.py")  # the scripts the Dockerfile copies to /opt/probe
LOCAL_BASE_IMAGE = "localhost/comms-lab-base:bookworm"  # scripts/build_base_image.sh
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
ENGINES = ("docker", "podman")
EXIT_KILLED = 137  # 128 + SIGKILL: the memory cgroup's OOM killer (or our own kill)
# The container's memory: the probe's own limit (RLIMIT_AS) plus room for Python and numpy.
PROBE_HEADROOM_BYTES = 512 * 1024**2
DEFAULT_MEMORY = f"{(Limits().memory_bytes + PROBE_HEADROOM_BYTES) // 1024**2}m"


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
    IMAGE_SOURCES (relative path and bytes). A changed probe gives a new tag, hence a
    rebuild; an unchanged checkout reuses the image.
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


@functools.cache
def image_root(course: Path | None = None) -> Path:
    """The build context. From a course folder (`commslab init`): its autograder/Dockerfile and
    probe-requirements.txt (the instructor may edit them) with the package's probe.py and
    relay_rank.py, staged in a temporary folder removed when the process ends. Without one:
    the checkout this package runs from, else (a plain install) the package's own template."""
    course = Path(course).resolve() if course is not None else None
    if course == PROJECT_ROOT or (course is None and DOCKERFILE.is_file()):
        return PROJECT_ROOT
    own = course / "autograder" if course is not None else None
    template = own if own is not None and (own / "Dockerfile").is_file() else _TEMPLATE
    staged = Path(tempfile.mkdtemp(prefix="commslab-image-"))
    atexit.register(shutil.rmtree, staged, True)
    files = {
        "autograder/Dockerfile": template / "Dockerfile",
        "autograder/probe-requirements.txt": template / "probe-requirements.txt",
        "commslab/grading/probe.py": Path(__file__).with_name("probe.py"),
        "commslab/mpi/relay_rank.py": Path(__file__).parents[1] / "mpi" / "relay_rank.py",
    }
    for name, source in files.items():
        (staged / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, staged / name)
    return staged


def ensure_image(
    engine: str,
    *,
    base_image: str | None = None,
    rebuild: bool = False,
    root: Path | None = None,
    timeout: float = 1800,
) -> str:
    """Build the grading image unless an image of the same sources exists; return its tag.

    Thread-safe and remembered for the process: a batch asks once per submission and pays
    for the engine check and the build once.
    """
    with _BUILD_LOCK:
        root = root or image_root()
        ready = (engine, base_image, str(root))
        if not rebuild and ready in _READY:
            return _READY[ready]
        check_engine(engine)
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


@dataclass
class ContainerLauncher:
    """sandbox.Launcher for docker/podman: one fresh container per probe attempt."""

    engine: str
    image: str | None = None
    pids: int = 64
    memory: str = DEFAULT_MEMORY
    name: str = "container"
    course: Path | None = None  # the image is built from this course folder (image_root)
    prefix: str = "comms-lab"  # containers are named PREFIX-probe-… and PREFIX-relay-rank-…

    def check(self) -> None:
        self.image = self.image or ensure_image(self.engine, root=image_root(self.course))

    def spec(self) -> str:
        """`ENGINE=IMAGE`: how a bonus rank (another process) starts the same containers."""
        self.check()
        return f"{self.engine}={self.image}"

    def launch(self, workdir: str, disk_bytes: int) -> Launch:
        return self.launch_script("probe.py", workdir, disk_bytes)

    def launch_script(self, script: str | os.PathLike, workdir: str, disk_bytes: int) -> Launch:
        """One of the image's scripts (/opt/probe: probe.py, relay_rank.py) in a container."""
        self.check()
        name = Path(script).name
        if name not in IN_IMAGE:
            raise ValueError(f"{name} is not in the probe image (only {', '.join(IN_IMAGE)})")
        container = f"{self.prefix}-{Path(name).stem.replace('_', '-')}-{uuid.uuid4().hex[:12]}"
        memory = self.memory
        image = self.image
        assert image is not None  # check() resolved it
        uid = f"{SANDBOX_UID}:{SANDBOX_UID}"
        argv = [
            self.engine, "run", "-i", "--rm", "--name", container,
            "--network", "none",
            "--memory", memory, "--memory-swap", memory,  # swap = memory: no swap on top
            "--pids-limit", str(self.pids),
            "--cpus", "1",
            "--read-only", "--tmpfs", f"/tmp:rw,size={int(disk_bytes)},mode=1777",
            "--user", uid, "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--workdir", "/tmp",
            image, "python", "-s", "-P", f"/opt/probe/{name}",
        ]  # fmt: skip
        engine = self.engine

        def remove() -> None:  # the client may be gone while the container still runs
            _engine(engine, "rm", "-f", container, timeout=60)

        return Launch(argv, {**engine_env(engine), "HOME": workdir}, cwd=workdir, cleanup=remove)
