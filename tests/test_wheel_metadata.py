"""The Gradescope bundle's wheel always carries its metadata, or is not built (issue 20).

Started in the checkout, Python puts the checkout first on sys.path, and a stale
`comms_lab.egg-info` there (setuptools writes PKG-INFO, not METADATA) used to win over the
installed dist-info: the wheel got an empty METADATA and setup.sh failed on Gradescope's
Python 3.10 ("Missing 'Version:' header"). The oracle is pip itself: it must accept the wheel
(`pip install --dry-run`), and it refuses one with an empty METADATA.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from email.parser import HeaderParser
from importlib import metadata

import click
import pytest

from commslab import wheels


@pytest.fixture
def stale_egg_info(tmp_path, monkeypatch):
    """A checkout-like folder first on sys.path with an egg-info that has no METADATA."""
    egg = tmp_path / "comms_lab.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: comms-lab\nVersion: 0.0.1\n")
    (egg / "top_level.txt").write_text("commslab\ncomms_core\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = metadata.distribution(wheels.DISTRIBUTION)
    assert not first.read_text("METADATA")  # the situation of the issue
    return tmp_path


def _pip_accepts(wheel) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index", wheel],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_bundle_wheel_has_its_metadata_despite_a_stale_egg_info(stale_egg_info, tmp_path):
    spec = wheels.full_wheel()
    headers = HeaderParser().parsestr(spec.metadata)
    assert headers["Name"] == "comms-lab" and headers["Version"] == spec.version
    assert spec.version != "0.0.1"  # not the stale egg-info's
    wheel = wheels.write_wheel(spec, tmp_path / "out")
    run = _pip_accepts(str(wheel))
    assert run.returncode == 0, run.stderr


def test_a_wheel_without_metadata_is_refused_loudly(tmp_path, monkeypatch):
    spec = dataclasses.replace(wheels.full_wheel(), metadata="")
    with pytest.raises(wheels.MetadataError, match="Metadata-Version"):
        wheels.write_wheel(spec, tmp_path)
    assert not list(tmp_path.iterdir())  # nothing written
    # what pip says to such a wheel (the check is not stricter than pip)
    monkeypatch.setattr(wheels, "check_metadata", lambda spec: None)
    assert _pip_accepts(str(wheels.write_wheel(spec, tmp_path))).returncode != 0


def test_only_a_stale_egg_info_stops_the_bundle_with_the_fix(stale_egg_info, monkeypatch, tmp_path):
    from commslab import bundle

    only_stale = [metadata.distribution(wheels.DISTRIBUTION)]
    monkeypatch.setattr(metadata, "distributions", lambda **kwargs: iter(only_stale))
    with pytest.raises(wheels.MetadataError, match="pip install -e"):
        wheels.installed()
    with pytest.raises(click.ClickException, match="bundle was not built"):
        bundle._files(tmp_path)
