"""The four tracks as data: scenario constants with sources, and per-student variants.

Every student picks a track. Their numbers derive, deterministically, from the track, the
term and their LMS id (`scenario_for`), inside plausible ranges. This module holds only the
data: the graded mission answers that follow from these numbers and the reference models live
on the grader's side (`commslab.grading.answers`), never in the student install. Constants cite a
source; where no public number exists they are marked as assumptions (docs/LAB_SPEC.md "The four
tracks"). Units are SI: bytes, seconds, bytes/s, joules.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from comms_core._types import IntVector

__all__ = [
    "CONVERGENCE_DIM",
    "TRACKS",
    "LedgerField",
    "Param",
    "Scenario",
    "Track",
    "gossip_topology",
    "ledger_fields",
    "scenario_for",
    "track_key",
    "variant_seed",
]


@dataclass(frozen=True)
class Param:
    """One scenario number: fixed (low == high) or drawn per student in [low, high].

    scale: "log" (log-uniform), "linear", "int" (uniform integer) or "choice" (one of choices).
    """

    name: str
    unit: str
    low: float | str
    high: float | str | None = None
    source: str = ""
    assumption: bool = False
    scale: str = "log"
    choices: tuple[float | str, ...] = ()
    description: str = ""

    def draw(self, rng: np.random.Generator) -> float | int | str:
        if self.scale == "choice":
            return self.choices[int(rng.integers(len(self.choices)))]
        lo = self.low
        hi = self.low if self.high is None else self.high
        if self.scale == "int":
            return int(rng.integers(int(lo), int(hi) + 1))
        lo, hi = float(lo), float(hi)
        if lo == hi:
            return lo
        if self.scale == "log":
            x = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        else:
            x = rng.uniform(lo, hi)
        return float(f"{x:.3g}")  # three significant digits: readable, and exactly reproducible


@dataclass(frozen=True)
class LedgerField:
    """One structured ledger entry the grader checks against the student's own scenario.

    The fairness rule (docs/LAB_SPEC.md "Predictions, reflections and the ledger"): the notebook
    shows every number to 3 significant digits, so a number is accepted when it rounds to the same 3
    significant digits as the answer, or lies within rel_tol of it (at least SHOWN_REL_TOL).
    kind "k" is the student's aggregation factor, graded by the tries rule (time to train within
    5% of the optimum); at_your_k fields are computed at the student's own k.
    """

    key: str
    kind: str  # "number", "int", "k", "choice", "bool"
    description: str
    unit: str = ""
    rel_tol: float = 0.005  # SHOWN_REL_TOL; 0 for exact integers (bytes, frames)
    choices: tuple[str, ...] = ()
    graded: bool = True  # False: a decision checked only for being one of the choices
    at_your_k: bool = False


SHOWN_REL_TOL = 0.005  # 0.5%: the loosest reading of a number shown to 3 significant digits
JITTER_TRIALS = 20000  # Monte-Carlo syncs per algorithm in Edge Guardian's crisis


@dataclass(frozen=True)
class Track:
    key: str
    title: str
    persona: str
    mission: str
    crisis: str
    stakeholder: str
    params: tuple[Param, ...]
    ledger: tuple[LedgerField, ...]
    same_as: Mapping[str, str] = field(default_factory=dict)  # derived name -> drawn name
    bytes_of_d: tuple[str, ...] = ()  # names set to 4·d bytes (float32)


@dataclass(frozen=True)
class Scenario:
    """A student's numbers: `scenario.N`, `scenario["alpha"]`, `scenario.table()`."""

    track: Track
    term: str
    student_id: str
    values: Mapping[str, float | int | str] = field(repr=False)

    # A number's type follows its Param (int, float, or str for a choice): Any, so that
    # `scenario.N - 1` and `scenario.topology == "ring"` both type-check.
    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "values")
        if name in values:
            return values[name]
        raise AttributeError(f"this scenario has no number called {name!r}")

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def table(self) -> list[tuple[str, object, str, str]]:
        """Rows (name, value, unit, source or 'assumption') for the notebook's table."""
        rows: list[tuple[str, object, str, str]] = []
        for p in self.track.params:
            note = ("assumption: " if p.assumption else "") + p.source
            if p.name in self.track.same_as:
                note = f"= {self.track.same_as[p.name]} (the same link)"
            rows.append((p.name, self.values[p.name], p.unit, note))
        return rows


# --- Sources used below (short keys, cited in each Param) -----------------------------------
_DGX = (
    "NVIDIA DGX H100 datasheet: 8 H100 per node, 8 ConnectX-7 400 Gb/s NICs (one per GPU); "
    "128 such nodes is the lab's choice (Llama 3 trained on up to 16,384 H100, Dubey et al. "
    "2024 §3.3.1)"
)
_LLAMA3 = (
    "Llama 3 herd paper (Dubey et al. 2024, arXiv 2407.21783): Llama-3-8B = 8.03e9 parameters "
    "(8,030,261,248 counted from the published config), trained on 8192-token sequences"
)
_H100 = "NVIDIA H100 SXM datasheet: 80 GB HBM3; 989 TFLOP/s dense BF16"
_MFU = "Llama 3 herd paper Table 4: 38-43% BF16 model FLOPs utilisation on H100"
_IB_NDR = (
    "InfiniBand NDR 400 Gb/s = 50 GB/s per port; NCCL measures 46-49 GB/s per NIC (nccl-tests#290)"
)
_IB_ALPHA = (
    "IB NDR end-to-end α: 1.5-5 µs (MLSysBook Vol.2 tbl-interconnect; mlsysim IB_NDR_LATENCY_US=5)"
)
_NVLINK = "H100 NVLink4: 450 GB/s per direction line rate, ~370 GB/s achieved (nccl-tests#212)"
_NVLINK_ALPHA = (
    "NVLink hop latency 0.6-2 µs (NCCL tuning.cc hwLat; cuda-samples#230 P2P 1.8-2.3 µs)"
)
_FP32_GRADIENTS = (
    "4 B (float32) per parameter: the whole gradient; Llama 3 reduce-scatters gradients in FP32 "
    "(Dubey et al. 2024 §3.3.2)"
)
_DDP = "PyTorch DDP bucket_cap_mb=25 (torch.nn.parallel.DistributedDataParallel docs): 25 MiB"
_MCC = "McCandlish et al. 2018, An Empirical Model of Large-Batch Training (arXiv 1812.06162)"
_BLE = "Bluetooth Core 5.0 LE 2M PHY = 2 Mb/s; connection interval >= 7.5 ms"
_NRF = "Nordic nRF52832 product specification v1.4: TX 0 dBm 5.3 mA, RX 1 Mb/s 5.4 mA, at 3 V"
_NRF_TX = _NRF + "; 5.3 mA·3 V / 125 kB/s = 127 nJ/B at the PHY rate, more with protocol overhead"
_NRF_RX = _NRF + "; 5.4 mA·3 V / 125 kB/s = 130 nJ/B at the PHY rate, more with protocol overhead"
_NRF_EVENT = (
    "per message: the radio on for one connection event (ramp-up, headers, empty packets), "
    "~0.3-1 ms at ~16 mW"
)
_BLE_1M = (
    "LE 1M PHY = 1 Mb/s = 125 kB/s on air; about 100 kB/s of application data at best "
    "(Bluetooth Core 5.x, 251-byte PDUs with data length extension)"
)
_ETH = "IEEE 802.3bp 1000BASE-T1 automotive Ethernet: 1 Gb/s = 125 MB/s"
_V2V = (
    "IEEE 802.11p (DSRC) on one shared 10 MHz channel: PHY 3-27 Mb/s (≤ 3.4 MB/s); "
    "0.5-2.5 MB/s after MAC overhead; CSMA/CA: one transmission at a time (IEEE 802.11 DCF)"
)
_V2V_BROADCAST = (
    "IEEE 802.11p group-addressed frames: heard by every vehicle in range, not acknowledged, "
    "sent at a fixed rate, 6 Mb/s = 0.75 MB/s by default (ETSI EN 302 663); less after MAC "
    "overhead"
)


def _common_ledger(extra: tuple[LedgerField, ...]) -> tuple[LedgerField, ...]:
    """Ledger fields every track shares (Parts 1-3), then the track's own mission fields."""
    return (
        LedgerField(
            "crossover_bytes",
            "number",
            "Ring/tree crossover M* of Part 1's full-duplex formulas, your N, α, β",
            "B",
        ),
        LedgerField(
            "accumulation_steps",
            "k",
            "Your chosen aggregation factor k (one of K_TRIES)",
            "",
            rel_tol=0.0,
        ),
        LedgerField(
            "comm_to_compute_ratio",
            "number",
            "T_hier / (k · t_compute) at your k",
            "",
            at_your_k=True,
        ),
        *extra,
        LedgerField(
            "compression",
            "choice",
            "Use 1-bit compression with error feedback?",
            choices=("on", "off"),
            graded=False,
        ),
        LedgerField(
            "strategy",
            "choice",
            "Your final Communication Strategy",
            choices=("raw speed (ring)", "rigor (sync + compression)"),
            graded=False,
        ),
    )


Range = tuple[float, float]  # (low, high) of a drawn Param


def _hier(
    G: int,
    K: int,
    a_f: Range,
    b_f: Range,
    a_s: Range,
    b_s: Range,
    src_f: str,
    src_s: str,
    assume_f: bool = False,
    assume_s: bool = False,
    src_G: str = "",
    src_K: str = "",
) -> tuple[Param, ...]:
    """Part 2's G, K and the two links. src_G, src_K: where G and K come from, when that is not
    the link's own source (then they are assumptions)."""
    return (
        Param(
            "G",
            "GPUs/node",
            G,
            scale="int",
            source=src_G or src_f,
            assumption=bool(src_G) or assume_f,
            description="devices per group on the fast link",
        ),
        Param(
            "K",
            "nodes",
            K,
            scale="int",
            source=src_K or src_s,
            assumption=bool(src_K) or assume_s,
            description="groups on the slow link",
        ),
        Param("alpha_intra", "s", *a_f, source=src_f, assumption=assume_f),
        Param("beta_intra", "B/s", *b_f, source=src_f, assumption=assume_f),
        Param("alpha_inter", "s", *a_s, source=src_s, assumption=assume_s),
        Param("beta_inter", "B/s", *b_s, source=src_s, assumption=assume_s),
    )


def _accumulation(
    t_compute: Range, t_source: str, micro_batch: int, B_noise: Range, unit: str
) -> tuple[Param, ...]:
    """Part 2's gradient-accumulation numbers: compute time per micro-batch (an assumption),
    micro-batch size b and the noise scale B_noise (McCandlish et al. 2018; assumed per track)."""
    return (
        Param("t_compute", "s", *t_compute, source=t_source, assumption=True),
        Param(
            "micro_batch",
            unit,
            micro_batch,
            scale="int",
            source="examples per micro-batch",
            assumption=True,
        ),
        Param("B_noise", unit, *B_noise, source=_MCC, assumption=True),
    )


# Cloud Titan's gradients are float32, as Llama 3 reduces them ("we use FP32 gradient
# accumulation ... and also reduce-scatter gradients in FP32 across data parallel workers",
# Dubey et al. 2024 §3.3.2, Numerical stability), so the whole gradient, the DDP bucket and
# Part 3's float32 byte counts agree. Memory per GPU (80 GB H100): bf16 weights 16.06 GB +
# float32 gradients 32.12 GB + ZeRO-1's shard of the float32 master weights and Adam moments
# (12 B × 8.03e9 / 1024 = 0.09 GB) = 48.3 GB. Activations of one 8192-token sequence are about
# 36-48 GB without recomputation (34·s·h bytes per layer with flash attention, Korthikanti et
# al. 2022, "Reducing Activation Recomputation in Large Transformer Models", arXiv 2205.05198:
# 36.5 GB for 32 layers of h = 4096, more for Llama-3-8B's 14,336-wide MLP), so the step fits
# in 80 GB only with activation recomputation (each layer keeps its 2·s·h-byte input: 2.1 GB in
# all), which costs about one more forward pass: t_compute's 6·n_params·seq_len FLOP per
# sequence counts no recomputation (an assumption; 8·n_params·seq_len with it).
# docs/science.md §13.
CLOUD_TITAN = Track(
    key="cloud_titan",
    title="Cloud Titan",
    persona="LLM Architect",
    mission=(
        "Maximize Llama-3-8B training throughput on 1024 H100 (128 nodes x 8), data parallel: "
        "every GPU holds the whole bf16 model (activations recomputed, so a step fits in 80 GB) "
        "and AllReduces its whole gradient, in float32 as Llama 3 does, each step."
    ),
    crisis=(
        "The Parameter Flood: your ring AllReduce is bandwidth-saturated, yet training is "
        "slow. Is α the problem? Check the whole gradient, then one 25 MiB DDP bucket."
    ),
    stakeholder="CFO: 'Every idle GPU-second costs us. Which algorithm, and why?'",
    params=(
        Param("N", "GPUs", 1024, scale="int", source=_DGX),
        Param("alpha", "s", 1.5e-6, 5e-6, source=_IB_ALPHA),
        Param("beta", "B/s", 40e9, 50e9, source=_IB_NDR),
        Param("n_params", "parameters", 8.03e9, source=_LLAMA3),
        Param("M_model", "B", 32.12e9, source=_FP32_GRADIENTS),
        Param("M_message", "B", 26214400, source=_DDP),
        Param("gpu_memory", "B", 80e9, source=_H100),
        Param("peak_flops", "FLOP/s", 989e12, source=_H100),
        Param("seq_len", "tokens", 8192, scale="int", source=_LLAMA3),
        *_hier(
            8,
            128,
            (0.5e-6, 2e-6),
            (370e9, 450e9),
            (1.5e-6, 5e-6),
            (40e9, 50e9),
            _NVLINK + "; " + _NVLINK_ALPHA,
            _IB_NDR + "; " + _IB_ALPHA,
        ),
        *_accumulation(
            (0.929, 1.05),
            "6·n_params·seq_len FLOP per sequence at 38-43% of peak_flops (" + _MFU + ")",
            1,
            (4000, 16000),
            "sequences",
        ),
        Param(
            "d",
            "values",
            6553600,
            scale="int",
            source="one 25 MiB bucket of float32 gradients (Part 3 compresses these)",
        ),
    ),
    ledger=_common_ledger(
        (
            LedgerField(
                "alpha_share_full",
                "number",
                "Share of T_ring that is latency (α) for the whole gradient",
                "",
                rel_tol=0.02,
            ),
            LedgerField(
                "bucket_algorithm",
                "choice",
                "Faster for one DDP bucket: the ring or NCCL's pipelined double binary tree",
                choices=("ring", "tree"),
            ),
        )
    ),
    same_as={"alpha_inter": "alpha", "beta_inter": "beta"},
)

EDGE_GUARDIAN = Track(
    key="edge_guardian",
    title="Edge Guardian",
    persona="AV Systems Lead",
    mission="A deterministic 10 ms safety loop across 10 vehicle SoCs.",
    crisis=(
        "The Jittery Mesh: perception gradients sync over one shared wireless channel whose "
        "α varies a lot, and only one vehicle can transmit at a time. Ring, tree, or every SoC "
        "broadcasting once: which misses the 10 ms deadline least often?"
    ),
    stakeholder="Safety Lead: 'Give me the miss probability, not the average.'",
    params=(
        Param("N", "SoCs", 10, scale="int", source="the seed's 10 vehicle SoCs"),
        Param(
            "alpha",
            "s",
            0.1e-3,
            0.3e-3,
            source="mean channel access per message (802.11p AIFS + backoff + preamble)",
            assumption=True,
        ),
        Param(
            "alpha_cv",
            "",
            0.5,
            2.0,
            scale="linear",
            source="coefficient of variation of α (lognormal)",
            assumption=True,
        ),
        Param("beta", "B/s", 0.5e6, 2.5e6, source=_V2V, assumption=True),
        Param("deadline", "s", 10e-3, source="the seed: 10 ms safety loop"),
        Param("M_model", "B", 2e6, 8e6, source="perception-head gradient", assumption=True),
        Param("M_message", "B", 0, source="4·d: one per-loop gradient delta in float32"),
        *_hier(
            2,
            5,
            (20e-6, 50e-6),
            (125e6, 125e6),
            (0.1e-3, 0.3e-3),
            (0.5e6, 2.5e6),
            _ETH,
            _V2V,
            assume_f=True,
            assume_s=True,
            src_G="2 SoCs per vehicle (the seed's 10 SoCs on 5 vehicles)",
            src_K="5 vehicles, one radio each, on one shared channel",
        ),
        *_accumulation((2e-3, 5e-3), "one micro-batch on the SoC", 8, (256, 1024), "samples"),
        Param(
            "d",
            "values",
            32,
            128,
            scale="int",
            source="per-loop gradient delta of a perception head (float32 values)",
            assumption=True,
        ),
        Param("beta_broadcast", "B/s", 0.4e6, 0.75e6, source=_V2V_BROADCAST, assumption=True),
    ),
    ledger=_common_ledger(
        (
            # computed by hand from the crisis' formula: N, M exact, α and β_b drawn to 3
            # significant digits and shown exactly; 1% allows rounding each term and the sum
            LedgerField(
                "broadcast_time_ms",
                "number",
                "Broadcast sync time N·(α + M/β_b) at the mean α",
                "ms",
                rel_tol=0.01,
            ),
            LedgerField("tree_miss_probability", "number", "P(tree misses the deadline)"),
            LedgerField(
                "broadcast_miss_probability",
                "number",
                "P(broadcast-then-sum misses the deadline)",
            ),
            LedgerField(
                "deadline_algorithm",
                "choice",
                "Algorithm you choose for the deadline",
                choices=("ring", "tree", "broadcast"),
            ),
        )
    ),
    same_as={"alpha_inter": "alpha", "beta_inter": "beta"},
    bytes_of_d=("M_message",),
)

MOBILE_NOMAD = Track(
    key="mobile_nomad",
    title="Mobile Nomad",
    persona="AR Glasses Dev",
    mission="60 FPS AR translation on glasses that sync a small adapter over Bluetooth LE.",
    crisis=(
        "The Battery Contention: sending full gradients over Bluetooth disturbs AR frames. "
        "Does 1-bit compression with error feedback fix it without losing accuracy?"
    ),
    stakeholder="UX Designer: 'How many frames does one sync cost the user?'",
    params=(
        Param(
            "N", "devices", 4, 8, scale="int", source="devices syncing over BLE", assumption=True
        ),
        Param("alpha", "s", 7.5e-3, 30e-3, source=_BLE + " (α ~ one connection interval)"),
        Param(
            "beta",
            "B/s",
            125e3,
            175e3,
            scale="linear",
            source=_BLE + "; application throughput 50-70% of PHY",
            assumption=True,
        ),
        Param("frame_time", "s", 1 / 60, source="60 FPS"),
        Param(
            "d",
            "values",
            20000,
            100000,
            scale="int",
            source="on-device adapter gradient (float32)",
            assumption=True,
        ),
        Param("M_model", "B", 0, source="4·d: the adapter's float32 gradient"),
        Param("M_message", "B", 0, source="4·d: one adapter sync"),
        *_hier(
            4,
            3,
            (1e-3, 3e-3),
            (10e6, 30e6),
            (20e-3, 60e-3),
            (0.5e6, 2e6),
            "home Wi-Fi between a user's devices",
            "cellular uplink between homes",
            assume_f=True,
            assume_s=True,
        ),
        *_accumulation((20e-3, 60e-3), "one micro-batch on the phone NPU", 4, (64, 256), "samples"),
    ),
    ledger=_common_ledger(
        (
            LedgerField(
                "bytes_dense",
                "int",
                "Bytes each device sends per sync: ring AllReduce, float32",
                "B",
                rel_tol=0.0,
            ),
            LedgerField(
                "bytes_one_bit",
                "int",
                "Bytes each device sends per sync: compressed AllReduce, 1-bit + scales",
                "B",
                rel_tol=0.0,
            ),
            LedgerField(
                "frames_disturbed_dense",
                "int",
                "Frames disturbed per sync, float32",
                "",
                rel_tol=0.0,
            ),
            LedgerField(
                "frames_disturbed_one_bit",
                "int",
                "Frames disturbed per sync, 1-bit",
                "",
                rel_tol=0.0,
            ),
            LedgerField(
                "ef_keeps_accuracy", "bool", "Does 1-bit + EF reach the uncompressed loss?"
            ),
        )
    ),
    bytes_of_d=("M_model", "M_message"),
)

TINY_PIONEER = Track(
    key="tiny_pioneer",
    title="Tiny Pioneer",
    persona="Hearable Lead",
    mission="Neural isolation on 50 hearables under a 1 mW average power budget.",
    crisis=(
        "The Low-Power Gossip: a ring AllReduce over the hearables present is the cheapest in "
        "bytes, but its 2(N−1) exchanges come one after another, and a hearable that leaves "
        "meanwhile loses the attempt. Gossip only talks to neighbours. Which one fits the "
        "radio's energy budget?"
    ),
    stakeholder="Hardware Lead: 'Show me the joules per sync against the 1 mW budget.'",
    params=(
        Param("N", "hearables", 50, scale="int", source="the seed's 50 hearables"),
        Param("alpha", "s", 7.5e-3, 15e-3, source=_BLE),
        Param("beta", "B/s", 60e3, 100e3, source=_BLE_1M, assumption=True),
        Param(
            "topology",
            "",
            "ring",
            scale="choice",
            choices=("ring", "grid", "random_regular"),
            source="gossip topology: ring, 5x10 grid, random 4-regular",
        ),
        Param(
            "eps",
            "",
            "1e-2",
            scale="choice",
            choices=(1e-1, 1e-2),
            source="relative consensus error target",
            assumption=True,
        ),
        Param(
            "d",
            "values",
            128,
            512,
            scale="int",
            source="personalisation delta (float32), e.g. a last layer's gains and biases",
            assumption=True,
        ),
        Param("energy_tx", "J/B", 127e-9, 200e-9, source=_NRF_TX),
        Param("energy_rx", "J/B", 130e-9, 200e-9, source=_NRF_RX),
        Param("energy_event", "J", 5e-6, 15e-6, source=_NRF_EVENT, assumption=True),
        Param(
            "presence",
            "",
            0.95,
            0.995,
            scale="linear",
            source="chance a hearable is present (not in its case, in range) for a sync",
            assumption=True,
        ),
        Param("sync_period", "s", 30, 120, source="one consensus per period", assumption=True),
        Param("power_budget", "W", 1e-3, source="the seed: < 1 mW average"),
        Param("radio_share", "", 0.3, source="share of the budget for the radio", assumption=True),
        Param("M_model", "B", 0, source="4·d: the model delta in float32"),
        Param("M_message", "B", 0, source="4·d: one gossip message"),
        *_hier(
            2,
            25,
            (2e-3, 5e-3),
            (100e3, 250e3),
            (7.5e-3, 15e-3),
            (60e3, 100e3),
            "ear-to-ear link between a user's two earbuds",
            "BLE between users",
            assume_f=True,
            assume_s=True,
        ),
        *_accumulation(
            (5e-3, 20e-3), "one micro-batch on the hearable DSP", 2, (32, 128), "samples"
        ),
    ),
    ledger=_common_ledger(
        (
            LedgerField("gossip_rounds", "int", "Rounds to reach your ε (the SLEM bound)"),
            LedgerField(
                "gossip_energy_per_device_j",
                "number",
                "Radio energy per device for those rounds (bytes + one event per message)",
                "J",
            ),
            LedgerField(
                "ring_energy_per_device_j",
                "number",
                "Expected radio energy per device for one completed ring AllReduce (the "
                "crisis shows it)",
                "J",
            ),
            LedgerField("gossip_within_budget", "bool", "Gossip fits the radio's share of 1 mW?"),
            LedgerField("ring_within_budget", "bool", "A ring AllReduce fits it?"),
        )
    ),
    same_as={"alpha_inter": "alpha", "beta_inter": "beta"},
    bytes_of_d=("M_model", "M_message"),
)

TRACKS: Mapping[str, Track] = MappingProxyType(
    {t.key: t for t in (CLOUD_TITAN, EDGE_GUARDIAN, MOBILE_NOMAD, TINY_PIONEER)}
)


def _normalise_id(student_id: object) -> str:
    if not isinstance(student_id, str | int) or isinstance(student_id, bool):
        raise ValueError(f"student_id must be a string, got {student_id!r}")
    sid = str(student_id).strip().lower()
    if not sid:
        raise ValueError("student_id must not be empty: type your LMS id")
    return sid


def _track(track: object) -> Track:
    if not isinstance(track, str):
        raise ValueError(f"track must be one of {', '.join(TRACKS)}; got {track!r}")
    key = "_".join(track.strip().lower().replace("-", " ").replace("_", " ").split())
    if key not in TRACKS:
        raise ValueError(f"track must be one of {', '.join(TRACKS)}; got {track!r}")
    return TRACKS[key]


def track_key(track: object) -> str:
    """The track's key from what a student typed: "Edge Guardian", "edge-guardian" and
    " EDGE_GUARDIAN " all give "edge_guardian". The notebook (lab.start) and the grader use
    this one rule; anything else is a ValueError naming the valid keys."""
    return _track(track).key


def variant_seed(track: str, term: str, student_id: str) -> int:
    """A 64-bit seed from (track, term, LMS id): SHA-256, so stable across machines."""
    text = f"comms-lab|{_track(track).key}|{str(term).strip().lower()}|{_normalise_id(student_id)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def scenario_for(track: str, term: str, student_id: str) -> Scenario:
    """The student's scenario: each Param drawn from a generator seeded by variant_seed."""
    t = _track(track)
    if not str(term).strip():
        raise ValueError("term must not be empty, e.g. '2026-fall'")
    rng = np.random.default_rng(variant_seed(t.key, term, student_id))
    values = {p.name: p.draw(rng) for p in t.params}
    for derived, drawn in t.same_as.items():
        values[derived] = values[drawn]
    for name in t.bytes_of_d:
        values[name] = 4 * values["d"]
    if "eps" in values:
        values["eps"] = float(values["eps"])
    return Scenario(
        t, str(term).strip().lower(), _normalise_id(student_id), MappingProxyType(values)
    )


def ledger_fields(track: str) -> tuple[LedgerField, ...]:
    return _track(track).ledger


# The convergence experiment's model size for the lab: small enough to train in about a second,
# large enough that the uncompressed run ends within 1 % of the least-squares optimum in 300
# steps (2·dim samples per worker), so "EF matches it" compares converged runs. Its 8 workers
# send 2·7·(⌈16/8⌉ + 4) = 84 B per compressed AllReduce against 2·7·4·16 = 896 B dense (10.7x;
# the ratio 32c/(c + 32) of chunks of c values reaches 32x only for large models).
CONVERGENCE_DIM = 128


def gossip_topology(s: Scenario) -> IntVector:
    """The adjacency matrix of the scenario's gossip topology (N = 50: the grid is 5 x 10)."""
    import comms_core.gossip as gossip

    if s.topology == "ring":
        return gossip.ring_topology(s.N)
    if s.topology == "grid":
        return gossip.grid_topology(5, s.N // 5)
    return gossip.random_regular_topology(
        s.N, 4, seed=variant_seed("tiny_pioneer", s.term, s.student_id) % 2**32
    )
