"""Optimisers that update one flat parameter buffer in place.

An optimiser is an ``init``/``update`` pair in the manner of optax: ``init(params)`` returns a
state (a NamedTuple of arrays, easy to checkpoint and to restore bit for bit) and
``update(params, grads, state)`` applies one step and returns the new state. Unlike optax, the
step is written straight into ``params`` and into the state's arrays, so a training loop
allocates nothing per step; the scratch array an update needs is made on first use and kept on
the optimiser object (it is never part of the state).

Each step is an element-wise kernel over the flat buffers, written with the backend ``xp`` (the
network's array module) and run by the backend: on the CPU with numba installed (the ``[fast]``
extra) as one compiled pass (``backprop.engine.backend.fused``), otherwise as a few ufuncs with
``out=``, block by block, so their scratch array is one block long, not a copy of the
parameters. ``init`` and ``update`` take the backend as ``xp=``; without it, the backend that
owns the arrays is used.

>>> from backprop.optimizers import get_optimizer
>>> opt = get_optimizer("adam", lr=0.01)
>>> opt
Adam(lr=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-08)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..engine.validation import fraction, non_negative_number, positive_number
from .optimizer_base import Optimizer, backend_of

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "AdaGrad",
    "AdaGradState",
    "Adam",
    "AdamState",
    "Optimizer",
    "RMSprop",
    "RMSpropState",
    "SGDState",
    "get_optimizer",
]


class SGDState(NamedTuple):
    """State of :class:`SGD`: the velocity buffer, or ``None`` when ``momentum == 0``."""

    velocity: np.ndarray | None


class AdamState(NamedTuple):
    """State of :class:`Adam`: steps taken so far and the first and second moment estimates."""

    step: int
    m: np.ndarray
    v: np.ndarray


class RMSpropState(NamedTuple):
    """State of :class:`RMSprop`: the running average of squared gradients."""

    v: np.ndarray


class AdaGradState(NamedTuple):
    """State of :class:`AdaGrad`: the running sum of squared gradients."""

    G: np.ndarray


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum, as in torch.optim.SGD.

    Without momentum::

        theta <- theta - lr * g

    With momentum (``v`` starts at zero, so the first step has ``v = g``)::

        v <- mu * v + g
        theta <- theta - lr * v                  (plain)
        theta <- theta - lr * (g + mu * v)       (Nesterov)

    ``theta`` is ``params``, ``g`` is ``grads``, ``mu`` is ``momentum`` and ``v`` is
    ``state.velocity``.

    Parameters
    ----------
    lr : float
        Learning rate, > 0 (``update`` may override it per step).
    momentum : float
        Momentum coefficient, ``0 <= momentum < 1``; 0 keeps no state.
    nesterov : bool
        Use Nesterov momentum; needs ``momentum > 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from backprop.optimizers import SGD
    >>> params = np.array([1.0, -2.0])
    >>> opt = SGD(lr=0.1, momentum=0.9)
    >>> state = opt.init(params)
    >>> for _ in range(2):
    ...     state = opt.update(params, np.array([0.5, 0.5]), state)
    >>> params.round(6)
    array([ 0.855, -2.145])
    """

    name = "sgd"
    _hyperparameter_names = ("lr", "momentum", "nesterov")

    def __init__(self, lr: float = 0.1, momentum: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(lr)
        self.momentum = fraction("momentum", momentum)
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True requires momentum > 0")

    def init(self, params: np.ndarray, xp=None) -> SGDState:
        """Return the initial state: a zero velocity, or ``None`` without momentum."""
        self._check_params(params)
        if self.momentum == 0.0:
            return SGDState(velocity=None)
        return SGDState(velocity=backend_of(params, xp).zeros_like(params))

    def update(
        self,
        params: np.ndarray,
        grads: np.ndarray,
        state: SGDState,
        lr: float | None = None,
        xp=None,
    ) -> SGDState:
        """Apply one step to ``params`` in place; ``lr=None`` uses ``self.lr``."""
        lr = self._step_lr(lr)
        self._check_grads(params, grads)
        if self.momentum == 0.0:
            self._apply(xp, "sgd", [params, grads], lr)
            return state
        if state.velocity is None:
            raise ValueError("state has no velocity: it was not made by this optimiser's init")
        name = "nesterov" if self.nesterov else "momentum"
        self._apply(xp, name, [params, grads, state.velocity], lr, self.momentum)
        return state


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1): the update of torch.optim.Adam, up to rounding.

    Each step::

        t <- t + 1
        m <- beta_1 * m + (1 - beta_1) * g
        v <- beta_2 * v + (1 - beta_2) * g**2
        m_hat = m / (1 - beta_1**t)
        v_hat = v / (1 - beta_2**t)
        theta <- theta - lr * m_hat / (sqrt(v_hat) + epsilon)

    ``theta`` is ``params``, ``g`` is ``grads``; ``t``, ``m`` and ``v`` are ``state.step``,
    ``state.m`` and ``state.v``. ``epsilon`` is added to ``sqrt(v_hat)``, not to ``v_hat``.

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    beta_1, beta_2 : float
        Decay rates of the moment estimates, each in ``[0, 1)``.
    epsilon : float
        Term added to the denominator, > 0.

    Examples
    --------
    >>> import numpy as np
    >>> from backprop.optimizers import Adam
    >>> params = np.array([1.0, 2.0])
    >>> opt = Adam(lr=0.1)
    >>> state = opt.init(params)
    >>> state = opt.update(params, np.array([0.5, -1.0]), state)
    >>> params.round(6), state.step
    (array([0.9, 2.1]), 1)
    """

    name = "adam"
    _hyperparameter_names = ("lr", "beta_1", "beta_2", "epsilon")

    def __init__(
        self,
        lr: float = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(lr)
        self.beta_1 = fraction("beta_1", beta_1)
        self.beta_2 = fraction("beta_2", beta_2)
        self.epsilon = positive_number("epsilon", epsilon)

    def init(self, params: np.ndarray, xp=None) -> AdamState:
        """Return the initial state: step 0 and zero moments."""
        self._check_params(params)
        return AdamState(
            step=0,
            m=backend_of(params, xp).zeros_like(params),
            v=backend_of(params, xp).zeros_like(params),
        )

    def update(
        self,
        params: np.ndarray,
        grads: np.ndarray,
        state: AdamState,
        lr: float | None = None,
        xp=None,
    ) -> AdamState:
        """Apply one step to ``params`` in place; return the state with ``step`` advanced."""
        lr = self._step_lr(lr)
        self._check_grads(params, grads)
        t = int(state.step) + 1
        # With c = sqrt(1 - beta_2**t): lr_t * m / (sqrt(v) / c + eps) equals
        # (lr_t * c) * m / (sqrt(v) + eps * c), so m_hat and v_hat are never materialised and
        # the bias corrections cost no pass over the buffers.
        root_correction = math.sqrt(1.0 - self.beta_2**t)
        self._apply(
            xp,
            "adam",
            [params, grads, state.m, state.v],
            self.beta_1,
            1.0 - self.beta_1,
            self.beta_2,
            1.0 - self.beta_2,
            self.epsilon * root_correction,
            lr / (1.0 - self.beta_1**t) * root_correction,
        )
        return AdamState(step=t, m=state.m, v=state.v)


class RMSprop(Optimizer):
    """RMSprop (Tieleman & Hinton 2012), as torch.optim.RMSprop with ``alpha = rho``.

    Each step::

        v <- rho * v + (1 - rho) * g**2
        theta <- theta - lr * g / (sqrt(v) + epsilon)

    ``theta`` is ``params``, ``g`` is ``grads`` and ``v`` is ``state.v`` (starting at zero).

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    rho : float
        Decay rate of the squared-gradient average, in ``[0, 1)``.
    epsilon : float
        Term added to the denominator, > 0.

    Examples
    --------
    >>> import numpy as np
    >>> from backprop.optimizers import RMSprop
    >>> params = np.array([1.0, 2.0])
    >>> opt = RMSprop(lr=0.01, rho=0.75)
    >>> state = opt.init(params)
    >>> state = opt.update(params, np.array([2.0, -4.0]), state)
    >>> params.round(6), state.v
    (array([0.98, 2.02]), array([1., 4.]))
    """

    name = "rmsprop"
    _hyperparameter_names = ("lr", "rho", "epsilon")

    def __init__(self, lr: float = 1e-2, rho: float = 0.99, epsilon: float = 1e-8) -> None:
        super().__init__(lr)
        self.rho = fraction("rho", rho)
        self.epsilon = positive_number("epsilon", epsilon)

    def init(self, params: np.ndarray, xp=None) -> RMSpropState:
        """Return the initial state: a zero squared-gradient average."""
        self._check_params(params)
        return RMSpropState(v=backend_of(params, xp).zeros_like(params))

    def update(
        self,
        params: np.ndarray,
        grads: np.ndarray,
        state: RMSpropState,
        lr: float | None = None,
        xp=None,
    ) -> RMSpropState:
        """Apply one step to ``params`` in place; ``lr=None`` uses ``self.lr``."""
        lr = self._step_lr(lr)
        self._check_grads(params, grads)
        self._apply(
            xp, "rmsprop", [params, grads, state.v], lr, self.rho, 1.0 - self.rho, self.epsilon
        )
        return state


class AdaGrad(Optimizer):
    """AdaGrad (Duchi, Hazan & Singer 2011), as torch.optim.Adagrad without lr decay.

    Each step::

        G <- G + g**2
        theta <- theta - lr * g / (sqrt(G) + epsilon)

    ``theta`` is ``params``, ``g`` is ``grads`` and ``G`` is ``state.G``, which starts at
    ``initial_accumulator`` in every entry.

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    epsilon : float
        Term added to the denominator, > 0.
    initial_accumulator : float
        Starting value of ``G``, >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> from backprop.optimizers import AdaGrad
    >>> params = np.array([1.0, 2.0])
    >>> opt = AdaGrad(lr=0.5)
    >>> state = opt.init(params)
    >>> state = opt.update(params, np.array([3.0, -4.0]), state)
    >>> params.round(6), state.G
    (array([0.5, 2.5]), array([ 9., 16.]))
    """

    name = "adagrad"
    _hyperparameter_names = ("lr", "epsilon", "initial_accumulator")

    def __init__(
        self, lr: float = 1e-2, epsilon: float = 1e-10, initial_accumulator: float = 0.0
    ) -> None:
        super().__init__(lr)
        self.epsilon = positive_number("epsilon", epsilon)
        self.initial_accumulator = non_negative_number("initial_accumulator", initial_accumulator)

    def init(self, params: np.ndarray, xp=None) -> AdaGradState:
        """Return the initial state: ``G`` filled with ``initial_accumulator``."""
        self._check_params(params)
        return AdaGradState(G=backend_of(params, xp).full_like(params, self.initial_accumulator))

    def update(
        self,
        params: np.ndarray,
        grads: np.ndarray,
        state: AdaGradState,
        lr: float | None = None,
        xp=None,
    ) -> AdaGradState:
        """Apply one step to ``params`` in place; ``lr=None`` uses ``self.lr``."""
        lr = self._step_lr(lr)
        self._check_grads(params, grads)
        self._apply(xp, "adagrad", [params, grads, state.G], lr, self.epsilon)
        return state


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adam": Adam,
    "rmsprop": RMSprop,
    "adagrad": AdaGrad,
}


def get_optimizer(spec: str | Optimizer, lr: float | None = None) -> Optimizer:
    """Return an optimiser from a name (case-insensitive) or an instance.

    A name gives the class with its defaults; ``lr``, if given, overrides the learning rate.
    An instance is returned as it is, or, with ``lr`` given, as a new instance with the same
    hyperparameters and that ``lr`` (the caller's object is left alone).

    >>> from backprop.optimizers import SGD, get_optimizer
    >>> get_optimizer("SGD", lr=0.5)
    SGD(lr=0.5, momentum=0.0, nesterov=False)
    >>> get_optimizer(SGD(momentum=0.9), lr=0.01)
    SGD(lr=0.01, momentum=0.9, nesterov=False)
    """
    if isinstance(spec, str):
        cls = OPTIMIZERS.get(spec.strip().lower())
        if cls is None:
            known = ", ".join(sorted(OPTIMIZERS))
            raise ValueError(f"unknown optimizer {spec!r}; known optimizers: {known}")
        return cls() if lr is None else cls(lr=lr)
    if isinstance(spec, Optimizer):
        if lr is None:
            return spec
        return type(spec)(**{**spec.hyperparameters(), "lr": lr})
    raise TypeError(f"optimizer must be a name or an Optimizer instance, got {type(spec).__name__}")
