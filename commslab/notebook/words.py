"""Each track's own words for its devices and links (docs/LAB_SPEC.md: "each track uses its own
words (no 'GPUs' on a vehicle)"). The links are the track's scenario sources
(comms_core/scenarios.py).

FOREIGN lists the words that belong to one track only; no other track's screens may show them
(tests/test_track_words.py renders every screen of every track and looks).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Words:
    device: str  # one participant of the AllReduce
    devices: str
    group: str  # what the fast link joins
    groups: str
    fast: str  # the fast link inside a group
    slow: str  # the slow link between groups
    link: str = "the link"  # Part 1's link (its α and β): what one AllReduce message crosses
    port: str = "slow-link port"  # one device's own connection to the slow link
    ports: str = "slow-link ports"

    @property
    def a_group(self) -> str:
        """'a node', 'an ear pair'."""
        return ("an " if self.group[0] in "aeiou" else "a ") + self.group


WORDS = {
    "cloud_titan": Words(
        "GPU", "GPUs", "node", "nodes", "NVLink", "InfiniBand",
        link="InfiniBand", port="NIC", ports="NICs",
    ),
    "edge_guardian": Words(
        "SoC", "SoCs", "vehicle", "vehicles", "automotive Ethernet", "vehicle-to-vehicle wireless",
        link="the shared 802.11p radio channel", port="radio", ports="radios",
    ),
    "mobile_nomad": Words(
        "device", "devices", "home", "homes", "home Wi-Fi", "cellular uplink",
        link="Bluetooth LE", port="modem", ports="modems",
    ),
    "tiny_pioneer": Words(
        "hearable", "hearables", "ear pair", "ear pairs", "ear-to-ear link", "BLE",
        link="Bluetooth LE", port="BLE radio", ports="BLE radios",
    ),
}  # fmt: skip
GENERIC = Words("device", "devices", "node", "nodes", "the fast link", "the slow link")

# Words of one track's world that another track's screens must not show (case-sensitive
# whole words; "rank" is MPI's and the data centre's word for a GPU).
FOREIGN = {
    "cloud_titan": (
        "GPU", "GPUs", "NVLink", "InfiniBand", "NCCL", "NIC", "NICs", "H100", "rank", "ranks",
    ),
    "edge_guardian": ("SoC", "SoCs", "vehicle", "vehicles", "automotive Ethernet"),
    "mobile_nomad": ("home Wi-Fi", "cellular uplink", "AR glasses", "modem"),
    "tiny_pioneer": ("hearable", "hearables", "ear-to-ear", "earbuds"),
}  # fmt: skip


def words_for(track: str) -> Words:
    return WORDS.get(track, GENERIC)


__all__ = ["FOREIGN", "GENERIC", "WORDS", "Words", "words_for"]
