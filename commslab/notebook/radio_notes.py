"""What each radio track adds to Part 2's formula, on screen (docs/LAB_SPEC.md "The four tracks":
one physical model per track, used by every screen and the key).

The student's stub hierarchical_allreduce_time(M, G, K, ...) stays the general full-duplex
formula (comms_core.cost_models); the track's T_hier, which the workbench's tries, the k and the
ratio use, is comms_core.shared_medium.part2_allreduce_time. This note shows both, phase by
phase, in the track's own words. Cloud Titan's links are full duplex: no note.
"""

from __future__ import annotations

from comms_core import cost_models as cm
from comms_core import plots
from comms_core.shared_medium import part2_breakdown

__all__ = ["part2_note"]

_LINKS = {
    "edge_guardian": (
        "Inside a vehicle, automotive Ethernet is full duplex: the two intra-vehicle phases are "
        "the formula's. Between vehicles there is **one shared 802.11p channel**: in each of "
        "the 2(K−1) steps, the G·K SoCs' chunks of M/(G·K) take turns, so the inter-vehicle "
        "phase is 2(K−1)·G·K·(α_inter + M/(G·K·β_inter))."
    ),
    "mobile_nomad": (
        "Inside a home, **Wi-Fi is one CSMA channel**: in each of the G−1 steps of a phase the "
        "G devices' chunks take turns, (G−1)·G·(α_intra + M/(G·β_intra)) per phase. Between "
        "homes, **each home has one modem**: its G chunks of a step leave one after another, "
        "2(K−1)·(α_inter + M/(K·β_inter))."
    ),
    "tiny_pioneer": (
        "Both links are **Bluetooth LE, half duplex**: in each step a hearable sends its chunk, "
        "then receives one, so the bytes take twice the air time: (G−1)·(α_intra + "
        "2M/(G·β_intra)) per intra phase, 2(K−1)·(α_inter + 2M/(G·K·β_inter)) between pairs."
    ),
}


def part2_note(s) -> str:
    """Markdown: the track's links, its T_hier phase by phase beside the general formula's
    (the student's stub), and for Mobile Nomad why Part 2 has G·K devices, not N."""
    if s.track.key not in _LINKS:
        return ""
    fmt = plots.format_seconds
    args = (s.G, s.K, s.alpha_intra, s.beta_intra, s.alpha_inter, s.beta_inter)
    general = cm.hierarchical_breakdown(s.M_model, *args)
    mine = part2_breakdown(s, s.M_model)
    rows = "\n".join(
        f"| {name} | {fmt(float(general[key]), 4)} | {fmt(float(mine[key]), 4)} |"
        for key, name in (
            ("intra_reduce_scatter", "reduce-scatter inside"),
            ("inter_allreduce", "AllReduce between"),
            ("intra_all_gather", "all-gather inside"),
        )
    )
    total_general = sum(float(t) for t in general.values())
    total_mine = sum(float(t) for t in mine.values())
    text = (
        "**What your track adds.** Your `hierarchical_allreduce_time` is the general formula: "
        "full-duplex links, every device sending and receiving at once (that is what the "
        f"checks grade). {_LINKS[s.track.key]} The workbench's T_hier, your k and your ratio "
        "use your track's T_hier:\n\n"
        "| phase | general formula | your track |\n|---|---|---|\n"
        f"{rows}\n| **T_hier** | {fmt(total_general, 4)} | **{fmt(total_mine, 4)}** |"
    )
    if s.track.key == "edge_guardian":
        text += (
            "\n\nThis sync trains the perception head (M_model) across the vehicles; the "
            "10 ms safety loop of the crisis syncs only a small delta (M_message)."
        )
    if s.track.key == "mobile_nomad":
        text += (
            f"\n\nPart 2 is another network than Part 1 and the crisis: your adapter trained "
            f"across {s.K} homes of {s.G} devices ({s.G * s.K} in all); Part 1, Part 3 and the "
            f"crisis are your N = {s.N} devices around the glasses, on Bluetooth LE."
        )
    return text
