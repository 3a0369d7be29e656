"""The training state: everything besides the weights that a run carries from epoch to epoch.

``TrainingState`` is the loop's memory (the epoch, the optimiser's state, early stopping's
counters and best weights, whether training has stopped, the history). It writes itself out as
arrays and plain data (``export``) and reads itself back (``load``), which is all that
checkpoints and the roll-back of an interrupted epoch need of it. ``restored`` checks every
part of what it reads before building anything, so a damaged or crafted checkpoint is refused
with a ValueError saying what is wrong, and nothing is half-loaded.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from .history import History
from .step import LAYER_STATISTICS
from .stopping import StoppingState


@dataclass
class TrainingState:
    """The loop's state after epoch ``epoch`` (−1 before the first)."""

    optimizer_state: object = None
    epoch: int = -1
    stopping: StoppingState = field(default_factory=StoppingState)
    stopped: bool = False
    history: History = field(default_factory=History)

    def export(self, xp) -> tuple[dict, dict]:
        """(host arrays by name, plain data) holding this state."""
        arrays, scalars = {}, {}
        for name, value in self.optimizer_state._asdict().items():
            if xp.owns(value):
                arrays[f"optimizer.{name}"] = xp.to_host(value)
            elif value is not None:
                scalars[name] = value
        if self.stopping.best_params is not None:
            arrays["best_params"] = xp.to_host(self.stopping.best_params)
        data = {
            "epoch": self.epoch,
            "optimizer_scalars": scalars,
            "optimizer_fields": list(self.optimizer_state._fields),
            "history": self.history.state(),
            "early_stopping": {"best": self.stopping.best, "waited": self.stopping.waited},
            "stopped": self.stopped,
        }
        return arrays, data

    @classmethod
    def restored(cls, arrays: dict, data: dict, fresh_optimizer_state, net) -> TrainingState:
        """The state ``export`` wrote for ``net``, each part checked first (ValueError saying
        what is wrong); the optimiser's arrays go into the buffers of ``fresh_optimizer_state``
        (made by the optimiser's ``init``), which nothing else holds yet."""
        if not isinstance(data, dict):
            raise ValueError("the training state must be a JSON object")
        epoch = _integer(data.get("epoch"), "epoch", 0)
        history = _history(data.get("history"), epoch, net.n_layers)
        values = _optimizer_values(arrays, data, fresh_optimizer_state, net)
        best = arrays.get("best_params")
        if best is not None:
            _check_array(best, net.params, "best_params")
            best = net.xp.asarray(best)
        stopping = _stopping(data.get("early_stopping"), best)
        stopped = data.get("stopped", False)  # absent from the first checkpoints
        if not isinstance(stopped, bool):
            raise ValueError(f"stopped must be true or false, got {stopped!r}")
        for name, value in fresh_optimizer_state._asdict().items():
            if net.xp.owns(value):
                value[...] = net.xp.asarray(values[name])
                values[name] = value
        return cls(type(fresh_optimizer_state)(**values), epoch, stopping, stopped, history)


def _integer(value, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def _numbers(values, what: str, length: int | None = None) -> list:
    if not isinstance(values, list) or (length is not None and len(values) != length):
        raise ValueError(f"{what} must be a list of {length if length else 'some'} numbers")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{what} holds {value!r}, not a number")
    return values


def _history(state, epoch: int, n_layers: int) -> History:
    """The recorded history of epochs 0..epoch, one entry per epoch in every record."""
    required = {"records", "layer_records", "best_epoch"}
    if not isinstance(state, dict) or not required <= set(state) <= required | {"network"}:
        raise ValueError("the history must hold records, layer_records and best_epoch")
    records, layer_records = state["records"], state["layer_records"]
    if not isinstance(records, dict) or "loss" not in records:
        raise ValueError("the history has no loss record")
    known = set(LAYER_STATISTICS)
    if not isinstance(layer_records, dict) or not (
        {"mean_abs_delta", "grad_norm"} <= set(layer_records) <= known
    ):
        raise ValueError(f"the history's layer records must be among {sorted(known)}")
    for key, values in records.items():
        _numbers(values, f"the history's {key!r}", epoch + 1)
    for key, rows in layer_records.items():
        if not isinstance(rows, list) or len(rows) != epoch + 1:
            raise ValueError(f"the history's {key!r} must have one row per epoch")
        for row in rows:  # null stands for a statistic a layer does not have
            _numbers([0.0 if v is None else v for v in row], f"the history's {key!r}", n_layers)
    if state["best_epoch"] is not None and _integer(state["best_epoch"], "best_epoch", 0) > epoch:
        raise ValueError(f"best_epoch {state['best_epoch']} is after epoch {epoch}")
    history = History()
    history.load_state(state)
    return history


def _optimizer_values(arrays: dict, data: dict, fresh, net) -> dict:
    """The saved optimiser state by field (host arrays for the buffers), once its fields,
    tensors and numbers match what ``fresh`` holds."""
    names, scalars = data.get("optimizer_fields"), data.get("optimizer_scalars")
    if names != list(fresh._fields):
        raise ValueError(
            f"the optimiser state has fields {names!r}; {type(fresh).__name__} has "
            f"{list(fresh._fields)}"
        )
    if not isinstance(scalars, dict) or not set(scalars) <= set(names):
        raise ValueError(f"optimizer_scalars must map some of {names} to numbers")
    owned = {name for name, value in fresh._asdict().items() if net.xp.owns(value)}
    unknown = sorted(set(arrays) - {f"optimizer.{name}" for name in owned} - {"best_params"})
    if unknown:
        raise ValueError(f"unexpected tensor {unknown[0]!r}")
    values = {}
    for name, value in fresh._asdict().items():
        if name in owned:
            if name in scalars:
                raise ValueError(f"the optimiser's {name!r} must be a tensor, not a number")
            key = f"optimizer.{name}"
            values[name] = _check_array(arrays.get(key), net.params, key)
        else:
            values[name] = _optimizer_scalar(scalars.get(name), value, name)
    return values


def _optimizer_scalar(saved, fresh, name: str):
    """A saved scalar of the kind the fresh state has (None, an integer or a number)."""
    if fresh is None:
        if saved is not None:
            raise ValueError(f"the optimiser's {name!r} must be null, got {saved!r}")
        return None
    integral = isinstance(fresh, (int, np.integer))
    kinds = int if integral else (int, float)
    if isinstance(saved, bool) or not isinstance(saved, kinds) or not math.isfinite(saved):
        kind = "integer" if integral else "number"
        raise ValueError(f"the optimiser's {name!r} must be a finite {kind}, got {saved!r}")
    return saved


def _check_array(array, like, name: str):
    """``array`` (a host array read from the file), once it is finite and shaped like ``like``."""
    if array is None:
        raise ValueError(f"the tensor {name!r} is missing")
    if array.shape != tuple(like.shape) or array.dtype != like.dtype:
        raise ValueError(
            f"the tensor {name!r} has shape {array.shape} and dtype {array.dtype}; "
            f"the network's parameters have {tuple(like.shape)} and {like.dtype}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"the tensor {name!r} holds non-finite values")
    return array


def _stopping(state, best_params) -> StoppingState:
    if not isinstance(state, dict) or set(state) != {"best", "waited"}:
        raise ValueError("early_stopping must hold best and waited")
    best = _numbers([state["best"]], "early_stopping's best")[0]
    return StoppingState(best, _integer(state["waited"], "early_stopping's waited", 0), best_params)


@dataclass
class ResumePoint:
    """The state at the start of an epoch, to roll an interrupted epoch back."""

    params: object
    optimizer_state: tuple
    rng: dict
    schedule: dict
    epochs: int
    stopping: StoppingState

    @classmethod
    def take(cls, net, state: TrainingState, schedule) -> ResumePoint:
        stopping = state.stopping
        return cls(
            net.params.copy(),
            _copy_arrays(state.optimizer_state),
            net.xp.rng_state(net.rng),
            copy.deepcopy(schedule.state()),
            len(state.history),
            StoppingState(
                stopping.best,
                stopping.waited,
                None if stopping.best_params is None else stopping.best_params.copy(),
            ),
        )

    def roll_back(self, net, state: TrainingState, schedule) -> None:
        """Put the network, the state, the generator and the schedule back to this point."""
        xp = net.xp
        net.params[...] = self.params
        live = state.optimizer_state
        for buffer, kept in zip(live, self.optimizer_state, strict=True):
            if xp.owns(buffer):
                buffer[...] = kept
        state.optimizer_state = live._replace(
            **{
                name: value
                for name, value in self.optimizer_state._asdict().items()
                if not xp.owns(value)
            }
        )
        xp.set_rng_state(net.rng, self.rng)
        schedule.load_state(self.schedule)
        state.history.truncate(self.epochs)
        state.stopping = self.stopping


def _copy_arrays(named_tuple):
    return type(named_tuple)(
        *(value.copy() if hasattr(value, "copy") else value for value in named_tuple)
    )
