"""The checks ``fit`` makes on its settings before anything changes.

Each error names the setting and the value given; the network, its random generator, the
optimiser and the schedule are left as they were. Numbers of any numeric type are taken
(``np.float32(0.1)``, ``np.int8(3)``) and come back as Python numbers, so no arithmetic on
them overflows.

>>> settings = check_settings(epochs=np.int8(3), batch_size=None, validation_split=0,
...                           l2=np.float32(0.5), clip_norm=None)
>>> settings["epochs"], settings["l2"], settings["clip_norm"], settings["weight_decay"]
(3, 0.5, None, 0.0)
>>> check_settings(epochs=3, batch_size=8, validation_split=0, l2=0, clip_norm="a")
Traceback (most recent call last):
...
TypeError: clip_norm must be None or a number > 0, got 'a'
"""

from __future__ import annotations

import math
import numbers
import operator
import os
from collections.abc import Callable, Sequence

import numpy as np

from .stopping import EarlyStopping


def _integer(name: str, value, minimum: int, alternative: str = "") -> int:
    """``value`` as a Python int >= ``minimum``; ValueError naming ``name`` otherwise."""
    problem = f"{name} must be {alternative}an integer >= {minimum}, got {value!r}"
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(problem)
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(problem) from None
    if value < minimum:
        raise ValueError(problem)
    return value


def _real(name: str, value, requirement: str) -> float:
    """``value`` as a Python float; TypeError naming ``name`` for anything but a real number."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {requirement}, got {value!r}")
    return float(value)


def check_settings(
    *, epochs, batch_size, validation_split, l2, clip_norm, weight_decay=0.0
) -> dict:
    """The numeric settings, checked and as Python numbers."""
    split = _real("validation_split", validation_split, "a number in [0, 1)")
    if not 0 <= split < 1:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
    decay = _real("l2", l2, "a finite number >= 0")
    if not (decay >= 0 and math.isfinite(decay)):
        raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
    decoupled = _real("weight_decay", weight_decay, "a finite number >= 0")
    if not (decoupled >= 0 and math.isfinite(decoupled)):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    clip = None
    if clip_norm is not None:
        clip = _real("clip_norm", clip_norm, "None or a number > 0")
        if not (clip > 0 and math.isfinite(clip)):
            raise ValueError(f"clip_norm must be None or a finite number > 0, got {clip_norm!r}")
    return {
        "epochs": _integer("epochs", epochs, 0),
        "batch_size": (
            None
            if batch_size is None
            else _integer("batch_size", batch_size, 1, "None (whole set) or ")
        ),
        "validation_split": split,
        "l2": decay,
        "clip_norm": clip,
        "weight_decay": decoupled,
    }


def check_flags(**flags) -> None:
    """Each flag must be True or False (a string such as ``'no'`` is refused)."""
    for name, value in flags.items():
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {value!r}")


def check_hooks(
    callbacks: Sequence[Callable], reduce_gradients, early_stopping, metrics
) -> EarlyStopping | None:
    """The early-stopping rule, once the callbacks, the gradient hook and metrics are usable."""
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of functions, got {callbacks!r}")
    for position, callback in enumerate(callbacks):
        if not callable(callback):
            raise TypeError(f"callbacks[{position}] is not callable: {callback!r}")
    if reduce_gradients is not None and not callable(reduce_gradients):
        raise TypeError(f"reduce_gradients must be None or a function, got {reduce_gradients!r}")
    if metrics is not None and (isinstance(metrics, str) or not isinstance(metrics, Sequence)):
        raise TypeError(f"metrics must be a list of names, got {metrics!r}")
    if isinstance(early_stopping, EarlyStopping):
        return early_stopping
    check_flags(early_stopping=early_stopping)
    return EarlyStopping() if early_stopping else None


def check_checkpoint(checkpoint, checkpoint_every, resume: bool) -> None:
    """A checkpoint path that names a file in an existing directory, and its cadence."""
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=PATH")
    _integer("checkpoint_every", checkpoint_every, 1)
    if checkpoint is None:
        return
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a file path, got {checkpoint!r}")
    path = os.fspath(checkpoint)
    if os.path.isdir(path):
        raise ValueError(f"checkpoint {path!r} is a directory; give a file path in it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"checkpoint {path!r}: the directory {folder!r} does not exist")


def check_monitors(stopper, schedule, has_validation: bool, metrics: list[str]) -> None:
    """Refuse a monitored name that training will not record (a misspelt one included)."""
    recorded = ["loss"] + (["val_loss", *(f"val_{m}" for m in metrics)] if has_validation else [])
    if stopper is not None:
        if not has_validation and stopper.monitor.startswith("val_"):
            raise ValueError("early_stopping needs validation_data or validation_split > 0")
        stopper.check_monitor(recorded)
    monitor = getattr(schedule, "monitor", None)
    # a schedule's default "val_loss" falls back to the training loss without validation data
    if monitor is not None and monitor not in recorded and monitor != "val_loss":
        raise ValueError(
            f"the schedule monitors {monitor!r}, which training does not record; "
            f"choose one of {', '.join(recorded)}"
        )


def check_optimizer_state(optimizer, optimizer_state, net) -> None:
    """An ``optimizer_state`` passed in must be this optimiser's, for this network's buffer."""
    if optimizer_state is None:
        return
    fresh = optimizer.init(net.params, xp=net.xp)
    if type(optimizer_state) is not type(fresh):
        raise TypeError(
            f"optimizer_state is a {type(optimizer_state).__name__}; {type(optimizer).__name__} "
            f"needs a {type(fresh).__name__} (history.optimizer_state of an earlier run)"
        )
    for name, value in fresh._asdict().items():
        given = getattr(optimizer_state, name)
        if net.xp.owns(value) and (
            not net.xp.owns(given) or given.shape != value.shape or given.dtype != value.dtype
        ):
            raise ValueError(
                f"optimizer_state.{name} must be an array of shape {tuple(value.shape)} and "
                f"dtype {value.dtype} on the network's backend, as the network's parameters"
            )
