"""Shared by the tests that start real MPI ranks: skip them where MPI is not installed."""

import pytest

from commslab.mpi import launch


def mpi_available() -> bool:
    try:
        launch.require_mpi4py()
        launch.find_mpiexec()
    except launch.MPIUnavailable:
        return False
    return True


needs_mpi = pytest.mark.skipif(not mpi_available(), reason="mpi4py or mpiexec missing")
