"""The training run that the training view replays, recorded by the Python engine.

``record_run`` trains a network on one- or two-feature data with ``fit`` and keeps, as plain
JSON-ready data: every epoch's training and validation loss (straight from the ``History``),
each layer's mean |δ| over every training sample after each epoch, and at most ``MAX_FRAMES``
snapshots (epoch 0, before training, and epochs spread evenly up to the last) of the weights and
of the network's answer over the input plane: decision regions on a ``GRID`` × ``GRID`` grid,
one byte per cell, or, for one input, the fitted curve at ``CURVE_POINTS`` points. Features (and
a regression target) are standardised with the training rows' mean and standard deviation;
everything shown is in the data's own units.

>>> import numpy as np
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 5)
>>> y = np.array([0, 1, 1, 0] * 5)
>>> run = record_run(X, y, Settings(hidden=[3], epochs=4, validation=0.0))
>>> [frame["epoch"] for frame in run.data["frames"]], len(run.data["loss"]), run.data["sizes"]
([0, 1, 2, 3, 4], 4, [2, 3, 2])
"""

from __future__ import annotations

import base64
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..engine.network import Network
from ..engine.trace import trace
from ..io.tabular import CLASSIFICATION, REGRESSION
from ..training import History, fit
from ..training.optimizers import get_optimizer

MAX_FRAMES = 200
GRID = 50
CURVE_POINTS = 160
MAX_DRAWN_UNITS = 16  # per layer; larger networks are summarised, not drawn
MAX_DRAWN_LAYERS = 6
MAX_PARAMETERS = 20_000  # the page replays every frame's weights; more are refused
MAX_EPOCHS = 10_000
MAX_POINTS_SHOWN = 2_000
DIGITS = 4


@dataclass
class Settings:
    """What a run is trained with; the page shows them and the command that replays it."""

    hidden: list[int] = field(default_factory=lambda: [8, 8])
    activation: str = "tanh"
    optimizer: str = "sgd"
    lr: float | None = 0.1
    batch_size: int = 16
    epochs: int = 200
    validation: float = 0.2
    seed: int = 0


@dataclass
class Run:
    """The page's data and the ``History`` it was read from."""

    data: dict
    history: History
    net: Network


def frame_epochs(epochs: int, max_frames: int = MAX_FRAMES) -> list[int]:
    """Epoch 0 and epochs spread evenly up to ``epochs``, at most ``max_frames`` in all.

    >>> frame_epochs(3), frame_epochs(1000, 5)
    ([0, 1, 2, 3], [0, 250, 500, 750, 1000])
    """
    if epochs + 1 <= max_frames:
        return list(range(epochs + 1))
    return sorted({int(round(e)) for e in np.linspace(0, epochs, max_frames)})


def why_not_drawn(sizes: list[int]) -> str | None:
    """None when every unit of ``sizes`` can be drawn readably, else why it cannot."""
    widest = max(sizes)
    if widest > MAX_DRAWN_UNITS:
        layer = sizes.index(widest)
        return (
            f"layer {layer} has {widest} units; the drawing shows networks of at most "
            f"{MAX_DRAWN_UNITS} units a layer, so this one is summarised layer by layer"
        )
    if len(sizes) - 2 > MAX_DRAWN_LAYERS:
        return (
            f"{len(sizes) - 2} hidden layers; the drawing shows at most {MAX_DRAWN_LAYERS}, "
            "so this network is summarised layer by layer"
        )
    return None


def _rounded(values) -> list:
    """Plain floats with ``DIGITS`` significant digits: small JSON, same picture."""
    array = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        magnitude = np.where(array == 0, 0, np.floor(np.log10(np.abs(array))))
    scale = 10.0 ** (DIGITS - 1 - np.nan_to_num(magnitude))
    return (np.round(array * scale) / scale).tolist()


def _finite_or_none(values) -> list:
    return [None if not math.isfinite(v) else v for v in _rounded(values)]


class _Scaler:
    """Standardisation by the training rows' mean and standard deviation."""

    def __init__(self, values: np.ndarray):
        self.mean = values.mean(axis=0)
        scale = values.std(axis=0)
        self.scale = np.where(scale > 0, scale, 1.0)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.scale

    def back(self, values: np.ndarray) -> np.ndarray:
        return values * self.scale + self.mean


def _split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if fraction == 0:
        return np.arange(n), np.arange(0)
    n_val = int(round(fraction * n))
    if not 1 <= n_val < n:
        raise ValueError(f"--validation {fraction:g} of {n} rows leaves no validation rows")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _plane(X: np.ndarray) -> tuple[np.ndarray, list[list[float]]]:
    """The input points to answer on (original units) and each input's range, padded 10%."""
    low, high = X.min(axis=0), X.max(axis=0)
    pad = np.where(high > low, (high - low) * 0.1, 1.0)
    low, high = low - pad, high + pad
    if X.shape[1] == 1:
        return np.linspace(low[0], high[0], CURVE_POINTS).reshape(-1, 1), [[low[0], high[0]]]
    # row-major from the top row down, as a picture is drawn
    xs = low[0] + (np.arange(GRID) + 0.5) * (high[0] - low[0]) / GRID
    ys = high[1] - (np.arange(GRID) + 0.5) * (high[1] - low[1]) / GRID
    grid_x, grid_y = np.meshgrid(xs, ys)
    plane = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    return plane, [[low[0], high[0]], [low[1], high[1]]]


def _region_bytes(outputs: np.ndarray, n_classes: int) -> str:
    """One byte a cell, base64: class k and confidence level c as k·levels + c, where the
    confidence runs from 1/K (level 0) to 1 (level levels − 1)."""
    levels = 256 // n_classes
    if outputs.shape[1] == 1:  # one sigmoid unit: p(class 1)
        outputs = np.column_stack([1 - outputs[:, 0], outputs[:, 0]])
    winner = outputs.argmax(axis=1)
    confidence = (outputs.max(axis=1) - 1 / n_classes) / (1 - 1 / n_classes)
    level = np.clip(np.round(confidence * (levels - 1)), 0, levels - 1)
    return base64.b64encode((winner * levels + level).astype(np.uint8).tobytes()).decode("ascii")


def _value_bytes(values: np.ndarray, low: float, high: float) -> str:
    """One byte a cell, base64: a regression output placed on 0..255 between low and high."""
    level = np.clip(np.round((values - low) / (high - low) * 255), 0, 255)
    return base64.b64encode(level.astype(np.uint8).tobytes()).decode("ascii")


class _Recorder:
    """The callback that snapshots the network at the chosen epochs, and after every epoch
    measures each layer's mean |δ| over all the training samples."""

    def __init__(self, plane, scaler, target_scaler, task, n_classes, value_range, drawn):
        self.plane, self.scaled_plane = plane, scaler(plane)
        self.training: tuple = ()
        self.mean_abs_delta: list[list[float]] = []
        self.target_scaler, self.task, self.n_classes = target_scaler, task, n_classes
        self.value_range, self.drawn = value_range, drawn
        self.wanted: set[int] = set()
        self.frames: list[dict] = []

    def want(self, epochs: list[int]) -> None:
        self.wanted = set(epochs)

    def snapshot(self, net: Network, epoch: int) -> None:
        layers = net.layers[1:]
        frame: dict = {"epoch": epoch}
        if self.drawn:
            frame["W"] = [_rounded(layer.W) for layer in layers]
            frame["b"] = [_rounded(layer.b) for layer in layers]
        frame["mean_abs_W"] = _rounded([float(np.abs(layer.W).mean()) for layer in layers])
        outputs = np.asarray(net.predict(self.scaled_plane), dtype=np.float64)
        if self.task == REGRESSION:
            outputs = self.target_scaler.back(outputs)
        if self.plane.shape[1] == 1:
            frame["curve"] = [_finite_or_none(column) for column in outputs.T]
        elif self.task == CLASSIFICATION:
            frame["regions"] = _region_bytes(outputs, self.n_classes)
        else:
            frame["regions"] = _value_bytes(outputs[:, 0], *self.value_range)
        self.frames.append(frame)

    def __call__(self, net: Network, epoch: int, logs: dict) -> bool:
        deltas = trace(net, *self.training).delta[1:]  # δˡ of each sample, weights unchanged
        self.mean_abs_delta.append([float(np.abs(delta).mean()) for delta in deltas])
        if epoch + 1 in self.wanted:
            self.snapshot(net, epoch + 1)
        return False


def _network(sizes: list[int], task: str, settings: Settings) -> Network:
    output, loss = (
        ("softmax", "cross_entropy") if task == CLASSIFICATION else ("identity", "squared")
    )
    return Network(sizes, hidden=settings.activation, output=output, loss=loss, seed=settings.seed)


def check_size(sizes: list[int]) -> None:
    """Refuse a network with more than ``MAX_PARAMETERS`` parameters, naming the count."""
    count = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes, sizes[1:], strict=False))
    if count > MAX_PARAMETERS:
        raise ValueError(
            f"the network {'-'.join(map(str, sizes))} has {count} parameters; the training view "
            f"replays at most {MAX_PARAMETERS} (use fewer or smaller hidden layers)"
        )


def _targets(y, task: str, train_rows: np.ndarray) -> tuple:
    """(the target as given, its scaler or None, the target the network is fitted to):
    class indices as they are, a regression target standardised by the training rows."""
    if task == CLASSIFICATION:
        target = np.asarray(y, dtype=np.int64)
        return target, None, target
    target = np.asarray(y, dtype=np.float64)
    scaler = _Scaler(target[train_rows].reshape(-1, 1))
    return target, scaler, scaler(target.reshape(-1, 1))


def record_run(
    X: np.ndarray,
    y: np.ndarray,
    settings: Settings,
    task: str = CLASSIFICATION,
    classes: list[str] | None = None,
    names: dict | None = None,
) -> Run:
    """Train on (X, y) with ``settings`` and record what the training view shows.

    ``X`` has one or two feature columns; ``y`` holds class indices 0..K−1 (``task`` is
    classification) or numbers (regression). ``names`` may give ``features``, ``target``,
    ``dataset`` and ``command`` for the page's labels.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] not in (1, 2):
        raise ValueError(
            f"the training view draws data with one or two features, got {X.shape[-1]}; "
            "'backprop train' trains on wider tables"
        )
    if settings.epochs > MAX_EPOCHS:
        raise ValueError(f"--epochs must be at most {MAX_EPOCHS}, got {settings.epochs}")
    if task == CLASSIFICATION:
        classes = classes or [str(k) for k in range(int(np.max(y)) + 1)]
    n_classes = len(classes) if task == CLASSIFICATION else 1
    sizes = [X.shape[1], *settings.hidden, n_classes]
    check_size(sizes)
    train_rows, val_rows = _split(len(X), settings.validation, settings.seed)
    scaler = _Scaler(X[train_rows])
    target, target_scaler, fitted_target = _targets(y, task, train_rows)
    plane, ranges = _plane(X)
    value_range = (float(target.min()), float(target.max() + (target.max() == target.min())))
    too_large = why_not_drawn(sizes)
    net = _network(sizes, task, settings)
    recorder = _Recorder(
        plane, scaler, target_scaler, task, n_classes, value_range, too_large is None
    )
    recorder.snapshot(net, 0)
    recorder.want(frame_epochs(settings.epochs))
    validation = None
    if len(val_rows):
        validation = (scaler(X[val_rows]), fitted_target[val_rows])
    training = (scaler(X[train_rows]), fitted_target[train_rows])
    recorder.training = net.check_data(*training)  # validated once, traced after every epoch
    history = fit(
        net,
        *training,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        optimizer=get_optimizer(settings.optimizer, settings.lr),
        validation_data=validation,
        callbacks=[recorder],
        warn=False,
    )
    data = _page_data(X, target, train_rows, val_rows, settings, history, recorder)
    data.update(
        task=task,
        classes=classes if task == CLASSIFICATION else None,
        sizes=sizes,
        activations=[layer.activation.name for layer in net.layers[1:]],
        loss_name=net.loss.name,
        ranges=_rounded(ranges),
        grid=GRID,
        value_range=value_range if task == REGRESSION else None,
        too_large=too_large,
        names=names or {},
    )
    data["settings"]["lr"] = get_optimizer(settings.optimizer, settings.lr).lr
    return Run(data, history, net)


def _page_data(X, target, train_rows, val_rows, settings, history, recorder) -> dict:
    shown = np.concatenate([train_rows, val_rows])
    if len(shown) > MAX_POINTS_SHOWN:
        shown = np.random.default_rng(settings.seed).choice(shown, MAX_POINTS_SHOWN, replace=False)
    validation_rows = set(val_rows.tolist())
    return {
        "settings": asdict(settings),
        "epochs": len(history),
        "loss": _finite_or_none(history.loss),
        "val_loss": _finite_or_none(history["val_loss"]) if "val_loss" in history else None,
        "val_accuracy": (
            _finite_or_none(history["val_accuracy"]) if "val_accuracy" in history else None
        ),
        "mean_abs_delta": [
            _finite_or_none(row) for row in np.array(recorder.mean_abs_delta, ndmin=2).T
        ],
        "frames": recorder.frames,
        "points": {
            "x": _rounded(X[shown]),
            "y": target[shown].tolist(),
            "validation": [int(row) in validation_rows for row in shown],
            "total": int(len(X)),
        },
    }
