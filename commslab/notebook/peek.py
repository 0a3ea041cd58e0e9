"""The Math Peek: a toggle (HTML <details>, so it opens and closes without a kernel too)
with the models of the lab. The crossover's closed form is not in it: deriving M* from the
two times is the student's Part 1 exercise.

Formulas: docs/LAB_SPEC.md Parts 1-3 (ring: Patarasuk & Yuan 2009; tree: binomial reduce then
broadcast; hierarchical: three phases; error feedback: Karimireddy et al. 2019).
"""

from __future__ import annotations

ROWS = (
    ("One message of n bytes", "α + n/β"),
    ("Ring AllReduce", "T_ring = 2(N−1)·α + 2·(N−1)/N · M/β"),
    ("Tree AllReduce", "T_tree = 2·⌈log₂N⌉ · (α + M/β)"),
    (
        "Crossover M*",
        "the M where T_ring = T_tree: set the two equal and solve for M (Part 1 asks you to)",
    ),
    (
        "Hierarchical",
        "T_hier = 2(G−1)·(α_intra + M/(G·β_intra)) + 2(K−1)·(α_inter + M/(G·K·β_inter))",
    ),
    ("Flat ring on P = G·K", "T_flat = 2(P−1)·α_inter + 2·(P−1)/P · M/(rails·β_inter)"),
    ("Time to train with k", "f(k) = (1 + B_noise/(k·b·P)) · (k·t_compute + T_hier)"),
    ("1-bit compression", "C(v) = (‖v‖₁/d) · sign(v), sign(0) = +1"),
    ("Error feedback", "v_t = C(g_t + e_t),  e_{t+1} = g_t + e_t − v_t"),
)

CONVENTION = (
    "β is a <b>bandwidth in bytes/s</b>. You may meet the estimate “M ≈ Nα/β”: it only makes "
    "sense if β were seconds per byte; with β in bytes/s the crossover grows with α·β (about "
    "N·α·β/log₂N)."
)


def math_peek_html() -> str:
    rows = "".join(
        f"<tr><td style='padding:2px 12px 2px 0'><b>{name}</b></td>"
        f"<td style='font-family:monospace'>{formula}</td></tr>"
        for name, formula in ROWS
    )
    return (
        "<details><summary style='cursor:pointer'><b>🔍 Math Peek</b> (click to open or close "
        "the models; M bytes, α seconds, β bytes/s, N devices)</summary>"
        f"<table>{rows}</table><p>{CONVENTION}</p></details>"
    )


__all__ = ["ROWS", "math_peek_html"]
