"""The optimiser base class: hyperparameters, argument checks, and running an update kernel
on the network's backend."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..engine.backend import ScratchCache, backend_for
from ..engine.validation import positive_number
from .kernels import STEPS


class Optimizer:
    """Base class: hyperparameter bookkeeping, the scratch buffer and argument checks.

    Subclasses set ``name`` and ``_hyperparameter_names`` and implement ``init`` and
    ``update``.

    >>> from backprop.optimizers import Optimizer, SGD
    >>> isinstance(SGD(), Optimizer)
    True
    """

    name: str = ""
    _hyperparameter_names: tuple[str, ...] = ()

    def __init__(self, lr: float) -> None:
        self.lr = positive_number("lr", lr)
        self._scratch = ScratchCache()

    def init(self, params: np.ndarray, xp=None) -> tuple:
        """Return the initial state for ``params``."""
        raise NotImplementedError

    def update(
        self, params: np.ndarray, grads: np.ndarray, state: tuple, lr: float | None = None, xp=None
    ) -> tuple:
        """Apply one step to ``params`` in place and return the new state."""
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, Any]:
        """Return the constructor arguments, enough to rebuild an equal optimiser."""
        return {key: getattr(self, key) for key in self._hyperparameter_names}

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"

    def _apply(self, xp, name: str, arrays, *constants) -> None:
        """Run the element-wise step called ``name`` over the buffers, with ``constants``.

        The backend runs ``kernels.STEPS[name](xp, *buffers, scratch, *constants)``, or its compiled
        twin where it has one (numba on the CPU); the result is the same up to rounding.
        """
        xp = backend_for(arrays[0]) if xp is None else xp
        if not _writeable(arrays[0]):
            raise ValueError("params is a read-only array; the update writes into it")
        for state in arrays[2:]:  # the gradient is only read
            if not _writeable(state):
                raise ValueError("state is a read-only array; the update writes into it")
        xp.elementwise(name, STEPS[name], arrays, constants, self._scratch)

    def _step_lr(self, lr: float | None) -> float:
        if lr is None:
            return self.lr
        # A Python float keeps float32 arithmetic in float32; a numpy float64 would not.
        lr = float(lr)
        if not (lr >= 0.0 and math.isfinite(lr)):
            raise ValueError(f"lr must be a finite number >= 0, got {lr!r}")
        return lr

    @staticmethod
    def _check_params(params: np.ndarray) -> None:
        dtype = getattr(params, "dtype", None)
        if dtype is None or not np.issubdtype(dtype, np.floating):
            raise TypeError(f"params must be a floating-point array, got {type(params).__name__}")

    @staticmethod
    def _check_grads(params: np.ndarray, grads: np.ndarray) -> None:
        if grads.shape != params.shape or grads.dtype != params.dtype:
            raise ValueError(
                "grads must match params in shape and dtype: got "
                f"{grads.shape} {grads.dtype} for params {params.shape} {params.dtype}"
            )


def state_on(state, xp):
    """An optimiser's ``state`` with its arrays on backend ``xp``: those on another device are
    copied over (``net.to(device)`` moves a network; this moves its optimiser's moments).

    >>> import numpy as np
    >>> from backprop.engine.backend import NUMPY
    >>> from backprop.optimizers import Adam
    >>> state_on(Adam().init(np.zeros(2)), NUMPY).step
    0
    """
    if state is None:
        return None
    moved = {}
    for name, value in state._asdict().items():
        owner = backend_for(value)
        if owner.owns(value) and owner is not xp:
            value = xp.asarray(owner.to_host(value))
        moved[name] = value
    return type(state)(**moved)


def backend_of(params, xp):
    """The backend given, or the one that owns ``params``."""
    return backend_for(params) if xp is None else xp


def _writeable(array) -> bool:
    return getattr(array.flags, "writeable", True)  # CuPy arrays have no such flag
