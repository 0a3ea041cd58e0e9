"""Part 2's question, answered per track: does the hierarchy beat the flat rings?

The hierarchy's phases come from each track's physical model
(comms_core.shared_medium.part2_breakdown: full-duplex wires, one shared radio channel,
half-duplex BLE, one modem per home). The flat ring over all P = G·K devices is priced on
the same slow link, step by step: 2(P−1) steps, each sending one M/P chunk across every
group boundary the ring crosses (K of them), at the slow link's pace (NCCL's ring waits for
its slowest hop; its network steps set the time):

    slow link             one flat-ring step                     rings side by side
    full duplex           α_s + M/(P·r·β_s)                      r = 1 .. G (one per port)
    half duplex (BLE)     α_s + 2·M/(P·r·β_s)   (send, then receive on the same radio)
    one port per group    α_s + M/(P·β_s)       (the group's one modem)       r = 1
    shared channel        K·(α_s + M/(P·β_s))   (the K crossings take turns)  r = 1

"ports" is how many rings a group can run side by side on the slow link: one per device
where every device has its own port (NICs, BLE radios), one where the group shares one (a
modem, a radio channel). The fair flat baseline uses all of them (NCCL runs one ring per
NIC: src/graph/search.cc; NVIDIA/nccl#812); one ring through one port is the seed's flat
ring. Per group the flat rings put 2(P−1)/P·M on the slow link and the hierarchy 2(K−1)/K·M
(cost_models.slow_link_bytes_per_node; NVIDIA/nccl#946). The hierarchy is priced twice: its
phases one after the other (the graded formula, an upper bound) and pipelined over chunks
(two stages: the fast link's two phases, the slow link's one; the usual pipeline count
fill + (c−1)·slowest stage, the best c up to cost_models.PIPELINE_MAX_CHUNKS).
Checked in tests/test_science_hierarchy.py against closed forms written out independently,
for 200 students of every track.
"""

from __future__ import annotations

import numpy as np

import comms_core._validate as v
import comms_core.cost_models as cm
from comms_core.shared_medium import Part2Setting, part2_breakdown, part2_medium

__all__ = ["flat_ring_time", "part2_comparison", "slow_link_ports"]


def slow_link_ports(track: str, G: int) -> int:
    """How many flat rings a group can run side by side on the track's slow link: G where
    each device has its own port (full or half duplex), 1 where the group shares one."""
    _, slow = part2_medium(track)
    return v.scalar_count("G", G) if slow in ("full duplex", "half duplex") else 1


def flat_ring_time(setting: Part2Setting, M: float, rails: int = 1) -> float:
    """A flat ring over all P = G·K devices of `setting` (a Scenario, or anything with
    track.key, G, K, alpha_inter, beta_inter), in `rails` rings side by side on the slow link
    (at most slow_link_ports), seconds. The table in the module docstring."""
    _, slow = part2_medium(setting.track.key)
    G, K = v.scalar_count("G", setting.G), v.scalar_count("K", setting.K)
    rails = v.scalar_count("rails", rails)
    if rails > slow_link_ports(setting.track.key, G):
        raise ValueError(f"rails must be at most {slow_link_ports(setting.track.key, G)}")
    M = float(v.nonnegative("M", M))
    a, b, P = float(setting.alpha_inter), float(setting.beta_inter), G * K
    if slow == "full duplex":
        step = a + M / (P * rails * b)
    elif slow == "half duplex":
        step = a + 2 * M / (P * rails * b)
    elif slow == "one port per group":
        step = a + M / (P * b)
    else:  # shared channel
        step = K * (a + M / (P * b))
    return 2 * (P - 1) * step


def _pipelined(setting: Part2Setting, M: float) -> float:
    """The hierarchy's phases pipelined over c chunks, the best c (module docstring)."""
    c = np.arange(1, cm.PIPELINE_MAX_CHUNKS + 1, dtype=np.float64)
    phases = part2_breakdown(setting, M / c)
    fast = np.asarray(phases["intra_reduce_scatter"]) + np.asarray(phases["intra_all_gather"])
    slow = np.asarray(phases["inter_allreduce"])
    return float(np.min(fast + slow + (c - 1) * np.maximum(fast, slow)))


def part2_comparison(setting: Part2Setting, M: float | None = None) -> cm.HierarchyComparison:
    """The hierarchy (serial and pipelined) against one flat ring through one port per group
    and against flat rings on every port, by the track's physical model; M defaults to the
    scenario's whole gradient M_model. For Cloud Titan it is cost_models.hierarchy_comparison
    with rails = G."""
    M = float(setting.M_model if M is None else M)
    G, K = v.scalar_count("G", setting.G), v.scalar_count("K", setting.K)
    rails = slow_link_ports(setting.track.key, G)
    phases = part2_breakdown(setting, M)
    sent = cm.slow_link_bytes_per_node(M, G, K)
    return cm.HierarchyComparison(
        hierarchical=float(sum(float(t) for t in phases.values())),
        pipelined=_pipelined(setting, M),
        flat_one_port=flat_ring_time(setting, M, 1),
        flat_rails=flat_ring_time(setting, M, rails),
        rails=rails,
        bytes_hierarchical=float(sent["hierarchical"]),
        bytes_flat=float(sent["flat_rings"]),
    )
