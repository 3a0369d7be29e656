"""Learning-rate schedules (and, for the import path it always had, gradient clipping).

A schedule is called as ``schedule(epoch, base_lr)`` and returns the learning rate to use
during ``epoch`` (counted from 0); pass that value as ``lr=`` to an optimiser's ``update``, so
any schedule works with any optimiser. At the end of each epoch the training loop calls
``schedule.observe(logs)`` with that epoch's logs (``{"loss": ..., "val_loss": ...}``); only
schedules that react to the metrics, such as :class:`ReduceOnPlateau`, do anything with them.
``state()`` and ``load_state()`` save and restore whatever a schedule has learnt.

>>> from backprop.schedules import get_schedule, StepDecay
>>> schedule = StepDecay(step_size=2, gamma=0.5)
>>> [schedule(epoch, 0.1) for epoch in range(5)]
[0.1, 0.1, 0.05, 0.05, 0.025]
>>> get_schedule(None)
Constant()
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

from ..engine.validation import decay_factor, integer_at_least, non_negative_number
from .transforms import clip_by_global_norm

__all__ = [
    "SCHEDULES",
    "Constant",
    "CosineDecay",
    "ExponentialDecay",
    "LambdaSchedule",
    "ReduceOnPlateau",
    "Schedule",
    "StepDecay",
    "clip_by_global_norm",
    "get_schedule",
]


class Schedule:
    """Base class of learning-rate schedules.

    Subclasses implement ``__call__(epoch, base_lr)``; those that keep state also override
    ``observe``, ``state`` and ``load_state``. The defaults here suit a stateless schedule:
    ``observe`` does nothing and ``state()`` is ``{}``.

    >>> from backprop.schedules import Schedule
    >>> class Halving(Schedule):
    ...     def __call__(self, epoch, base_lr):
    ...         return base_lr / 2**epoch
    >>> Halving()(3, 1.0)
    0.125
    """

    name: str = ""
    _hyperparameter_names: tuple[str, ...] = ()

    def __call__(self, epoch: int, base_lr: float) -> float:
        """Return the learning rate for ``epoch`` (0-based) given the optimiser's ``base_lr``."""
        raise NotImplementedError

    def observe(self, logs: Mapping[str, float]) -> None:
        """Take note of one finished epoch's logs; a no-op for stateless schedules."""

    def state(self) -> dict[str, Any]:
        """Return what the schedule has learnt, for a checkpoint."""
        return {}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state` returned."""
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, got keys {sorted(state)}")

    def hyperparameters(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        return {key: getattr(self, key) for key in self._hyperparameter_names}

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


def _epoch(epoch: int) -> int:
    return integer_at_least("epoch", epoch, 0)


class Constant(Schedule):
    """The base learning rate at every epoch.

    >>> from backprop.schedules import Constant
    >>> Constant()(100, 0.01)
    0.01
    """

    name = "constant"

    def __call__(self, epoch: int, base_lr: float) -> float:
        _epoch(epoch)
        return float(base_lr)


class StepDecay(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs.

    ``lr = base_lr * gamma ** (epoch // step_size)``

    Parameters
    ----------
    step_size : int
        Epochs between decays, >= 1.
    gamma : float
        Decay factor, ``0 < gamma <= 1``.

    Examples
    --------
    >>> from backprop.schedules import StepDecay
    >>> schedule = StepDecay(step_size=10, gamma=0.5)
    >>> schedule(9, 1.0), schedule(10, 1.0), schedule(25, 1.0)
    (1.0, 0.5, 0.25)
    """

    name = "step"
    _hyperparameter_names = ("step_size", "gamma")

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = integer_at_least("step_size", step_size, 1)
        self.gamma = decay_factor("gamma", gamma, allow_one=True)

    def __call__(self, epoch: int, base_lr: float) -> float:
        return float(base_lr) * self.gamma ** (_epoch(epoch) // self.step_size)


class ExponentialDecay(Schedule):
    """Multiply the rate by ``gamma`` every epoch.

    ``lr = base_lr * gamma ** epoch``

    Parameters
    ----------
    gamma : float
        Decay factor per epoch, ``0 < gamma <= 1``.

    Examples
    --------
    >>> from backprop.schedules import ExponentialDecay
    >>> ExponentialDecay(gamma=0.5)(3, 1.0)
    0.125
    """

    name = "exponential"
    _hyperparameter_names = ("gamma",)

    def __init__(self, gamma: float) -> None:
        self.gamma = decay_factor("gamma", gamma, allow_one=True)

    def __call__(self, epoch: int, base_lr: float) -> float:
        return float(base_lr) * self.gamma ** _epoch(epoch)


class CosineDecay(Schedule):
    """Half a cosine from ``base_lr`` down to ``min_lr`` over ``t_max`` epochs, then flat.

    ``lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * min(epoch, t_max) / t_max)) / 2``

    Parameters
    ----------
    t_max : int
        Epochs to reach ``min_lr``, >= 1.
    min_lr : float
        Final learning rate, >= 0.

    Examples
    --------
    >>> from backprop.schedules import CosineDecay
    >>> schedule = CosineDecay(t_max=4, min_lr=0.1)
    >>> [round(schedule(epoch, 1.0), 6) for epoch in (0, 2, 4, 9)]
    [1.0, 0.55, 0.1, 0.1]
    """

    name = "cosine"
    _hyperparameter_names = ("t_max", "min_lr")

    def __init__(self, t_max: int, min_lr: float = 0.0) -> None:
        self.t_max = integer_at_least("t_max", t_max, 1)
        self.min_lr = non_negative_number("min_lr", min_lr)

    def __call__(self, epoch: int, base_lr: float) -> float:
        progress = min(_epoch(epoch), self.t_max) / self.t_max
        return (
            self.min_lr + (float(base_lr) - self.min_lr) * (1.0 + math.cos(math.pi * progress)) / 2
        )


class ReduceOnPlateau(Schedule):
    """Cut the rate by ``factor`` when a monitored metric stops improving.

    Follows ``torch.optim.lr_scheduler.ReduceLROnPlateau(mode="min", threshold_mode="rel")``.
    At each epoch's end ``observe(logs)`` reads ``logs[monitor]`` (``logs["loss"]`` if
    ``monitor`` is absent; NaN values are ignored). A value is an improvement when it is
    below ``best * (1 - threshold)``. After more than ``patience`` epochs in a row without
    improvement the scale is multiplied by ``factor``, the count restarts, and for the next
    ``cooldown`` epochs bad epochs are not counted. The rate is
    ``max(base_lr * scale, min_lr)``, with ``scale`` starting at 1.

    Parameters
    ----------
    monitor : str
        Key of the metric in the logs; lower is better.
    factor : float
        Multiplier applied at each reduction, ``0 < factor < 1``.
    patience : int
        Epochs without improvement tolerated before a reduction, >= 0.
    threshold : float
        Relative improvement needed to count as better, >= 0.
    min_lr : float
        Lower bound on the learning rate, >= 0.
    cooldown : int
        Epochs after a reduction during which bad epochs are not counted, >= 0.

    Examples
    --------
    >>> from backprop.schedules import ReduceOnPlateau
    >>> schedule = ReduceOnPlateau(factor=0.5, patience=1)
    >>> rates = []
    >>> for epoch, loss in enumerate([1.0, 0.5, 0.5, 0.5, 0.5]):
    ...     rates.append(schedule(epoch, 0.1))
    ...     schedule.observe({"val_loss": loss})
    >>> rates, schedule(5, 0.1)
    ([0.1, 0.1, 0.1, 0.1, 0.05], 0.05)
    """

    name = "plateau"
    _hyperparameter_names = ("monitor", "factor", "patience", "threshold", "min_lr", "cooldown")

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        min_lr: float = 0.0,
        cooldown: int = 0,
    ) -> None:
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a string, got {monitor!r}")
        self.monitor = monitor
        self.factor = decay_factor("factor", factor, allow_one=False)
        self.patience = integer_at_least("patience", patience, 0)
        self.threshold = non_negative_number("threshold", threshold)
        self.min_lr = non_negative_number("min_lr", min_lr)
        self.cooldown = integer_at_least("cooldown", cooldown, 0)
        self.scale = 1.0
        self.best = math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def __call__(self, epoch: int, base_lr: float) -> float:
        _epoch(epoch)
        return max(float(base_lr) * self.scale, self.min_lr)

    def observe(self, logs: Mapping[str, float]) -> None:
        """Count the epoch as an improvement or not, and reduce the scale when patience runs out."""
        if self.monitor in logs:
            value = float(logs[self.monitor])
        elif "loss" in logs:
            value = float(logs["loss"])
        else:
            raise KeyError(f"logs have neither {self.monitor!r} nor 'loss': {sorted(logs)}")
        if math.isnan(value):
            return
        if value < self.best * (1.0 - self.threshold):
            self.best = value
            self.wait = 0
        else:
            self.wait += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.wait > self.patience:
            self.scale *= self.factor
            self.wait = 0
            self.cooldown_counter = self.cooldown

    def state(self) -> dict[str, Any]:
        """Return the scale, the best value so far and the two counters."""
        return {
            "scale": self.scale,
            "best": self.best,
            "wait": self.wait,
            "cooldown_counter": self.cooldown_counter,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state` returned."""
        expected = {"scale", "best", "wait", "cooldown_counter"}
        if set(state) != expected:
            raise ValueError(f"state must have keys {sorted(expected)}, got {sorted(state)}")
        self.scale = float(state["scale"])
        self.best = float(state["best"])
        self.wait = int(state["wait"])
        self.cooldown_counter = int(state["cooldown_counter"])


class LambdaSchedule(Schedule):
    """Wrap a plain function ``fn(epoch, base_lr) -> lr`` as a stateless schedule.

    >>> from backprop.schedules import LambdaSchedule
    >>> LambdaSchedule(lambda epoch, base_lr: base_lr / (1 + epoch))(3, 1.0)
    0.25
    """

    name = "lambda"

    def __init__(self, fn: Callable[[int, float], float]) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {fn!r}")
        self.fn = fn

    def __call__(self, epoch: int, base_lr: float) -> float:
        return float(self.fn(_epoch(epoch), base_lr))

    def __repr__(self) -> str:
        return f"LambdaSchedule({getattr(self.fn, '__qualname__', repr(self.fn))})"


SCHEDULES: dict[str, type[Schedule]] = {
    "constant": Constant,
    "step": StepDecay,
    "exponential": ExponentialDecay,
    "cosine": CosineDecay,
    "plateau": ReduceOnPlateau,
}


def _from_class(cls: type[Schedule], label: str) -> Schedule:
    required = [
        parameter.name
        for parameter in inspect.signature(cls).parameters.values()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if required:
        names = ", ".join(required)
        raise ValueError(
            f"schedule {label!r} needs argument(s) {names}; "
            f"build it directly, e.g. {cls.__name__}({required[0]}=...)"
        )
    return cls()


def get_schedule(spec: str | Schedule | Callable[[int, float], float] | None) -> Schedule:
    """Return a schedule from ``None``, a name, a Schedule class or instance, or a function.

    ``None`` gives :class:`Constant`; an instance is returned as it is; a name (see
    ``SCHEDULES``, case-insensitive) or a class is built with its defaults, which works only
    when it has no required arguments; a function ``f(epoch, base_lr) -> lr`` is wrapped in a
    :class:`LambdaSchedule`.

    >>> from backprop.schedules import get_schedule
    >>> get_schedule("Plateau").patience
    10
    >>> get_schedule(lambda epoch, base_lr: base_lr)(7, 0.5)
    0.5
    """
    if spec is None:
        return Constant()
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, str):
        cls = SCHEDULES.get(spec.strip().lower())
        if cls is None:
            known = ", ".join(SCHEDULES)
            raise ValueError(f"unknown schedule {spec!r}; known schedules: {known}")
        return _from_class(cls, spec)
    if isinstance(spec, type):
        if issubclass(spec, Schedule):
            return _from_class(spec, spec.__name__)
        raise TypeError(f"schedule class must subclass Schedule, got {spec.__name__}")
    if callable(spec):
        return LambdaSchedule(spec)
    raise TypeError(
        f"schedule must be None, a name, a Schedule or a function, got {type(spec).__name__}"
    )
