"""A timing worker whose rank 1 hangs (tests only): rank 0 waits for it forever."""

import argparse
import time
from pathlib import Path

from mpi4py import MPI

parser = argparse.ArgumentParser()
parser.add_argument("--status-dir", required=True)
args, _ = parser.parse_known_args()
comm = MPI.COMM_WORLD
status = Path(args.status_dir) / f"rank{comm.rank}.status"
status.write_text("started")
if comm.rank == 1:
    status.write_text("sleeping")
    time.sleep(3600)
comm.Barrier()
status.write_text("done")
