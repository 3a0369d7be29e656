"""Checkpoints: the whole training state in one model file, written atomically at epoch ends.

A checkpoint is a backprop model file (``backprop.io``) whose weights are the network's at the
end of an epoch and whose metadata and extra tensors hold everything else a bitwise-exact resume
needs: the optimiser's state (Adam's m, v and step, momentum's velocity), the learning-rate
schedule's state, the random generator's state (shuffling, dropout) and the state it had before
the validation split, the epoch, the history, early stopping's counters and best weights, and a
fingerprint of the setup (architecture, data shape, batch size, optimiser, regularisation).

Each new checkpoint replaces the file atomically and keeps the previous one as ``PATH.prev``:
at every moment at least one complete checkpoint exists. On resume a latest file that is
damaged (its bytes no longer match their checksums) or does not hold a whole, consistent
training state for this run falls back to the previous one; if neither can be used, resuming
is refused with a ValueError naming the file, never a silent restart. Everything is checked
before the network, the optimiser, the schedule or the random generator is touched. A resume
whose setup differs is refused, listing what differs.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import warnings
from dataclasses import dataclass

import numpy as np

from ..io import model_file as model_files
from .state import TrainingState

FORMAT = "backprop-checkpoint"


def _model(net, optimizer) -> dict:
    return {
        "network": repr(net),
        "optimizer": f"{type(optimizer).__name__}({optimizer.hyperparameters()})",
    }


def fingerprint(net, n_train: int, n_validation: int, batch: int, optimizer, settings, shuffle):
    """What must not change between a run and its resumption."""
    return {
        **_model(net, optimizer),
        "n_features": net.n_inputs,
        "n_train": n_train,
        "n_validation": n_validation,
        "batch_size": batch,
        "shuffle": bool(shuffle),
        "l2": settings["l2"],
        "l2_per_sample": settings["l2_per_sample"],
        "clip_norm": settings["clip_norm"],
        # only when set, so checkpoints written before decoupled decay existed still resume
        **({"weight_decay": settings["weight_decay"]} if settings.get("weight_decay") else {}),
    }


@dataclass
class Saved:
    """A checkpoint read back: the weights, the state tensors and the metadata, and, once
    checked against the run that resumes, the training state to continue from."""

    path: str
    params: np.ndarray
    tensors: dict
    meta: dict
    state: TrainingState | None = None


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
        _keep_as_previous(path)
    model_files.save(net, path, metadata=meta, tensors=tensors)  # replaces ``path`` atomically


def _keep_as_previous(path: str) -> None:
    """Make ``path.prev`` the file now at ``path``, leaving ``path`` in place: a run killed at
    any moment leaves the last checkpoint at ``path``, never only at ``.prev``."""
    staged = f"{path}.prev.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(staged)  # left by an earlier save of this process that was cut short
    try:
        os.link(path, staged)  # a second name for the same file; no copy
    except OSError:  # a file system without hard links
        shutil.copy2(path, staged)
    os.replace(staged, path + ".prev")


def read(path, net=None, optimizer=None, schedule=None) -> Saved | None:
    """The latest usable checkpoint at ``path`` (or its ``.prev``); None when there is none.

    Given the run's ``net``, ``optimizer`` and ``schedule``, a checkpoint of the same network
    and optimiser is usable only when every part of it fits them; its training state is then
    built (``Saved.state``) without changing any of them. (One of another network or optimiser
    is returned without a state, for ``check_setup`` to refuse.) Raises ValueError naming the
    files when neither can be used.
    """
    path = os.fspath(path)
    candidates = [p for p in (path, path + ".prev") if os.path.lexists(p)]
    if not candidates:
        return None
    problems = []
    for candidate in candidates:
        try:
            return _read_one(candidate, net, optimizer, schedule)
        except ValueError as error:
            problems.append(str(error))
    raise ValueError(f"cannot resume from {path!r}: " + "; ".join(problems))


def _read_one(path: str, net, optimizer, schedule) -> Saved:
    try:
        loaded, meta, tensors = model_files.load_with_metadata(path)
    except OSError as error:  # a directory, a dangling link, no permission
        raise ValueError(f"cannot read {path!r}: {error.strerror or error}") from None
    if meta.get("kind") != FORMAT:
        raise ValueError(f"{path!r} is a model file, not a checkpoint")
    saved = Saved(path, np.asarray(loaded.params), tensors, meta)
    setup = meta.get("setup")
    if not isinstance(setup, dict):
        raise ValueError(f"{path!r} holds no usable training state: its setup is not an object")
    if net is not None and all(setup.get(k) == v for k, v in _model(net, optimizer).items()):
        # (another network or optimiser: check_setup refuses it, saying what changed)
        try:
            saved.state = _checked_state(saved, net, optimizer, schedule)
        except ValueError as error:
            raise ValueError(f"{path!r} holds no usable training state: {error}") from None
    return saved


def _checked_state(saved: Saved, net, optimizer, schedule) -> TrainingState:
    """The training state ``saved`` holds, once every part is known to fit this run."""
    meta, xp = model_files.decode_floats(saved.meta), net.xp
    if saved.params.shape != tuple(net.params.shape) or saved.params.dtype != net.dtype:
        raise ValueError(f"its weights do not fit {net!r}")
    for key in ("rng", "split_rng"):
        trial = copy.deepcopy(net.rng)  # the generator itself changes only once all is checked
        try:
            with warnings.catch_warnings():  # numpy 1.x wraps out-of-range integers, warning
                warnings.simplefilter("ignore", DeprecationWarning)
                xp.set_rng_state(trial, saved.meta.get(key))
        except (TypeError, ValueError, KeyError, OverflowError) as error:
            raise ValueError(f"{key} is not a state of the random generator ({error})") from None
        if xp.rng_state(trial) != saved.meta.get(key):  # taken only after changing it
            raise ValueError(f"{key} is not a state of the random generator (out of range)")
    try:
        copy.deepcopy(schedule).load_state(meta.get("schedule"))
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise ValueError(f"the schedule's state does not fit {schedule!r} ({error})") from None
    fresh = optimizer.init(net.params, xp=xp)
    return TrainingState.restored(saved.tensors, meta, fresh, net)


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


def restore(saved: Saved, net, schedule) -> None:
    """Put the saved weights, schedule state and generator state in place (``read`` checked
    them against this run, so nothing here can fail half-way)."""
    meta, xp = saved.meta, net.xp
    net.set_params(saved.params)
    schedule.load_state(model_files.decode_floats(meta["schedule"]))
    xp.set_rng_state(net.rng, meta["rng"])
