"""Each track's own words for Part 2's two-level network (docs/LAB_SPEC.md: "each track uses its own
words (no 'GPUs' on a vehicle)"). The links are the track's scenario sources
(comms_core/scenarios.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Words:
    device: str  # one rank
    devices: str
    group: str  # what the fast link joins
    groups: str
    fast: str  # the fast link inside a group
    slow: str  # the slow link between groups
    link: str = "the link"  # Part 1's link (its α and β): what one AllReduce message crosses


WORDS = {
    "cloud_titan": Words("GPU", "GPUs", "node", "nodes", "NVLink", "InfiniBand", link="InfiniBand"),
    "edge_guardian": Words(
        "SoC", "SoCs", "vehicle", "vehicles", "automotive Ethernet", "vehicle-to-vehicle wireless",
        link="the shared 802.11p radio channel",
    ),
    "mobile_nomad": Words(
        "device", "devices", "home", "homes", "home Wi-Fi", "cellular uplink", link="Bluetooth LE"
    ),
    "tiny_pioneer": Words(
        "hearable", "hearables", "user (ear pair)", "users", "ear-to-ear link", "BLE",
        link="Bluetooth LE",
    ),
}  # fmt: skip
GENERIC = Words("device", "devices", "node", "nodes", "the fast link", "the slow link")


def words_for(track: str) -> Words:
    return WORDS.get(track, GENERIC)


__all__ = ["GENERIC", "WORDS", "Words", "words_for"]
