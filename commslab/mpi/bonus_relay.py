"""One real MPI rank of the graded bonus, on the grader's side of the sandbox boundary.

    mpiexec -n N python -m commslab.mpi.bonus_relay --student FILE --d D --seed S \
        --status-dir DIR --sandbox SPEC         (started by grade_bonus_ring(sandbox=SPEC))

Each rank starts the student's code in its own sandbox, the one the batch's probe uses
(SPEC: bubblewrap, unprivileged-user on hosted graders, podman=IMAGE or docker=IMAGE; see
commslab/grading/sandbox.py), as relay_rank.py: no MPI, no network, uid 65534, kernel limits.
It relays: every Send, Recv and Sendrecv the student's `comm` asks for
over the pipe becomes a real MPI call here, and the bytes are counted here, where the
student's code cannot reach the counter. Collectives do not exist on the student's side.
The verdict is computed here too: the exact sum (recomputed from the seeds), the bytes sent,
written to DIR/rank<r>.json, which only this process can write. A problem that stops the ring
(the student's exception, a malformed request, a crash of the sandbox) goes to DIR/error.txt
and aborts every rank; a deadlock is ended by mpiexec's time limit (launch.run_mpi), and the
sandboxes end with their relays (bubblewrap's --die-with-parent; a container's or a hosted
sandbox's code reads end-of-file on its pipe, and its CPU-time limit ends a busy loop).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import tempfile
from typing import Protocol, runtime_checkable

import numpy as np
from mpi4py import MPI

from commslab.grading.isolation import Launch
from commslab.grading.launchers import launcher_from_spec
from commslab.mpi import relay_rank
from commslab.mpi.bonus_runner import arguments, rank_data, sum_problem
from commslab.mpi.rank_status import RankStatus

MAX_HEADER = 64 * 1024
MAX_PAYLOAD = 64 * 1024**2


@runtime_checkable
class ScriptLauncher(Protocol):
    """A launcher that runs a script of ours in its sandbox: what every launcher
    launcher_from_spec returns has (isolation.Bubblewrap, hosted.UnprivilegedUser,
    container.ContainerLauncher); sandbox.Launcher's protocol asks only for the probe."""

    def launch_script(self, script: str | os.PathLike, workdir: str, disk_bytes: int) -> Launch: ...


class RelayError(RuntimeError):
    """The student's side broke the relay protocol or died."""


def _read_exact(stream, n: int) -> bytes:
    data = stream.read(n)
    if data is None or len(data) < n:
        raise RelayError("your code stopped (crashed or exited) before returning a result")
    return data


def read_frame(stream) -> tuple[dict, bytes]:
    (size,) = struct.unpack(">I", _read_exact(stream, 4))
    if size > MAX_HEADER:
        raise RelayError("a request larger than the relay accepts")
    try:
        header = json.loads(_read_exact(stream, size))
    except ValueError as err:
        raise RelayError("a request that is not JSON") from err
    (length,) = struct.unpack(">Q", _read_exact(stream, 8))
    if length > MAX_PAYLOAD or not isinstance(header, dict):
        raise RelayError("a message larger than the relay accepts")
    return header, _read_exact(stream, length)


def write_frame(stream, header: dict, payload: bytes = b"") -> None:
    data = json.dumps(header).encode()
    stream.write(struct.pack(">I", len(data)) + data + struct.pack(">Q", len(payload)) + payload)
    stream.flush()


def _peer(header: dict, key: str, size: int, any_ok: bool) -> int:
    value = header.get(key)
    if type(value) is not int or not (0 <= value < size or (any_ok and value == -1)):
        raise RelayError(f"{key} must be a rank in 0..{size - 1}, got {value!r}")
    return MPI.ANY_SOURCE if value == -1 else value


def _tag(header: dict, key: str, any_ok: bool) -> int:
    value = header.get(key, 0)
    if type(value) is not int or not (0 <= value < 32768 or (any_ok and value == -1)):
        raise RelayError(f"{key} must be a small non-negative integer, got {value!r}")
    return MPI.ANY_TAG if value == -1 else value


def _nbytes(header: dict) -> int:
    value = header.get("nbytes")
    if type(value) is not int or not 0 <= value <= MAX_PAYLOAD:
        raise RelayError("the receive buffer's size is not valid")
    return value


def relay(proc: subprocess.Popen, world, source: bytes, d: int, seed: int) -> tuple[bytes, int]:
    """Serve the student's requests until it returns; (result bytes, bytes it sent)."""
    rank, size = world.Get_rank(), world.Get_size()
    write_frame(proc.stdin, {"rank": rank, "size": size}, rank_data(seed, rank, d).tobytes())
    write_frame(proc.stdin, {"source": True}, source)
    sent = 0
    while True:
        header, payload = read_frame(proc.stdout)
        op = header.get("op")
        if op == "send":
            dest, tag = _peer(header, "dest", size, False), _tag(header, "tag", False)
            world.Send([payload, MPI.BYTE], dest=dest, tag=tag)
            sent += len(payload)
        elif op == "recv":
            buf = bytearray(_nbytes(header))
            peer = _peer(header, "source", size, True)
            world.Recv([buf, MPI.BYTE], source=peer, tag=_tag(header, "tag", True))
            write_frame(proc.stdin, {"op": "data"}, bytes(buf))
        elif op == "sendrecv":
            buf = bytearray(_nbytes(header))
            world.Sendrecv(
                [payload, MPI.BYTE],
                dest=_peer(header, "dest", size, False),
                sendtag=_tag(header, "sendtag", False),
                recvbuf=[buf, MPI.BYTE],
                source=_peer(header, "source", size, True),
                recvtag=_tag(header, "recvtag", True),
            )
            sent += len(payload)
            write_frame(proc.stdin, {"op": "data"}, bytes(buf))
        elif op == "result":
            return payload, sent
        elif op == "error":
            raise RelayError(f"my_ring_allreduce raised {str(header.get('message'))[:500]}")
        else:
            raise RelayError(f"an unknown request {str(op)[:40]!r}")


def main() -> None:
    args = arguments()

    world = MPI.COMM_WORLD
    rank, n_ranks = world.Get_rank(), world.Get_size()
    status = RankStatus(args.status_dir, world, abort_code=4)
    status.report("started")
    with open(args.student, "rb") as f:
        source = f.read()
    with tempfile.TemporaryDirectory(prefix="commslab-bonus-rank-") as workdir:
        launcher = launcher_from_spec(args.sandbox)
        if not isinstance(launcher, ScriptLauncher):
            status.fail(f"rank {rank}: the sandbox {args.sandbox!r} cannot start the relay")
        launch = launcher.launch_script(relay_rank.__file__, workdir, 16 * 1024**2)
        proc = subprocess.Popen(
            launch.argv,
            env=launch.env,
            cwd=launch.cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        status.report("running my_ring_allreduce")
        try:
            result, sent = relay(proc, world, source, args.d, args.seed)
        except (RelayError, BrokenPipeError) as err:
            proc.kill()
            status.fail(f"rank {rank}: {err}")
        except MPI.Exception as err:
            proc.kill()
            status.fail(f"rank {rank}: the messages do not match ({err.Get_error_string()})")
        finally:
            proc.kill()
            proc.wait()
            if launch.cleanup:
                launch.cleanup()
    got = np.frombuffer(result, dtype=np.float64)
    problem, max_error = sum_problem(got, args.seed, n_ranks, args.d)
    report: dict[str, object] = {"rank": rank, "bytes_sent": sent, "sum_ok": problem is None}
    report.update(max_abs_error=max_error, problem=problem)
    (status.dir / f"rank{rank}.json").write_text(json.dumps(report))
    status.report("done")


if __name__ == "__main__":
    main()
