"""The radio tracks' models against a brute-force oracle: every message listed, every step priced.

The oracle below does not use the closed forms. It writes out the schedule of each algorithm
message by message (sender, receiver, bytes, which link it crosses), then prices each
synchronous step by what the medium allows:

- full duplex: every device sends and receives at once: α + (largest message)/β;
- half duplex: a device's radio sends and receives in turn: α + (its bytes out + in)/β, the
  busiest device sets the step;
- shared channel: the messages of one collision domain take turns: Σ (α + bytes/β), the
  busiest domain sets the step (different homes' Wi-Fi run side by side);
- one port per group: a group's messages to other groups leave through one full-duplex port
  in turn: α + (bytes leaving the group)/β.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from comms_core import cost_models as cm
from comms_core.scenarios import TRACKS, scenario_for
from comms_core.shared_medium import (
    half_duplex_allreduce_time_from_bytes,
    half_duplex_ring_allreduce_time,
    part2_allreduce_time,
    part2_breakdown,
    part2_medium,
    shared_channel_allreduce_time,
    shared_channel_messages,
)

# --- the oracle ----------------------------------------------------------------------------


def ring_steps(devices: list, M: float) -> list[list[tuple]]:
    """A ring over `devices`: 2(n−1) steps, each device sends M/n to the next."""
    n = len(devices)
    return [
        [(devices[i], devices[(i + 1) % n], M / n) for i in range(n)] for _ in range(2 * (n - 1))
    ]


def tree_steps(n: int, M: float) -> list[list[tuple]]:
    """Binomial reduce to rank 0 (step j: rank r with r mod 2^(j+1) = 2^j sends to r − 2^j),
    then the mirror-image broadcast; every message carries all of M."""
    reduce = []
    j = 0
    while 2**j < n:
        reduce.append([(r, r - 2**j, M) for r in range(n) if r % 2 ** (j + 1) == 2**j])
        j += 1
    return reduce + [[(dst, src, b) for src, dst, b in step] for step in reversed(reduce)]


def price(step: list[tuple], medium: str, alpha: float, beta: float, domain=lambda d: 0) -> float:
    if not step:
        return 0.0
    if medium == "full duplex":
        return alpha + max(b for _, _, b in step) / beta
    if medium == "half duplex":
        busy: dict = {}
        for src, dst, b in step:
            busy[src] = busy.get(src, 0.0) + b
            busy[dst] = busy.get(dst, 0.0) + b
        return alpha + max(busy.values()) / beta
    if medium == "shared channel":
        air: dict = {}
        for src, _, b in step:
            air[domain(src)] = air.get(domain(src), 0.0) + alpha + b / beta
        return max(air.values())
    if medium == "one port per group":
        out: dict = {}
        for src, _, b in step:
            out[domain(src)] = out.get(domain(src), 0.0) + b
        return alpha + max(out.values()) / beta
    raise AssertionError(medium)


def merge(steps) -> list[tuple]:
    """One synchronous step made of the same step of several rings running side by side."""
    return [message for step in steps for message in step]


def hierarchy_by_hand(G: int, K: int, M: float) -> tuple[list, list, list]:
    """The three phases as steps of messages; device (k, g) is SoC/earbud g of group k."""
    groups = [[(k, g) for g in range(G)] for k in range(K)]
    intra = [merge(steps) for steps in zip(*(ring_steps(gr, M) for gr in groups), strict=True)]
    reduce_scatter = intra[: G - 1]  # a ring's first G−1 steps
    shards = [[(k, g) for k in range(K)] for g in range(G)]  # peers holding shard g
    inter = [merge(steps) for steps in zip(*(ring_steps(sh, M / G) for sh in shards), strict=True)]
    return reduce_scatter, inter, intra[G - 1 :]


# --- the shared channel (Edge Guardian) ------------------------------------------------------


@pytest.mark.parametrize("N", [2, 3, 5, 8, 10, 13])
def test_shared_channel_sums_every_message(N):
    M, alpha, beta = 3000.0, 2e-4, 1.5e6
    ring = sum(price(st, "shared channel", alpha, beta) for st in ring_steps(list(range(N)), M))
    tree = sum(price(st, "shared channel", alpha, beta) for st in tree_steps(N, M))
    broadcast = N * (alpha + M / 0.5e6)  # each device once, every receiver hears it
    assert math.isclose(shared_channel_allreduce_time("ring", M, N, alpha, beta), ring)
    assert math.isclose(shared_channel_allreduce_time("tree", M, N, alpha, beta), tree)
    assert math.isclose(
        shared_channel_allreduce_time("broadcast", M, N, alpha, beta, beta_broadcast=0.5e6),
        broadcast,
    )
    messages = {
        "ring": sum(len(s) for s in ring_steps(list(range(N)), M)),
        "tree": sum(len(s) for s in tree_steps(N, M)),
        "broadcast": N,
    }
    assert {a: shared_channel_messages(a, N)[0] for a in messages} == messages


def test_on_one_channel_the_tree_never_loses_to_the_ring():
    """Same bytes on the air, N times fewer channel accesses (N ≥ 2)."""
    for N in range(2, 40):
        for M in (1.0, 1e3, 1e6):
            r = shared_channel_allreduce_time("ring", M, N, 1e-4, 1e6)
            t = shared_channel_allreduce_time("tree", M, N, 1e-4, 1e6)
            assert t <= r


# --- half duplex (Bluetooth LE) ----------------------------------------------------------------


@pytest.mark.parametrize("N", [2, 3, 4, 7, 8, 50])
def test_half_duplex_ring_by_hand(N):
    M, alpha, beta = 40_000.0, 7.5e-3, 150e3
    oracle = sum(price(st, "half duplex", alpha, beta) for st in ring_steps(list(range(N)), M))
    assert math.isclose(half_duplex_ring_allreduce_time(M, N, alpha, beta), oracle)
    # by hand: one step moves M/N out and M/N in on one radio, 2·M/(N·β) of air, plus α
    assert math.isclose(oracle, 2 * (N - 1) * (alpha + 2 * M / (N * beta)))
    sent = 2 * (N - 1) / N * M
    assert math.isclose(half_duplex_allreduce_time_from_bytes(sent, N, alpha, beta), oracle)
    # the tree is not slowed: a device only sends or only receives in a binomial step
    tree = sum(price(st, "half duplex", alpha, beta) for st in tree_steps(N, M))
    assert math.isclose(tree, cm.tree_allreduce_time(M, N, alpha, beta))


def test_half_duplex_doubles_only_the_bandwidth_term():
    """Mobile Nomad's demo student: 2(N−1)α + 2·bytes/β against 2(N−1)α + bytes/β."""
    s = scenario_for("mobile_nomad", "2026-fall", "demo")
    full = cm.ring_allreduce_time(s.M_message, s.N, s.alpha, s.beta)
    half = half_duplex_ring_allreduce_time(s.M_message, s.N, s.alpha, s.beta)
    latency = 2 * (s.N - 1) * s.alpha
    assert math.isclose(half - latency, 2 * (full - latency))


# --- Part 2, every track --------------------------------------------------------------------


def part2_by_brute_force(s, M: float | None = None, phases_out: list | None = None) -> float:
    """The scenario's T_hier: hierarchy_by_hand's steps priced by the track's media."""
    fast, slow = part2_medium(s.track.key)
    M = s.M_model if M is None else M
    phases = hierarchy_by_hand(s.G, s.K, M)
    group = lambda device: device[0]  # noqa: E731  (a device's collision domain: its group)
    one_channel = lambda device: 0  # noqa: E731  (between groups: one channel for all)
    times = [
        sum(price(st, fast, s.alpha_intra, s.beta_intra, group) for st in phases[0]),
        sum(
            price(
                st,
                slow,
                s.alpha_inter,
                s.beta_inter,
                group if slow != "shared channel" else one_channel,
            )
            for st in phases[1]
        ),
        sum(price(st, fast, s.alpha_intra, s.beta_intra, group) for st in phases[2]),
    ]
    if phases_out is not None:
        phases_out.extend(times)
    return sum(times)


@pytest.mark.parametrize("track", sorted(TRACKS))
@pytest.mark.parametrize("sid", ["1", "demo", "31415"])
def test_part2_is_the_brute_force_hierarchy(track, sid):
    s = scenario_for(track, "2026-fall", sid)
    M = s.M_model
    times: list[float] = []
    part2_by_brute_force(s, M, times)
    got = part2_breakdown(s, M)
    names = ("intra_reduce_scatter", "inter_allreduce", "intra_all_gather")
    for name, want in zip(names, times, strict=True):
        assert math.isclose(float(got[name]), want, rel_tol=1e-12), name
    assert math.isclose(float(part2_allreduce_time(s, M)), sum(times), rel_tol=1e-12)


def test_cloud_titan_is_the_generic_formula():
    s = scenario_for("cloud_titan", "2026-fall", "demo")
    args = (s.G, s.K, s.alpha_intra, s.beta_intra, s.alpha_inter, s.beta_inter)
    assert part2_allreduce_time(s, s.M_model) == cm.hierarchical_allreduce_time(s.M_model, *args)


def test_edge_guardian_part2_shares_one_channel_between_vehicles():
    """The inter-vehicle phase puts every SoC's chunks on one channel: 2(K−1)·G·K messages;
    the full-duplex formula's phase has 2(K−1) rounds in parallel."""
    s = scenario_for("edge_guardian", "2026-fall", "demo")
    shared = float(part2_breakdown(s, s.M_model)["inter_allreduce"])
    generic = cm.hierarchical_breakdown(
        s.M_model, s.G, s.K, s.alpha_intra, s.beta_intra, s.alpha_inter, s.beta_inter
    )["inter_allreduce"]
    assert math.isclose(shared, s.G * s.K * float(generic))


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="algorithm"):
        shared_channel_allreduce_time("star", 1.0, 4, 1e-4, 1e6)
    with pytest.raises(ValueError, match="beta"):
        shared_channel_allreduce_time("tree", 1.0, 4, 1e-4, 0.0)
    with pytest.raises(ValueError, match="track"):
        part2_medium("moon_base")
    assert shared_channel_allreduce_time("ring", 1e3, 1, 1e-4, 1e6) == 0
    assert np.allclose(
        half_duplex_ring_allreduce_time(np.array([0.0, 1e3]), 4, 1e-3, 1e6),
        [6e-3, 6e-3 + 6 * 2 * 1e3 / (4 * 1e6)],
    )


@pytest.mark.parametrize("track", ["edge_guardian", "mobile_nomad", "tiny_pioneer"])
def test_part2_note_shows_the_tracks_t_hier_and_the_general_one(track):
    """The screen's note: the track's T_hier (the brute-force oracle) beside the general
    formula's (the student's stub), in the track's words; Cloud Titan has no note."""
    from comms_core.plots import format_seconds
    from commslab.notebook.radio_notes import part2_note

    s = scenario_for(track, "2026-fall", "note")
    text = part2_note(s)
    assert f"T_hier = **{format_seconds(part2_by_brute_force(s), 4)}**" in text
    general = cm.hierarchical_allreduce_time(
        s.M_model, s.G, s.K, s.alpha_intra, s.beta_intra, s.alpha_inter, s.beta_inter
    )
    assert f"(the general formula: {format_seconds(float(general), 4)})" in text
    assert part2_note(scenario_for("cloud_titan", "2026-fall", "note")) == ""
