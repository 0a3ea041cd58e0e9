"""Real MPI for the lab: timing a real AllReduce, and the bonus ring exercise.

    launch.py            start N local ranks under mpiexec with a timeout; clear errors
    allreduce_timing.py  the worker that times MPI_Allreduce (run under mpiexec)
    counting_comm.py     ByteCountingComm: point-to-point only, counts the bytes sent
    bonus.py             grade_bonus_ring: the student's ring AllReduce, graded for real
    bonus_runner.py      the worker that runs the student's ring (run under mpiexec)
    rank_status.py       RankStatus: each worker rank's last phase, read by the launcher

Nothing here imports mpi4py at import time: only the workers do, inside mpiexec.
"""
