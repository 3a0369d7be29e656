"""Early stopping: end training when a monitored quantity stops improving, and keep the best.

>>> stopper = EarlyStopping(monitor="val_accuracy")
>>> stopper.resolve_mode()
'max'
>>> EarlyStopping(monitor="val_loss").resolve_mode()
'min'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GREATER_IS_BETTER = ("accuracy", "r2")
"""Metrics (``val_<name>``) that improve upwards; every loss, and mae and mse, improve down."""


@dataclass
class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs, and
    (with ``restore_best``) put back the weights of the best epoch.

    ``monitor`` is a key of the epoch's logs: ``"loss"``, ``"val_loss"`` or ``"val_<metric>"``;
    ``fit`` refuses one it will not record. ``mode`` says which way is better: ``"min"``,
    ``"max"``, or ``"auto"`` (max for accuracy and r2, min for losses and errors).
    """

    patience: int = 10
    min_delta: float = 0.0
    monitor: str = "val_loss"
    restore_best: bool = True
    mode: str = "auto"

    def __post_init__(self):
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0, got {self.patience}")
        if self.min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {self.min_delta}")
        if not isinstance(self.monitor, str):
            raise TypeError(f"monitor must be a string, got {self.monitor!r}")
        if self.mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {self.mode!r}")

    def resolve_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        name = self.monitor.removeprefix("val_")
        return "max" if name in GREATER_IS_BETTER else "min"

    def check_monitor(self, recorded: list[str]) -> None:
        """Refuse a monitor that training will not record, listing what it will."""
        if self.monitor not in recorded:
            raise ValueError(
                f"early_stopping monitors {self.monitor!r}, which training does not record; "
                f"choose one of {', '.join(recorded)}"
            )


@dataclass
class StoppingState:
    """Early stopping's memory: the best value so far (as a loss: lower is better), the epochs
    waited since, and the best weights."""

    best: float = math.inf
    waited: int = 0
    best_params: object = None

    def observe(self, stopper: EarlyStopping, value: float, params) -> tuple[bool, bool]:
        """Take one epoch's monitored value; returns (improved, patience ran out)."""
        loss = -value if stopper.resolve_mode() == "max" else value
        if loss < self.best - stopper.min_delta:
            self.best, self.waited = loss, 0
            if stopper.restore_best:
                self.best_params = params.copy()
            return True, False
        self.waited += 1
        return False, self.waited > stopper.patience
