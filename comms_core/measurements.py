"""Published NCCL AllReduce measurements, and two models held against them.

The dataset (data/nccl_allreduce_measurements.csv) holds nccl-tests `all_reduce_perf`
results transcribed from public pages; every row names its source (a file pinned to a
commit, or one issue thread), the GPUs, nodes, NICs, NCCL version, and the algorithm and
protocol when the run forced them (NCCL_ALGO / NCCL_PROTO):

    dgx_h100_1x8          8×H100, one node (NVIDIA/dgxc-benchmarking nccl/README.md)
    azure_nd_h100_v5      8×H100, one node, NCCL 2.18.5 (Azure/AI-benchmarking-guide)
    azure_nd_a100_v4      8×A100, one node, NCCL 2.18.5 (Azure/AI-benchmarking-guide)
    gcp_a3mega_2x8_h100   2 nodes × 8 H100 over GPUDirect-TCPXO Ethernet (a public repo)
    h20_2x8_ndr           2 nodes × 8 H20 over InfiniBand NDR, NVLSTree forced (nccl#1244)
    a100_3x8_hdr          3 nodes × 8 A100, 4 HDR NICs each (nccl-tests#119)
    h100_2x1_tree         2 nodes × 1 H100, 4 NICs each, Tree forced (nccl-tests#232)
    dgx_a100_2x8_ring     2 DGX A100, 8×100G NICs each, NCCL 2.16.5, Ring forced (nccl#812)
    h100_1x8_single       8×H100, one node, one size (nccl-tests#347)

The Azure pages give only the bus bandwidth; their times are DERIVED from it (column
`derived`), by nccl-tests' own definition (doc/PERFORMANCE.md, src/all_reduce.cu):

    busbw = algbw · 2(n-1)/n,   algbw = S/t     so     t = S · 2(n-1)/n / busbw

The two models:
- the plain α-β ring of the lab, T = 2(N-1)·α + 2(N-1)/N·M/β, with the per-system α
  and β of SYSTEMS (datasheet-style numbers, each with its source);
- an NCCL-like model: NCCL's own tuning model (NVIDIA/nccl src/graph/tuning.cc), ring
  and tree with the LL, LL128 and Simple protocols, each a latency plus a bandwidth term,
  and NVLS / NVLSTree (Simple) on Hopper NVSwitch nodes with the busbw nccl#1455 measured
  per GPU count; like NCCL we take the fastest, or the fastest protocol of the algorithm
  a run forced. Each row is predicted with the latency constants of the NCCL release
  that measured it (NCCL_TUNING: v2.16.5, v2.18.5, v2.20.3, v2.21.5, each read at its
  tag); a source that does not state its release is taken as v2.20.3 (an assumption).

What the NCCL-like model leaves out, so its errors are honest: CollNet, the per-channel
bandwidth caps (they do not bind with >= 16 channels at NVLink speeds), the thread/
channel tuning for small messages and every system's own launch floor. Errors are
(model − measured)/measured: +0.25 = the model is 25% slow.

What the comparison finds (median |error| over each system's rows; benchmarks/
bench_calibrate.py prints it). These are NOT held-out figures: the NVLS bandwidth and one
NIC constant are measurements of systems in the dataset (PROVENANCE); comms_core.held_out
predicts each system without them:

    system               plain α-β   NCCL-like   why the NCCL-like model misses
    dgx_h100_1x8         36%         12%         one outlier row (32 B, 68 µs) in the source
    azure_nd_h100_v5     16%         34%         small sizes: 25-40 µs measured here vs
                                                 13-20 µs on DGX (busbw given to 0.01)
    azure_nd_a100_v4     33%         33%         small sizes ~45 µs, model 15 µs
    gcp_a3mega_2x8_h100  21%         80%         TCPXO Ethernet: ~123 µs floor; NCCL's
                                                 NET latencies are InfiniBand's
    h20_2x8_ndr          216%        14%         NVLSTree modelled; the plain ring is not it
    a100_3x8_hdr         9%          12%         ring busbw right (4 NICs, 96 GB/s); NCCL's
                                                 24-rank ring latency adds ~330 µs
    h100_2x1_tree        77%         39%         the tree reaches 41 GB/s of 4 NICs' 192
    dgx_a100_2x8_ring    61%         61%         a 93 µs floor; NCCL 2.16.5's constants
                                                 say 36 µs (2.18+ would say 69 µs: the
                                                 CPU network-post floor it added)

Read it as: NCCL's own latency model (base + per-hop, LL protocol) gets a single NVLink
node's small messages right where a datasheet α does not, NVLS and NVLSTree explain the
H100/H20 large messages, and a fabric's launch floor is what no published constant knows.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

import comms_core._validate as v
from comms_core._types import FloatOrArray, IntVector, Vector
from comms_core.cost_models import ring_allreduce_time

__all__ = [
    "DATA_PATH",
    "DEFAULT_NCCL_VERSION",
    "NCCL_TUNING",
    "NVLS_BUS_BW_GBS",
    "PROVENANCE",
    "RING_BUS_BW_H100_GBS",
    "SIZE_REGIMES",
    "SYSTEMS",
    "ModelComparison",
    "NcclMeasurement",
    "NcclTuning",
    "Provenance",
    "SystemModel",
    "bus_bandwidth",
    "compare_model_to_measurements",
    "error_summary",
    "forced_algorithm",
    "load_nccl_measurements",
    "nccl_like_algorithm_times",
    "nccl_like_allreduce_time",
    "nccl_like_choice",
    "nccl_row_arguments",
    "nccl_system_arguments",
    "nccl_tuning",
    "time_from_bus_bandwidth",
]

DATA_PATH = Path(__file__).parent / "data" / "nccl_allreduce_measurements.csv"
PROTOCOLS = ("LL", "LL128", "Simple")

CsvRecord = Mapping[str, str | None]  # one row of csv.DictReader: column -> cell
AlgorithmTimes = dict[tuple[str, str], FloatOrArray]  # (algorithm, protocol) -> seconds
ErrorStats = dict[str, float]  # "median" and "max" |relative error|, "n" rows
ALGORITHMS = ("ring", "tree")


# --- the dataset ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NcclMeasurement:
    """One row of nccl-tests all_reduce_perf output (out-of-place unless noted)."""

    system: str
    gpu: str
    gpus: int  # n ranks
    nodes: int
    fabric: str
    nics: str  # the NICs per node as the source states them ("not stated" if it does not)
    nccl_version: str
    algorithm: str  # "NCCL default", or the algorithm the run forced (NCCL_ALGO)
    protocol: str  # "not forced", or the protocol the run forced (NCCL_PROTO)
    size_bytes: int  # S, the whole buffer
    time_us: float
    busbw_gbs: float  # GB/s, 1e9 bytes/s
    derived: bool  # True: time_us computed from busbw_gbs (the page gave busbw only)
    source: str
    note: str

    @property
    def time_s(self) -> float:
        return self.time_us * 1e-6


def bus_bandwidth(size_bytes: ArrayLike, time_s: ArrayLike, n: ArrayLike) -> FloatOrArray:
    """nccl-tests AllReduce bus bandwidth, bytes/s: busbw = S/t · 2(n-1)/n.

    Source: NVIDIA/nccl-tests doc/PERFORMANCE.md; src/all_reduce.cu (factor 2(n-1)/n).
    """
    S, t = v.nonnegative("size_bytes", size_bytes), v.positive("time_s", time_s)
    n = v.count("n", n)
    return v.scalar_or_array(S / t * 2 * (n - 1) / n)


def time_from_bus_bandwidth(size_bytes: ArrayLike, busbw: ArrayLike, n: ArrayLike) -> FloatOrArray:
    """The inverse: t = S · 2(n-1)/n / busbw, seconds (busbw in bytes/s)."""
    S, busbw = v.nonnegative("size_bytes", size_bytes), v.positive("busbw", busbw)
    n = v.count("n", n, minimum=2)
    return v.scalar_or_array(S * 2 * (n - 1) / n / busbw)


def _required(record: CsvRecord, column: str) -> str:
    """A column's text, stripped; an empty cell is an error."""
    value = (record.get(column) or "").strip()
    if not value:
        raise ValueError(f"column {column!r} is empty")
    return value


def _parse_row(record: CsvRecord) -> NcclMeasurement:
    """One csv record as typed fields (ValueError names the column or the value)."""
    return NcclMeasurement(
        system=_required(record, "system"),
        gpu=_required(record, "gpu"),
        gpus=int(_required(record, "gpus")),
        nodes=int(_required(record, "nodes")),
        fabric=_required(record, "fabric"),
        nics=_required(record, "nics"),
        nccl_version=_required(record, "nccl_version"),
        algorithm=_required(record, "algorithm"),
        protocol=_required(record, "protocol"),
        size_bytes=int(_required(record, "size_bytes")),
        time_us=float(_required(record, "time_us")),
        busbw_gbs=float(_required(record, "busbw_gbs")),
        derived=_required(record, "derived") == "yes",
        source=_required(record, "source"),
        note=(record.get("note") or "").strip(),
    )


def _check_row(row: NcclMeasurement) -> NcclMeasurement:
    """The row's invariants: positive sizes and times, gpus = nodes × GPUs per node."""
    if row.size_bytes <= 0 or not row.time_us > 0 or row.busbw_gbs < 0:
        raise ValueError("sizes and times must be positive")
    if row.gpus < 2 or row.nodes < 1 or row.gpus % row.nodes:
        raise ValueError("gpus must be nodes × GPUs per node")
    return row


def _row(record: CsvRecord, line: int) -> NcclMeasurement:
    """One csv record, parsed and checked; errors name the file and the line."""
    try:
        return _check_row(_parse_row(record))
    except ValueError as err:
        raise ValueError(f"{DATA_PATH.name} line {line}: {err}") from None


def load_nccl_measurements(path: str | Path | None = None) -> list[NcclMeasurement]:
    """Every row of the dataset as an NcclMeasurement (csv module only, no pandas)."""
    path = Path(path) if path is not None else DATA_PATH
    with path.open(newline="") as f:
        return [_row(record, i + 2) for i, record in enumerate(csv.DictReader(f))]


# --- per-system constants for the two models ----------------------------------------------


@dataclass(frozen=True)
class SystemModel:
    """What each model needs to know about a system. Bandwidths in bytes/s, α in s."""

    arch: str  # "hopper" or "ampere": NCCL's per-architecture LL bandwidth cap
    cpu_vendor: str  # "intel" or "amd": NCCL's network post overhead and LL cap
    bus_bw_intra: float  # NCCL's nChannels·bwIntra ≈ ring busbw over NVLink
    bus_bw_inter: float | None  # the node's NIC bandwidth (all NICs); None: one node
    alpha: float  # plain α-β: latency per ring step
    beta: float  # plain α-β: the ring's link bandwidth
    basis: str
    nvls: bool = False  # NVSwitch with NVLink SHARP (Hopper): NCCL may pick NVLS/NVLSTree


_H100_NVLINK = 18 * 20.6e9  # NCCL src/graph/topo.h SM90_NVLINK_BW × 18 links = 370.8 GB/s
_A100_NVLINK = 12 * 20.0e9  # NCCL SM80_NVLINK_BW × 12 links = 240 GB/s
_ALPHA_NVLINK = 2e-6  # one NVLink P2P write, 1.8-2.3 µs (cuda-samples#230)
_ALPHA_NET = 5e-6  # InfiniBand NDR (mlsysim IB_NDR_LATENCY_US); assumed for TCPXO too


def _one_node(arch: str, cpu_vendor: str, nvlink: float, basis: str) -> SystemModel:
    """One NVSwitch node: no NICs in the collective; the plain ring's α is one NVLink
    write and its β the NVLink bus bandwidth; NVLS on Hopper."""
    return SystemModel(
        arch, cpu_vendor, nvlink, None, _ALPHA_NVLINK, nvlink, basis, nvls=arch == "hopper"
    )


def _several_nodes(
    arch: str, cpu_vendor: str, intra: float, nics: float, basis: str, *, nvls: bool
) -> SystemModel:
    """Nodes joined by NICs (nics: all of a node's NICs, bytes/s): the plain ring runs one
    ring per NIC, so its β is the node's NIC total and its α a network hop."""
    return SystemModel(arch, cpu_vendor, intra, nics, _ALPHA_NET, nics, basis, nvls=nvls)


SYSTEMS: dict[str, SystemModel] = {
    "dgx_h100_1x8": _one_node(
        "hopper",
        "intel",
        _H100_NVLINK,
        "18 NVLink4 links × 20.6 GB/s (NCCL topo.h); sjeaugey in nccl-tests#212: NCCL "
        "gets ~370 GB/s effective NVLink bandwidth",
    ),
    "azure_nd_h100_v5": _one_node(
        "hopper", "intel", _H100_NVLINK, "as dgx_h100_1x8; CPU Xeon 8480C (the results page)"
    ),
    "azure_nd_a100_v4": _one_node(
        "ampere",
        "amd",
        _A100_NVLINK,
        "12 NVLink3 links × 20 GB/s (NCCL topo.h); CPU AMD EPYC 7V12 (the results page)",
    ),
    "gcp_a3mega_2x8_h100": _several_nodes(
        "hopper",
        "intel",
        _H100_NVLINK,
        8 * 25e9,
        "ASSUMPTION: 8 NICs × 200 Gb/s per node for A3 Mega (not in the source file)",
        nvls=True,
    ),
    "h20_2x8_ndr": _several_nodes(
        "hopper",
        "intel",
        _H100_NVLINK,
        8 * 48e9,
        "8 CX-7 NDR NICs per node at the 46-48 GB/s NCCL reaches (AddyLaddy, nccl-tests"
        "#290); ASSUMPTION: H20 NVLink as H100 (900 GB/s bidirectional), Intel host",
        nvls=True,
    ),
    "a100_3x8_hdr": _several_nodes(
        "ampere",
        "intel",
        _A100_NVLINK,
        4 * 24e9,
        "4 HDR NICs per node at the 24 GB/s NCCL reaches per 200G NIC (sjeaugey, "
        "nccl-tests#119); CPU Xeon Platinum 8358 (the issue)",
        nvls=False,
    ),
    "h100_2x1_tree": _several_nodes(
        "hopper",
        "intel",
        4 * 48e9,
        4 * 48e9,
        "1 GPU per node, so no NVLink in the collective: 4 NICs; ASSUMPTION: 400G each at "
        "46-48 GB/s (the poster expects 200 GB/s for 4; AddyLaddy, nccl-tests#290); "
        "ASSUMPTION: Intel host",
        nvls=False,
    ),
    "dgx_a100_2x8_ring": _several_nodes(
        "ampere",
        "amd",
        _A100_NVLINK,
        8 * 12e9,
        "8 NICs of 100 Gb/s per node (the poster, nccl#812) at the 12 GB/s NCCL reaches per "
        "100G NIC (sjeaugey, nccl-tests#119); a standard DGX A100: AMD EPYC host",
        nvls=False,
    ),
    "h100_1x8_single": _one_node(
        "hopper",
        "intel",
        _H100_NVLINK,
        "as dgx_h100_1x8 (8 H100 80GB HBM3 on NVSwitch); ASSUMPTION: Intel host",
    ),
}

# NVLS bus bandwidth on 8×H100 SXM by GPU count, GB/s, at 2-4 GiB: shh2000 in nccl#1455
# ("365-370 GBps when gpus from 2 to 4 ... 420, 440, 460, and 480 GBps when gpus increase
# from 4 to 5, 6, 7, and 8"); sjeaugey in nccl-tests#212: "a peak busBw of ~480GB/s" on 8.
# The same thread: forced Ring gives 365-370 GB/s at every count from 2 to 8.
NVLS_BUS_BW_GBS = {2: 367.5, 3: 367.5, 4: 367.5, 5: 420.0, 6: 440.0, 7: 460.0, 8: 480.0}
RING_BUS_BW_H100_GBS = (365.0, 370.0)  # forced Ring, 2-8 GPUs, 2-4 GiB (nccl#1455)


@dataclass(frozen=True)
class Provenance:
    """Where a measured constant of the models comes from, and what a held-out evaluation
    must do about it (comms_core.held_out).

    measured_on names the systems of the dataset whose own measurement the constant is:
    taken from the same page or thread as their rows, or the very quantity their rows
    measure. Such a system is not held out for this constant: held_out says whether the
    evaluation refits the constant on the conditions it calibrates on ("refit") or does
    not count the system as held out at all ("exclude"); "kept": measured on no system of
    the dataset, so used as published.
    """

    constant: str
    value: str
    sources: tuple[str, ...]
    measured_on: tuple[str, ...]
    held_out: str  # "refit", "exclude", or "kept" (measured on no system of the dataset)
    why: str


# Measured constants only: NCCL's tuning.cc latencies and topo.h link speeds are code, not
# measurements of any row, and the datasheet α of the plain ring is none either.
PROVENANCE: tuple[Provenance, ...] = (
    Provenance(
        "NVLS_BUS_BW_GBS[8]",
        "480 GB/s, NVLS bus bandwidth of one node of 8 H100",
        ("NVIDIA/nccl#1455 (shh2000)", "NVIDIA/nccl-tests#212 (sjeaugey)"),
        ("dgx_h100_1x8", "azure_nd_h100_v5", "h100_1x8_single"),
        "refit",
        "these systems' rows of >= 1 GiB measure this very bandwidth (466-480 GB/s), and "
        "h100_1x8_single's only row (8 GiB, busbw 479.41) is the peak itself; so the held-out "
        "evaluation never uses the published value: it fits the NVLS bus bandwidth of an "
        "8-GPU node on the calibration rows (comms_core.held_out.fit_nvls_bus_bw)",
    ),
    Provenance(
        "NVLS_BUS_BW_GBS[2..7]",
        "367.5-460 GB/s by GPU count",
        ("NVIDIA/nccl#1455 (shh2000)",),
        (),
        "kept",
        "no row of the dataset runs NVLS on 2-7 GPUs of a node",
    ),
    Provenance(
        "a100_3x8_hdr.bus_bw_inter",
        "24 GB/s per HDR 200G NIC, 4 per node",
        ("NVIDIA/nccl-tests#119 (sjeaugey)",),
        ("a100_3x8_hdr",),
        "exclude",
        "stated in a100_3x8_hdr's own thread, in answer to its rows (busbw 95.7-96.5 = 4 × "
        "24): the condition is not counted as held out",
    ),
    Provenance(
        "dgx_a100_2x8_ring.bus_bw_inter",
        "12 GB/s per 100G NIC, 8 per node",
        ("NVIDIA/nccl-tests#119 (sjeaugey)",),
        (),
        "kept",
        "the same sentence of nccl-tests#119, a thread of another system; dgx_a100_2x8_ring's "
        "own thread (nccl#812) gave no constant, and its rows (8-256 B) are not bandwidth-bound",
    ),
    Provenance(
        "NDR NIC bandwidth (h20_2x8_ndr, h100_2x1_tree)",
        "48 GB/s per NDR 400G NIC",
        ("NVIDIA/nccl-tests#290 (AddyLaddy)",),
        (),
        "kept",
        "a thread of no row of the dataset",
    ),
    Provenance(
        "H100 / A100 NVLink bus bandwidth",
        "370.8 / 240 GB/s",
        ("NVIDIA/nccl src/graph/topo.h", "NVIDIA/nccl-tests#212 (sjeaugey)"),
        (),
        "kept",
        "NCCL's code and a thread of no row of the dataset",
    ),
)


# --- the NCCL-like model -------------------------------------------------------------------
# NVIDIA/nccl src/graph/tuning.cc, read at the tag of each NCCL release the dataset ran:
# baseLat, hwLat[NVLINK|NET], llMaxBws and the ring rules differ between releases, so each
# row is predicted with the constants of the release that measured it (NcclTuning).
# Latencies in µs, per protocol (LL, LL128, Simple).


@dataclass(frozen=True)
class NcclTuning:
    """The constants of NCCL's AllReduce tuning model in one release (tuning.cc at its tag).

    base_latency_us[algo] is baseLat, hop_latency_us[hw][algo] is hwLat (hw "nvlink" or
    "net"), both per protocol (LL, LL128, Simple). nvls_latency_us is what one node's NVLS
    pays (baseLat + hwLat[NVLINK] of NVLS; None: the release has no NVLS), nvlstree_net_us
    the network hop of NVLSTree, crossed 2·⌊log2 nodes⌋ times (2·(nodes-1) before v2.19).
    hopper_ll_max_bw_gbs is llMaxBws' Hopper row (1 node, 2 nodes, more). The ring rules:
    Ring/Simple on several nodes is slowed by ring_plateau once M/N reaches
    plateau_bytes_per_rank (None: 64 B × channels); LL hops inside a node cost
    ll_intra_factor more on several nodes; net_overhead_floor: a multi-node ring step costs
    at least the CPU's network post overhead (getNetOverhead).
    """

    version: str
    source: str
    base_latency_us: dict[str, tuple[float, float, float]]
    hop_latency_us: dict[str, dict[str, tuple[float, float, float]]]
    hopper_ll_max_bw_gbs: tuple[float, float, float]
    nvls_latency_us: float | None
    nvlstree_net_us: float | None
    nvlstree_log2_hops: bool = True
    ring_plateau: float = 1.4
    plateau_bytes_per_rank: float | None = None
    ll_intra_factor: float = 1.0
    net_overhead_floor: bool = True


_TUNING_FILE = "https://github.com/NVIDIA/nccl/blob/{commit}/src/graph/tuning.cc"
_LL_MAX_BW_AMPERE = (87.7, 22.5, 19.0)  # llMaxBws Ampere/AMD row, v2.16.5-v2.23.4
_RING_HOPS_NVLINK = (0.6, 1.9, 3.4)  # hwLat[NVLINK][Ring], v2.18.5-v2.23.4
_RING_HOPS_NET = (2.7, 4.0, 14.0)  # hwLat[NET][Ring], v2.18.5-v2.23.4
_V2_20_3 = NcclTuning(
    "2.20.3",
    _TUNING_FILE.format(commit="b6475625fbcaa2c3c0e50eed2fa1255d7514d4a2"),
    {"tree": (6.8, 14.0, 0.0), "ring": (6.6, 14.0, 8.4)},
    {
        "nvlink": {"tree": (0.6, 1.25, 28.0), "ring": _RING_HOPS_NVLINK},
        "net": {"tree": (5.0, 8.5, 28.0), "ring": _RING_HOPS_NET},
    },
    _LL_MAX_BW_AMPERE,
    nvls_latency_us=23.0,  # baseLat 0, hwLat[NVLINK][NVLS] 23
    nvlstree_net_us=14.0,
)
NCCL_TUNING: dict[str, NcclTuning] = {
    "2.16.5": NcclTuning(
        "2.16.5",
        _TUNING_FILE.format(commit="f3d51667838f7542df8ea32ea4e144d812b3ed7c"),
        {"tree": (4.4, 4.4, 0.0), "ring": (3.6, 10.0, 8.4)},
        {
            "nvlink": {"tree": (0.52, 1.25, 28.0), "ring": (0.47, 1.9, 3.4)},
            "net": {"tree": (5.0, 8.5, 28.0), "ring": (2.7, 4.0, 9.6)},
        },
        _LL_MAX_BW_AMPERE,
        nvls_latency_us=None,  # NVLS arrived in v2.17
        nvlstree_net_us=None,
        ring_plateau=1.9,  # lat *= 1.9 once nBytes >= nRanks/16·65536
        plateau_bytes_per_rank=65536 / 16,
        ll_intra_factor=1.8,  # "if (nNodes > 1 && p == NCCL_PROTO_LL) intraLat *= 1.8"
        net_overhead_floor=False,
    ),
    "2.18.5": NcclTuning(
        "2.18.5",
        _TUNING_FILE.format(commit="559b70f86c190a0d8f67f0d7a0f2c9810dd1e8c7"),
        {"tree": (6.8, 14.0, 0.0), "ring": (6.6, 14.0, 8.4)},
        {
            "nvlink": {"tree": (0.6, 1.25, 4.0), "ring": _RING_HOPS_NVLINK},
            "net": {"tree": (5.0, 8.5, 14.0), "ring": _RING_HOPS_NET},
        },
        _LL_MAX_BW_AMPERE,
        nvls_latency_us=23.0,  # baseLat[NVLS] 23, hwLat[NVLINK][NVLS] 0
        nvlstree_net_us=19.0,
        nvlstree_log2_hops=False,  # "2*(nNodes-1)*hwLat[NET][NVLS_TREE]"
    ),
    "2.20.3": _V2_20_3,
    "2.21.5": replace(  # as 2.20.3 but NVLS 25 µs and Hopper's own LL caps
        _V2_20_3,
        version="2.21.5",
        source=_TUNING_FILE.format(commit="ab2b89c4c339bd7f816fbc114a4b05d386b66290"),
        hopper_ll_max_bw_gbs=(141.0, 45.0, 35.0),
        nvls_latency_us=25.0,
    ),
}
# ASSUMPTION: a source that does not state its NCCL version ran 2.20.3 (the dataset's
# stated versions span 2.16.5-2.21.5; 2.20.3 is the middle of what its sources ran).
DEFAULT_NCCL_VERSION = "2.20.3"


def nccl_tuning(version: str) -> NcclTuning:
    """The tuning constants of an NCCL release ("not stated": DEFAULT_NCCL_VERSION)."""
    if version == "not stated":
        version = DEFAULT_NCCL_VERSION
    if version not in NCCL_TUNING:
        raise ValueError(
            f"nccl_version: no tuning constants for NCCL {version!r}; "
            f"known: {', '.join(NCCL_TUNING)} (add them from NVIDIA/nccl src/graph/tuning.cc)"
        )
    return NCCL_TUNING[version]


_NET_OVERHEAD_US = {"intel": 1.0, "amd": 2.0}  # getNetOverhead; ×3 for Simple
# treeCorrectionFactor[proto][log2(bytes/64)], 64 B to 256 MB (the same v2.16.5-v2.23.4).
# fmt: off
_TREE_CORRECTION = {
    "LL": (1.0, 1.0, 1.0, 1.0, .9, .8, .7, .7, .7, .7, .6, .5, .4, .4, .5, .6, .7, .8, .9, 1.0,
           1.0, 1.0, 1.0),
    "LL128": (1.0, 1.0, 1.0, 1.0, 1.0, .9, .8, .8, .8, .7, .6, .6, .6, .6, .6, .6, .8, .9, .9,
              .9, .9, 1.0, 1.0),
    "Simple": (.9, .9, .9, .9, .9, .9, .9, .8, .7, .6, .6, .5, .5, .5, .5, .6, .7, .8, .7, .7,
               .8, .9, .9),
}
# fmt: on


def _ll_max_bw(tuning: NcclTuning, arch: str, cpu_vendor: str, n_nodes: int) -> float:
    """llMaxBws[index1][index2]: one node by GPU, several by CPU (Intel row = Volta's)."""
    column = min(n_nodes, 3) - 1
    if n_nodes == 1:
        row = tuning.hopper_ll_max_bw_gbs if arch == "hopper" else _LL_MAX_BW_AMPERE
    else:
        row = _LL_MAX_BW_AMPERE if cpu_vendor == "amd" else (39.0, 39.0, 20.4)
    return row[column]


def _nvlstree_latency_us(tuning: NcclTuning, n_nodes: int) -> float:
    """NVLSTree: the NVLS latency once, plus its network hop 2·⌊log2 nodes⌋ times
    (v2.19+) or 2·(nodes-1) times (v2.17-v2.18)."""
    if tuning.nvls_latency_us is None or tuning.nvlstree_net_us is None:
        raise ValueError(f"NCCL {tuning.version} has no NVLSTree")
    hops = 2 * int(np.log2(n_nodes)) if tuning.nvlstree_log2_hops else 2 * (n_nodes - 1)
    return tuning.nvls_latency_us + hops * tuning.nvlstree_net_us


def _log2_int(x: Vector) -> IntVector:
    """NCCL's log2i: floor(log2 x) for x >= 1, and 0 for x = 0."""
    exponent: IntVector = np.floor(np.log2(np.maximum(x, 1))).astype(int)
    return exponent


def nccl_like_algorithm_times(
    M: ArrayLike,
    N: int,
    n_nodes: int = 1,
    bus_bw_intra: float = _H100_NVLINK,
    bus_bw_inter: float | None = None,
    *,
    arch: str = "hopper",
    cpu_vendor: str = "intel",
    n_channels: int = 16,
    nvls: bool = False,
    nccl_version: str = DEFAULT_NCCL_VERSION,
    nvls_bus_bw_gbs: dict[int, float] | None = None,
) -> AlgorithmTimes:
    """NCCL's predicted AllReduce time for each (algorithm, protocol), seconds, with the
    constants of NCCL release nccl_version (NCCL_TUNING; src/graph/tuning.cc at its tag).

        T = latency + M / algBw,   algBw = busBw · N/(2(N-1))  (ring)  or  busBw/2 (tree)

    busBw per protocol (tuning.cc): ring LL min(llMaxBw, busBw/4), LL128 0.92·busBw,
    Simple busBw; tree starts from 0.92·busBw: LL /3.8 (capped at llMaxBw), LL128 ×7/9
    on one node (×120/128 on more), Simple ×1, then × the tree correction factor.
    Latency: ring base + (2(N-1) - n_inter)·intra-hop + n_inter·net-hop with n_inter =
    2·n_nodes (0 on one node); tree base + 2·((N/n_nodes - 1)·intra-hop + ⌊log2 n_nodes⌋·
    net-hop). The bus bandwidth is the NVLink one inside a node; a ring over several nodes
    runs at min(NVLink, the node's NICs); NCCL models the tree on <= 2 nodes with the
    intra-node bandwidth (why its busbw may exceed the NIC line rate; nccl-tests#196).
    Bandwidths in bytes/s. With one GPU per node there is no NVLink in the collective: both
    use the NICs. n_channels only decides when the ring plateau starts (an assumption: 16);
    the per-channel caps (perChMaxTreeBw...) are left out: with >= 16 channels they do not
    bind at these bandwidths, so the channel count is absorbed in busBw (docs/calibrate.md).

    nvls=True (Hopper NVSwitch, NCCL >= 2.17) adds NVLink SHARP, Simple protocol only:
        one node:  T = L_nvls + M / algBw,  algBw = B_nvls(N) · N/(2(N-1))
        several:   NVLSTree, T = L_nvls + hops·L_net + M / min(algBw, NICs)
    with L_nvls, L_net and the hop count of the release (NcclTuning), B_nvls(N) the busbw
    measured on H100 (NVLS_BUS_BW_GBS, nccl#1455) and the NVLSTree's inter-node algBw
    bounded by the node's NICs (each node sends and receives M once; nccl-tests#153).
    nvls_bus_bw_gbs replaces B_nvls for the GPU counts it names (GB/s): comms_core.held_out
    refits it on the conditions it calibrates on (PROVENANCE).
    """
    M = v.nonnegative("M", M)
    N = v.scalar_count("N", N, minimum=2)
    n_nodes = v.scalar_count("n_nodes", n_nodes)
    n_channels = v.scalar_count("n_channels", n_channels)
    tuning = nccl_tuning(nccl_version)
    if N % n_nodes:
        raise ValueError(f"N ({N}) must be n_nodes ({n_nodes}) × ranks per node")
    if arch not in ("hopper", "ampere"):
        raise ValueError(f"arch must be 'hopper' or 'ampere', got {arch!r}")
    if cpu_vendor not in _NET_OVERHEAD_US:
        raise ValueError(f"cpu_vendor must be 'intel' or 'amd', got {cpu_vendor!r}")
    intra_gbs = float(v.positive("bus_bw_intra", bus_bw_intra)) / 1e9
    if n_nodes > 1:
        if bus_bw_inter is None:
            raise ValueError("bus_bw_inter is needed when n_nodes > 1")
        inter_gbs = float(v.positive("bus_bw_inter", bus_bw_inter)) / 1e9
    if N == n_nodes:  # one GPU per node: no NVLink in the collective
        intra_gbs = inter_gbs
    ring_gbs = intra_gbs if n_nodes == 1 else min(intra_gbs, inter_gbs)
    tree_gbs = intra_gbs if n_nodes <= 2 else min(intra_gbs, inter_gbs)
    ll_max = _ll_max_bw(tuning, arch, cpu_vendor, n_nodes)
    steps, inter_steps = 2 * (N - 1), (2 * n_nodes if n_nodes > 1 else 0)
    size_index = _log2_int(M // 64)
    plateau_from = tuning.plateau_bytes_per_rank or 64 * n_channels

    times = {}
    for p, proto in enumerate(PROTOCOLS):
        # Ring
        bus = {"LL": min(ll_max, ring_gbs / 4), "LL128": 0.92 * ring_gbs, "Simple": ring_gbs}
        alg_bw = bus[proto] * N / steps
        intra = tuning.hop_latency_us["nvlink"]["ring"][p]
        if n_nodes > 1 and proto == "LL":
            intra *= tuning.ll_intra_factor
        if n_nodes > 1 and tuning.net_overhead_floor:
            overhead = _NET_OVERHEAD_US[cpu_vendor] * (3 if proto == "Simple" else 1)
            intra = max(intra, overhead)
        latency = np.full_like(
            M,
            tuning.base_latency_us["ring"][p]
            + (steps - inter_steps) * intra
            + inter_steps * tuning.hop_latency_us["net"]["ring"][p],
        )
        if proto == "Simple" and n_nodes > 1:
            plateau = M / N >= plateau_from
            latency = np.where(plateau, latency * tuning.ring_plateau, latency)
        times[("ring", proto)] = latency + M / (1e3 * alg_bw)
        # Tree
        tree_bus = 0.92 * tree_gbs
        bus = {
            "LL": min(tree_bus / 3.8, ll_max),
            "LL128": tree_bus * (7 / 9 if n_nodes == 1 else 120 / 128),
            "Simple": tree_bus,
        }
        correction = np.asarray(_TREE_CORRECTION[proto])
        factor = np.where(
            size_index < correction.size,
            correction[np.minimum(size_index, correction.size - 1)],
            1.0,
        )
        tree_intra = tuning.hop_latency_us["nvlink"]["tree"][p]
        if n_nodes > 1 and proto == "LL":
            tree_intra *= tuning.ll_intra_factor
        tree_latency = tuning.base_latency_us["tree"][p] + 2 * (
            (N // n_nodes - 1) * tree_intra
            + int(np.log2(n_nodes)) * tuning.hop_latency_us["net"]["tree"][p]
        )
        times[("tree", proto)] = tree_latency + M / (1e3 * bus[proto] * 0.5 * factor)
    if nvls and tuning.nvls_latency_us is not None and N // n_nodes >= 2:
        gpus_per_node = N // n_nodes
        nvls_bw = {**NVLS_BUS_BW_GBS, **(nvls_bus_bw_gbs or {})}[min(gpus_per_node, 8)]
        alg_bw = nvls_bw * gpus_per_node / (2 * (gpus_per_node - 1))
        if n_nodes == 1:
            times[("nvls", "Simple")] = tuning.nvls_latency_us + M / (1e3 * alg_bw)
        else:
            nvlstree_latency = _nvlstree_latency_us(tuning, n_nodes)
            times[("nvlstree", "Simple")] = nvlstree_latency + M / (1e3 * min(alg_bw, inter_gbs))
    return {key: v.scalar_or_array(t * 1e-6) for key, t in times.items()}


def _allowed(table: AlgorithmTimes, algorithm: str | None) -> AlgorithmTimes:
    """The table's entries for a forced algorithm (NCCL_ALGO), or all of them (None)."""
    if algorithm is None:
        return table
    kept = {key: t for key, t in table.items() if key[0] == algorithm}
    if not kept:
        raise ValueError(f"algorithm {algorithm!r} is not available here ({sorted(table)})")
    return kept


def nccl_like_allreduce_time(
    M: ArrayLike, N: int, n_nodes: int = 1, *, algorithm: str | None = None, **system: Any
) -> FloatOrArray:
    """The NCCL-like AllReduce time, seconds: the fastest (algorithm, protocol), as NCCL
    picks it (topoGetAlgoInfo, src/enqueue.cc), or the fastest protocol of a forced
    algorithm ("ring", "tree", "nvls", "nvlstree"). Arguments as nccl_like_algorithm_times."""
    table = _allowed(nccl_like_algorithm_times(M, N, n_nodes, **system), algorithm)
    return v.scalar_or_array(np.min(np.stack([np.asarray(t) for t in table.values()]), axis=0))


def nccl_like_choice(
    M: ArrayLike, N: int, n_nodes: int = 1, *, algorithm: str | None = None, **system: Any
) -> NDArray[np.str_]:
    """Which 'algorithm/protocol' the NCCL-like model picks at each size."""
    table = _allowed(nccl_like_algorithm_times(M, N, n_nodes, **system), algorithm)
    names = np.array([f"{a}/{p}" for a, p in table])
    picked: NDArray[np.str_] = names[
        np.argmin(np.stack([np.atleast_1d(t) for t in table.values()]), axis=0)
    ]
    return picked


# --- the comparison ------------------------------------------------------------------------

# Size regimes of the error summary: latency-bound, in between, bandwidth-bound.
SIZE_REGIMES = {
    "small": (0, 64 * 2**10),
    "medium": (64 * 2**10, 64 * 2**20),
    "large": (64 * 2**20, float("inf")),
}


@dataclass(frozen=True)
class ModelComparison:
    """One measurement and both models' predictions, seconds; errors are relative."""

    system: str
    size_bytes: int
    regime: str
    measured_s: float
    alpha_beta_s: float
    nccl_like_s: float
    nccl_choice: str
    error_alpha_beta: float
    error_nccl_like: float


_FORCED_LABELS = ("(NCCL_ALGO)", "(as labelled)")


def forced_algorithm(row: NcclMeasurement) -> str | None:
    """The model's name of the algorithm a row forced ("ring", "tree", "nvls", "nvlstree"),
    or None for NCCL's own choice. A label is "<Algorithm> (<how we know>)": forced when
    the source set NCCL_ALGO or labels its table with the algorithm; "NCCL default" or an
    algorithm a page only names ("NVLS (per the page)") is NCCL's own choice."""
    if not any(how in row.algorithm for how in _FORCED_LABELS):
        return None
    name = row.algorithm.split()[0].lower()
    if name not in ("ring", "tree", "nvls", "nvlstree"):
        raise ValueError(f"{row.system}: cannot read the algorithm {row.algorithm!r}")
    return name


def nccl_system_arguments(system: SystemModel) -> dict[str, Any]:
    """The keyword arguments of nccl_like_algorithm_times that describe a system."""
    return {
        "bus_bw_intra": system.bus_bw_intra,
        "bus_bw_inter": system.bus_bw_inter,
        "arch": system.arch,
        "cpu_vendor": system.cpu_vendor,
        "nvls": system.nvls,
    }


def nccl_row_arguments(row: NcclMeasurement, system: SystemModel) -> dict[str, Any]:
    """The keyword arguments that predict one row: its system, the algorithm it forced and
    the NCCL release that measured it (its tuning constants)."""
    return {
        **nccl_system_arguments(system),
        "algorithm": forced_algorithm(row),
        "nccl_version": row.nccl_version,
    }


def _regime(size: int) -> str:
    return next(name for name, (lo, hi) in SIZE_REGIMES.items() if lo <= size < hi)


def _relative_error(predicted: float, measured: float) -> float:
    """(predicted - measured)/measured: +0.25 = the model is 25% slow."""
    return (predicted - measured) / measured


def _comparison(row: NcclMeasurement, system: SystemModel) -> ModelComparison:
    """One row predicted by both models."""
    nccl_args = nccl_row_arguments(row, system)
    plain = float(ring_allreduce_time(row.size_bytes, row.gpus, system.alpha, system.beta))
    nccl = float(nccl_like_allreduce_time(row.size_bytes, row.gpus, row.nodes, **nccl_args))
    choice = str(nccl_like_choice(row.size_bytes, row.gpus, row.nodes, **nccl_args)[0])
    return ModelComparison(
        system=row.system,
        size_bytes=row.size_bytes,
        regime=_regime(row.size_bytes),
        measured_s=row.time_s,
        alpha_beta_s=plain,
        nccl_like_s=nccl,
        nccl_choice=choice,
        error_alpha_beta=_relative_error(plain, row.time_s),
        error_nccl_like=_relative_error(nccl, row.time_s),
    )


def compare_model_to_measurements(
    rows: list[NcclMeasurement] | None = None,
    systems: dict[str, SystemModel] | None = None,
) -> list[ModelComparison]:
    """Predict every measured row with both models (per-system constants from SYSTEMS)."""
    rows = load_nccl_measurements() if rows is None else rows
    systems = SYSTEMS if systems is None else systems
    missing = sorted({r.system for r in rows} - set(systems))
    if missing:
        raise ValueError(f"rows: no model constants for system {missing[0]!r}")
    return [_comparison(row, systems[row.system]) for row in rows]


def _abs_error_summary(errors: Vector) -> ErrorStats:
    """Median, max and count of |relative error|."""
    errors = np.abs(errors)
    return {"median": float(np.median(errors)), "max": float(np.max(errors)), "n": errors.size}


def _errors_in(comparisons: list[ModelComparison], model: str, regime: str) -> Vector:
    """One model's relative errors over the comparisons of a size regime ('all': every one)."""
    return np.array(
        [getattr(c, f"error_{model}") for c in comparisons if regime in ("all", c.regime)]
    )


def error_summary(
    comparisons: list[ModelComparison],
) -> dict[str, dict[str, dict[str, ErrorStats]]]:
    """Median and max |relative error| per system, model and size regime (and 'all').

    Returns {system: {"alpha_beta"|"nccl_like": {regime: {"median", "max", "n"}}}}.
    """
    summary: dict[str, dict[str, dict[str, ErrorStats]]] = {}
    for system in sorted({c.system for c in comparisons}):
        mine = [c for c in comparisons if c.system == system]
        summary[system] = {}
        for model in ("alpha_beta", "nccl_like"):
            errors = {r: _errors_in(mine, model, r) for r in (*SIZE_REGIMES, "all")}
            summary[system][model] = {r: _abs_error_summary(e) for r, e in errors.items() if e.size}
    return summary
