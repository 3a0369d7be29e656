"""A data-parallel fit: what each rank does so that N ranks train one model.

* **Start**: every rank takes rank 0's parameters and optimiser state.
* **Step**: each rank runs forward and backward on its k-th local batch; the gradient hook
  (``GradientReduction``) sums share·∇ over the ranks and divides by the global share, so the
  update is the mean over the global batch k (the union of every rank's k-th batch), sample
  weights and uneven shards included. A rank whose rows ran out takes part with no rows.
* **Epoch**: the training loss, the validation loss and metrics are reduced over the ranks,
  and rank 0's record of the epoch (with its layer statistics) is the one every rank keeps, so
  every History is identical and early stopping, schedules and the diagnosis decide alike; any
  rank's stop request stops all.
* **Shuffling**: each rank permutes its own rows with a generator seeded from the run's seed
  (the network generator's state when fit began), the epoch and the rank.
* **Failures**: see ``collectives``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import signal
import threading

import numpy as np

from ..training.parallel import Solo
from ..training.step import StepResult
from .collectives import Collectives, DistributedError, failure_text
from .reduction import GradientReduction


class Session(Solo):
    """The ranks of ``comm`` training one model; ``overlap`` chooses the gradient reduction
    (``"layers"``: one non-blocking all-reduce per layer, started during the backward pass,
    last layer first; ``"fused"``: one all-reduce of the whole buffer after it; ``"auto"``:
    fused for small networks). ``during_backward=False`` starts the per-layer all-reduces only
    after the backward pass (to measure what the overlap gains)."""

    def __init__(self, comm, overlap: str = "auto", during_backward: bool = True):
        self.collectives = Collectives(comm)
        self.rank, self.size = self.collectives.rank, self.collectives.size
        self.overlap, self.during_backward = overlap, during_backward
        self._starts: dict = {}
        self.seed = 0
        self._agreed: BaseException | None = None  # raised by every rank alike

    def refuse(self, error: BaseException) -> BaseException:
        """``error``, to be raised by every rank at once after a collective that showed them
        all the same thing: ``guard`` lets it through as it is, with no failure notice."""
        self._agreed = error
        return error

    def check_validation(self, has_validation: bool) -> None:
        having, ranks = self.collectives.allreduce([bool(has_validation), 1])
        if 0 < having < ranks:
            raise self.refuse(
                ValueError(
                    f"validation data must be given on every rank or on none: {int(having)} of "
                    f"{int(ranks)} ranks have validation_data or validation_split"
                )
            )

    def start(self, net, state, seed_state) -> None:
        if not isinstance(net.params, np.ndarray):
            raise ValueError(
                f"distributed training needs the parameters in host memory (numpy); this "
                f"network's backend is {net.xp.name!r}"
            )
        epochs = self.collectives.allreduce(
            [state.epoch, -state.epoch], op=self.collectives.MPI.MAX
        )
        if epochs[0] != -epochs[1]:
            first, last = -int(epochs[1]), int(epochs[0])
            raise self.refuse(
                ValueError(
                    f"the ranks start from different epochs ({first} to {last}): give every "
                    f"rank the same checkpoint path, on a file system they share"
                )
            )
        xp = net.xp
        params = np.ascontiguousarray(xp.to_host(net.params))
        self.collectives.wait(self.collectives.comm.Ibcast(params, root=0))
        net.params[...] = xp.asarray(params)
        state.optimizer_state = self.collectives.bcast(state.optimizer_state)
        canonical = json.dumps(seed_state, sort_keys=True, default=str).encode()
        self.seed = int.from_bytes(hashlib.sha256(canonical).digest()[:8], "little")

    def wrap_step(self, step):
        if step.reduce_gradients is not None:
            raise ValueError(
                "distributed=True reduces the gradients itself: pass no reduce_gradients"
            )
        reduction = GradientReduction(
            self.collectives, step.net, self.overlap, self.during_backward
        )
        step.reduce_gradients = self.reduction = reduction
        return DistributedStep(step, reduction)

    def total_rows(self, n: int) -> int:
        return int(self.collectives.allreduce([n])[0])

    def batch_starts(self, n: int, batch: int) -> range:
        if (n, batch) not in self._starts:
            local = -(-n // batch)
            most = int(self.collectives.allreduce([local], op=self.collectives.MPI.MAX)[0])
            self._starts[n, batch] = range(0, most * batch, batch)
        return self._starts[n, batch]

    def empty_batches(self, xp, weights, order, batch: int, starts) -> frozenset[int]:
        """The global batches whose weights are 0 on every rank."""
        if weights is None:
            return frozenset()
        w = xp.to_host(weights if order is None else weights[order]).astype(np.float64)
        running = np.concatenate([[0.0], np.cumsum(w > 0)])  # positive weights before each row
        first = np.minimum(np.asarray(starts), w.shape[0])
        last = np.minimum(first + batch, w.shape[0])
        totals = running[last] - running[first]
        totals = self.collectives.allreduce(totals)
        return frozenset(int(i) for i in np.flatnonzero(totals == 0))

    def order(self, net, n: int, epoch: int):
        rng = np.random.default_rng([self.seed, epoch, self.rank])
        return net.xp.asarray(rng.permutation(n))

    def epoch_error(self, errors) -> tuple[float, float]:
        errors.epoch_error()  # the local sums, read once
        total, penalty, weight = self.collectives.allreduce(
            [errors.total, errors.penalty_total, errors.total_weight]
        )
        return float(total / weight), float(penalty / weight)

    def mean(self, logs: dict, rows: int) -> dict:
        keys = sorted(logs)
        sums = self.collectives.allreduce([rows] + [logs[key] * rows for key in keys])
        return {key: float(value / sums[0]) for key, value in zip(keys, sums[1:], strict=True)}

    def agree(self, logs: dict, layer_stats: dict) -> tuple[dict, dict]:
        return self.collectives.bcast((logs, layer_stats))

    def any(self, flag: bool) -> bool:
        return bool(self.collectives.allreduce([bool(flag)], op=self.collectives.MPI.MAX)[0])

    @contextlib.contextmanager
    def guard(self):
        """Any rank's error or interruption stops every rank; the ranks leave fit together."""
        with _one_interrupt():
            try:
                yield
                self.collectives.barrier()
            except (KeyboardInterrupt, DistributedError):
                self.collectives.notify_interrupt()
                raise
            except Exception as error:
                if error is self._agreed:  # every rank raises it
                    raise
                self.collectives.notify(error)
                raise DistributedError(failure_text(self.rank, error)) from error


class DistributedStep:
    """A ``TrainingStep`` whose rank may have no rows for a global batch, and whose L2 penalty
    is this rank's part of the global batch's (share_local/share_global of it), so that the
    sum over the ranks of the logged errors is the global batch's."""

    def __init__(self, step, reduction: GradientReduction):
        self.step, self.reduction, self.net = step, reduction, step.net

    def __call__(self, X, Y, weights, rate, optimizer_state, observe: bool = False):
        if X.shape[0] == 0:
            return self._idle(rate, optimizer_state)
        result = self.step(X, Y, weights, rate, optimizer_state, observe)
        if result.penalty is None:
            return result
        part = self.reduction.local_share / self.reduction.global_share
        return result._replace(penalty=result.penalty * part)

    def _idle(self, rate, optimizer_state):
        step, net = self.step, self.net
        net.grads[...] = 0
        share = self.reduction(net.grads, 0.0)
        for transform in step.transforms:
            transform.apply(net, share)
        optimizer_state = step.optimizer.update(
            net.params, net.grads, optimizer_state, rate, xp=net.xp
        )
        return StepResult(None, share, None, optimizer_state, None)


@contextlib.contextmanager
def _one_interrupt():
    """After the first Ctrl-C, ignore further ones until the checkpoint is saved: ``mpiexec``
    forwards Ctrl-C to every rank, and a notice from another rank may come first."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(signum, frame):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    if previous is signal.default_int_handler:
        signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
