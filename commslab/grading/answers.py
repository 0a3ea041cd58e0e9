"""The graded mission answers: each track's ledger, computed from the student's scenario.

Grader side only. The scenario's numbers (comms_core.scenarios) are public; the answers that
follow from them and the reference models are the answer key, so they live here, outside the
student install. The release uses them to fill the solutions notebook; the hidden ledger tests
compare the student's LEDGER with them.
"""

from __future__ import annotations

import math

import numpy as np

from comms_core import cost_models as cm
from comms_core.scenarios import (
    CONVERGENCE_DIM,
    Scenario,
    gossip_topology,
)
from comms_core.shared_medium import (
    half_duplex_allreduce_time_from_bytes,
    half_duplex_ring_allreduce_time,
    part2_allreduce_time,
    shared_channel_allreduce_time,
)

__all__ = ["mission_answers"]


def mission_answers(s: Scenario) -> dict[str, float | int | str | bool]:
    """The graded answers for the scenario, from the reference models (never shown in release)."""
    answers: dict[str, float | int | str | bool] = {}
    answers["crossover_bytes"] = float(cm.crossover_message_size(s.N, s.alpha, s.beta))
    T_hier = float(part2_allreduce_time(s, s.M_model))  # the track's physical model
    k = int(cm.optimal_accumulation_steps(T_hier, s.t_compute, s.micro_batch, s.G * s.K, s.B_noise))
    answers["accumulation_steps"] = k
    answers["comm_to_compute_ratio"] = T_hier / (k * s.t_compute)
    answers.update(_TRACK_ANSWERS[s.track.key](s))
    return {key: _plain(value) for key, value in answers.items()}


def _plain(value):
    """numpy scalars to Python ones, so answers print and serialise as plain numbers."""
    return value.item() if isinstance(value, np.generic) else value


def _cloud(s: Scenario) -> dict:
    """Cloud Titan: α's share of the whole gradient's ring, and the faster of what NCCL picks
    from for one DDP bucket: the ring or the pipelined double binary tree (NCCL's "tree";
    Sanders, Speck & Träff 2009), both on one link of α, β. Not the unpipelined binomial
    tree of Part 1: NCCL never runs it. The pick agrees with NCCL's own tuning model
    (comms_core.measurements.nccl_like_choice; tests/test_bucket_choice.py), and the two
    times differ by more than 2× for every student sampled, so no rounding decides it."""
    latency = 2 * (s.N - 1) * s.alpha
    total = float(cm.ring_allreduce_time(s.M_model, s.N, s.alpha, s.beta))
    ring = float(cm.ring_allreduce_time(s.M_message, s.N, s.alpha, s.beta))
    tree = float(cm.double_binary_tree_allreduce_time(s.M_message, s.N, s.alpha, s.beta))
    bucket = "tree" if tree < ring else "ring"
    return {"alpha_share_full": latency / total, "bucket_algorithm": bucket}


def _edge(s: Scenario) -> dict:
    """Edge Guardian: the broadcast-then-sum time at the mean α on the one shared 802.11p
    channel, N·(α + M/β_b) in ms (shared_medium.shared_channel_allreduce_time: N messages of
    M bytes, each its own channel access, at the broadcast rate), which the student computes
    from the crisis' formula; then each algorithm's deadline-miss probability (the crisis'
    Monte Carlo) and the choice."""
    from comms_core.jitter import edge_jitter_summary

    summary = edge_jitter_summary(s)
    broadcast = shared_channel_allreduce_time(
        "broadcast", s.M_message, s.N, s.alpha, s.beta, s.beta_broadcast
    )
    return {
        "broadcast_time_ms": 1e3 * float(broadcast),
        "tree_miss_probability": summary.stats["tree"].miss_probability,
        "broadcast_miss_probability": summary.stats["broadcast"].miss_probability,
        "deadline_algorithm": summary.better_for_deadline,
    }


def _mobile(s: Scenario) -> dict:
    from comms_core.compression import compressed_allreduce_bytes, dense_allreduce_bytes
    from comms_core.convergence import EF_RELATIVE_TOLERANCE, run_data_parallel_training

    dense, one_bit = int(dense_allreduce_bytes(s.d, s.N)), int(compressed_allreduce_bytes(s.d, s.N))
    air_dense, air_one_bit = (  # 2(N−1) steps; a half-duplex BLE radio sends, then receives
        float(half_duplex_allreduce_time_from_bytes(sent, s.N, s.alpha, s.beta))
        for sent in (dense, one_bit)
    )
    plain = run_data_parallel_training("none", dim=CONVERGENCE_DIM, seed=0)
    ef = run_data_parallel_training("compressed_ef", dim=CONVERGENCE_DIM, seed=0)
    return {
        "bytes_dense": dense,
        "bytes_one_bit": one_bit,
        "frames_disturbed_dense": math.ceil(air_dense / s.frame_time),
        "frames_disturbed_one_bit": math.ceil(air_one_bit / s.frame_time),
        "ef_keeps_accuracy": bool(ef.final_loss <= plain.final_loss * (1 + EF_RELATIVE_TOLERANCE)),
    }


def _tiny(s: Scenario) -> dict:
    from comms_core import gossip

    A = gossip_topology(s)
    W = gossip.metropolis_weights(A)
    rounds = int(gossip.gossip_rounds(W, s.eps))
    message = 4 * s.d
    radio = (s.energy_tx, s.energy_rx, s.energy_event)  # one radio model for both
    g_dev = gossip.gossip_energy_joules(A, rounds, message, *radio).total_joules / s.N
    r_dev = float(gossip.expected_ring_energy_joules(s.N, message, *radio, *_ring_stay(s)))
    budget = s.power_budget * s.radio_share * s.sync_period
    return {
        "gossip_rounds": rounds,
        "gossip_energy_per_device_j": g_dev,
        "ring_energy_per_device_j": r_dev,
        "gossip_within_budget": g_dev <= budget,
        "ring_within_budget": r_dev <= budget,
    }


def _ring_stay(s: Scenario) -> tuple[float, float, float]:
    """(presence, the ring's duration on half-duplex BLE, the sync period): what
    gossip.ring_completion_probability needs for a ring over the hearables present."""
    duration = float(half_duplex_ring_allreduce_time(4 * s.d, s.N, s.alpha, s.beta))
    return s.presence, duration, s.sync_period


_TRACK_ANSWERS = {
    "cloud_titan": _cloud,
    "edge_guardian": _edge,
    "mobile_nomad": _mobile,
    "tiny_pioneer": _tiny,
}
