"""What training recorded, epoch by epoch."""

from __future__ import annotations

import math

import numpy as np

from .diagnosis import diagnose
from .step import LAYER_STATISTICS


class History:
    """What training recorded, one entry per epoch.

    ``history["loss"]`` or ``history.loss``; likewise ``val_loss``, ``lr`` and ``val_<metric>``.
    The statistics of each epoch's last batch (``step.LAYER_STATISTICS``: ``mean_abs_delta``,
    ``grad_norm``, ``update_ratio``, ``dead_fraction``, ``saturated_fraction``) are (epochs, L)
    arrays, column l − 1 for layer l; ``network`` says what they were measured on (each layer's
    activation, the loss, the number of outputs).

    >>> history = History()
    >>> history.append({"loss": 0.5, "lr": 0.1}, {"mean_abs_delta": [0.1], "grad_norm": [1.0]})
    >>> history.loss, len(history), history.mean_abs_delta.shape
    ([0.5], 1, (1, 1))
    """

    def __init__(self):
        self.records: dict[str, list[float]] = {}
        self.layer_records: dict[str, list[list[float]]] = {key: [] for key in LAYER_STATISTICS}
        self.network: dict | None = None
        self.best_epoch: int | None = None
        self.stopped_early = False
        self.optimizer = None
        self.optimizer_state = None

    def append(self, logs: dict[str, float], layer_stats: dict) -> None:
        for key, value in logs.items():
            self.records.setdefault(key, []).append(value)
        layer_stats = dict(layer_stats)
        self.network = layer_stats.pop("network", self.network)
        for key, values in layer_stats.items():
            self.layer_records.setdefault(key, []).append(values)

    def truncate(self, epochs: int) -> None:
        """Forget every epoch after the first ``epochs`` (an interrupted epoch rolled back)."""
        for records in (*self.records.values(), *self.layer_records.values()):
            del records[epochs:]

    def state(self) -> dict:
        """The records as plain data, for a checkpoint."""
        return {
            "records": self.records,
            "layer_records": {  # JSON has no NaN: a statistic a layer lacks is null
                key: [[None if math.isnan(v) else v for v in row] for row in rows]
                for key, rows in self.layer_records.items()
            },
            "best_epoch": self.best_epoch,
            "network": self.network,
        }

    def load_state(self, state: dict) -> None:
        """Restore what ``state`` returned (NaN rows for statistics an older state lacks)."""
        self.records = {key: list(values) for key, values in state["records"].items()}
        self.layer_records = {
            key: [[math.nan if v is None else v for v in row] for row in rows]
            for key, rows in state["layer_records"].items()
        }
        epochs = len(self)
        width = len(self.layer_records["grad_norm"][0]) if epochs else 0
        for key in LAYER_STATISTICS:
            rows = self.layer_records.setdefault(key, [])
            rows[:0] = [[math.nan] * width for _ in range(epochs - len(rows))]
        self.best_epoch = state["best_epoch"]
        self.network = state.get("network")

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
