"""The one launcher factory: where a probe (and each MPI bonus rank) runs.

    make_launcher("local")                 bubblewrap (isolation.Bubblewrap)
    make_launcher("local", unsafe_no_sandbox=True)   a plain subprocess, only when asked by name
    make_launcher("podman" | "docker")     one container per probe (container.ContainerLauncher)
    make_launcher("hosted")                bubblewrap where it starts, else uid 65534
                                           (hosted.best_launcher: Gradescope, PrairieLearn)
    launcher_from_spec(launcher.spec())    the same launcher in another process (bonus_relay)

This module sits above sandbox, isolation, container and hosted and imports them; none of them
imports it (tests/test_layers.py).
"""

from __future__ import annotations

from pathlib import Path

from commslab.grading import container, hosted, isolation
from commslab.grading.sandbox import Launcher

ENGINES = ("local", "docker", "podman")


def make_launcher(
    engine: str,
    *,
    unsafe_no_sandbox: bool = False,
    course: Path | None = None,
    image: str | None = None,
    check: bool = True,
) -> Launcher:
    """Where each probe runs: the bubblewrap sandbox ("local"), a container (its image built
    from the course folder `course`, container.image_root, unless `image` names one), the
    hosted graders' best sandbox ("hosted"), or (only when asked for by name) a plain
    subprocess. With `check`, raises SandboxUnavailable / ContainerEngineError with the fix
    when it cannot run here."""
    if engine not in (*ENGINES, "hosted"):
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if unsafe_no_sandbox and engine != "local":
        raise ValueError("--unsafe-no-sandbox only applies to the local engine")
    launcher: Launcher
    if engine == "hosted":
        return hosted.best_launcher()  # checked while choosing
    if engine == "local":
        launcher = isolation.Unsandboxed() if unsafe_no_sandbox else isolation.Bubblewrap()
    else:
        launcher = container.ContainerLauncher(engine, image=image, course=course)
    if check:
        launcher.check()
    return launcher


def launcher_from_spec(spec: str) -> Launcher:
    """`bubblewrap`, `unprivileged-user`, `podman=IMAGE` or `docker=IMAGE` (Launcher.spec())
    -> its launcher, unchecked."""
    engine, _, image = spec.partition("=")
    if spec == "bubblewrap":
        return make_launcher("local", check=False)
    if spec == hosted.UnprivilegedUser.name:
        return hosted.UnprivilegedUser()
    if engine in container.ENGINES and image:
        return make_launcher(engine, image=image, check=False)
    raise ValueError(f"unknown sandbox {spec!r}")
