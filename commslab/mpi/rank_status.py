"""How an MPI worker tells its launcher where it got to: one status file per rank.

The launcher (commslab.mpi.launch) reads `rank{r}.status` to say which rank was lost in
which phase, and `error.txt` for the worker's own one-line reason before it aborts.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn


class RankStatus:
    def __init__(self, status_dir: str | Path, comm, abort_code: int) -> None:
        self.dir, self.comm, self.abort_code = Path(status_dir), comm, abort_code
        self.rank = comm.Get_rank()

    def report(self, phase: str) -> None:
        (self.dir / f"rank{self.rank}.status").write_text(phase)

    def fail(self, message: str) -> NoReturn:
        """Record the reason, then abort every rank (MPI_Abort, which does not return; should a
        stand-in comm's Abort return, this rank stops here all the same)."""
        (self.dir / "error.txt").write_text(message)
        self.report(f"failed: {message}")
        self.comm.Abort(self.abort_code)
        raise SystemExit(self.abort_code)
