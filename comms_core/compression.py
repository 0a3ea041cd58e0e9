"""Gradient compression with error feedback, and honest byte counts on the wire.

A compressor C maps a gradient v (a 1-D float array of d values) to the vector the
receiver reconstructs, v_hat = C(v). Error feedback keeps what C dropped and adds it
to the next gradient, so nothing is lost for good (docs/LAB_SPEC.md Part 3):

    sent_t = C(g_t + e_t),    e_{t+1} = g_t + e_t - sent_t

Sources: Seide et al. 2014 "1-Bit Stochastic Gradient Descent" (Interspeech);
Karimireddy et al. 2019 "Error Feedback Fixes SignSGD" (ICML, arXiv 1901.09847, Alg. 2,
code epfml/error-feedback-SGD utils); Stich et al. 2018 "Sparsified SGD with Memory"
(NeurIPS, arXiv 1809.07599); Alistarh et al. 2017 "QSGD" (NeurIPS, arXiv 1610.02132);
research notes §4 (docs/notes/research_cost_models.md).

Bytes: a dense gradient is d float32 values, 4·d bytes. Every compressor here counts
what it really sends, scales and indices included.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

import comms_core._validate as v
from comms_core._types import FloatOrArray, IntOrArray, Vector

__all__ = [
    "COMPRESSORS",
    "CompressedAllReduce",
    "Compressor",
    "allreduce_bytes",
    "allreduce_chunk_size",
    "compressed_allreduce",
    "compressed_allreduce_bytes",
    "compression_ratio",
    "dense_allreduce_bytes",
    "dense_wire_bytes",
    "error_feedback_run",
    "error_feedback_step",
    "get_compressor",
    "one_bit_compress",
    "one_bit_wire_bytes",
    "quantize",
    "quantized_wire_bytes",
    "round_to_nearest",
    "top_k_compress",
    "top_k_count",
    "top_k_wire_bytes",
]

FLOAT32_BYTES = 4  # one float32 value or scale
INT32_BYTES = 4  # one int32 index


# --- the compressors -------------------------------------------------------------------


def one_bit_compress(v_in: ArrayLike) -> NDArray[np.float64]:
    """The scaled sign (1-bit) compressor: what the receiver reconstructs.

        C(v) = (‖v‖₁ / d) · sign(v),     sign(0) = +1

    One bit per value (the sign) plus one float32 scale per tensor. C keeps the L1 norm,
    ‖C(v)‖₁ = ‖v‖₁, and is a δ-compressor with δ = ‖v‖₁²/(d·‖v‖₂²) (research notes §4.2).
    Source: Karimireddy et al. 2019, §3; epfml/error-feedback-SGD
    `scaled_sign(x) = norm(x, 1)/len(x) * sign(x)` (which maps 0 to 0; we send +1, a bit
    has only two values).
    """
    x = v.vector("v", v_in)
    scale: float = np.abs(x).sum() / x.size
    sign: Vector = np.where(x >= 0, 1.0, -1.0)
    return scale * sign


def round_to_nearest(v_in: ArrayLike) -> NDArray[np.float64]:
    """The chapter's toy compressor: send each value rounded to the nearest integer.

        C(v) = round(v)      (numpy rounds halves to even: round(0.5) = 0, round(1.5) = 2)

    With error feedback on gradients 0.4, 0.3, 0.2, 0.4, 0.3 (e_1 = 0) it transmits
    0, 1, 0, 0, 1 and ends with residual -0.4 (docs/LAB_SPEC.md Part 3, known answer).
    """
    return np.round(v.vector("v", v_in))


def top_k_count(d: ArrayLike, percent: ArrayLike) -> int | NDArray[np.int64]:
    """How many values top-k keeps when it keeps `percent` % of d: k = max(1, ⌈percent·d/100⌉).

    Integer arithmetic, so 10 % of 30 is exactly 3 (no floating-point ceiling surprises).
    """
    d, percent = v.count("d", d), v.count("percent", percent)
    if (percent > 100).any():
        raise ValueError(f"percent must be <= 100, got {percent!r}")
    k = np.maximum(1, (percent * d + 99) // 100)
    return int(k) if k.ndim == 0 else k


def top_k_compress(v_in: ArrayLike, k: int) -> NDArray[np.float64]:
    """Top-k sparsification: keep the k entries of largest |v|, zero the others.

        C(v)_i = v_i if i is among the k largest |v_i|, else 0

    A k/d-contraction: ‖v − C(v)‖² ≤ (1 − k/d)·‖v‖² (Stich et al. 2018, Def. 2.1, where
    top-k with memory is "Mem-SGD"; epfml/sparsifiedSGD memory.py). Ties go to the lower
    index (a stable sort), so the result is deterministic.
    """
    x = v.vector("v", v_in)
    k = v.scalar_count("k", k)
    if k > x.size:
        raise ValueError(f"k must be <= d = {x.size}, got {k}")
    keep = np.argsort(-np.abs(x), kind="stable")[:k]
    out = np.zeros_like(x)
    out[keep] = x[keep]
    return out


def quantize(v_in: ArrayLike, bits: int) -> NDArray[np.float64]:
    """b-bit uniform quantization between the tensor's min and max (deterministic rounding).

        step = (max v − min v) / (2^b − 1)
        C(v) = min v + round((v − min v) / step) · step

    Each value becomes one of 2^b levels, sent as a b-bit integer; the offset (min v) and
    the step travel as two float32 scalars. Error per value ≤ step/2. The idea of
    quantizing to a few levels with one scale per tensor is QSGD (Alistarh et al. 2017),
    which rounds stochastically to stay unbiased; we round to nearest so that grading is
    deterministic, and let error feedback absorb the bias.
    """
    x = v.vector("v", v_in)
    bits = v.scalar_count("bits", bits)
    if bits > 32:
        raise ValueError(f"bits must be <= 32, got {bits}")
    low: float = x.min()
    high: float = x.max()
    step: float = (high - low) / (2**bits - 1)
    if step == 0:  # a constant tensor: the offset alone says it all
        constant: Vector = x.copy()
        return constant
    return low + np.round((x - low) / step) * step


# --- bytes on the wire -------------------------------------------------------------------


def dense_wire_bytes(d: ArrayLike, bytes_per_value: ArrayLike = FLOAT32_BYTES) -> IntOrArray:
    """Bytes of an uncompressed gradient: d · bytes_per_value (4 for float32)."""
    d, per_value = v.count("d", d), v.count("bytes_per_value", bytes_per_value)
    return v.scalar_or_array(d * per_value)


def one_bit_wire_bytes(d: ArrayLike) -> IntOrArray:
    """Bytes of a 1-bit (scaled sign) gradient of d values: ⌈d/8⌉ + 4.

    d sign bits packed into bytes, plus one float32 scale. Compression ratio against
    float32: 4d/(⌈d/8⌉ + 4) = 32d/(d + 32) when 8 divides d, which tends to 32.
    """
    d = v.count("d", d)
    return v.scalar_or_array(-(-d // 8) + FLOAT32_BYTES)


def top_k_wire_bytes(k: ArrayLike) -> IntOrArray:
    """Bytes of a top-k gradient: k · (4 + 4), a float32 value and an int32 index each.

    Indices cost as much as values (research notes §4.3: k·(32+32) bits).
    """
    k = v.count("k", k)
    return v.scalar_or_array(k * (FLOAT32_BYTES + INT32_BYTES))


def quantized_wire_bytes(d: ArrayLike, bits: ArrayLike) -> IntOrArray:
    """Bytes of a b-bit quantized gradient of d values: ⌈d·b/8⌉ + 2·4 (offset and step)."""
    d, bits = v.count("d", d), v.count("bits", bits)
    return v.scalar_or_array(-(-(d * bits) // 8) + 2 * FLOAT32_BYTES)


# --- error feedback ----------------------------------------------------------------------


def error_feedback_step(
    g: ArrayLike,
    e: ArrayLike,
    compress: Callable[[NDArray[np.float64]], NDArray[np.float64]] = one_bit_compress,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One step of error feedback: returns (sent, new_residual).

        sent  = C(g + e)
        e_new = g + e − sent

    g is this step's gradient, e the residual carried from the last step (zeros at the
    start). The chapter's form; Seide et al. 2014 (1-bit SGD). Karimireddy et al. 2019
    Alg. 2 applies the same recursion to the step γ·g; with a constant γ the two agree
    whenever C(λv) = λ·C(v) for λ > 0 (true of the scaled sign, top-k and quantize).
    """
    g_arr, e_arr = v.vector("g", g), v.vector("e", e)
    if g_arr.shape != e_arr.shape:
        raise ValueError(f"e must have the shape of g {g_arr.shape}, got {e_arr.shape}")
    if not callable(compress):
        raise ValueError(f"compress must be a function v -> C(v), got {compress!r}")
    p = g_arr + e_arr
    sent = np.asarray(compress(p), dtype=np.float64)
    if sent.shape != p.shape:
        raise ValueError(f"compress must return the shape of its input {p.shape}, got {sent.shape}")
    return sent, p - sent


def error_feedback_run(
    gradients: ArrayLike,
    e_1: ArrayLike | None = None,
    compress: Callable[[NDArray[np.float64]], NDArray[np.float64]] = one_bit_compress,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Error feedback over a whole run: returns (sent, residuals).

    gradients has shape (T,) (one scalar per step) or (T, d); sent has the same shape and
    residuals holds e_1 … e_{T+1} (one more row). Over the run nothing is lost:

        Σ_t sent_t = Σ_t g_t + e_1 − e_{T+1}          (the sum telescopes)
    """
    if np.ndim(gradients) not in (1, 2):
        raise ValueError(f"gradients must have shape (T,) or (T, d), got {np.shape(gradients)}")
    g = v.vector("gradients", gradients, ndim=np.ndim(gradients))
    steps = g.reshape(g.shape[0], -1)
    d = steps.shape[1]
    e = np.zeros(d) if e_1 is None else v.vector("e_1", e_1, ndim=np.ndim(e_1))
    if e.shape not in ((), (d,)):
        raise ValueError(f"e_1 must be a number or have shape ({d},), got shape {e.shape}")
    sent = np.empty_like(steps)
    residuals = np.empty((steps.shape[0] + 1, steps.shape[1]))
    residuals[0] = e  # broadcasts a scalar e_1 over the d values
    for t, g_t in enumerate(steps):
        sent[t], residuals[t + 1] = error_feedback_step(g_t, residuals[t], compress)
    if g.ndim == 1:
        return sent[:, 0], residuals[:, 0]
    return sent, residuals


# --- the registry behind the compression-ratio slider ------------------------------------


@dataclass(frozen=True)
class Compressor:
    """A named compressor: compress(v) -> v_hat, and wire_bytes(d) -> bytes it sends.

    compress_rows, where given, compresses each row of a matrix in one numpy call, with the
    same result as compress on each row (the compressed AllReduce compresses N chunks per
    rank per step; one call per chunk made the convergence monitor slow to answer)."""

    name: str
    compress: Callable[[NDArray[np.float64]], NDArray[np.float64]]
    wire_bytes: Callable[[ArrayLike], IntOrArray]
    compress_rows: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = None


def _one_bit_rows(rows: NDArray[np.float64]) -> NDArray[np.float64]:
    """one_bit_compress of each row: (‖row‖₁/d)·sign(row), sign(0) = +1."""
    scale: Vector = np.abs(rows).mean(axis=1, keepdims=True)
    return scale * np.where(rows >= 0, 1.0, -1.0)


@functools.lru_cache(maxsize=256)
def _top_k_of(d: int, percent: int) -> int:
    """top_k_count for one row length (the same few lengths, called per chunk and step)."""
    return int(top_k_count(d, percent))


def _top_k_rows(rows: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """top_k_compress of each row: its k largest |values| kept, ties to the lower index."""
    keep = np.argsort(-np.abs(rows), axis=1, kind="stable")[:, :k]
    out = np.zeros_like(rows)
    np.put_along_axis(out, keep, np.take_along_axis(rows, keep, axis=1), axis=1)
    return out


def _quantize_rows(rows: NDArray[np.float64], bits: int) -> NDArray[np.float64]:
    """quantize of each row, between the row's own min and max (a constant row is kept)."""
    low, high = rows.min(axis=1, keepdims=True), rows.max(axis=1, keepdims=True)
    step = (high - low) / (2**bits - 1)
    safe = np.where(step == 0, 1.0, step)
    return np.where(step == 0, rows, low + np.round((rows - low) / safe) * safe)


def _top_k_percent(percent: int) -> Compressor:
    return Compressor(
        name=f"top-k {percent}%",
        compress=lambda x: top_k_compress(x, int(top_k_count(np.size(x), percent))),
        wire_bytes=lambda d: top_k_wire_bytes(top_k_count(d, percent)),
        compress_rows=lambda rows: _top_k_rows(rows, _top_k_of(rows.shape[1], percent)),
    )


def _b_bit(bits: int) -> Compressor:
    return Compressor(
        name=f"{bits}-bit",
        compress=lambda x: quantize(x, bits),
        wire_bytes=lambda d: quantized_wire_bytes(d, bits),
        compress_rows=lambda rows: _quantize_rows(rows, bits),
    )


COMPRESSORS: dict[str, Compressor] = {
    c.name: c
    for c in (
        Compressor("none", lambda x: v.vector("v", x).copy(), dense_wire_bytes, np.copy),
        Compressor("1-bit (scaled sign)", one_bit_compress, one_bit_wire_bytes, _one_bit_rows),
        _top_k_percent(1),
        _top_k_percent(10),
        _b_bit(8),
        _b_bit(4),
        _b_bit(2),
    )
}


def get_compressor(compressor: Compressor | str) -> Compressor:
    """A Compressor itself, or the one registered in COMPRESSORS under that name."""
    if isinstance(compressor, str):
        if compressor not in COMPRESSORS:
            raise ValueError(f"compressor must be one of {sorted(COMPRESSORS)}, got {compressor!r}")
        return COMPRESSORS[compressor]
    if not isinstance(compressor, Compressor):
        raise ValueError(f"compressor must be a Compressor or a name, got {compressor!r}")
    return compressor


def compression_ratio(compressor: Compressor | str, d: ArrayLike) -> FloatOrArray:
    """Dense float32 bytes over the compressor's bytes: 4·d / wire_bytes(d).

    compressor is a Compressor or a name in COMPRESSORS. 1-bit: 32d/(d+32) for d a
    multiple of 8; top-k 1 %: about 50 (indices halve the naive 100); 8-bit: about 4.
    """
    compressor = get_compressor(compressor)
    dense = np.asarray(dense_wire_bytes(d), dtype=np.float64)
    return v.scalar_or_array(dense / np.asarray(compressor.wire_bytes(d), dtype=np.float64))


# --- compressed AllReduce: error compensation on both sides ---------------------------------
#
# Sign vectors cannot be summed inside a ring's reduce-scatter (the sum of two 1-bit vectors
# needs more than one bit), so "compress, then ring AllReduce" is not an option, and all-
# gathering every rank's 1-bit vector costs (N−1)(⌈d/8⌉ + 4) bytes per rank, about 64/N of
# the dense ring's 2(N−1)/N·4d. The error-compensated compressed AllReduce of 1-bit Adam keeps
# the saving at any N (Tang et al. 2021, "1-bit Adam: Communication Efficient Large-Scale
# Training with Adam's Convergence Speed", ICML, Alg. 1 and §4; Li et al. 2021, 1-bit LAMB;
# DeepSpeed deepspeed/runtime/comm/nccl.py NcclBackend.compressed_allreduce):
#
#   1. every rank i adds its worker error, p_i = x_i + e_i, splits p_i into N chunks, compresses
#      each chunk and keeps e_i ← p_i − C(p_i) (worker-side error feedback);
#   2. all-to-all: rank j receives every peer's compressed chunk j;
#   3. rank j decompresses and averages them, adds its server error, q_j = mean_i C(p_i[j]) + s_j,
#      compresses again and keeps s_j ← q_j − C(q_j) (server-side error feedback);
#   4. all-gather: every rank receives every C(q_j) and concatenates them.
#
# Each rank sends N−1 compressed chunks in step 2 and N−1 in step 4. Chunks hold
# c = ⌈d/N⌉ values; the last ones are padded with zeros (DeepSpeed pads its buffer the same
# way so that it divides evenly). γ (the reduction) and the time to compress are left out.


def allreduce_chunk_size(d: ArrayLike, N: ArrayLike) -> IntOrArray:
    """Values per chunk when d values are split into N equal chunks: c = ⌈d/N⌉ (zero-padded)."""
    d, N = v.count("d", d), v.count("N", N)
    return v.scalar_or_array(-(-d // N))


def compressed_allreduce_bytes(d: ArrayLike, N: ArrayLike) -> IntOrArray:
    """Bytes each rank sends in the error-compensated 1-bit AllReduce of d float32 values.

        bytes = 2(N−1)·(⌈c/8⌉ + 4),   c = ⌈d/N⌉

    N−1 chunks in the all-to-all and N−1 in the all-gather, each ⌈c/8⌉ bytes of packed signs
    plus one float32 scale. For 8N dividing d: 2(N−1)(d/(8N) + 4). Against the dense ring's
    2(N−1)·4c bytes (dense_allreduce_bytes) the ratio is 32c/(c + 32), which tends to 32 for
    large chunks, at every N. N = 1 sends nothing. Source: Tang et al. 2021 (1-bit Adam) §4;
    the block comment above this function.
    """
    c = np.asarray(allreduce_chunk_size(d, N))
    N = v.count("N", N)
    return v.scalar_or_array(2 * (N - 1) * (-(-c // 8) + FLOAT32_BYTES))


def dense_allreduce_bytes(d: ArrayLike, N: ArrayLike) -> IntOrArray:
    """Bytes each rank sends in a ring AllReduce of d float32 values: 2(N−1)·4·⌈d/N⌉.

    The ring's 2(N−1) steps each send one chunk of c = ⌈d/N⌉ values (Thakur et al. 2005
    §5.3; the chunking of compressed_allreduce_bytes, so the two compare like for like).
    """
    c = np.asarray(allreduce_chunk_size(d, N))
    N = v.count("N", N)
    return v.scalar_or_array(2 * (N - 1) * FLOAT32_BYTES * c)


def _errors(name: str, value: ArrayLike | None, shape: tuple[int, int]) -> NDArray[np.float64]:
    """Carried errors of the given shape (zeros at the start)."""
    if value is None:
        return np.zeros(shape)
    arr = v.vector(name, value, ndim=2)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr


def _compress_rows(compressor: Compressor, rows: NDArray[np.float64]) -> NDArray[np.float64]:
    """compressor.compress on each row: one numpy call where it has compress_rows."""
    if compressor.compress_rows is not None:
        return compressor.compress_rows(rows)
    return np.stack([np.asarray(compressor.compress(row), dtype=np.float64) for row in rows])


def allreduce_bytes(d: int, N: int, compressor: Compressor | str = "1-bit (scaled sign)") -> int:
    """Bytes each rank sends per AllReduce of d values with this compressor: 2(N−1)·wire(c).

    The compressor's wire_bytes of one chunk of c = ⌈d/N⌉ values, 2(N−1) times: the dense
    ring for "none" (dense_allreduce_bytes), the compressed AllReduce otherwise
    (compressed_allreduce_bytes for the 1-bit compressor).
    """
    compressor = get_compressor(compressor)
    N = v.scalar_count("N", N)
    c = int(allreduce_chunk_size(v.scalar_count("d", d), N))
    return 2 * (N - 1) * int(compressor.wire_bytes(c))


@dataclass(frozen=True, eq=False)
class CompressedAllReduce:
    """One compressed AllReduce: the average every rank ends with, the errors it carries to
    the next call, and the bytes each rank sent (counted message by message)."""

    average: NDArray[np.float64]  # shape (d,): what every rank holds afterwards
    worker_errors: NDArray[np.float64]  # shape (N, d)
    server_errors: NDArray[np.float64]  # shape (N, c): rank j's error on chunk j
    bytes_sent: NDArray[np.int64]  # shape (N,)


def compressed_allreduce(
    x: ArrayLike,
    worker_errors: ArrayLike | None = None,
    server_errors: ArrayLike | None = None,
    compressor: Compressor | str = "1-bit (scaled sign)",
    error_feedback: bool = True,
) -> CompressedAllReduce:
    """The error-compensated compressed AllReduce (1-bit Adam's), one call, all N ranks.

    x has shape (N, d): row i is rank i's vector. Returns the approximate average
    mean_i x_i that every rank receives, the new worker errors (N, d) and server errors
    (N, c), and bytes_sent[i] = what rank i put on the wire (compressor.wire_bytes per
    chunk, 2(N−1) chunks: compressed_allreduce_bytes(d, N) for the 1-bit compressor).
    error_feedback=False drops both errors (the errors returned are then zeros). With the
    identity compressor ("none") the result is the exact average. Steps and sources: the
    block comment above compressed_allreduce_bytes.
    """
    compressor = get_compressor(compressor)
    x = v.vector("x", x, ndim=2)
    N, d = x.shape
    c = int(allreduce_chunk_size(d, N))
    e = _errors("worker_errors", worker_errors, (N, d))
    s = _errors("server_errors", server_errors, (N, c))
    real = np.clip(d - c * np.arange(N), 0, c)  # values of chunk j that are not padding

    def compress_chunks(rows: NDArray[np.float64], j: int) -> NDArray[np.float64]:
        """C on each row's real values of chunk j; the zero padding stays zero (and is sent)."""
        out = np.zeros_like(rows)
        if real[j]:
            out[:, : real[j]] = _compress_rows(compressor, rows[:, : real[j]])
        return out

    padded = np.zeros((N, N * c))
    padded[:, :d] = x + e if error_feedback else x
    chunks = padded.reshape(N, N, c)  # chunks[i, j] = rank i's chunk j
    full = bool((real == c).all())  # no padding: every chunk compressed in one call
    if full:
        sent = _compress_rows(compressor, chunks.reshape(N * N, c)).reshape(N, N, c)
    else:
        sent = np.stack([compress_chunks(chunks[:, j], j) for j in range(N)], axis=1)
    new_e = (chunks - sent).reshape(N, N * c)[:, :d] if error_feedback else np.zeros((N, d))
    chunk_bytes = int(compressor.wire_bytes(c))
    bytes_sent = np.zeros(N, dtype=np.int64)
    received = np.empty((N, N, c))  # received[j, i] = rank i's compressed chunk j, at rank j
    for i in range(N):  # all-to-all: rank i sends its chunk j to rank j
        for j in range(N):
            received[j, i] = sent[i, j]
            bytes_sent[i] += chunk_bytes if j != i else 0
    q = received.mean(axis=1) + (s if error_feedback else 0.0)  # rank j's averaged chunk j
    if full:
        reduced = _compress_rows(compressor, q)
    else:
        reduced = np.stack([compress_chunks(q[j : j + 1], j)[0] for j in range(N)])
    new_s = q - reduced if error_feedback else np.zeros((N, c))
    gathered = np.empty((N, N, c))  # gathered[i, j] = C(q_j), at rank i
    for j in range(N):  # all-gather: rank j sends C(q_j) to every other rank
        for i in range(N):
            gathered[i, j] = reduced[j]
            bytes_sent[j] += chunk_bytes if i != j else 0
    average = gathered[0].reshape(N * c)[:d]
    return CompressedAllReduce(average, new_e, new_s, bytes_sent)
