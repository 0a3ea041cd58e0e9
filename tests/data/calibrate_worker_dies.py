"""A timing worker that loses rank 1 (tests only): it exits at once, without a word,
while rank 0 waits for it in an Allreduce. Accepts the real worker's arguments."""

import argparse
import os
from pathlib import Path

import numpy as np
from mpi4py import MPI

parser = argparse.ArgumentParser()
parser.add_argument("--status-dir", required=True)
args, _ = parser.parse_known_args()
comm = MPI.COMM_WORLD
status = Path(args.status_dir) / f"rank{comm.rank}.status"
status.write_text("started")
if comm.rank == 1:
    os._exit(7)
status.write_text("timing 4 B")
buffer = np.ones(1, dtype=np.float32)
comm.Allreduce(MPI.IN_PLACE, buffer)
status.write_text("done")
