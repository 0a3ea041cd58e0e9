"""The student's side of one MPI rank in the graded bonus: runs INSIDE the sandbox.

    python relay_rank.py        (started by commslab.mpi.bonus_relay, frames on stdin/stdout)

This script has no MPI and imports nothing of the course (standard library and numpy only).
Its `comm` forwards every point-to-point call over stdin/stdout to the rank's relay
(bonus_relay.py, outside the sandbox), which makes the real MPI call and counts the bytes.
`from mpi4py import MPI` in the student's code gets a stand-in with ANY_SOURCE, ANY_TAG,
DOUBLE and COMM_WORLD (this comm).

Frames, both ways: 4-byte big-endian header length, a JSON header, 8-byte payload length, the
payload. Relay -> here: {"rank", "size"} + this rank's float64 vector; {"source"} + the
student's code. Here -> relay: {"op": "send", "dest", "tag"} + bytes;
{"op": "recv", "source", "tag", "nbytes"} (answered with the bytes);
{"op": "sendrecv", "dest", "sendtag", "source", "recvtag", "nbytes"} + bytes (answered);
{"op": "result"} + the float64 result; {"op": "error", "message"}.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import types

import numpy as np

ANY_SOURCE = -1
ANY_TAG = -1
POINT_TO_POINT = ("Send", "Recv", "Sendrecv", "Get_rank", "Get_size")

_IN, _OUT = os.dup(0), os.dup(1)  # private copies: the student's prints go to /dev/null
_null = os.open(os.devnull, os.O_RDWR)
os.dup2(_null, 0)
os.dup2(_null, 1)


def _read_exact(n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(_IN, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the relay closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame() -> tuple[dict, bytes]:
    (size,) = struct.unpack(">I", _read_exact(4))
    header = json.loads(_read_exact(size))
    (length,) = struct.unpack(">Q", _read_exact(8))
    return header, _read_exact(length)


def write_frame(header: dict, payload: bytes = b"") -> None:
    data = json.dumps(header).encode()
    frame = struct.pack(">I", len(data)) + data + struct.pack(">Q", len(payload)) + payload
    while frame:
        frame = frame[os.write(_OUT, frame) :]


class CollectiveRefused(RuntimeError):
    """A call the ring bonus does not allow (collectives, non-blocking calls)."""


def _array(buf) -> np.ndarray:
    if isinstance(buf, list | tuple):  # mpi4py's [array, MPI.DOUBLE] form
        buf = buf[0]
    if not isinstance(buf, np.ndarray):
        raise TypeError(f"pass a numpy array as the buffer, not {type(buf).__name__}")
    return buf


def _into(buf, payload: bytes) -> None:
    target = _array(buf)
    target[...] = np.frombuffer(payload, dtype=target.dtype).reshape(target.shape)


class RelayComm:
    """comm in the student's code: point-to-point only, every byte goes through the relay."""

    def __init__(self, rank: int, size: int) -> None:
        self._rank, self._size = rank, size

    def Get_rank(self) -> int:
        return self._rank

    def Get_size(self) -> int:
        return self._size

    rank = property(Get_rank)
    size = property(Get_size)

    def Send(self, buf, dest: int, tag: int = 0) -> None:
        write_frame({"op": "send", "dest": dest, "tag": tag}, _array(buf).tobytes())

    def Recv(self, buf, source: int = ANY_SOURCE, tag: int = ANY_TAG, status=None) -> None:
        nbytes = _array(buf).nbytes
        write_frame({"op": "recv", "source": source, "tag": tag, "nbytes": nbytes})
        _into(buf, read_frame()[1])

    def Sendrecv(
        self,
        sendbuf,
        dest: int,
        sendtag: int = 0,
        recvbuf=None,
        source: int = ANY_SOURCE,
        recvtag: int = ANY_TAG,
        status=None,
    ) -> None:
        if recvbuf is None:
            raise TypeError("Sendrecv needs recvbuf=: an array to receive into")
        header = {"op": "sendrecv", "dest": dest, "sendtag": sendtag, "source": source}
        header.update(recvtag=recvtag, nbytes=_array(recvbuf).nbytes)
        write_frame(header, _array(sendbuf).tobytes())
        _into(recvbuf, read_frame()[1])

    def __getattr__(self, name: str):
        raise CollectiveRefused(
            f"comm.{name} is not allowed in the ring bonus: build the ring from "
            f"{', '.join(POINT_TO_POINT[:3])} only"
        )


def _stand_in_mpi4py(comm: RelayComm) -> None:
    mpi = types.ModuleType("mpi4py.MPI")
    mpi.__dict__.update(ANY_SOURCE=ANY_SOURCE, ANY_TAG=ANY_TAG, DOUBLE="DOUBLE", COMM_WORLD=comm)
    package = types.ModuleType("mpi4py")
    package.__dict__.update(MPI=mpi)
    sys.modules.update({"mpi4py": package, "mpi4py.MPI": mpi})


def limit_resources() -> None:
    """Kernel limits before the student's code runs, soft = hard (an unprivileged process cannot
    raise them again), as probe.py sets its own: 1 GiB of address space, 30 s of CPU, files of
    at most 16 MiB, no core dumps and no new processes or threads."""
    import resource

    wanted = [
        (resource.RLIMIT_AS, 1024**3),
        (resource.RLIMIT_CPU, 30),
        (resource.RLIMIT_FSIZE, 16 * 1024**2),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NPROC, 0),
    ]
    for which, value in wanted:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):  # already lower, or not settable here: keep it
            pass


def main() -> None:
    limit_resources()
    meta, data = read_frame()
    buffer = np.frombuffer(data, dtype=np.float64).copy()
    _, source = read_frame()
    comm = RelayComm(int(meta["rank"]), int(meta["size"]))
    _stand_in_mpi4py(comm)
    namespace: dict = {"__name__": "student_ring", "np": np}
    try:
        exec(compile(source.decode("utf-8"), "<your bonus cell>", "exec"), namespace)
        result = namespace["my_ring_allreduce"](comm, buffer)
        out = np.asarray(result, dtype=np.float64)
    except BaseException as err:  # the student's code may raise anything
        write_frame({"op": "error", "message": f"{type(err).__name__}: {err}"[:500]})
        return
    write_frame({"op": "result", "shape": list(out.shape)}, out.tobytes())


if __name__ == "__main__":
    main()
