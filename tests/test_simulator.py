"""comms_core.simulator: the step-by-step ring and tree AllReduce.

Checks: every rank ends with the exact column sum (integer-valued data, so sums are exact);
steps, bytes and messages agree with closed forms derived here and with
comms_core.cost_models; the recorded schedule, replayed by an independent interpreter,
reproduces the result and the counts; the input is left alone; bad input is refused.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comms_core.cost_models import ring_allreduce_time, tree_allreduce_time
from comms_core.simulator import (
    SCHEDULE_MAX_RANKS,
    simulate_ring_allreduce,
    simulate_tree_allreduce,
)

SIMULATORS = {"ring": simulate_ring_allreduce, "tree": simulate_tree_allreduce}
ranks = st.integers(min_value=1, max_value=70)
lengths = st.integers(min_value=1, max_value=300)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def integer_buffers(N: int, d: int, seed: int, dtype=np.float64) -> np.ndarray:
    """Integer-valued rank buffers: every partial sum is exact, so results compare with ==."""
    return np.random.default_rng(seed).integers(-1000, 1001, size=(N, d)).astype(dtype)


def ceil_log2(N: int) -> int:
    return (N - 1).bit_length()


def array_split_bounds(d: int, N: int) -> list[tuple[int, int]]:
    """The chunk boundaries np.array_split itself produces (an independent source)."""
    pieces = np.array_split(np.arange(d), N)
    out, start = [], 0
    for p in pieces:
        out.append((start, start + p.size))
        start += p.size
    return out


def replay(buffers: np.ndarray, schedule, algorithm: str) -> np.ndarray:
    """An independent interpreter: apply each recorded message, one at a time."""
    state = buffers.copy()
    for step in schedule:
        before = state.copy()  # a synchronous step: every message leaves from `before`
        combine = step.phase in ("reduce-scatter", "reduce")
        for src, dst, a, b in zip(step.src, step.dst, step.start, step.stop, strict=True):
            if combine:
                state[dst, a:b] += before[src, a:b]
            else:
                state[dst, a:b] = before[src, a:b]
    return state


# ---------------------------------------------------------------- correctness


@settings(max_examples=150, deadline=None)
@given(ranks, lengths, seeds, st.sampled_from(["ring", "tree"]))
def test_every_rank_ends_with_the_exact_sum(N, d, seed, algorithm):
    buffers = integer_buffers(N, d, seed)
    original = buffers.copy()
    trace = SIMULATORS[algorithm](buffers)
    assert trace.algorithm == algorithm
    assert trace.result.shape == (N, d) and trace.result.dtype == buffers.dtype
    np.testing.assert_array_equal(trace.result, np.broadcast_to(original.sum(axis=0), (N, d)))
    np.testing.assert_array_equal(buffers, original)  # the caller's array is untouched


@settings(max_examples=100, deadline=None)
@given(ranks, lengths, seeds)
def test_ring_counts(N, d, seed):
    buffers = integer_buffers(N, d, seed, dtype=np.float32)
    trace = simulate_ring_allreduce(buffers)
    assert trace.steps == 2 * (N - 1)
    np.testing.assert_array_equal(trace.messages_sent, np.full(N, 2 * (N - 1)))
    # Rank r sends every chunk but (r+1) mod N in reduce-scatter and every chunk but
    # (r+2) mod N in all-gather; chunk sizes from np.array_split.
    size = [b - a for a, b in array_split_bounds(d, N)]
    expected = [(2 * d - size[(r + 1) % N] - size[(r + 2) % N]) * 4 for r in range(N)]
    if N == 1:
        expected = [0]
    np.testing.assert_array_equal(trace.bytes_sent, expected)
    assert trace.bytes_sent.dtype == np.int64


@settings(max_examples=100, deadline=None)
@given(ranks, st.integers(min_value=1, max_value=8), seeds)
def test_ring_bytes_when_n_divides_d(N, per_rank, seed):
    d = N * per_rank
    trace = simulate_ring_allreduce(integer_buffers(N, d, seed))
    M = d * 8
    np.testing.assert_array_equal(trace.bytes_sent, np.full(N, 2 * (N - 1) * M // N))


@settings(max_examples=100, deadline=None)
@given(ranks, lengths, seeds)
def test_tree_counts(N, d, seed):
    trace = simulate_tree_allreduce(integer_buffers(N, d, seed, dtype=np.int32))
    L = ceil_log2(N)
    M = d * 4
    assert trace.steps == 2 * L
    assert trace.messages_sent.sum() == 2 * (N - 1)  # each non-root: one up, one down
    assert trace.messages_sent[0] == L  # the root sends once per broadcast level
    np.testing.assert_array_equal(trace.bytes_sent, trace.messages_sent * M)
    np.testing.assert_array_equal(trace.step_bytes, np.full(2 * L, M))


# ---------------------------------------------------------------- agreement with the formulas

alphas = st.floats(min_value=1e-7, max_value=1e-3)
betas = st.floats(min_value=1e6, max_value=1e12)


@settings(max_examples=100, deadline=None)
@given(ranks, st.integers(min_value=1, max_value=6), alphas, betas)
def test_ring_simulation_reproduces_the_ring_formula_when_n_divides_d(N, per_rank, alpha, beta):
    d = N * per_rank
    trace = simulate_ring_allreduce(np.ones((N, d), dtype=np.float32))
    M = d * 4
    slowest = trace.bytes_sent.max()
    formula = ring_allreduce_time(M, N, alpha, beta)
    assert alpha * trace.steps + slowest / beta == pytest.approx(formula, rel=1e-12, abs=0)
    assert trace.alpha_beta_time(alpha, beta) == pytest.approx(formula, rel=1e-12, abs=0)


@settings(max_examples=100, deadline=None)
@given(ranks, lengths, alphas, betas)
def test_tree_simulation_reproduces_the_tree_formula(N, d, alpha, beta):
    trace = simulate_tree_allreduce(np.ones((N, d), dtype=np.float64))
    M = d * 8
    formula = tree_allreduce_time(M, N, alpha, beta)
    # Each of the 2⌈log2 N⌉ steps carries one whole-vector message on the critical path.
    assert alpha * trace.steps + trace.steps * M / beta == pytest.approx(formula, rel=1e-12)
    assert trace.alpha_beta_time(alpha, beta) == pytest.approx(formula, rel=1e-12)


def test_uneven_ring_costs_at_least_the_formula():
    """d not a multiple of N: every step carries a ⌈d/N⌉ chunk, so the run is slower."""
    N, d = 8, 8 * 100 + 3
    trace = simulate_ring_allreduce(np.ones((N, d)))
    np.testing.assert_array_equal(trace.step_bytes, np.full(2 * (N - 1), 101 * 8))
    assert trace.alpha_beta_time(1e-6, 1e9) > ring_allreduce_time(d * 8, N, 1e-6, 1e9)


def test_alpha_beta_time_broadcasts_and_validates():
    trace = simulate_ring_allreduce(np.ones((4, 8)))
    T = trace.alpha_beta_time(np.array([[0.0], [1e-6]]), np.array([1e9, 1e10, 1e11]))
    assert T.shape == (2, 3)
    with pytest.raises(ValueError, match=r"^beta "):
        trace.alpha_beta_time(1e-6, 0.0)
    with pytest.raises(ValueError, match=r"^alpha "):
        trace.alpha_beta_time(float("nan"), 1e9)


# ---------------------------------------------------------------- the schedule


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=40), lengths, seeds, st.sampled_from(["ring", "tree"]))
def test_replaying_the_schedule_gives_the_result_and_the_counts(N, d, seed, algorithm):
    buffers = integer_buffers(N, d, seed)
    trace = SIMULATORS[algorithm](buffers)
    assert trace.schedule is not None and len(trace.schedule) == trace.steps
    np.testing.assert_array_equal(replay(buffers, trace.schedule, algorithm), trace.result)
    sent_bytes = np.zeros(N, dtype=np.int64)
    sent_messages = np.zeros(N, dtype=np.int64)
    for step, biggest in zip(trace.schedule, trace.step_bytes, strict=True):
        assert len(set(step.src.tolist())) == step.src.size  # one message per sender
        assert len(set(step.dst.tolist())) == step.dst.size  # one message per receiver
        np.add.at(sent_bytes, step.src, (step.stop - step.start) * 8)
        np.add.at(sent_messages, step.src, 1)
        assert biggest == ((step.stop - step.start) * 8).max()
    np.testing.assert_array_equal(sent_bytes, trace.bytes_sent)
    np.testing.assert_array_equal(sent_messages, trace.messages_sent)


@settings(deadline=None)
@given(st.integers(min_value=2, max_value=30), lengths)
def test_ring_schedule_shape(N, d):
    trace = simulate_ring_allreduce(np.zeros((N, d)))
    phases = [s.phase for s in trace.schedule]
    assert phases == ["reduce-scatter"] * (N - 1) + ["all-gather"] * (N - 1)
    chunks = set(array_split_bounds(d, N))
    for step in trace.schedule:
        np.testing.assert_array_equal(step.src, np.arange(N))
        np.testing.assert_array_equal(step.dst, (np.arange(N) + 1) % N)
        pairs = set(zip(step.start.tolist(), step.stop.tolist(), strict=True))
        assert pairs == chunks  # each step moves every chunk exactly once


@settings(deadline=None)
@given(st.integers(min_value=2, max_value=70), lengths)
def test_tree_schedule_shape(N, d):
    trace = simulate_tree_allreduce(np.zeros((N, d)), record_schedule=True)
    L = ceil_log2(N)
    assert [s.phase for s in trace.schedule] == ["reduce"] * L + ["broadcast"] * L
    for step in trace.schedule:
        assert (step.start == 0).all() and (step.stop == d).all()
    received = {0}
    for step in trace.schedule[L:]:  # broadcast: only a rank that has the sum sends it
        assert set(step.src.tolist()) <= received
        received |= set(step.dst.tolist())
    assert received == set(range(N))


def test_schedule_recorded_by_default_only_for_small_n():
    small = simulate_ring_allreduce(np.ones((SCHEDULE_MAX_RANKS, 3)))
    large = simulate_ring_allreduce(np.ones((SCHEDULE_MAX_RANKS + 1, 3)))
    assert small.schedule is not None and large.schedule is None
    assert large.steps == 2 * SCHEDULE_MAX_RANKS  # counting does not need the schedule
    forced = simulate_tree_allreduce(np.ones((SCHEDULE_MAX_RANKS + 1, 3)), record_schedule=True)
    assert forced.schedule is not None and len(forced.schedule) == forced.steps
    assert simulate_tree_allreduce(np.ones((4, 3)), record_schedule=False).schedule is None
    with pytest.raises(ValueError, match=r"^record_schedule "):
        simulate_ring_allreduce(np.ones((4, 3)), record_schedule="yes")


# ---------------------------------------------------------------- edge cases and input


@pytest.mark.parametrize("algorithm", ["ring", "tree"])
def test_one_rank_is_a_no_op(algorithm):
    buffers = np.array([[1.5, -2.0, 3.0]])
    trace = SIMULATORS[algorithm](buffers)
    assert trace.steps == 0 and trace.schedule == ()
    np.testing.assert_array_equal(trace.result, buffers)
    np.testing.assert_array_equal(trace.bytes_sent, [0])
    np.testing.assert_array_equal(trace.messages_sent, [0])
    assert trace.alpha_beta_time(1e-6, 1e9) == 0.0


@pytest.mark.parametrize("algorithm", ["ring", "tree"])
@pytest.mark.parametrize(
    "dtype", [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.uint64]
)
def test_dtype_kept_and_bytes_use_its_itemsize(algorithm, dtype):
    N, d = 6, 12
    buffers = integer_buffers(N, d, 0, dtype=np.float64).clip(0, 20).astype(dtype)
    trace = SIMULATORS[algorithm](buffers)
    assert trace.result.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(trace.result[0], buffers.sum(axis=0, dtype=dtype))
    as_float64 = SIMULATORS[algorithm](buffers.astype(np.float64))
    itemsize = np.dtype(dtype).itemsize
    np.testing.assert_array_equal(trace.bytes_sent * 8, as_float64.bytes_sent * itemsize)


@pytest.mark.parametrize("algorithm", ["ring", "tree"])
def test_float32_sum_is_close_and_every_rank_agrees(algorithm):
    buffers = np.random.default_rng(7).standard_normal((37, 1001)).astype(np.float32)
    trace = SIMULATORS[algorithm](buffers)
    exact = buffers.astype(np.float64).sum(axis=0)
    np.testing.assert_allclose(trace.result[0], exact, rtol=0, atol=1e-4)
    assert (trace.result == trace.result[0]).all()  # every rank holds the same copy


@pytest.mark.parametrize("algorithm", ["ring", "tree"])
def test_odd_inputs_are_accepted_and_left_alone(algorithm):
    base = integer_buffers(9, 50, 3)
    fortran = np.asfortranarray(base)
    strided = np.repeat(base, 2, axis=1)[:, ::2]
    readonly = base.copy()
    readonly.setflags(write=False)
    for buffers in (fortran, strided, readonly, base.tolist()):
        trace = SIMULATORS[algorithm](buffers)
        np.testing.assert_array_equal(trace.result[3], base.sum(axis=0))
    np.testing.assert_array_equal(strided, base)


@pytest.mark.parametrize("algorithm", ["ring", "tree"])
def test_trace_is_frozen(algorithm):
    trace = SIMULATORS[algorithm](np.ones((3, 4)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        trace.steps = 0
    with pytest.raises(ValueError):
        trace.bytes_sent[0] = 0
    with pytest.raises(ValueError):
        trace.schedule[0].src[0] = 5


BAD_BUFFERS = [
    np.ones(5),  # 1-D
    np.ones((2, 3, 4)),  # 3-D
    np.ones((0, 4)),  # no ranks
    np.ones((4, 0)),  # empty vectors
    np.array([[1.0, np.nan], [0.0, 1.0]]),
    np.array([[1.0, np.inf], [0.0, 1.0]]),
    np.array([[1.0, 2.0], [-np.inf, 1.0]]),
    np.ones((2, 2), dtype=bool),
    np.ones((2, 2), dtype=complex),
    np.array([["a", "b"], ["c", "d"]]),
    [[1.0, 2.0], [3.0]],  # ragged
    "buffers",
    None,
    3.0,
]


@pytest.mark.parametrize("algorithm", ["ring", "tree"])
@pytest.mark.parametrize("bad", BAD_BUFFERS, ids=range(len(BAD_BUFFERS)))
def test_bad_buffers_raise_value_error_naming_them(algorithm, bad):
    with pytest.raises(ValueError, match=r"^buffers "):
        SIMULATORS[algorithm](bad)


# ---------------------------------------------------------------- memory


@pytest.mark.parametrize("algorithm", ["ring", "tree"])
@pytest.mark.parametrize("d", [32 * 2000, 32 * 2000 + 17])
def test_peak_memory_is_one_working_copy_plus_one_buffer_in_flight(algorithm, d):
    """No per-step copies of the whole state: peak ≈ the result + a few buffers' worth."""
    N = 32
    buffers = np.ones((N, d), dtype=np.float64)  # 16 MB
    tracemalloc.start()
    try:
        trace = SIMULATORS[algorithm](buffers, record_schedule=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert trace.result[0, 0] == N
    assert peak <= buffers.nbytes * (1 + 3 / N) + 1_000_000


def test_bench_core_quick_smoke_run():
    """The core benchmark runs end to end (--quick) and its simulators sum correctly."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_core.py"
    out = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()]
    sim_rows = [r for r in rows if r and r[0] in ("ring", "tree")]
    assert len(sim_rows) == 4
    assert all(float(r[-1]) < 1e-5 for r in sim_rows)  # relative error of the sums
    assert sum(1 for r in rows if r and r[0].endswith("_time")) == 4
