"""`commslab demo`: runs headless, writes the five figures, prints the key numbers."""

from __future__ import annotations

import struct

from click.testing import CliRunner

from commslab.cli import main
from commslab.demo import FIGURES


def png_size(path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (and proof that it is a PNG)."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_demo_writes_five_pngs_and_prints_the_known_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps table cells at the terminal width
    monkeypatch.delenv("DISPLAY", raising=False)
    out = tmp_path / "figures"
    result = CliRunner().invoke(main, ["figures", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(FIGURES)
    assert set(FIGURES) == {
        "crossover.png",
        "topology_ring.png",
        "topology_tree.png",
        "waterfall.png",
        "convergence.png",
    }
    for name in FIGURES:
        width, height = png_size(out / name)
        assert width >= 600 and height >= 400, (name, width, height)
    # docs/LAB_SPEC.md known answers for N = 64, α = 10 µs, β = 10 GB/s at 1 MB
    assert "1.4569 ms" in result.output  # T_ring = 1456.9 µs
    assert "1.32 ms" in result.output  # T_tree = 1320 µs
    assert "1.136 MB" in result.output  # M*
    assert "exact sum on every rank: yes" in result.output
    assert "14 steps" in result.output and "6 steps" in result.output  # 2(N-1), 2⌈log2 N⌉


def test_demo_help_names_the_option():
    result = CliRunner().invoke(main, ["figures", "--help"])
    assert result.exit_code == 0 and "--out" in result.output
