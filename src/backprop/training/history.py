"""What training recorded, epoch by epoch."""

from __future__ import annotations

import numpy as np

from .diagnosis import diagnose


class History:
    """What training recorded, one entry per epoch.

    ``history["loss"]`` or ``history.loss``; likewise ``val_loss``, ``lr`` and ``val_<metric>``.
    ``mean_abs_delta`` and ``grad_norm`` are (epochs, L) arrays, column l − 1 for layer l.

    >>> history = History()
    >>> history.append({"loss": 0.5, "lr": 0.1}, {"mean_abs_delta": [0.1], "grad_norm": [1.0]})
    >>> history.loss, len(history)
    ([0.5], 1)
    """

    def __init__(self):
        self.records: dict[str, list[float]] = {}
        self.layer_records: dict[str, list[list[float]]] = {"mean_abs_delta": [], "grad_norm": []}
        self.best_epoch: int | None = None
        self.stopped_early = False
        self.optimizer = None
        self.optimizer_state = None

    def append(self, logs: dict[str, float], layer_stats: dict[str, list[float]]) -> None:
        for key, value in logs.items():
            self.records.setdefault(key, []).append(value)
        for key, values in layer_stats.items():
            self.layer_records[key].append(values)

    def truncate(self, epochs: int) -> None:
        """Forget every epoch after the first ``epochs`` (an interrupted epoch rolled back)."""
        for records in (*self.records.values(), *self.layer_records.values()):
            del records[epochs:]

    def state(self) -> dict:
        """The records as plain data, for a checkpoint."""
        return {
            "records": self.records,
            "layer_records": self.layer_records,
            "best_epoch": self.best_epoch,
        }

    def load_state(self, state: dict) -> None:
        """Restore what ``state`` returned."""
        self.records = {key: list(values) for key, values in state["records"].items()}
        self.layer_records = {key: list(v) for key, v in state["layer_records"].items()}
        self.best_epoch = state["best_epoch"]

    def __getitem__(self, key: str) -> list[float]:
        return self.records[key]

    def __getattr__(self, key: str):
        if key.startswith("_") or key in ("records", "layer_records"):
            raise AttributeError(key)
        if key in self.layer_records:
            return np.array(self.layer_records[key])
        if key in self.records:
            return self.records[key]
        raise AttributeError(f"History has no record {key!r}; it has {sorted(self.records)}")

    def diagnose(self) -> list:
        """What the curves say to change; see ``backprop.training.diagnosis``."""
        return diagnose(self)

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records.get("loss", []))

    def __repr__(self) -> str:
        last = {k: round(v[-1], 6) for k, v in self.records.items() if v}
        return f"History({len(self)} epochs, last: {last})"
