"""The seam between the fit loop and data-parallel training: what the loop asks of the
processes it trains with.

``Solo`` is one process training alone; every method is the identity, so a plain fit is
unchanged. A data-parallel layer above training (``backprop.distributed``) registers a factory
with ``register``; ``fit(distributed=True)`` then asks it for a session whose methods make the
ranks agree: the same starting state, one global batch per step, global losses and metrics, one
stop decision, and checkpoints and progress from rank 0 only.

>>> session_for(False).size
1
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

from . import readout

_FACTORY: list[Callable] = []


class Solo:
    """One process: ``fit`` without ``distributed``."""

    rank, size = 0, 1

    def start(self, net, state, seed_state) -> None:
        """Make every rank start from rank 0's parameters and optimiser state."""

    def check_validation(self, has_validation: bool) -> None:
        """Refuse, on every rank alike, validation data given on some ranks only."""

    def wrap_step(self, step):
        return step

    def total_rows(self, n: int) -> int:
        return n

    def batch_starts(self, n: int, batch: int) -> range:
        return range(0, n, batch)

    def empty_batches(self, xp, weights, order, batch: int, starts) -> frozenset[int]:
        return readout.empty_batches(xp, weights, order, batch)

    def order(self, net, n: int, epoch: int):
        return net.xp.permutation(net.rng, n)

    def epoch_error(self, errors) -> tuple[float, float]:
        """The epoch's error E and the L2 terms' part of it."""
        return errors.epoch_error(), errors.epoch_penalty()

    def mean(self, logs: dict, rows: int) -> dict:
        return logs

    def agree(self, logs: dict, layer_stats: dict) -> tuple[dict, dict]:
        return logs, layer_stats

    def any(self, flag: bool) -> bool:
        return flag

    def guard(self):
        return contextlib.nullcontext()


def register(factory: Callable) -> None:
    """Install ``factory(distributed) -> session`` for ``fit(distributed=...)``."""
    _FACTORY[:] = [factory]


def session_for(distributed):
    """``Solo()`` for ``distributed=False``; otherwise the registered layer's session."""
    if isinstance(distributed, Solo):
        return distributed
    if distributed is False or distributed is None:
        return Solo()
    if not _FACTORY:
        raise RuntimeError("distributed=True needs backprop.distributed; import backprop")
    return _FACTORY[0](distributed)


def distributable(fit: Callable) -> Callable:
    """``fit`` run inside its session's guard, from the first check to the last record, so that
    an error on any rank, wherever it happens, stops every rank."""

    @functools.wraps(fit)
    def run(net, X, Y, *, distributed=False, **options):
        session = session_for(distributed)
        with session.guard():
            return fit(net, X, Y, distributed=session, **options)

    return run
