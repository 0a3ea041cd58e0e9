"""Each track's crisis instrument: the simulation a student reads their mission numbers from."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from comms_core import plots
from comms_core.scenarios import (
    CONVERGENCE_DIM,
    JITTER_TRIALS,
    Scenario,
    gossip_topology,
    variant_seed,
)

if TYPE_CHECKING:
    from comms_core.jitter import JitterStats


@dataclass
class Instrument:
    text: str
    figure: Figure | None

    def _ipython_display_(self) -> None:
        from IPython.display import Image, Markdown, display

        display(Markdown(self.text))
        if self.figure is not None:
            buffer = io.BytesIO()
            self.figure.savefig(buffer, format="png", dpi=90)
            display(Image(data=buffer.getvalue(), format="png"))


def instrument(s: Scenario, static: bool | None = None) -> Instrument:
    """The crisis panel of the scenario's track."""
    return {
        "cloud_titan": _cloud,
        "edge_guardian": _edge,
        "mobile_nomad": _mobile,
        "tiny_pioneer": _tiny,
    }[s.track.key](s)


def _cloud(s: Scenario) -> Instrument:
    from comms_core import cost_models as cm

    latency = 2 * (s.N - 1) * s.alpha
    bandwidth = 2 * (s.N - 1) / s.N * s.M_model / s.beta
    bucket = (s.M_message, s.N, s.alpha, s.beta)
    ring = float(cm.ring_allreduce_time(*bucket))
    binomial = float(cm.tree_allreduce_time(*bucket))
    chunks = int(cm.double_binary_tree_chunks(*bucket))
    dbt = float(cm.double_binary_tree_allreduce_time(*bucket))
    L = math.ceil(math.log2(s.N))
    fig = plots.communication_crossover_plot(
        s.N,
        s.alpha,
        s.beta,
        reference=("ring", "tree", "double_binary_tree"),
        highlight=s.M_message,
    )
    text = (
        f"**The whole gradient** ({plots.format_bytes(s.M_model)}) on one flat ring of {s.N} "
        f"GPUs, one NIC per node: latency term 2(N−1)α = {plots.format_seconds(latency)}, "
        f"bandwidth term 2(N−1)/N·M/β = {plots.format_seconds(bandwidth)} (one ring per NIC, "
        f"`rails={s.G}`: {plots.format_seconds(bandwidth / s.G)}).\n\n"
        f"**One DDP bucket** ({plots.format_bytes(s.M_message)}, marked on the plot): NCCL picks "
        "between the ring and a **pipelined double binary tree** (Sanders, Speck & Träff "
        "2009: two binary trees, each rank a leaf in one, each carrying M/2 in k chunks): "
        "T_dbt = 4(L + k)·α + 2M/β + 2L·M/(k·β), L = ⌈log₂N⌉, best k near √(L·M/(2αβ)).\n\n"
        f"| bucket of {plots.format_bytes(s.M_message)}, N = {s.N} | time |\n|---|---|\n"
        f"| ring, 2(N−1)α + 2(N−1)/N·M/β | T_ring = {plots.format_seconds(ring, 4)} |\n"
        f"| binomial tree (Part 1), 2L(α + M/β) | {plots.format_seconds(binomial, 4)} |\n"
        f"| double binary tree, L = {L}, k = {chunks} | "
        f"T_dbt = {plots.format_seconds(dbt, 4)} |\n\n"
        "Which of NCCL's two is faster for your bucket, and why does α decide it?"
    )
    return Instrument(text, fig)


def _edge(s: Scenario) -> Instrument:
    from comms_core import cost_models as cm
    from comms_core.jitter import (
        NOISE_STANDARD_ERRORS,
        edge_jitter_summary,
        simulate_allreduce_times,
    )

    seed = variant_seed("edge_guardian", s.term, s.student_id)
    summary = edge_jitter_summary(s)
    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.add_subplot()
    colours = {
        "ring": plots.PALETTE["ring"],
        "tree": plots.PALETTE["tree"],
        "broadcast": "#7A4EA8",
    }
    for name, colour in colours.items():
        times = simulate_allreduce_times(
            name,
            s.M_message,
            s.N,
            s.alpha,
            s.alpha_cv,
            s.beta,
            trials=JITTER_TRIALS,
            seed=seed,
            beta_broadcast=s.beta_broadcast,
        )
        ax.hist(times * 1e3, bins=80, alpha=0.55, color=colour, label=name)
    ax.axvline(s.deadline * 1e3, color="black", linestyle="--", label="deadline")
    ax.set_xlabel("AllReduce time on one shared channel (ms)")
    ax.set_ylabel("trials")
    ax.legend()
    ax.set_title(
        f"{s.N} SoCs, α ~ lognormal(mean {plots.format_seconds(s.alpha)}, CV {s.alpha_cv:g})"
    )
    stats = summary.stats
    rows = "\n".join(
        f"| {st.algorithm} | {_mean_cell(st)} | {plots.format_seconds(st.p99)} | "
        f"{st.miss_probability:.3g} |"
        for st in stats.values()
    )
    best = summary.better_for_deadline
    others = [a for a in summary.accepted if a != best]
    if others:
        verdict = (
            f"**{best}** misses least often, but {' and '.join(others)} "
            f"{'is' if len(others) == 1 else 'are'} within Monte-Carlo noise of it "
            f"({NOISE_STANDARD_ERRORS} standard errors of the difference): any of "
            f"{', '.join(summary.accepted)} is accepted for the deadline; say why you chose yours."
        )
    else:
        verdict = (
            f"**{best}** misses least often, by more than {NOISE_STANDARD_ERRORS} standard "
            "errors of Monte-Carlo noise: the choice is clear."
        )
    args = (s.M_message, s.N, s.alpha, s.beta)
    ring, tree = float(cm.ring_allreduce_time(*args)), float(cm.tree_allreduce_time(*args))
    part1 = (
        f"*Part 1's full-duplex T_ring = {plots.format_seconds(ring, 4)} and T_tree = "
        f"{plots.format_seconds(tree, 4)}* give each SoC "
        "its own link; on one channel (the HUD's steps) the ring pays N times the tree's "
        "channel accesses."
    )
    text = (
        f"**Monte Carlo, {JITTER_TRIALS:,} syncs per algorithm (seeded with your id)** on "
        "one shared 802.11p channel: messages take turns, each paying its own random channel "
        f"access α (mean {plots.format_seconds(s.alpha)}). All {s.N} SoCs take part (2 per "
        "vehicle, as in Part 2).\n"
        f"- ring: 2(N−1)·N messages of M/N bytes: 2(N−1)·(N·α + M/β) at the mean α;\n"
        "- tree: 2(N−1) messages of M bytes: 2(N−1)·(α + M/β);\n"
        f"- broadcast: each SoC broadcasts its M = {s.M_message:,} B once, every SoC adds what "
        "it hears: N messages, N·(α + M/β_b), at the fixed broadcast rate β_b = "
        f"{plots.format_bytes(s.beta_broadcast)}/s (`beta_broadcast`), not your unicast β = "
        f"{plots.format_bytes(s.beta)}/s; not acknowledged (assumed heard by all).\n\n"
        "| algorithm | time at the mean α | p99 | P(miss deadline) |\n"
        "|---|---|---|---|\n" + rows + "\n\n" + verdict + "\n\n" + part1
    )
    return Instrument(text, fig)


def _mean_cell(st: JitterStats) -> str:
    """The table's time at the mean α: the broadcast's is the student's hand calculation
    (LEDGER["broadcast_time_ms"], graded), so it is asked for, not shown."""
    if st.algorithm == "broadcast":
        return "**?** your `broadcast_time_ms`"
    return plots.format_seconds(st.model_mean, 4)


def _mobile(s: Scenario) -> Instrument:
    from comms_core.compression import dense_allreduce_bytes
    from comms_core.convergence import EF_RELATIVE_TOLERANCE, run_data_parallel_training
    from comms_core.shared_medium import half_duplex_allreduce_time_from_bytes

    runs = [
        run_data_parallel_training(m, dim=CONVERGENCE_DIM, seed=0)
        for m in ("none", "compressed", "compressed_ef")
    ]
    fig = plots.convergence_monitor(runs)
    lines = "\n".join(f"| {r.method} | {r.final_loss:.4g} |" for r in runs)
    dense = int(dense_allreduce_bytes(s.d, s.N))
    sync_dense = float(half_duplex_allreduce_time_from_bytes(dense, s.N, s.alpha, s.beta))
    text = (
        f"**Convergence monitor** (least squares, {CONVERGENCE_DIM} weights, 8 workers; "
        f"optimum {runs[0].optimal_loss:.4g})\n\n"
        "| method | final loss |\n|---|---|\n"
        + lines
        + "\n\n1-bit Adam's compressed AllReduce sends "
        "2(N−1)(⌈c/8⌉ + 4) bytes per device, against the ring's 2(N−1)·4c, with c = ⌈d/N⌉. "
        "EF keeps the accuracy when its final loss is within "
        f"{EF_RELATIVE_TOLERANCE:.0%} of the uncompressed one.\n\n"
        f"**Your sync:** d = {s.d:,} values on {s.N} devices, α = "
        f"{plots.format_seconds(s.alpha)}, β = {plots.format_bytes(s.beta)}/s, a "
        "frame every 1/60 s. BLE is half duplex (Bluetooth Core 5.4, Vol 6 Part B §4.5.1), so "
        "a sync takes 2(N−1)α + 2·bytes/β (bytes: what each device sends; it receives as many) "
        "and disturbs "
        "⌈sync time / frame time⌉ frames.\n\n"
        f"**In float32** each device sends {dense:,} B per sync, which takes "
        f"{plots.format_seconds(sync_dense)} and disturbs "
        f"{math.ceil(sync_dense / s.frame_time)} frames. What does 1-bit with error feedback make "
        "of it?"
    )
    return Instrument(text, fig)


def _tiny(s: Scenario) -> Instrument:
    from comms_core import gossip
    from comms_core.shared_medium import half_duplex_ring_allreduce_time

    A = gossip_topology(s)
    W = gossip.metropolis_weights(A)
    lam = gossip.slem(W)
    bound = int(gossip.gossip_rounds(W, s.eps))
    rounds = np.arange(0, max(20, 2 * bound))  # the bound's ε crossing mid-plot
    rng = np.random.default_rng(variant_seed("tiny_pioneer", s.term, s.student_id) % 2**32)
    errors = gossip.simulate_gossip(rng.normal(size=s.N), W, int(rounds[-1]))
    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.add_subplot()
    ax.semilogy(np.arange(len(errors)), errors, color=plots.PALETTE["ring"], label="simulated")
    ax.semilogy(rounds, lam**rounds, "--", color="grey", label="SLEM^t (the bound)")
    ax.axvline(bound, color="grey", linestyle=":", linewidth=1)
    ax.axhline(s.eps, color="black", linestyle=":", label=f"ε = {s.eps:g}")
    ax.set_ylim(s.eps * 1e-3, 2)  # around ε; not the simulation's float floor
    ax.set_xlabel("gossip round t")
    ax.set_ylabel("relative consensus error")
    ax.set_title(f"{s.N} hearables, {s.topology} topology, Metropolis weights")
    ax.legend()
    degree = A.sum(axis=1)
    radio = (s.energy_tx, s.energy_rx, s.energy_event)
    duration = float(half_duplex_ring_allreduce_time(4 * s.d, s.N, s.alpha, s.beta))
    stays = float(gossip.ring_completion_probability(s.N, duration, s.presence, s.sync_period))
    ring_energy = float(
        gossip.expected_ring_energy_joules(
            s.N, 4 * s.d, *radio, s.presence, duration, s.sync_period
        )
    )
    text = (
        f"**Gossip on your topology:** SLEM(W) = {lam:.10f}; degrees "
        f"{int(degree.min())} to {int(degree.max())}, mean degree {degree.mean():g}; each "
        f"round a hearable sends its {plots.format_bytes(4 * s.d)} model to every neighbour "
        "and receives as many. The bound SLEM^t reaches ε after ⌈ln(1/ε) / ln(1/SLEM)⌉ "
        f"rounds: **{bound}** (the simulation, solid line, is often sooner; only the bound is "
        "guaranteed).\n\n"
        "**One radio model:** `energy_tx`, `energy_rx` per byte, `energy_event` per message "
        "at each end.\n"
        "- gossip, per device: rounds · mean degree · (M·(e_tx + e_rx) + 2·e_event);\n"
        "- ring AllReduce over the hearables present, per device and attempt: "
        "2(N−1)/N·M·(e_tx + e_rx) + 4(N−1)·e_event; all N stay through its half-duplex "
        f"T_ring = 2(N−1)·(α + 2M/(N·β)) = {plots.format_seconds(duration, 4)} with probability "
        f"presence^(N·T_ring/sync_period) = {stays:.4g} (an assumption: departures at random "
        "times), so a completed ring costs an attempt / presence^(N·T_ring/sync_period).\n\n"
        "Budget per sync: power_budget · radio_share · sync_period.\n\n"
        f"**The crisis:** a completed ring costs each hearable {ring_energy:.3g} J on "
        "average. What does gossip cost to reach your ε?"
    )
    return Instrument(text, fig)


__all__ = ["Instrument", "instrument"]
