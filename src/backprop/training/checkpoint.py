"""Checkpoints: the whole training state in one model file, written atomically at epoch ends.

A checkpoint is a backprop model file (``backprop.io``) whose weights are the network's at the
end of an epoch and whose metadata and extra tensors hold everything else a bitwise-exact resume
needs: the optimiser's state (Adam's m, v and step, momentum's velocity), the learning-rate
schedule's state, the random generator's state (shuffling, dropout) and the state it had before
the validation split, the epoch, the history, early stopping's counters and best weights, and a
fingerprint of the setup (architecture, data shape, batch size, optimiser, regularisation).

Each new checkpoint replaces the file atomically and keeps the previous one as ``PATH.prev``:
at every moment at least one complete checkpoint exists. On resume a damaged latest file falls
back to the previous one; if neither can be read, resuming is refused with a ValueError naming
the file, never a silent restart. A resume whose setup differs is refused, listing what differs.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass

import numpy as np

from ..io import model_file as model_files

FORMAT = "backprop-checkpoint"


def fingerprint(net, n_train: int, n_validation: int, batch: int, optimizer, settings, shuffle):
    """What must not change between a run and its resumption."""
    return {
        "network": repr(net),
        "n_features": net.n_inputs,
        "n_train": n_train,
        "n_validation": n_validation,
        "batch_size": batch,
        "optimizer": f"{type(optimizer).__name__}({optimizer.hyperparameters()})",
        "shuffle": bool(shuffle),
        "l2": settings["l2"],
        "l2_per_sample": settings["l2_per_sample"],
        "clip_norm": settings["clip_norm"],
    }


@dataclass
class Saved:
    """A checkpoint read back: the weights, the state tensors and the metadata."""

    path: str
    params: np.ndarray
    tensors: dict
    meta: dict


def save(path, net, loop, optimizer, schedule, split_rng_state, setup) -> None:
    """Write the training state after epoch ``loop.epoch``; the old file becomes ``.prev``."""
    path = os.fspath(path)
    tensors, scalars = {}, {}
    for field, value in loop.optimizer_state._asdict().items():
        if isinstance(value, np.ndarray):
            tensors[f"optimizer.{field}"] = value
        elif value is not None:
            scalars[field] = value
    if loop.best_params is not None:
        tensors["best_params"] = loop.best_params
    history = loop.history
    meta = {
        "kind": FORMAT,
        "epoch": loop.epoch,
        "setup": setup,
        "optimizer_scalars": scalars,
        "optimizer_fields": list(loop.optimizer_state._fields),
        "schedule": model_files.encode_floats(schedule.state()),
        "rng": net.rng.bit_generator.state,
        "split_rng": split_rng_state,
        "history": model_files.encode_floats(
            {
                "records": history.records,
                "layer_records": history.layer_records,
                "best_epoch": history.best_epoch,
            }
        ),
        "early_stopping": model_files.encode_floats({"best": loop.best, "waited": loop.waited}),
        "stopped": loop.stopped,
    }
    if os.path.exists(path):
        os.replace(path, path + ".prev")
    model_files.save(net, path, metadata=meta, tensors=tensors)


def read(path) -> Saved | None:
    """The latest readable checkpoint at ``path`` (or its ``.prev``); None when there is none."""
    path = os.fspath(path)
    candidates = [p for p in (path, path + ".prev") if os.path.exists(p)]
    if not candidates:
        return None
    problems = []
    for candidate in candidates:
        try:
            net, meta, tensors = model_files.load_with_metadata(candidate)
        except ValueError as error:
            problems.append(str(error))
            continue
        if meta.get("kind") != FORMAT:
            problems.append(f"{candidate!r} is a model file, not a checkpoint")
            continue
        return Saved(candidate, np.asarray(net.params), tensors, meta)
    raise ValueError(f"cannot resume from {path!r}: " + "; ".join(problems))


def check_setup(saved: Saved, setup: dict) -> None:
    """Refuse to resume with a different setup, saying what differs."""
    before = saved.meta.get("setup", {})
    changes = [
        f"{key}: {before.get(key)!r} then, {setup[key]!r} now"
        for key in setup
        if before.get(key) != setup[key]
    ]
    if changes:
        raise ValueError(
            f"cannot resume from {saved.path!r}: the setup changed ({'; '.join(changes)})"
        )


def restore(saved: Saved, net, loop, optimizer, schedule) -> None:
    """Put the saved weights, optimiser, schedule, generator and history back in place."""
    meta = saved.meta
    net.set_params(saved.params)
    fresh = optimizer.init(net.params)
    fields = {}
    for field in meta["optimizer_fields"]:
        name = f"optimizer.{field}"
        if name in saved.tensors:
            array = getattr(fresh, field)
            array[...] = saved.tensors[name]
            fields[field] = array
        else:
            fields[field] = meta["optimizer_scalars"].get(field, getattr(fresh, field))
    loop.optimizer_state = type(fresh)(**fields)
    schedule.load_state(model_files.decode_floats(meta["schedule"]))
    net.rng.bit_generator.state = meta["rng"]
    history = model_files.decode_floats(meta["history"])
    loop.history.records = {k: list(v) for k, v in history["records"].items()}
    loop.history.layer_records = {k: list(v) for k, v in history["layer_records"].items()}
    loop.history.best_epoch = history["best_epoch"]
    stopping = model_files.decode_floats(meta["early_stopping"])
    loop.best, loop.waited = stopping["best"], stopping["waited"]
    best = saved.tensors.get("best_params")
    loop.best_params = None if best is None else best.astype(net.dtype)
    loop.epoch = meta["epoch"]
    loop.stopped = bool(meta.get("stopped", False))


@dataclass
class ResumePoint:
    """The state at the start of an epoch, to roll an interrupted epoch back."""

    params: np.ndarray
    optimizer_state: tuple
    rng: dict
    schedule: dict
    history_length: int
    best: float
    waited: int
    best_params: np.ndarray | None

    @classmethod
    def take(cls, net, loop, schedule) -> ResumePoint:
        return cls(
            net.params.copy(),
            copy.deepcopy(loop.optimizer_state),
            net.rng.bit_generator.state,
            copy.deepcopy(schedule.state()),
            len(loop.history),
            loop.best,
            loop.waited,
            None if loop.best_params is None else loop.best_params.copy(),
        )

    def roll_back(self, net, loop, schedule) -> None:
        net.params[...] = self.params
        for live, kept in zip(loop.optimizer_state, self.optimizer_state, strict=True):
            if isinstance(live, np.ndarray):
                live[...] = kept
        loop.optimizer_state = loop.optimizer_state._replace(
            **{
                f: v
                for f, v in self.optimizer_state._asdict().items()
                if not isinstance(v, np.ndarray)
            }
        )
        net.rng.bit_generator.state = self.rng
        schedule.load_state(self.schedule)
        for key in loop.history.records:
            del loop.history.records[key][self.history_length :]
        for key in loop.history.layer_records:
            del loop.history.layer_records[key][self.history_length :]
        loop.best, loop.waited, loop.best_params = self.best, self.waited, self.best_params
