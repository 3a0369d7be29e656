"""Data-parallel training across the ranks of an MPI job.

Start the same script on N processes with ``mpiexec -n N python train.py``; in it, give each
rank its own rows and fit with ``distributed=True``::

    import backprop as bp
    from backprop import distributed

    X, y = load()                                   # or read only this rank's rows
    rows = distributed.shard(len(X))                # this rank's contiguous block
    net = bp.Network([54, 256, 256, 7], seed=0)
    history = net.fit(X[rows.start:rows.stop], y[rows.start:rows.stop], distributed=True)
    if distributed.rank() == 0:
        net.save("model.safetensors")

The ranks train one model: rank 0's starting parameters and optimiser state are broadcast,
each step's gradient is the mean over the global batch (the union of every rank's k-th local
batch) by an all-reduce in the step's gradient hook, and the losses, metrics and stop
decisions are global, so every rank's History is the same. With ``shuffle=False``, N ranks
with batch B make the same updates as one process with batch N·B over the same rows. With
``shuffle=True`` each rank permutes its own rows every epoch with a generator seeded from the
run's seed, the epoch and the rank: a seeded run repeats bitwise, but the batches differ from
one process's. Checkpoints are written by rank 0 (give every rank the same path on a file
system they share); progress bars and warnings come from rank 0. An error on one rank stops
every rank with the same ``DistributedError``; ``mpiexec`` ends the job when a rank dies.

Without an MPI launcher (or without mpi4py), this process is rank 0 of 1 and
``distributed=True`` is a plain fit.

>>> from backprop import distributed
>>> distributed.rank(), distributed.size(), distributed.shard(5)
(0, 1, range(0, 5))
"""

from ..training import parallel
from .collectives import DistributedError
from .ranks import launched_by_mpi, rank, shard, size, world
from .session import Session

OVERLAP_CHOICES = ("auto", "fused", "layers")


def session(distributed):
    """The session for ``fit(distributed=...)``: ``True`` (or an overlap choice among
    ``"auto"``, ``"fused"``, ``"layers"``) trains across the MPI job, or alone in one process."""
    if distributed is True:
        distributed = "auto"
    if distributed not in OVERLAP_CHOICES:
        raise ValueError(
            f"distributed must be True, False or one of {OVERLAP_CHOICES}, got {distributed!r}"
        )
    comm = world()
    if comm is None or comm.Get_size() == 1:
        return parallel.Solo()
    return Session(comm, overlap=distributed)


parallel.register(session)

__all__ = ["DistributedError", "Session", "launched_by_mpi", "rank", "session", "shard", "size"]
