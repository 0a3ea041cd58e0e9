"""Fixtures shared by the test files: the real podman engine and the probe image.

On a fresh CI machine (root) `podman` installs podman, runc and debootstrap with apt-get
(scripts/install_container_tools.sh); `grader_image` builds the Debian base once
(scripts/build_base_image.sh) and the probe image of this checkout.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from commslab.grading import container

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ("podman", "runc", "debootstrap")


def _missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


@pytest.fixture(scope="session")
def build_lock(tmp_path_factory):
    """One lock shared by the pytest-xdist workers: only one of them builds at a time."""
    lock_file = tmp_path_factory.getbasetemp().parent / "comms-lab-container.lock"

    class Lock:
        def __enter__(self):
            self.handle = open(lock_file, "w")
            fcntl.flock(self.handle, fcntl.LOCK_EX)

        def __exit__(self, *exc):
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()

    return Lock()


@pytest.fixture(scope="session")
def podman(build_lock) -> str:
    """podman + runc + debootstrap, installed with apt-get on a fresh machine when root."""
    with build_lock:
        missing = _missing_tools()
        if missing and os.geteuid() != 0:
            pytest.skip(f"{', '.join(missing)} missing and not root: cannot apt-get install them")
        if missing:
            subprocess.run([ROOT / "scripts" / "install_container_tools.sh"], check=True)
    container.check_engine("podman")
    return "podman"


@pytest.fixture(scope="session")
def grader_image(podman: str, build_lock) -> str:
    """The Debian base (reused across runs) and the grading image of this checkout."""
    with build_lock:
        if os.geteuid() != 0 and not container.image_exists(podman, container.LOCAL_BASE_IMAGE):
            pytest.skip(f"no {container.LOCAL_BASE_IMAGE} and not root: debootstrap needs root")
        start = time.monotonic()
        subprocess.run([ROOT / "scripts" / "build_base_image.sh"], check=True)
        base_seconds = time.monotonic() - start
        start = time.monotonic()
        image = container.ensure_image(podman, base_image=container.LOCAL_BASE_IMAGE)
        build_seconds = time.monotonic() - start
    print(f"\nbase image: {base_seconds:.1f} s; grading image {image}: {build_seconds:.1f} s")
    return image
