"""What a History holds, as the arrays and numbers the checks compare.

The per-layer statistics come from the last batch of each epoch (``step.layer_statistics``),
so a single epoch's value is noisy: the checks read medians over a window of epochs, the first
tenth of training (``early``) or the last tenth (``recent``), at least three epochs each.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from ...engine.activations import ACTIVATIONS
from ..step import LAYER_STATISTICS

# inputs whose root mean square is outside this range are far from standardised (mean 0,
# variance 1 per feature), which sets the scale of every net input zˡ at initialisation
INPUT_RMS_RANGE = (0.01, 10.0)


@dataclass
class Evidence:
    """The curves of one History, and what the network they were measured on was."""

    loss: np.ndarray
    val_loss: np.ndarray
    val_accuracy: np.ndarray
    stats: dict[str, np.ndarray]  # (epochs, L) per statistic, NaN where not recorded
    activations: list[str] = field(default_factory=list)
    units: list[int] = field(default_factory=list)
    loss_name: str | None = None

    @classmethod
    def of(cls, history) -> Evidence:
        records = history.records
        loss = _curve(records.get("loss"))
        network = getattr(history, "network", None) or {}
        return cls(
            loss,
            _curve(records.get("val_loss")),
            _curve(records.get("val_accuracy")),
            {key: _table(history.layer_records.get(key), loss.size) for key in LAYER_STATISTICS},
            list(network.get("activations", [])),
            list(network.get("units", [])),
            network.get("loss"),
        )

    @property
    def epochs(self) -> int:
        return self.loss.size

    @property
    def window(self) -> int:
        """How many epochs the early and recent medians cover: a tenth, at least three."""
        return min(self.epochs, max(3, self.epochs // 10))

    def early(self, key: str) -> np.ndarray:
        """Each layer's median of ``key`` over the first epochs."""
        return _median(self.stats[key][: self.window])

    def recent(self, key: str) -> np.ndarray:
        """Each layer's median of ``key`` over the last epochs."""
        return _median(self.stats[key][-self.window :])

    def overall(self, key: str) -> np.ndarray:
        """Each layer's median of ``key`` over every epoch."""
        return _median(self.stats[key])

    @property
    def recent_loss(self) -> float:
        """The training loss at the end, as the median of the last epochs."""
        return float(np.median(self.loss[-self.window :]))

    @property
    def hidden(self) -> range:
        """The columns of the hidden layers (layer l is column l − 1)."""
        return range(max(0, self.stats["grad_norm"].shape[1] - 1))

    def activation(self, column: int) -> str:
        """Layer ``column + 1``'s activation, '' where the history does not say."""
        return self.activations[column] if column < len(self.activations) else ""

    def units_of(self, fraction: float, column: int) -> str:
        """'12 of 16 relu units' of layer ``column + 1``, or '75% of the units' where the
        history does not describe the network."""
        if column < min(len(self.units), len(self.activations)):
            size = self.units[column]
            return f"{round(fraction * size)} of {size} {self.activations[column]} units"
        return f"{fraction:.0%} of the units"

    def saturating_hidden(self) -> list[str]:
        """The names of the hidden layers' activations that saturate (sigmoid, tanh)."""
        names = [self.activation(i) for i in self.hidden]
        return sorted({name for name in names if asymptotes_of(name) is not None})

    @property
    def chance_loss(self) -> tuple[float, str, str] | None:
        """The loss of outputs that say nothing about the input: (value, formula, meaning).

        Softmax + cross-entropy over C classes giving each 1/C: J = ln C. Log-loss over K
        outputs each saying 0.5: J = K·ln 2. None for the other losses.
        """
        outputs = self.units[-1] if self.units else 0
        if self.loss_name == "cross_entropy" and outputs >= 2:
            meaning = "outputs that give every class the same probability"
            return math.log(outputs), f"ln {outputs}", meaning
        if self.loss_name == "log_loss" and outputs >= 1:
            formula = "ln 2" if outputs == 1 else f"{outputs}·ln 2"
            return outputs * math.log(2), formula, "outputs that all say 0.5"
        return None

    @property
    def input_rms(self) -> float:
        """The root mean square of the data's features, as the first layer saw them."""
        values = self.stats["input_rms"]
        if values.shape[1] == 0 or np.isnan(values[:, 0]).all():
            return math.nan
        return float(np.nanmedian(values[:, 0]))

    def unscaled_inputs(self) -> str | None:
        """Advice to standardise the inputs, when their size says so; else None."""
        rms = self.input_rms
        low, high = INPUT_RMS_RANGE
        if not math.isfinite(rms) or low <= rms <= high:
            return None
        return (
            f"standardise the inputs (each feature to mean 0, variance 1; their root mean "
            f"square is {rms:.3g})"
        )


def _curve(values) -> np.ndarray:
    return np.asarray(values if values is not None else [], dtype=float)


def _table(rows, epochs: int) -> np.ndarray:
    """The rows as an (epochs, L) array aligned on the last epoch; NaN where none was kept."""
    try:
        table = np.asarray(rows if rows else [], dtype=float)
    except ValueError:  # rows of different lengths
        table = np.empty((0, 0))
    if table.ndim != 2:
        table = np.empty((0, 0))
    missing = max(0, epochs - table.shape[0])
    padding = np.full((missing, table.shape[1]), np.nan)
    return np.concatenate([padding, table[-epochs:] if epochs else table[:0]])


def _median(table: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column of NaN has no median
        return np.nanmedian(table, axis=0) if table.size else np.full(table.shape[1], np.nan)


def capital(text: str) -> str:
    """``text`` with its first letter in upper case, to open a sentence."""
    return text[:1].upper() + text[1:]


def asymptotes_of(name: str) -> tuple[float, float] | None:
    """The asymptotes of the activation a history names (None: not saturating, or unknown)."""
    activation = ACTIVATIONS.get(name)
    return None if activation is None else activation.asymptotes
