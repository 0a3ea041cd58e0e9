"""Every graded ledger number, read the way a student gets it: from what the executed
notebook displays (every track, several students), gets full marks.

The notebook runs with a real kernel (the solved notebook, as `commslab release` runs it). A
reader per track then fills LEDGER only from the text the cells display (the scenario table,
the workbenches, the crisis instrument), with the hand computations the notebook asks for,
and the hidden ledger tests grade it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from comms_core.scenarios import TRACKS, scenario_for
from commslab import release as rel
from commslab.course import Course
from commslab.grading.checks import CheckFailed, ledger_test_cases

ROOT = Path(__file__).resolve().parent.parent
TERM = "2026-fall"
STUDENTS = ("s101", "77342")

_UNITS = {
    "ns": 1e-9, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0,
    "B": 1.0, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15,
}  # fmt: skip


def quantity(text: str) -> float:
    """'9.11 ms' -> 0.00911, '73.6 KB/s' -> 73600.0, '1,160' -> 1160.0, '1.56e-07' -> ..."""
    text = text.strip().removesuffix("/s").replace(",", "")
    number, _, unit = text.partition(" ")
    unit = unit.split(" ")[0]
    return float(number) * _UNITS.get(unit, 1.0)


def displayed(nb) -> dict[str, str]:
    """{grade_id: all the text the cell displays}."""
    shown = {}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        parts = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            parts.append(
                data.get("text/markdown") or data.get("text/html") or out.get("text") or ""
            )
        shown[gid] = "\n".join(parts)
    return shown


def find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, f"the notebook does not show {pattern!r}"
    return match.group(1)


def table(shown: dict, name: str) -> float:
    """A number of the scenario table: | `name` | value | unit | source |."""
    return quantity(find(rf"\| `{name}` \| ([^|]+?) (?:\(|\|)", shown["scenario"]))


def common(shown: dict) -> dict:
    part1, part2 = shown["workbench_part1"], shown["workbench_part2"]
    best = find(r"(try \d+: k = [^<]*← best so far)", part2)
    return {
        "crossover_bytes": quantity(find(r"Crossover M\* = ([\d.]+ \w+)", part1)),
        "accumulation_steps": int(find(r"k = (\d+)", best)),
        "comm_to_compute_ratio": float(find(r"T_sync / \(k·t_compute\) = ([\d.e+-]+)", best)),
        "compression": "on",
        "strategy": "rigor (sync + compression)",
    }


def cloud(shown: dict) -> dict:
    crisis = shown["crisis"]
    latency = quantity(find(r"latency term 2\(N−1\)α = ([\d.]+ \w+)", crisis))
    bandwidth = quantity(find(r"bandwidth term 2\(N−1\)/N·M/β = ([\d.]+ \w+)", crisis))
    return {
        "alpha_share_full": latency / (latency + bandwidth),
        "bucket_algorithm": "tree"
        if shown_time("T_dbt", crisis) < shown_time("T_ring", crisis)
        else "ring",
    }


def shown_time(name: str, text: str) -> float:
    """A time the crisis shows as '| T_name = 2.331 ms |'."""
    return quantity(find(rf"{name} = ([\d.]+ \w+)", text))


def edge(shown: dict) -> dict:
    """The crisis' table gives the miss probabilities; the broadcast's time at the mean α is
    the student's hand calculation, N·(α + M/β_b) with N, the mean α, M and β_b as the crisis
    text shows them (and the table asks for it instead of showing it). The tree's time shown
    agrees with its formula and the scenario table's β, the way a student checks the method."""
    crisis = shown["crisis"]
    p = {
        name: float(find(rf"\| {name} \| [^|]+ \| [^|]+ \| ([\d.e-]+) \|", crisis))
        for name in ("ring", "tree", "broadcast")
    }
    find(r"(N messages, N·\(α \+ M/β_b\))", crisis)
    find(r"(\| broadcast \| \*\*\?\*\* your `broadcast_time_ms` \|)", crisis)
    N = int(find(r"All (\d+) SoCs take part", crisis))
    alpha = quantity(find(r"channel access α \(mean ([\d.]+ \S+)\)", crisis))
    M = quantity(find(r"its M = ([\d,]+ B) once", crisis))
    beta_b = quantity(find(r"β_b = ([\d.]+ \w+/s)", crisis))
    tree = quantity(find(r"\| tree \| ([\d.]+ \w+) \|", crisis))
    assert math.isclose(tree, 2 * (N - 1) * (alpha + M / table(shown, "beta")), rel_tol=1e-3)
    return {
        "broadcast_time_ms": 1e3 * N * (alpha + M / beta_b),
        "tree_miss_probability": p["tree"],
        "broadcast_miss_probability": p["broadcast"],
        "deadline_algorithm": min(p, key=p.get),
    }


def mobile(shown: dict) -> dict:
    """The crisis shows float32's bytes and frames and asks for 1-bit's: the bytes (its
    formulas), the half-duplex sync time 2(N−1)α + 2·bytes/β and the frames
    ⌈sync time / frame time⌉; d, N, α, β come from the scenario table. The float32 numbers
    shown agree with the formulas."""
    crisis = shown["crisis"]
    d, N = int(table(shown, "d")), int(table(shown, "N"))
    alpha, beta = table(shown, "alpha"), table(shown, "beta")
    frame = 1 / float(find(r"a frame every 1/(\d+) s", crisis))
    find(r"(2\(N−1\)\(⌈c/8⌉ \+ 4\) bytes per device, against the ring's 2\(N−1\)·4c)", crisis)
    find(r"(a sync takes 2\(N−1\)α \+ 2·bytes/β)", crisis)
    find(r"(⌈sync time / frame time⌉ frames)", crisis)
    c = math.ceil(d / N)
    dense, one_bit = 2 * (N - 1) * 4 * c, 2 * (N - 1) * (math.ceil(c / 8) + 4)
    air_dense, air_one_bit = (
        2 * (N - 1) * alpha + 2 * dense / beta,
        2 * (N - 1) * alpha + 2 * one_bit / beta,
    )
    loss_none = float(find(r"\| none \| ([\d.e+-]+) \|", crisis))
    loss_ef = float(find(r"\| compressed_ef \| ([\d.e+-]+) \|", crisis))
    within = float(find(r"within (\d+)% of the uncompressed one", crisis))
    shown_dense = int(find(r"each device sends ([\d,]+) B per sync", crisis).replace(",", ""))
    shown_frames = int(find(r"and disturbs (\d+) frames", crisis))
    assert (shown_dense, shown_frames) == (dense, math.ceil(air_dense / frame))
    return {
        "bytes_dense": shown_dense,
        "bytes_one_bit": one_bit,
        "frames_disturbed_dense": shown_frames,
        "frames_disturbed_one_bit": math.ceil(air_one_bit / frame),
        "ef_keeps_accuracy": loss_ef <= loss_none * (1 + within / 100),
    }


def tiny(shown: dict) -> dict:
    """The crisis shows the SLEM (all its digits), the mean degree, the one radio model and
    the ring's energy (which agrees with the model); the rest is the scenario table."""
    crisis = shown["crisis"]
    slem = float(find(r"SLEM\(W\) = ([\d.]+)", crisis))
    degree = float(find(r"mean degree (\d+(?:\.\d+)?)", crisis))
    find(r"(⌈ln\(1/ε\) / ln\(1/SLEM\)⌉ rounds)", crisis)
    find(r"(rounds · mean degree · \(M·\(e_tx \+ e_rx\) \+ 2·e_event\))", crisis)
    find(r"(2\(N−1\)/N·M·\(e_tx \+ e_rx\) \+ 4\(N−1\)·e_event)", crisis)
    find(r"(an attempt / presence\^\(N·T_ring/sync_period\))", crisis)
    find(r"(power_budget · radio_share · sync_period)", crisis)
    N, M = table(shown, "N"), 4 * table(shown, "d")
    per_byte, event = (
        table(shown, "energy_tx") + table(shown, "energy_rx"),
        table(shown, "energy_event"),
    )
    rounds = math.ceil(math.log(1 / table(shown, "eps")) / math.log(1 / slem))
    budget = (
        table(shown, "power_budget") * table(shown, "radio_share") * table(shown, "sync_period")
    )
    gossip = rounds * degree * (M * per_byte + 2 * event)
    attempt = 2 * (N - 1) / N * M * per_byte + 4 * (N - 1) * event
    ring = float(find(r"costs each hearable ([\d.e+-]+) J on average", crisis))
    alpha, beta, period = table(shown, "alpha"), table(shown, "beta"), table(shown, "sync_period")
    duration = 2 * (N - 1) * (alpha + 2 * M / (N * beta))  # half-duplex BLE steps in a row
    stays = table(shown, "presence") ** (N * duration / period)
    assert math.isclose(ring, attempt / stays, rel_tol=0.006)
    return {
        "gossip_rounds": rounds,
        "gossip_energy_per_device_j": gossip,
        "ring_energy_per_device_j": ring,
        "gossip_within_budget": gossip <= budget,
        "ring_within_budget": ring <= budget,
    }


READERS = {
    "cloud_titan": cloud,
    "edge_guardian": edge,
    "mobile_nomad": mobile,
    "tiny_pioneer": tiny,
}


@pytest.mark.slow
@pytest.mark.parametrize("student", STUDENTS)
@pytest.mark.parametrize("track", sorted(TRACKS))
def test_every_graded_ledger_number_can_be_read_from_the_notebook(track, student):
    nb = rel.execute(rel.solved_notebook(TERM, student, track, Course.at(ROOT)))
    shown = displayed(nb)
    ledger = common(shown) | READERS[track](shown)
    k_tries = [int(k) for k in re.findall(r"try \d+: k = (\d+)", shown["workbench_part2"])]
    submission = SimpleNamespace(ledger=ledger, k_tries=k_tries)
    scenario = scenario_for(track, TERM, student)
    failed = {}
    for name, case in ledger_test_cases(track).items():
        try:
            case.test_func(submission, scenario)
        except CheckFailed as err:
            failed[name] = str(err)
    assert failed == {}, f"read from the notebook: {ledger}"


@pytest.mark.parametrize("track", ["edge_guardian", "mobile_nomad", "tiny_pioneer"])
def test_the_crisis_and_table_alone_give_many_students_their_track_numbers(track, monkeypatch):
    """The hand computations of Edge Guardian, Mobile Nomad and Tiny Pioneer from the scenario
    table and the crisis text (as lab displays them, no kernel) get every track field right,
    6 students. Graded by the hidden tests themselves (Edge's deadline choice: any within
    Monte-Carlo noise of the best)."""
    from commslab import lab

    shown: list[str] = []
    monkeypatch.setattr(lab, "_markdown", shown.append)
    monkeypatch.setattr(lab, "_show", lambda obj: shown.append(obj.text))
    cases = ledger_test_cases(track)
    failed = {}
    for student in (f"many-{i}" for i in range(6)):
        shown.clear()
        lab.start(track, TERM, student)
        lab.crisis(scenario := scenario_for(track, TERM, student))
        ledger = READERS[track]({"scenario": shown[0], "crisis": shown[1]})
        submission = SimpleNamespace(ledger=ledger, k_tries=[])
        for key in ledger:
            try:
                cases[f"ledger_{key}"].test_func(submission, scenario)
            except CheckFailed as err:
                failed[(student, key)] = str(err)
    assert failed == {}
