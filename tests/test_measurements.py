"""comms_core.measurements: the published NCCL dataset and the two models held against it."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comms_core.cost_models import ring_allreduce_time
from comms_core.measurements import (
    DATA_PATH,
    DEFAULT_NCCL_VERSION,
    NCCL_TUNING,
    NVLS_BUS_BW_GBS,
    PROVENANCE,
    SIZE_REGIMES,
    SYSTEMS,
    bus_bandwidth,
    compare_model_to_measurements,
    error_summary,
    forced_algorithm,
    load_nccl_measurements,
    nccl_like_algorithm_times,
    nccl_like_allreduce_time,
    nccl_like_choice,
    nccl_row_arguments,
    nccl_tuning,
    time_from_bus_bandwidth,
)

ROWS = load_nccl_measurements()


def _raw_rows():
    with DATA_PATH.open(newline="") as f:
        return list(csv.DictReader(f))


# --- the dataset ---------------------------------------------------------------------------


def test_dataset_loads_with_every_system_and_a_source_on_every_row():
    assert {r.system for r in ROWS} == set(SYSTEMS)
    assert len(ROWS) >= 100
    for r in ROWS:
        assert r.source.startswith("https://github.com/"), r
        assert r.size_bytes > 0 and r.time_us > 0 and r.busbw_gbs >= 0
        assert r.gpus % r.nodes == 0 and r.gpus >= 2


_SOURCE = re.compile(
    r"https://github\.com/[\w.-]+/[\w.-]+/(blob/[0-9a-f]{40}/\S+|issues/\d+|pull/\d+)"
)


@pytest.mark.parametrize("line", range(2, len(ROWS) + 2))
def test_every_row_names_its_source_and_its_conditions(line):
    """Re-read each raw row: a source pinned to a commit or to one issue thread, the NICs,
    the NCCL version, the algorithm and protocol as forced or not, and integer bytes."""
    raw = _raw_rows()[line - 2]
    assert _SOURCE.fullmatch(raw["source"]), raw["source"]
    assert raw["nics"].strip() and raw["gpu"].strip() and raw["fabric"].strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+|not stated", raw["nccl_version"])
    assert re.fullmatch(
        r"NCCL default|\w+ \((NCCL_ALGO|as labelled|per the page)\)", raw["algorithm"]
    )
    assert raw["protocol"] in ("not forced", "LL", "LL128", "Simple")
    assert raw["derived"] in ("yes", "no")
    assert re.fullmatch(r"\d+", raw["size_bytes"]) and int(raw["size_bytes"]) % 4 == 0
    row = ROWS[line - 2]
    if row.nodes == 1:
        assert raw["nics"] == "none (one node)"
    if forced_algorithm(row) is not None:
        assert "NCCL_ALGO" in raw["algorithm"] or "as labelled" in raw["algorithm"]


def test_units_time_in_microseconds_and_busbw_in_gb_per_s():
    """A time in seconds or ms, or busbw in Gb/s, would break busbw = S/t·2(n-1)/n by a
    factor of 1e3-1e6 or 8: the known rows (8 GiB on 8 H100 in 31.4 ms at 479 GB/s; 1 MiB
    in 27.37 µs at 67 GB/s) fix the units, and every row agrees with them below."""
    for r in ROWS:
        ratio = bus_bandwidth(r.size_bytes, r.time_us * 1e-6, r.gpus) / 1e9
        if r.busbw_gbs >= 1:
            assert 0.99 < ratio / r.busbw_gbs < 1.01, (r.system, r.size_bytes)
        assert 1 <= r.time_us < 1e6  # µs: no AllReduce here is under 1 µs or over 1 s


def test_busbw_agrees_with_time_within_the_printed_rounding():
    """busbw = S/t · 2(n-1)/n (nccl-tests doc/PERFORMANCE.md), to half a unit of the
    printed busbw digit plus the time's rounding (>= 4 significant digits: 5e-4)."""
    for raw, r in zip(_raw_rows(), ROWS, strict=True):
        decimals = len(raw["busbw_gbs"].split(".")[1]) if "." in raw["busbw_gbs"] else 0
        computed = bus_bandwidth(r.size_bytes, r.time_s, r.gpus) / 1e9
        tolerance = 0.5 * 10.0**-decimals + 5e-4 * computed
        assert abs(computed - r.busbw_gbs) <= tolerance, (r.system, r.size_bytes)


def test_derived_times_invert_the_busbw_definition():
    derived = [r for r in ROWS if r.derived]
    assert {r.system for r in derived} == {"azure_nd_h100_v5", "azure_nd_a100_v4"}
    for r in derived:
        t = time_from_bus_bandwidth(r.size_bytes, r.busbw_gbs * 1e9, r.gpus)
        assert t == pytest.approx(r.time_s, rel=5e-4)


@pytest.mark.parametrize(
    ("system", "size", "time_us", "busbw"),
    [  # read off the sources by hand (see the source column)
        ("dgx_h100_1x8", 8, 13.67, 0.00),
        ("dgx_h100_1x8", 1073741824, 4029.4, 466.33),
        ("dgx_h100_1x8", 17179869184, 62648, 479.90),
        ("gcp_a3mega_2x8_h100", 1048576, 203.2, 9.68),
        ("gcp_a3mega_2x8_h100", 8589934592, 47535, 338.82),
        ("h20_2x8_ndr", 4, 47.54, 0.00),
        ("azure_nd_h100_v5", 8589934592, None, 478.87),
        ("azure_nd_a100_v4", 1024, None, 0.04),
        ("a100_3x8_hdr", 127926280, 2560.7, 95.75),
        ("a100_3x8_hdr", 133169160, 2666.0, 95.74),
        ("h100_2x1_tree", 2097152, 113.2, 18.53),
        ("h100_2x1_tree", 33554432, 812.3, 41.31),
        ("dgx_a100_2x8_ring", 8, 93.12, 0.00),
        ("dgx_a100_2x8_ring", 256, 93.99, 0.01),
        ("h100_1x8_single", 8589934592, 31356, 479.41),
    ],
)
def test_rows_match_the_sources(system, size, time_us, busbw):
    (row,) = [r for r in ROWS if r.system == system and r.size_bytes == size]
    assert row.busbw_gbs == busbw
    if time_us is not None:
        assert row.time_us == time_us and not row.derived


def test_bus_bandwidth_known_answer_and_bad_input():
    # 1 MiB in 27.37 µs on 8 ranks: algbw 38.31 GB/s, busbw 67.04 GB/s (dgxc sample).
    assert bus_bandwidth(1048576, 27.37e-6, 8) / 1e9 == pytest.approx(67.04, abs=0.01)
    with pytest.raises(ValueError, match="time_s"):
        bus_bandwidth(1024, 0.0, 8)
    with pytest.raises(ValueError, match="n"):
        time_from_bus_bandwidth(1024, 1e9, 1)


# --- the NCCL-like model -------------------------------------------------------------------


def test_nccl_like_latencies_and_bandwidths_match_nccls_tuning_table():
    """8×H100 on one node with busBw 370 GB/s: NCCL's model gives Ring/LL128 40.6 µs and
    algBw 194.5 GB/s, Ring/Simple 56.0 µs and 211 GB/s, Tree/LL 15.2 µs, Ring/LL 15.0 µs
    (research_cost_models.md §2.5, computed there by a separate script)."""
    table = nccl_like_algorithm_times(np.array([0.0, 1e9]), 8, 1, bus_bw_intra=370e9)
    latency = {k: t[0] * 1e6 for k, t in table.items()}
    alg_bw = {k: 1e9 / (t[1] - t[0]) / 1e9 for k, t in table.items()}
    assert latency[("ring", "LL128")] == pytest.approx(40.6)
    assert latency[("ring", "Simple")] == pytest.approx(56.0)
    assert latency[("tree", "LL")] == pytest.approx(15.2)
    assert latency[("ring", "LL")] == pytest.approx(15.0)
    assert alg_bw[("ring", "LL128")] == pytest.approx(194.5, abs=0.1)
    assert alg_bw[("ring", "Simple")] == pytest.approx(211.4, abs=0.1)


@settings(max_examples=40, deadline=None)
@given(M=st.lists(st.floats(0, 1e10), min_size=2, max_size=6), nodes=st.sampled_from([1, 2, 4]))
def test_nccl_like_time_is_the_fastest_choice_and_grows_with_size(M, nodes):
    system = {"bus_bw_intra": 370e9, "bus_bw_inter": 384e9}
    M = np.sort(np.asarray(M))
    table = nccl_like_algorithm_times(M, 8 * nodes, nodes, **system)
    best = nccl_like_allreduce_time(M, 8 * nodes, nodes, **system)
    np.testing.assert_array_equal(best, np.min(np.stack(list(table.values())), axis=0))
    assert np.all(np.diff(best) >= -1e-12)
    choice = nccl_like_choice(M, 8 * nodes, nodes, **system)
    names = [f"{a}/{p}" for a, p in table]
    picked = [table[tuple(c.split("/"))][i] for i, c in enumerate(choice)]
    np.testing.assert_array_equal(picked, best)
    assert set(choice) <= set(names)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"N": 1, "n_nodes": 1}, "N"),
        ({"N": 12, "n_nodes": 8}, "n_nodes"),
        ({"N": 16, "n_nodes": 2}, "bus_bw_inter"),
        ({"N": 8, "n_nodes": 1, "arch": "volta"}, "arch"),
        ({"N": 8, "n_nodes": 1, "bus_bw_intra": -1.0}, "bus_bw_intra"),
        ({"N": 8, "n_nodes": 1, "cpu_vendor": "arm"}, "cpu_vendor"),
    ],
)
def test_nccl_like_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        nccl_like_allreduce_time(1024, **kwargs)
    with pytest.raises(ValueError, match="M"):
        nccl_like_allreduce_time(-1, 8)


# --- the comparison ------------------------------------------------------------------------

COMPARISON = compare_model_to_measurements()
SUMMARY = error_summary(COMPARISON)


def test_comparison_errors_are_computed_from_the_predictions():
    for row, c in zip(ROWS, COMPARISON, strict=True):
        s = SYSTEMS[row.system]
        plain = ring_allreduce_time(row.size_bytes, row.gpus, s.alpha, s.beta)
        assert c.alpha_beta_s == pytest.approx(plain)
        assert c.measured_s == pytest.approx(row.time_us * 1e-6)
        assert c.error_alpha_beta == pytest.approx((plain - c.measured_s) / c.measured_s)
        assert c.error_nccl_like == pytest.approx((c.nccl_like_s - c.measured_s) / c.measured_s)
        lo, hi = SIZE_REGIMES[c.regime]
        assert lo <= c.size_bytes < hi


def test_summary_is_the_median_and_max_of_the_rows():
    for system, models in SUMMARY.items():
        errors = np.abs([c.error_nccl_like for c in COMPARISON if c.system == system])
        assert models["nccl_like"]["all"]["median"] == pytest.approx(np.median(errors))
        assert models["nccl_like"]["all"]["max"] == pytest.approx(np.max(errors))
        assert models["nccl_like"]["all"]["n"] == errors.size


def test_nccl_like_model_is_within_25_percent_on_the_single_node_h100():
    """Measured: median |error| 15% over 32 sizes (12% below 64 KiB, 13% in between,
    27% above 64 MiB where NCCL switches to NVLS, which the model lacks). The bound
    leaves 10 points of margin; it fails if a constant or the min over protocols breaks."""
    assert SUMMARY["dgx_h100_1x8"]["nccl_like"]["all"]["median"] < 0.25
    assert SUMMARY["dgx_h100_1x8"]["nccl_like"]["medium"]["median"] < 0.25


def test_nccls_latency_model_beats_the_plain_alpha_beta_on_small_messages():
    """With a datasheet α (one NVLink P2P write, 2 µs per step) the plain ring says 28 µs
    for 8 ranks at any small size; NCCL's LL protocol does ~15 µs, close to the 13-20 µs
    measured."""
    small = SUMMARY["dgx_h100_1x8"]
    assert small["nccl_like"]["small"]["median"] < small["alpha_beta"]["small"]["median"] / 3


def test_nvls_closes_the_large_message_gap_on_nvswitch_h100():
    """NVLS reaches busbw ~480 GB/s on 8 H100, above the ring's 370: the plain α-β ring
    (no NVLS) stays 20-35% slow above 1 GiB, the NCCL-like model with NVLS within 10%."""
    for c in COMPARISON:
        if c.system in ("dgx_h100_1x8", "azure_nd_h100_v5") and c.size_bytes >= 2**30:
            assert 0.2 < c.error_alpha_beta < 0.35
            assert abs(c.error_nccl_like) < 0.10
            assert c.nccl_choice == "nvls/Simple"


def test_nvls_and_nvlstree_times_by_hand():
    """NCCL 2.21.5 (hwLat[NVLINK][NVLS] 25 µs, NET NVLSTree 14 µs). One node, 8 H100, 1 GiB:
    25 µs + 2^30 B / (480 GB/s · 8/14) = 25 + 3914.7 µs. Two nodes of 8 with 384 GB/s of
    NICs each, 64 MiB: 25 + 2·1·14 µs + 2^26 B / min(274.3, 384) GB/s = 53 + 244.7 µs."""
    v2_21 = {"nccl_version": "2.21.5"}
    one = nccl_like_algorithm_times(2**30, 8, 1, nvls=True, **v2_21)[("nvls", "Simple")]
    assert one * 1e6 == pytest.approx(25 + 2**30 / (480e9 * 8 / 14) * 1e6, rel=1e-12)
    assert one * 1e6 == pytest.approx(3939.7, abs=0.1)
    two = nccl_like_algorithm_times(2**26, 16, 2, bus_bw_inter=384e9, nvls=True, **v2_21)
    assert two[("nvlstree", "Simple")] * 1e6 == pytest.approx(53 + 244.66, abs=0.01)
    assert ("nvls", "Simple") not in two and ("nvlstree", "Simple") not in (
        nccl_like_algorithm_times(2**26, 16, 2, bus_bw_inter=384e9)
    )


# --- the constants of each NCCL release ----------------------------------------------------


def _latency_us(M, N, nodes, key, version, **system):
    table = nccl_like_algorithm_times(M, N, nodes, nccl_version=version, **system)
    return float(table[key]) * 1e6


def test_an_nvls_bandwidth_passed_in_replaces_the_published_one_by_hand():
    """The held-out evaluation refits NVLS (comms_core.held_out): with 400 GB/s for 8 GPUs,
    NCCL 2.21.5, 1 GiB: 25 µs + 2^30 B / (400 GB/s · 8/14) = 25 + 4697.6 µs; other GPU
    counts keep nccl#1455's values."""
    v2_21 = {"nccl_version": "2.21.5", "nvls": True}
    t = nccl_like_algorithm_times(2**30, 8, 1, nvls_bus_bw_gbs={8: 400.0}, **v2_21)
    assert t[("nvls", "Simple")] * 1e6 == pytest.approx(25 + 4697.6, abs=0.1)
    four = nccl_like_algorithm_times(2**30, 4, 1, nvls_bus_bw_gbs={8: 400.0}, **v2_21)
    expected = 25 + 2**30 / (NVLS_BUS_BW_GBS[4] * 1e9 * 4 / 6) * 1e6
    assert four[("nvls", "Simple")] * 1e6 == pytest.approx(expected, rel=1e-12)


def test_every_measured_constant_names_its_sources_and_the_systems_it_measured():
    systems = {r.system for r in ROWS}
    for p in PROVENANCE:
        assert p.sources and p.why and p.held_out in ("refit", "exclude", "kept")
        assert set(p.measured_on) <= systems, p.constant
        assert (p.held_out == "kept") == (not p.measured_on), p.constant


def test_every_system_whose_rows_measure_the_nvls_constant_is_named_in_its_provenance():
    """Oracle: the rows themselves. A one-node NVLS row of >= 1 GiB whose bus bandwidth is
    within 5% of the 8-GPU constant measures that constant, so its system must be listed
    (and the evaluation must refit it, never use it)."""
    nvls8 = next(p for p in PROVENANCE if p.constant == "NVLS_BUS_BW_GBS[8]")
    assert nvls8.held_out == "refit"
    measuring = {
        r.system
        for r in ROWS
        if SYSTEMS[r.system].nvls
        and r.nodes == 1
        and r.gpus == 8
        and r.size_bytes >= 2**30
        and abs(r.busbw_gbs / NVLS_BUS_BW_GBS[8] - 1) < 0.05
    }
    assert "h100_1x8_single" in measuring
    assert measuring <= set(nvls8.measured_on)


def test_a_nic_constant_stated_in_a_systems_own_thread_excludes_that_system():
    """a100_3x8_hdr's 24 GB/s per NIC is sjeaugey's sentence in nccl-tests#119, the thread
    its rows come from (their source column): it cannot count as held out."""
    hdr = next(p for p in PROVENANCE if p.constant == "a100_3x8_hdr.bus_bw_inter")
    own_sources = {r.source for r in ROWS if r.system == "a100_3x8_hdr"}
    assert own_sources == {"https://github.com/NVIDIA/nccl-tests/issues/119"}
    assert any("nccl-tests#119" in source for source in hdr.sources)
    assert hdr.measured_on == ("a100_3x8_hdr",) and hdr.held_out == "exclude"
    assert SYSTEMS["a100_3x8_hdr"].bus_bw_inter == 4 * 24e9


@pytest.mark.parametrize(
    ("N", "nodes", "key", "version", "expected_us", "system"),
    [  # by hand from baseLat/hwLat of src/graph/tuning.cc at each tag (NCCL_TUNING sources)
        # Tree/Simple, one node of 8: 2·7·hwLat[NVLINK][Tree][Simple] = 4 µs (2.18.5), 28 later
        (8, 1, ("tree", "Simple"), "2.18.5", 2 * 7 * 4.0, {}),
        (8, 1, ("tree", "Simple"), "2.20.3", 2 * 7 * 28.0, {}),
        # Ring/LL, one node of 8: 6.6 + 14·0.6 = 15.0 µs in both
        (8, 1, ("ring", "LL"), "2.18.5", 6.6 + 14 * 0.6, {}),
        (8, 1, ("ring", "LL"), "2.20.3", 6.6 + 14 * 0.6, {}),
        # NVLS on one node: baseLat 23 (2.18.5), hwLat[NVLINK] 23 (2.20.3), 25 (2.21.5)
        (8, 1, ("nvls", "Simple"), "2.18.5", 23.0, {"nvls": True}),
        (8, 1, ("nvls", "Simple"), "2.20.3", 23.0, {"nvls": True}),
        (8, 1, ("nvls", "Simple"), "2.21.5", 25.0, {"nvls": True}),
        # NVLSTree on 4 nodes: 23 + 2·(4-1)·19 (2.18.5) against 23 + 2·log2(4)·14 (2.20.3)
        (32, 4, ("nvlstree", "Simple"), "2.18.5", 23 + 2 * 3 * 19.0, {"nvls": True}),
        (32, 4, ("nvlstree", "Simple"), "2.20.3", 23 + 2 * 2 * 14.0, {"nvls": True}),
        # Ring/LL over 2 DGX A100 (AMD): 2.16.5 has no network-post floor and LL intra ×1.8:
        # 3.6 + 26·0.47·1.8 + 4·2.7; 2.20.3: 6.6 + 26·max(0.6, 2.0) + 4·2.7
        (16, 2, ("ring", "LL"), "2.16.5", 3.6 + 26 * 0.47 * 1.8 + 4 * 2.7, {"cpu_vendor": "amd"}),
        (16, 2, ("ring", "LL"), "2.20.3", 6.6 + 26 * 2.0 + 4 * 2.7, {"cpu_vendor": "amd"}),
    ],
)
def test_latency_constants_of_each_nccl_release_by_hand(
    N, nodes, key, version, expected_us, system
):
    system = {"bus_bw_inter": 96e9, **system} if nodes > 1 else system
    assert _latency_us(0.0, N, nodes, key, version, **system) == pytest.approx(expected_us)


def test_each_row_is_predicted_with_the_constants_of_its_nccl_release():
    """The Azure rows ran NCCL 2.18.5 (their results pages): their prediction is the 2.18.5
    model's, not the default's; a row without a stated version uses DEFAULT_NCCL_VERSION."""
    for row, c in zip(ROWS, COMPARISON, strict=True):
        args = nccl_row_arguments(row, SYSTEMS[row.system])
        stated = row.nccl_version if row.nccl_version != "not stated" else DEFAULT_NCCL_VERSION
        assert nccl_tuning(args["nccl_version"]).version == stated
        expected = nccl_like_allreduce_time(row.size_bytes, row.gpus, row.nodes, **args)
        assert c.nccl_like_s == pytest.approx(float(expected), rel=1e-12)
    azure = [r for r in ROWS if r.system.startswith("azure")]
    assert azure and {r.nccl_version for r in azure} == {"2.18.5"}


def test_every_release_cites_tuning_cc_at_its_commit_and_unknown_releases_are_refused():
    for version, tuning in NCCL_TUNING.items():
        assert tuning.version == version
        assert re.fullmatch(
            r"https://github\.com/NVIDIA/nccl/blob/[0-9a-f]{40}/src/graph/tuning\.cc",
            tuning.source,
        )
    with pytest.raises(ValueError, match="nccl_version"):
        nccl_like_allreduce_time(1024, 8, nccl_version="2.19.3")
