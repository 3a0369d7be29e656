"""Which process this is: the rank and size of the MPI job, and this rank's rows.

MPI is used only when the process was started by ``mpiexec`` (its process-manager variables are
set) and mpi4py is installed; otherwise the process is rank 0 of 1 and mpi4py is not imported.
"""

from __future__ import annotations

import os

_LAUNCHER_VARIABLES = (
    "PMI_SIZE",
    "PMI_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "PMIX_RANK",
    "MPI_LOCALNRANKS",
)


def launched_by_mpi() -> bool:
    """Whether an MPI launcher started this process (mpiexec, mpirun, srun with PMI)."""
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def world():
    """``MPI.COMM_WORLD`` under an MPI launcher with mpi4py installed, else None."""
    if not launched_by_mpi():
        return None
    try:
        from mpi4py import MPI  # optional: the [mpi] extra
    except ImportError:
        return None
    return MPI.COMM_WORLD


def rank() -> int:
    """This process's rank, 0 without MPI.

    >>> rank()
    0
    """
    comm = world()
    return 0 if comm is None else comm.Get_rank()


def size() -> int:
    """The number of processes in the job, 1 without MPI.

    >>> size()
    1
    """
    comm = world()
    return 1 if comm is None else comm.Get_size()


def shard(n: int, rank: int | None = None, size: int | None = None) -> range:
    """The rows of a data set of ``n`` rows that belong to ``rank`` of ``size``: contiguous
    blocks in rank order whose lengths differ by at most one (the first ``n % size`` ranks
    have one more).

    >>> [shard(10, r, 3) for r in range(3)]
    [range(0, 4), range(4, 7), range(7, 10)]
    """
    rank = globals()["rank"]() if rank is None else rank
    size = globals()["size"]() if size is None else size
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a number of rows >= 0, got {n!r}")
    if not 0 <= rank < size:
        raise ValueError(f"rank must be in 0..{size - 1}, got {rank!r}")
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return range(start, start + base + (rank < extra))
