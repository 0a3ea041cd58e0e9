"""Each track's radios as they really work: one shared channel, half-duplex links.

Part 1's and Part 2's formulas (comms_core.cost_models) price full-duplex point-to-point
links: every device sends and receives at once, and all devices send at the same time. That
is a switched wired network (Cloud Titan's NVLink and InfiniBand). The radio tracks are not:

- **Shared channel** (Edge Guardian's 802.11p between vehicles, Mobile Nomad's home Wi-Fi):
  every device of a collision domain uses one channel, and CSMA/CA lets one transmission at
  a time succeed (IEEE 802.11-2020 §10.3, DCF; Bianchi 2000, IEEE JSAC 18(3):535-547).
  Messages take turns, so an AllReduce lasts the sum over *all* its messages:

      T = Σ_messages (α + bytes_m / β)

  α is the channel access of one message (AIFS, backoff, preamble), paid by every message.
- **Half-duplex link** (Bluetooth LE: Mobile Nomad's Part 1 and crisis, Tiny Pioneer): a
  BLE radio either transmits or receives. In a connection event central and peripheral
  alternate packets (Bluetooth Core Specification 5.4, Vol 6, Part B §4.5.1 "Connection
  events"), and one radio serves one connection event at a time. A ring step, where every
  device sends a chunk and receives one, therefore costs α + 2·bytes/β: the send and the
  receive take turns on the device's radio (the connection interval's wait α once: both
  connections are scheduled in the same interval, an ASSUMPTION). A tree step, where a
  device only sends or only receives, still costs α + bytes/β.

The Part 2 hierarchy of each track (part2_breakdown, part2_allreduce_time) combines them:

    track          inside a group (fast link)       between groups (slow link)
    cloud_titan    NVLink, full duplex               InfiniBand, one NIC per GPU, full duplex
    edge_guardian  automotive Ethernet, full duplex  one 802.11p channel for every vehicle
    mobile_nomad   home Wi-Fi, one CSMA channel      cellular uplink, one modem per home (FDD)
    tiny_pioneer   ear-to-ear BLE, half duplex       BLE between users, half duplex

Automotive Ethernet 1000BASE-T1 is full duplex over one pair (IEEE 802.3bp-2016); LTE FDD
sends and receives on separate frequencies (3GPP TS 36.211); a home's devices reach the
other homes through its one modem, so their chunks leave one after another.

Cloud Titan is comms_core.cost_models.hierarchical_breakdown unchanged. Units: M bytes,
α seconds, β bytes/s. Every closed form here is checked in tests/test_shared_medium.py
against a brute-force list of the messages (each one's sender, receiver, bytes, and whether
it waits for the channel).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

import comms_core._validate as v
import comms_core.cost_models as cm
from comms_core._types import FloatOrArray, Vector

__all__ = [
    "SHARED_ALGORITHMS",
    "Part2Setting",
    "half_duplex_allreduce_time_from_bytes",
    "half_duplex_ring_allreduce_time",
    "part1_allreduce_time",
    "part1_medium",
    "part2_allreduce_time",
    "part2_breakdown",
    "part2_medium",
    "shared_channel_allreduce_time",
    "shared_channel_messages",
]

SHARED_ALGORITHMS = ("ring", "tree", "broadcast")


def _ceil_log2(N: int) -> int:
    return (N - 1).bit_length()


def shared_channel_messages(algorithm: str, N: int) -> tuple[int, float]:
    """(messages on the air, bytes of each as a share of M) of an AllReduce on one channel.

    ring       2(N−1) steps of N messages of M/N bytes       → 2(N−1)·N messages, share 1/N
    tree       binomial reduce then broadcast, N−1 messages
               each, every message the whole M                → 2(N−1) messages, share 1
    broadcast  every device broadcasts its M once; every
               receiver sums what it hears                    → N messages, share 1

    The broadcast uses what a radio channel has and a wire has not: one transmission reaches
    every device in range. Group-addressed 802.11 frames are not acknowledged or retried
    (IEEE 802.11-2020 §10.3.6): the model assumes every device hears every broadcast.
    """
    if algorithm not in SHARED_ALGORITHMS:
        raise ValueError(f"algorithm must be one of {SHARED_ALGORITHMS}, got {algorithm!r}")
    N = v.scalar_count("N", N)
    if N == 1:
        return 0, 0.0
    if algorithm == "ring":
        return 2 * (N - 1) * N, 1.0 / N
    if algorithm == "tree":
        return 2 * (N - 1), 1.0
    return N, 1.0


def shared_channel_allreduce_time(
    algorithm: str,
    M: ArrayLike,
    N: int,
    alpha: ArrayLike,
    beta: ArrayLike,
    beta_broadcast: ArrayLike | None = None,
) -> FloatOrArray:
    """AllReduce time on one shared channel (messages take turns), seconds.

        ring       T = 2(N−1)·(N·α + M/β)
        tree       T = 2(N−1)·(α + M/β)
        broadcast  T = N·(α + M/β_b)

    The ring and the tree put the same 2(N−1)·M bytes on the air; the ring pays N times as
    many channel accesses. The broadcast puts N·M bytes on the air, but at β_b: 802.11
    sends group-addressed frames at a basic rate, without rate adaptation (IEEE 802.11-2020
    §10.6.6; ETSI EN 302 663 sets 6 Mb/s as ITS-G5's default), where a unicast frame's rate
    adapts to the link. beta_broadcast defaults to β. Vectorised in M, α, β; N one number.
    The mean of jitter.simulate_allreduce_times(..., medium="shared") for any CV.
    """
    messages, share = shared_channel_messages(algorithm, N)
    M = v.nonnegative("M", M)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    if algorithm == "broadcast" and beta_broadcast is not None:
        beta = v.positive("beta_broadcast", beta_broadcast)
    return v.scalar_or_array(messages * (alpha + share * M / beta))


def half_duplex_ring_allreduce_time(
    M: ArrayLike, N: ArrayLike, alpha: ArrayLike, beta: ArrayLike
) -> FloatOrArray:
    """Ring AllReduce on half-duplex links (Bluetooth LE), seconds.

        T = 2(N−1)·(α + 2·M/(N·β))

    Each of the 2(N−1) steps, a device sends an M/N chunk to one neighbour and receives one
    from the other; its radio does one after the other (Bluetooth Core 5.4 Vol 6 Part B
    §4.5.1). Against the full-duplex ring (cost_models.ring_allreduce_time) the bandwidth
    term doubles, the latency term does not. N = 1 costs 0.
    """
    M, N = v.nonnegative("M", M), v.count("N", N).astype(float)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    return v.scalar_or_array(2 * (N - 1) * (alpha + 2 * M / (N * beta)))


def half_duplex_allreduce_time_from_bytes(
    bytes_per_device: ArrayLike, N: ArrayLike, alpha: ArrayLike, beta: ArrayLike
) -> FloatOrArray:
    """An AllReduce of 2(N−1) steps on half-duplex links, from the bytes each device sends.

        T = 2(N−1)·α + 2·bytes/β

    A device receives as many bytes as it sends (the ring; the compressed AllReduce's
    all-to-all and all-gather), and its radio cannot do both at once. With bytes =
    2(N−1)/N·M this is half_duplex_ring_allreduce_time. Bytes, N devices, α s, β bytes/s.
    """
    sent, N = v.nonnegative("bytes_per_device", bytes_per_device), v.count("N", N).astype(float)
    alpha, beta = v.nonnegative("alpha", alpha), v.positive("beta", beta)
    return v.scalar_or_array(2 * (N - 1) * alpha + 2 * sent / beta)


# --- Part 1: each track's link -------------------------------------------------------------

MEDIA = ("full duplex", "half duplex", "shared channel")
_PART1 = {
    "cloud_titan": "full duplex",  # InfiniBand
    "edge_guardian": "shared channel",  # one 802.11p channel
    "mobile_nomad": "half duplex",  # Bluetooth LE
    "tiny_pioneer": "half duplex",  # Bluetooth LE
}


def part1_medium(track: str) -> str:
    """The medium of a track's Part 1 link (its N, α, β): "full duplex", "half duplex" or
    "shared channel"."""
    if track not in _PART1:
        raise ValueError(f"track must be one of {', '.join(_PART1)}, got {track!r}")
    return _PART1[track]


def part1_allreduce_time(
    algorithm: str, M: ArrayLike, N: int, alpha: ArrayLike, beta: ArrayLike, medium: str
) -> FloatOrArray:
    """Ring or tree AllReduce of M bytes over N devices on a medium, seconds.

        full duplex     ring 2(N−1)·(α + M/(N·β))       tree 2⌈log2 N⌉·(α + M/β)
        half duplex     ring 2(N−1)·(α + 2M/(N·β))      tree 2⌈log2 N⌉·(α + M/β)
        shared channel  ring 2(N−1)·(N·α + M/β)         tree 2(N−1)·(α + M/β)

    Full duplex is Part 1's formulas (cost_models.ring_allreduce_time, tree_allreduce_time).
    """
    if algorithm not in ("ring", "tree"):
        raise ValueError(f"algorithm must be 'ring' or 'tree', got {algorithm!r}")
    if medium == "shared channel":
        return shared_channel_allreduce_time(algorithm, M, N, alpha, beta)
    if medium == "half duplex" and algorithm == "ring":
        return half_duplex_ring_allreduce_time(M, N, alpha, beta)
    if medium not in MEDIA:
        raise ValueError(f"medium must be one of {MEDIA}, got {medium!r}")
    f = cm.ring_allreduce_time if algorithm == "ring" else cm.tree_allreduce_time
    return f(M, N, alpha, beta)


# --- Part 2: each track's hierarchy --------------------------------------------------------


class _TrackKey(Protocol):
    @property
    def key(self) -> str: ...


class Part2Setting(Protocol):
    """What Part 2's models read from a scenario: a Scenario, or anything with these numbers
    (the workbench passes a SimpleNamespace with its sliders' β). G devices per group, K
    groups, α in s, β in bytes/s, M_model in bytes."""

    @property
    def track(self) -> _TrackKey: ...
    @property
    def G(self) -> int: ...
    @property
    def K(self) -> int: ...
    @property
    def alpha_intra(self) -> float: ...
    @property
    def beta_intra(self) -> float: ...
    @property
    def alpha_inter(self) -> float: ...
    @property
    def beta_inter(self) -> float: ...
    @property
    def M_model(self) -> float: ...


_MEDIA = {
    "cloud_titan": ("full duplex", "full duplex"),
    "edge_guardian": ("full duplex", "shared channel"),
    "mobile_nomad": ("shared channel", "one port per group"),
    "tiny_pioneer": ("half duplex", "half duplex"),
}


def part2_medium(track: str) -> tuple[str, str]:
    """(fast link, slow link) of a track's Part 2 model: "full duplex", "shared channel",
    "half duplex" or "one port per group" (the G shards of a group leave through one
    full-duplex port, one after another)."""
    if track not in _MEDIA:
        raise ValueError(f"track must be one of {', '.join(_MEDIA)}, got {track!r}")
    return _MEDIA[track]


def _intra(medium: str, M: Vector, G: int, a: float, b: float) -> Vector:
    """One intra-group phase (reduce-scatter or all-gather) of G devices: G−1 steps, in each
    every device sends an M/G chunk and receives one."""
    if medium == "full duplex":
        return (G - 1) * (a + M / (G * b))
    if medium == "half duplex":
        return (G - 1) * (a + 2 * M / (G * b))
    # shared channel: the G messages of a step take turns
    return (G - 1) * G * (a + M / (G * b))


def _inter(medium: str, M: Vector, G: int, K: int, a: float, b: float) -> Vector:
    """The ring AllReduce of every device's M/G shard across K groups: 2(K−1) steps, in each
    every device sends an M/(G·K) chunk to its peer in the next group and receives one."""
    chunk = M / (G * K)
    if medium == "full duplex":  # one port per device: the G shards cross side by side
        return 2 * (K - 1) * (a + chunk / b)
    if medium == "half duplex":
        return 2 * (K - 1) * (a + 2 * chunk / b)
    if medium == "one port per group":  # the group's G chunks leave one after another
        return 2 * (K - 1) * (a + G * chunk / b)
    # shared channel: all G·K devices' chunks of a step take turns on one channel
    return 2 * (K - 1) * G * K * (a + chunk / b)


def part2_breakdown(scenario: Part2Setting, M: ArrayLike) -> dict[str, FloatOrArray]:
    """The three phases of the scenario's hierarchical AllReduce of M bytes, seconds, by the
    track's physical model (the table in the module docstring).

    Keys as cost_models.hierarchical_breakdown: intra_reduce_scatter, inter_allreduce,
    intra_all_gather. For Cloud Titan it *is* hierarchical_breakdown. Per track (G devices
    per group, K groups, chunk = M/(G·K)):

        full duplex          intra (G−1)·(α_f + M/(G·β_f))       inter 2(K−1)·(α_s + chunk/β_s)
        half duplex (BLE)    intra (G−1)·(α_f + 2M/(G·β_f))      inter 2(K−1)·(α_s + 2·chunk/β_s)
        shared channel       intra (G−1)·G·(α_f + M/(G·β_f))     inter 2(K−1)·G·K·(α_s + chunk/β_s)
        one port per group                                        inter 2(K−1)·(α_s + G·chunk/β_s)
    """
    s = scenario
    fast, slow = part2_medium(s.track.key)
    if (fast, slow) == ("full duplex", "full duplex"):
        return cm.hierarchical_breakdown(
            M, s.G, s.K, s.alpha_intra, s.beta_intra, s.alpha_inter, s.beta_inter
        )
    M = v.nonnegative("M", M)
    G, K = v.scalar_count("G", s.G), v.scalar_count("K", s.K)
    intra = _intra(fast, M, G, s.alpha_intra, s.beta_intra)
    inter = _inter(slow, M, G, K, s.alpha_inter, s.beta_inter)
    return {
        "intra_reduce_scatter": v.scalar_or_array(intra),
        "inter_allreduce": v.scalar_or_array(inter),
        "intra_all_gather": v.scalar_or_array(intra),
    }


def part2_allreduce_time(scenario: Part2Setting, M: ArrayLike) -> FloatOrArray:
    """The scenario's Part 2 (hierarchical) AllReduce time of M bytes, seconds, by its track's
    physical model: the sum of part2_breakdown's phases.

    The one function every screen and the key use for Part 2's T_hier (the aggregation
    factor k, the communication-to-compute ratio, the workbench's tries). For Cloud Titan it
    is cost_models.hierarchical_allreduce_time; the student's stub
    hierarchical_allreduce_time(M, G, K, ...) stays that generic full-duplex formula.
    """
    phases = part2_breakdown(scenario, M)
    total = phases["intra_reduce_scatter"] + phases["inter_allreduce"] + phases["intra_all_gather"]
    return v.scalar_or_array(np.asarray(total))
