"""What each radio track adds to Part 2's formula, on screen (docs/LAB_SPEC.md "The four tracks":
one physical model per track, used by every screen and the key).

The student's stub hierarchical_allreduce_time(M, G, K, ...) stays the general full-duplex
formula (comms_core.cost_models); the track's T_hier, which the workbench's tries, the k and the
ratio use, is comms_core.shared_medium.part2_allreduce_time. This note shows both, in the
track's own words, short (docs/time_budget.md: every track reads about as much). Cloud
Titan's links are full duplex: no note.
"""

from __future__ import annotations

from comms_core import cost_models as cm
from comms_core import plots
from comms_core.shared_medium import part2_allreduce_time

__all__ = ["part1_note", "part2_note"]

_PART1 = {
    "edge_guardian": (
        "**Your channel.** Part 1's formulas and M* give each SoC its own full-duplex link. "
        "On one 802.11p channel messages take turns: the ring pays N·α a step and never beats "
        "the tree. The HUD steps through both on your channel."
    ),
    "mobile_nomad": (
        "**Your radio.** Part 1's formulas and M* give each device a full-duplex link. BLE is "
        "half duplex: a ring step sends, then receives (twice the air time); a tree step only "
        "one. The HUD steps through both on BLE."
    ),
}
_PART1["tiny_pioneer"] = _PART1["mobile_nomad"].replace("each device", "each hearable")


def part1_note(s) -> str:
    """Markdown, before Part 1's HUD: what the track's radio does to Part 1's formulas."""
    return _PART1.get(s.track.key, "")


_LINKS = {
    "edge_guardian": (
        "One 802.11p channel: each step's G·K chunks take turns, 2(K−1)·G·K·(α_inter + "
        "M/(G·K·β_inter)) between vehicles."
    ),
    "mobile_nomad": (
        "A home's Wi-Fi is one channel, (G−1)·G·(α_intra + M/(G·β_intra)) per phase in a home; one "
        "modem sends the G chunks in turn, 2(K−1)·(α_inter + M/(K·β_inter))."
    ),
    "tiny_pioneer": (
        "Both links are half-duplex BLE (send, then receive): (G−1)·(α_intra + "
        "2M/(G·β_intra)) per phase inside, 2(K−1)·(α_inter + 2M/(G·K·β_inter)) between."
    ),
}


def part2_note(s) -> str:
    """Markdown: the track's links, its T_hier beside the general formula's (the student's
    stub), and what the sync is (Edge: not the 10 ms loop; Mobile: not Part 1's N)."""
    if s.track.key not in _LINKS:
        return ""
    fmt = plots.format_seconds
    args = (s.G, s.K, s.alpha_intra, s.beta_intra, s.alpha_inter, s.beta_inter)
    general = float(cm.hierarchical_allreduce_time(s.M_model, *args))
    mine = float(part2_allreduce_time(s, s.M_model))
    text = (
        f"**Your links.** {_LINKS[s.track.key]} Your T_hier = **{fmt(mine, 4)}** (the general "
        f"formula: {fmt(general, 4)}) sets the tries, k and ratio."
    )
    if s.track.key == "edge_guardian":
        text += " It trains the perception head, not the 10 ms loop."
    if s.track.key == "mobile_nomad":
        text += f" Not Part 1's N = {s.N} on BLE."
    return text
