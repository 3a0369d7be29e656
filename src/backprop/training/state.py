"""The training state: everything besides the weights that a run carries from epoch to epoch.

``TrainingState`` is the loop's memory (the epoch, the optimiser's state, early stopping's
counters and best weights, whether training has stopped, the history). It writes itself out as
arrays and plain data (``export``) and reads itself back (``load``), which is all that
checkpoints and the roll-back of an interrupted epoch need of it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from .history import History
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

    def load(self, arrays: dict, data: dict, fresh_optimizer_state, xp, dtype) -> None:
        """Take the state ``export`` wrote; the optimiser's arrays go into the buffers of
        ``fresh_optimizer_state`` (made by the optimiser's ``init``)."""
        fields = {}
        for name in data["optimizer_fields"]:
            key = f"optimizer.{name}"
            if key in arrays:
                buffer = getattr(fresh_optimizer_state, name)
                buffer[...] = xp.asarray(arrays[key])
                fields[name] = buffer
            else:
                fields[name] = data["optimizer_scalars"].get(
                    name, getattr(fresh_optimizer_state, name)
                )
        self.optimizer_state = type(fresh_optimizer_state)(**fields)
        self.history.load_state(data["history"])
        best = arrays.get("best_params")
        self.stopping = StoppingState(
            data["early_stopping"]["best"],
            data["early_stopping"]["waited"],
            None if best is None else xp.asarray(best.astype(dtype)),
        )
        self.epoch = data["epoch"]
        self.stopped = bool(data.get("stopped", False))


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
