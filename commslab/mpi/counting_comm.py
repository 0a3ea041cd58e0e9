"""ByteCountingComm: a real MPI communicator that allows only point-to-point calls and
counts the bytes each rank sends.

The bonus exercise asks for ring AllReduce built from Send/Recv/Sendrecv, so the wrapper
forwards exactly those (and the queries a ring needs: rank, size) and refuses every
collective with a clear error. What it counts is the payload handed to a send call:

    buffer calls (Send, Isend, Sendrecv, ...)  the bytes of the send buffer, or of
                                               count × datatype size for [buf, count, type]
    object calls (send, isend, sendrecv)       a numpy array's nbytes; any other object's
                                               pickled size (what goes on the wire)

A ring AllReduce must send 2(N-1)/N·M bytes per rank (Patarasuk & Yuan 2009), which is
what grade_bonus_ring checks. The wrapper is a teaching aid, not a sandbox: code that
reaches past it to mpi4py directly is not counted (and then fails the byte check).
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

__all__ = ["ALLOWED", "COLLECTIVES", "ByteCountingComm", "CollectiveRefused", "message_bytes"]

# Point-to-point and queries: forwarded. Barrier moves no data, so it is allowed too.
_SENDS = ("Send", "Ssend", "Bsend", "Rsend", "Isend", "Issend", "send", "ssend", "isend")
_FORWARDED = (
    "Recv",
    "Irecv",
    "recv",
    "irecv",
    "Probe",
    "Iprobe",
    "probe",
    "iprobe",
    "Get_rank",
    "Get_size",
    "rank",
    "size",
    "Barrier",
    "barrier",
)
ALLOWED = frozenset(_SENDS + _FORWARDED + ("Sendrecv", "Sendrecv_replace", "sendrecv"))
COLLECTIVES = frozenset(
    base + suffix
    for name in (
        "allreduce",
        "reduce",
        "bcast",
        "gather",
        "allgather",
        "scatter",
        "alltoall",
        "scan",
        "exscan",
        "reduce_scatter",
        "reduce_scatter_block",
        "gatherv",
        "allgatherv",
        "scatterv",
        "alltoallv",
        "alltoallw",
        "neighbor_allgather",
        "neighbor_alltoall",
    )
    for base in (name, name.capitalize(), "I" + name)
    for suffix in ("", "_init")
)


class CollectiveRefused(RuntimeError):
    """A collective was called on the bonus communicator."""


def message_bytes(buf: Any) -> int:
    """Bytes an mpi4py buffer specification sends.

    buf is a buffer (numpy array, bytes, bytearray, memoryview) or a list/tuple
    [data, datatype], [data, count, datatype] or [data, (count, displacement), datatype].
    """
    if isinstance(buf, (list, tuple)):
        if not buf:
            raise ValueError("buf must not be an empty buffer specification")
        data = buf[0]
        if len(buf) >= 3 and hasattr(buf[-1], "Get_size"):
            count = buf[1][0] if isinstance(buf[1], (list, tuple)) else buf[1]
            return int(count) * int(buf[-1].Get_size())
        return message_bytes(data)
    if isinstance(buf, np.ndarray):
        return int(buf.nbytes)
    try:
        return memoryview(buf).nbytes
    except TypeError:
        return int(np.asarray(buf).nbytes)


def _object_bytes(obj: Any) -> int:
    """Payload of a pickle-based send: an array's data, or the pickled object."""
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def _sending(name: str, keyword: str, payload_bytes):
    """A method that counts the payload (first argument, or the keyword) and forwards."""

    def method(self, *args, **kwargs):
        payload = args[0] if args else kwargs.get(keyword)
        self._count(payload_bytes(payload))
        return getattr(self._comm, name)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"comm.{name}, counting the bytes sent."
    return method


class ByteCountingComm:
    """Wrap an mpi4py communicator: forward point-to-point calls, count bytes sent.

    comm = ByteCountingComm(MPI.COMM_WORLD)
    comm.Sendrecv(chunk, dest=right, recvbuf=incoming, source=left)
    comm.bytes_sent          # this rank's total so far
    comm.Allreduce(...)      # raises CollectiveRefused: use point-to-point calls
    """

    def __init__(self, comm: Any) -> None:
        self._comm = comm
        self.bytes_sent = 0
        self.messages_sent = 0

    def _count(self, nbytes: int) -> None:
        self.bytes_sent += nbytes
        self.messages_sent += 1

    # Sends: count the payload, then forward with the caller's arguments untouched.
    Send = _sending("Send", "buf", message_bytes)
    Ssend = _sending("Ssend", "buf", message_bytes)
    Bsend = _sending("Bsend", "buf", message_bytes)
    Rsend = _sending("Rsend", "buf", message_bytes)
    Isend = _sending("Isend", "buf", message_bytes)
    Issend = _sending("Issend", "buf", message_bytes)
    Sendrecv = _sending("Sendrecv", "sendbuf", message_bytes)
    Sendrecv_replace = _sending("Sendrecv_replace", "buf", message_bytes)
    send = _sending("send", "obj", _object_bytes)
    ssend = _sending("ssend", "obj", _object_bytes)
    isend = _sending("isend", "obj", _object_bytes)
    sendrecv = _sending("sendrecv", "sendobj", _object_bytes)

    def __getattr__(self, name: str):
        """Forward what a ring needs (receives, rank, size); refuse collectives."""
        if name in _FORWARDED:
            return getattr(self._comm, name)
        if name in COLLECTIVES:
            raise CollectiveRefused(
                f"comm.{name} is a collective: the bonus asks for a ring built from "
                "point-to-point calls; use comm.Sendrecv or comm.Send/comm.Recv"
            )
        raise AttributeError(
            f"ByteCountingComm offers only point-to-point calls and rank/size, not {name!r}; "
            f"allowed: {', '.join(sorted(ALLOWED))}"
        )
