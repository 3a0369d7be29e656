"""The memory ``train`` will need, estimated before the network is built, and refused if absent.

In units of the weights (P float32 numbers) training holds the weights and the gradients, the
optimiser's slots (Adam two; RMSprop, AdaGrad and SGD with momentum one), the weights at the
start of the epoch and early stopping's best weights (kept until the model is saved); a
checkpoint adds a copy of weights, best weights and slots to roll back to and, while it is
written, about three times what it holds. Saving the model and reading it back for the check
builds a second network beside the first (its initialisation draws two P-sized float64 arrays):
five more. Work arrays add, per sample of a batch, each layer's z, a, error and delta, dropout's
mask and kept values, and two scratch rows, and per validation row every layer's output. A
tenth is added for what this leaves out; measured with tracemalloc, the estimate lies 5-20%
above the peak.

A cross-validated ensemble of k networks keeps each trained network (its weights, gradients and
optimiser state) while the next one trains, then builds the ensemble (k·P weights and as many
gradients) and saves and reads back that k·P network (six more per k·P, measured).
"""

from __future__ import annotations

import os

from .errors import UsageError

OPTIMIZER_SLOTS = {"adam": 2, "rmsprop": 1, "adagrad": 1}
ITEMSIZE = 4  # float32
GIB = 2**30


def n_parameters(sizes: list[int]) -> int:
    """Weights and biases of a fully connected network with these layer sizes.

    >>> n_parameters([2, 3, 1])
    13
    """
    return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True))


def training_bytes(
    sizes: list[int],
    batch_size: int,
    n_train: int,
    n_validation: int,
    optimizer: str,
    checkpoint: bool,
    momentum: float = 0.0,
    networks: int = 1,
) -> int:
    """The estimated peak memory of ``train`` for this network and data, in bytes; with
    ``networks`` > 1, for a cross-validated ensemble of that many.

    >>> round(training_bytes([784, 512, 256, 10], 128, 60000, 0, "adam", False) / 2**20)
    26
    """
    slots = OPTIMIZER_SLOTS.get(optimizer, 1 if momentum else 0)
    during = 4 + slots + (4 * (2 + slots) if checkpoint else 0)
    copies = max(during, 3 + slots + 5)
    if networks > 1:
        kept = networks * (2 + slots)  # each trained network's weights, gradients and slots
        ensemble_and_read_back = networks * (2 + 6)
        copies = max(kept - (2 + slots) + during, kept + ensemble_and_read_back)
    units = sum(sizes[1:])
    batch = min(batch_size, max(n_train, 1))
    work = batch * (6 * units + 2 * max(sizes)) + max(n_validation, batch) * units
    return int(1.1 * ITEMSIZE * (copies * n_parameters(sizes) + work))


def available_bytes() -> int | None:
    """Memory the system can give this process now (Linux's MemAvailable, capped by a cgroup
    limit), else the physical memory; None where neither is known."""
    available = _meminfo_available()
    limit = _cgroup_room()
    if available is not None and limit is not None:
        return min(available, limit)
    if available is not None or limit is not None:
        return available if available is not None else limit
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as handle:
            limit = handle.read().strip()
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as handle:
            used = int(handle.read().strip())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(int(limit) - used, 0)


def _gib(n: int) -> str:
    return f"{n / GIB:,.1f} GiB" if n >= GIB else f"{n / 2**20:,.1f} MiB"


def check_training_memory(
    sizes: list[int],
    settings: dict,
    n_train: int,
    n_validation: int,
    checkpoint: bool,
    networks: int = 1,
) -> None:
    """Refuse, naming --hidden and the estimate, a network (or ``networks`` of them, for a
    cross-validated ensemble) that does not fit in memory."""
    needed = training_bytes(
        sizes,
        settings["batch_size"],
        n_train,
        n_validation,
        settings["optimizer"],
        checkpoint,
        settings["optimizer_settings"].get("momentum", 0.0),
        networks,
    )
    available = available_bytes()
    if available is not None and needed > available:
        shape = "-".join(map(str, sizes))
        raise UsageError(
            f"--hidden {','.join(map(str, sizes[1:-1]))}: a {shape} network has "
            f"{n_parameters(sizes):,} parameters and training it needs about {_gib(needed)} of "
            f"memory (weights, gradients, optimiser state, work arrays); {_gib(available)} is "
            "available"
        )
