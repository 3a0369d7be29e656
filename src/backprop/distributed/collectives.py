"""Collectives that never hang on a failed rank.

Every collective is started non-blocking and waited for by polling, so that while a rank waits
it also watches a second communicator for a failure notice from any other rank, and Python's
signal handlers (Ctrl-C) run. A rank whose training raises sends a notice naming its rank and
the error to every other rank; each of them raises ``DistributedError`` with the same text (or
``KeyboardInterrupt`` when the notice is an interruption), so every rank stops with the same
error instead of waiting forever in a collective the failed rank will never join. A rank killed
outright (SIGKILL) is handled by ``mpiexec``, which ends the whole job.
"""

from __future__ import annotations

import pickle  # messages between the ranks of one job, never a file
import time

import numpy as np

NOTICE_TAG = 7091
SPIN = 2000  # polls before the waiting rank starts to sleep between polls
NAP = 2e-4  # seconds


class DistributedError(RuntimeError):
    """Training stopped on every rank because one rank failed; the message names it."""


class Collectives:
    """Polled collectives on ``comm`` with a failure channel beside it."""

    def __init__(self, comm):
        from mpi4py import MPI  # optional: the [mpi] extra

        self.MPI, self.comm = MPI, comm
        self.notices = comm.Dup()  # failure notices never mix with training traffic
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.failed = False

    def wait(self, *requests) -> None:
        """Wait for ``requests``, raising as soon as another rank reports a failure."""
        polls = 0
        while not self.MPI.Request.Testall(list(requests)):
            self.check_notices()
            polls += 1
            if polls > SPIN:
                time.sleep(NAP)

    def check_notices(self) -> None:
        if self.notices.Iprobe(source=self.MPI.ANY_SOURCE, tag=NOTICE_TAG):
            kind, text = self.notices.recv(source=self.MPI.ANY_SOURCE, tag=NOTICE_TAG)
            self.failed = True
            if kind == "interrupt":
                raise KeyboardInterrupt(text)
            raise DistributedError(text)

    def notify(self, error: BaseException) -> None:
        """Tell every other rank that this one stops because of ``error``."""
        self._send(("error", failure_text(self.rank, error)))

    def notify_interrupt(self) -> None:
        """Tell every other rank that this one was interrupted (nothing when the interruption
        came from another rank, which told everyone)."""
        self._send(("interrupt", f"rank {self.rank} was interrupted"))

    def _send(self, notice) -> None:
        if self.failed:
            return
        self.failed = True
        for other in range(self.size):
            if other != self.rank:
                self.notices.isend(notice, dest=other, tag=NOTICE_TAG)

    def allreduce(self, values, op=None) -> np.ndarray:
        values = np.ascontiguousarray(values, dtype=np.float64)
        out = np.empty_like(values)
        self.wait(self.comm.Iallreduce(values, out, op=op or self.MPI.SUM))
        return out

    def bcast(self, value):
        """Rank 0's ``value`` (any picklable object) on every rank."""
        size = np.array([0], np.int64)
        data = None
        if self.rank == 0:
            data = np.frombuffer(_dumps(value), np.uint8).copy()
            size[0] = data.size
        self.wait(self.comm.Ibcast(size, root=0))
        if self.rank != 0:
            data = np.empty(int(size[0]), np.uint8)
        self.wait(self.comm.Ibcast(data, root=0))
        return value if self.rank == 0 else _loads(data.tobytes())

    def allgather(self, value) -> list:
        """Every rank's ``value`` (any picklable object), in rank order, on every rank."""
        data = np.frombuffer(_dumps(value), np.uint8).copy()
        sizes = np.empty(self.size, np.int64)
        self.wait(self.comm.Iallgather(np.array([data.size], np.int64), sizes))
        gathered = np.empty(int(sizes.sum()), np.uint8)
        self.wait(self.comm.Iallgatherv(data, [gathered, sizes]))
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        return [_loads(gathered[a:b].tobytes()) for a, b in zip(bounds, bounds[1:], strict=False)]

    def barrier(self) -> None:
        self.wait(self.comm.Ibarrier())


def failure_text(rank: int, error: BaseException) -> str:
    return f"training stopped: rank {rank} failed with {type(error).__name__}: {error}"


def _dumps(value) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _loads(data: bytes):
    return pickle.loads(data)
