"""The error-compensated compressed AllReduce (1-bit Adam's) and its bytes, against oracles:
hand-derived counts, a brute-force count over chunks, and a message-passing simulation that
packs the signs into real bytes and counts what goes on the wire."""

from __future__ import annotations

import struct

import numpy as np
import pytest

import comms_core
from comms_core.compression import (
    compressed_allreduce,
    compressed_allreduce_bytes,
    dense_allreduce_bytes,
)


@pytest.mark.parametrize(
    "d,N,expected",
    [
        (1024, 8, 2 * 7 * (1024 // 64 + 4)),  # 8N divides d: 2(N−1)(d/(8N) + 4) = 280
        (6_553_600, 1024, 2 * 1023 * (800 + 4)),  # one 25 MiB float32 bucket over 1024 GPUs
        (100, 8, 2 * 7 * (2 + 4)),  # c = 13 values: 2 bytes of signs
        (5, 8, 2 * 7 * (1 + 4)),  # c = 1: a whole byte for one sign
        (1000, 1, 0),  # one rank sends nothing
    ],
)
def test_compressed_allreduce_bytes_hand_values(d, N, expected):
    assert compressed_allreduce_bytes(d, N) == expected


def test_compressed_allreduce_bytes_is_exported_and_vectorised():
    assert comms_core.compressed_allreduce_bytes is compressed_allreduce_bytes
    d = np.array([1024, 4096, 100])
    N = np.array([[2], [8], [64]])
    got = compressed_allreduce_bytes(d, N)
    assert got.shape == (3, 3)
    for i, n in enumerate(N[:, 0]):
        for j, dd in enumerate(d):
            assert got[i, j] == compressed_allreduce_bytes(int(dd), int(n))


def test_brute_force_count_over_chunks():
    """Count chunk by chunk: pad d to N equal chunks, every rank sends N−1 chunks twice."""
    for N in range(1, 20):
        for d in range(1, 200, 7):
            c = -(-d // N)
            per_chunk = len(np.packbits(np.ones(c, dtype=bool))) + 4
            total = sum(per_chunk for _phase in range(2) for _peer in range(N - 1))
            assert compressed_allreduce_bytes(d, N) == total, (d, N)


def test_the_saving_against_the_dense_ring_does_not_fade_with_n():
    """Dense ring / compressed = 32c/(c + 32) for 8 | c: ~32x for big chunks at every N, while
    all-gathering whole 1-bit vectors, (N−1)(d/8 + 4), saves only about 64/N (1x at N = 64)."""
    d = 2**24
    for N in (8, 64, 1024):
        c = d // N
        ratio = dense_allreduce_bytes(d, N) / compressed_allreduce_bytes(d, N)
        assert ratio == pytest.approx(32 * c / (c + 32), rel=1e-12)
        assert ratio > 30
        naive_allgather = (N - 1) * (d / 8 + 4)
        assert dense_allreduce_bytes(d, N) / naive_allgather == pytest.approx(64 / N, rel=1e-3)


# ---------------------------------------------------------------- a simulation on real bytes


def _pack(values: np.ndarray, c: int) -> bytes:
    """One 1-bit message of a chunk of c slots holding `values` (the rest is zero padding):
    the float32 scale ‖values‖₁/len, then c sign bits packed into bytes (sign(0) = +)."""
    scale = np.float32(np.abs(values).mean()) if values.size else np.float32(0)
    signs = np.zeros(c, dtype=bool)
    signs[: values.size] = values >= 0
    return struct.pack("<f", scale) + np.packbits(signs).tobytes()


def _unpack(message: bytes, n: int, c: int) -> np.ndarray:
    """The receiver's chunk: scale·(±1) on the n real values, zeros on the padding."""
    scale = struct.unpack("<f", message[:4])[0]
    bits = np.unpackbits(np.frombuffer(message[4:], dtype=np.uint8))[:n]
    out = np.zeros(c)
    out[:n] = scale * np.where(bits == 1, 1.0, -1.0)
    return out


def _simulate(x, e, s):
    """Ranks that only exchange byte strings: all-to-all, average + server error, all-gather."""
    N, d = x.shape
    c = -(-d // N)
    real = [max(0, min(c, d - c * j)) for j in range(N)]
    wire = [0] * N
    p = np.zeros((N, N * c))
    p[:, :d] = x + e
    inbox = [[None] * N for _ in range(N)]  # inbox[j][i]: rank i's chunk j, at rank j
    new_e = np.zeros((N, d))
    for i in range(N):
        decoded_all = np.zeros(N * c)
        for j in range(N):
            payload = _pack(p[i, j * c : j * c + real[j]], c)
            inbox[j][i] = _unpack(payload, real[j], c)
            decoded_all[j * c : (j + 1) * c] = inbox[j][i]
            wire[i] += len(payload) if j != i else 0
        new_e[i] = (p[i] - decoded_all)[:d]
    gathered = np.zeros(N * c)
    new_s = np.zeros((N, c))
    for j in range(N):
        q = np.mean(inbox[j], axis=0) + s[j]
        payload = _pack(q[: real[j]], c)
        out = _unpack(payload, real[j], c)
        new_s[j] = q - out
        gathered[j * c : (j + 1) * c] = out
        wire[j] += (N - 1) * len(payload)  # to every other rank
    return gathered[:d], new_e, new_s, wire


@pytest.mark.parametrize("N,d", [(8, 1024), (4, 100), (3, 7), (16, 129), (2, 8)])
def test_simulation_on_packed_bytes_agrees(N, d):
    rng = np.random.default_rng(N * 1000 + d)
    x = rng.normal(size=(N, d))
    c = -(-d // N)
    e, s = rng.normal(size=(N, d)) * 0.1, rng.normal(size=(N, c)) * 0.1
    s = np.where(np.arange(N * c).reshape(N, c) < d, s, 0.0)  # no server error on padding
    avg, new_e, new_s, wire = _simulate(x, e, s)
    got = compressed_allreduce(x, e, s)
    # the wire carries float32 scales, the reference float64 ones
    np.testing.assert_allclose(got.average, avg, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got.worker_errors, new_e, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got.server_errors, new_s, rtol=1e-6, atol=1e-6)
    assert list(got.bytes_sent) == wire == [compressed_allreduce_bytes(d, N)] * N


def test_error_feedback_on_both_sides_loses_nothing_over_a_run():
    """Telescoping: Σ_t average_t = Σ_t mean_i x_i,t + mean_i(e_i,0 − e_i,T) + (s_0 − s_T)."""
    rng = np.random.default_rng(3)
    N, d, T = 5, 40, 30
    e, s = np.zeros((N, d)), np.zeros((N, -(-d // N)))
    total_sent, total_true = np.zeros(d), np.zeros(d)
    for _ in range(T):
        x = rng.normal(size=(N, d))
        r = compressed_allreduce(x, e, s)
        e, s = r.worker_errors, r.server_errors
        total_sent += r.average
        total_true += x.mean(axis=0)
    server = s.reshape(-1)[:d]
    np.testing.assert_allclose(total_sent, total_true - e.mean(axis=0) - server, atol=1e-10)


def test_identity_compressor_is_the_exact_average():
    x = np.random.default_rng(1).normal(size=(6, 50))
    r = compressed_allreduce(x, compressor="none")
    np.testing.assert_allclose(r.average, x.mean(axis=0), rtol=1e-12)
    assert list(r.bytes_sent) == [dense_allreduce_bytes(50, 6)] * 6


def test_bad_shapes_are_refused():
    x = np.zeros((4, 10))
    with pytest.raises(ValueError, match="worker_errors"):
        compressed_allreduce(x, worker_errors=np.zeros((4, 9)))
    with pytest.raises(ValueError, match="server_errors"):
        compressed_allreduce(x, server_errors=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="x"):
        compressed_allreduce(np.zeros(10))
