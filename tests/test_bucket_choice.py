"""Cloud Titan's graded bucket algorithm is what NCCL would pick, and no rounding decides it.

NCCL chooses between the ring and its pipelined double binary tree (Sanders, Speck & Träff
2009), never Part 1's unpipelined binomial tree. The key's pick (commslab.grading.answers,
the lab's α-β models) is checked against two oracles:

- NCCL's own tuning model (comms_core.measurements: NVIDIA/nccl src/graph/tuning.cc, ring and
  tree with the LL, LL128 and Simple protocols), restricted to ring and tree (NVLS/NVLSTree
  and CollNet need switch-side reduction the lab does not model): its fastest algorithm;
- a hand computation of both times for one scenario, step by step.
"""

from __future__ import annotations

import math
import re

import pytest

from comms_core import cost_models as cm
from comms_core.measurements import nccl_like_choice
from comms_core.scenarios import scenario_for
from commslab.grading.answers import mission_answers
from commslab.notebook.crisis import instrument

TERM = "2026-fall"
STUDENTS = [f"b{i}" for i in range(200)]


def _nccl_algorithm(s, M: float) -> str:
    """The algorithm NCCL's tuning model picks for M bytes on the scenario's cluster: K nodes
    of G GPUs, NVLink bus bandwidth β_intra inside, G NICs of β_inter each between them."""
    pick = nccl_like_choice(
        M,
        s.N,
        s.K,
        bus_bw_intra=s.beta_intra,
        bus_bw_inter=s.G * s.beta_inter,
        arch="hopper",
        nvls=False,
    )
    return str(pick[0]).split("/")[0]


@pytest.mark.parametrize("sid", STUDENTS)
def test_the_bucket_choice_equals_the_tuning_models_pick(sid):
    s = scenario_for("cloud_titan", TERM, sid)
    assert mission_answers(s)["bucket_algorithm"] == _nccl_algorithm(s, s.M_message)


def test_part1s_binomial_tree_would_have_picked_the_ring():
    """Why the key does not compare against Part 1's binomial tree: for most students it is
    slower than the ring (its 2⌈log2 N⌉ steps each carry all of M), so it would grade "ring",
    while NCCL's tuning model picks its tree for every one of them."""
    binomial_slower = 0
    for sid in STUDENTS:
        s = scenario_for("cloud_titan", TERM, sid)
        args = (s.M_message, s.N, s.alpha, s.beta)
        binomial_slower += bool(cm.tree_allreduce_time(*args) > cm.ring_allreduce_time(*args))
        assert _nccl_algorithm(s, s.M_message) == "tree"
    assert binomial_slower > len(STUDENTS) // 2


def test_no_rounding_decides_the_bucket():
    """Fairness rule: the two times the crisis shows differ by far more than 3 digits' rounding
    (at least 2× for every student sampled)."""
    for sid in STUDENTS:
        s = scenario_for("cloud_titan", TERM, sid)
        args = (s.M_message, s.N, s.alpha, s.beta)
        ratio = cm.ring_allreduce_time(*args) / cm.double_binary_tree_allreduce_time(*args)
        assert ratio > 2.0, sid  # 2.2-5.2 over 1000 students (docs/science.md §3b)


def test_both_bucket_times_by_hand_for_one_student():
    """Student s101: α = 3.84 µs, β = 40.7 GB/s (their scenario), M = 25 MiB, N = 1024.

    ring:  2·1023·α + 2·1023/1024·M/β
    tree:  reduce then broadcast, each 2L + 2k steps (L = 10) of one M/(2k) chunk; the best k
           by trying every k from 1 to 2000."""
    s = scenario_for("cloud_titan", TERM, "s101")
    alpha, beta, M = s.alpha, s.beta, 26214400
    ring = 2 * 1023 * alpha + 2 * 1023 / 1024 * M / beta
    steps = [(k, 2 * (2 * 10 + 2 * k)) for k in range(1, 2001)]
    k, tree = min(((k, n * (alpha + M / (2 * k) / beta)) for k, n in steps), key=lambda x: x[1])
    assert cm.ring_allreduce_time(M, 1024, alpha, beta) == pytest.approx(ring, rel=1e-12)
    assert cm.double_binary_tree_allreduce_time(M, 1024, alpha, beta) == pytest.approx(
        tree, rel=1e-12
    )
    assert int(cm.double_binary_tree_chunks(M, 1024, alpha, beta)) == k
    assert tree < ring / 2  # the tree, by far
    assert mission_answers(s)["bucket_algorithm"] == "tree"


@pytest.mark.parametrize("sid", ["s101", "77342", "b7"])
def test_the_crisis_shows_both_times_the_choice_needs(sid):
    """The notebook shows what decides it: T_ring and T_dbt of the bucket, to 4 digits."""
    s = scenario_for("cloud_titan", TERM, sid)
    text = instrument(s).text
    ring, dbt = (
        float(re.search(rf"{name} = ([\d.]+) ms", text).group(1)) * 1e-3
        for name in ("T_ring", "T_dbt")
    )
    L = math.ceil(math.log2(s.N))
    by_hand = min(
        2 * (2 * L + 2 * k) * (s.alpha + s.M_message / (2 * k) / s.beta) for k in range(1, 5000)
    )
    assert dbt == pytest.approx(by_hand, rel=1e-3)
    assert ring == pytest.approx(
        2 * (s.N - 1) * s.alpha + 2 * (s.N - 1) / s.N * s.M_message / s.beta, rel=1e-3
    )
    assert ("tree" if dbt < ring else "ring") == mission_answers(s)["bucket_algorithm"]
