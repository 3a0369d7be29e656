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

import os
from dataclasses import dataclass

import numpy as np

from ..io import model_file as model_files
from .state import TrainingState

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


def save(path, net, state: TrainingState, schedule, split_rng_state, setup) -> None:
    """Write the training state after epoch ``state.epoch``; the old file becomes ``.prev``."""
    path = os.fspath(path)
    xp = net.xp
    tensors, data = state.export(xp)
    meta = {
        "kind": FORMAT,
        "setup": setup,
        "schedule": model_files.encode_floats(schedule.state()),
        "rng": xp.rng_state(net.rng),
        "split_rng": split_rng_state,
        **model_files.encode_floats(data),
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


def restore(saved: Saved, net, state: TrainingState, optimizer, schedule) -> None:
    """Put the saved weights, training state, schedule and generator back in place."""
    meta, xp = saved.meta, net.xp
    net.set_params(saved.params)
    fresh = optimizer.init(net.params, xp=xp)
    state.load(saved.tensors, model_files.decode_floats(meta), fresh, xp, net.dtype)
    schedule.load_state(model_files.decode_floats(meta["schedule"]))
    xp.set_rng_state(net.rng, meta["rng"])
