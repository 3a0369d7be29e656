"""Model files written by ``backprop train``: reading them, and checking their metadata.

Besides the network, such a file holds the tensors ``feature_mean`` and ``feature_scale`` and, in
its metadata, the task, the target and feature column names, the classes (classification) or the
target's mean and scale (regression), and the training settings.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass

import numpy as np

from ..engine.network import Network
from ..io import FORMAT_VERSION, load_with_metadata, save
from ..io.atomic import replace_atomically, temporary_sibling
from ..io.tabular import CLASSIFICATION, LABEL_TYPES, REGRESSION, check_regular_file
from .errors import UsageError
from .files import Output, require_model_file
from .scaling import standardize

METADATA_VERSION = 1
SCALING_TENSORS = ("feature_mean", "feature_scale")


@dataclass
class TrainedModel:
    """A model file written by ``backprop train``, its metadata checked."""

    path: str
    net: Network
    meta: dict
    feature_mean: np.ndarray
    feature_scale: np.ndarray

    @property
    def task(self) -> str:
        return self.meta["task"]

    @property
    def features(self) -> list[str]:
        return self.meta["features"]

    @property
    def classes(self) -> list[str]:
        return self.meta.get("classes", [])

    def standardize(self, X: np.ndarray) -> np.ndarray:
        """The features scaled as in training (infinite only where they lie absurdly far out)."""
        return standardize(X, self.feature_mean, self.feature_scale)

    def outputs(self, Xs: np.ndarray) -> np.ndarray:
        """The network's outputs for standardised features ``Xs``."""
        return self.net.predict(Xs).astype(np.float64)

    def values(self, outputs: np.ndarray) -> np.ndarray:
        """Regression outputs in the target's own units."""
        with np.errstate(over="ignore"):
            return outputs[:, 0] * self.meta["target_scale"] + self.meta["target_mean"]


def read_model_file(path: str) -> tuple[Network, dict, dict[str, np.ndarray]]:
    """``(net, metadata, tensors)`` of any backprop model file; a missing file, a directory or
    anything but a regular file (a FIFO would block the read) is refused before it is opened."""
    check_regular_file(path, "model file")
    try:
        return load_with_metadata(path)
    except OSError as error:
        raise UsageError(f"{path}: cannot read ({error.strerror or error})") from None


def load_trained_model(path: str) -> TrainedModel:
    """The model file at ``path``, refused unless ``backprop train`` wrote it and it is intact."""
    net, meta, tensors = read_model_file(path)
    if "task" not in meta or "features" not in meta:
        raise UsageError(
            f"{path}: a backprop model, but not one written by 'backprop train' "
            "(it has no task and feature columns)"
        )
    task, features = meta.get("task"), meta.get("features")
    if task not in (CLASSIFICATION, REGRESSION):
        raise _corrupt(path, f"unknown task {task!r}")
    if not isinstance(meta.get("target"), str):
        raise _corrupt(path, "the target column name is missing")
    _check_features(path, features, net.n_inputs)
    feature_mean, feature_scale = _feature_scaling(path, tensors, len(features))
    if task == CLASSIFICATION:
        _check_classes(path, meta, net.n_outputs)
    else:
        _check_target_scaling(path, meta, net.n_outputs)
    return TrainedModel(path, net, meta, feature_mean, feature_scale)


def _corrupt(path: str, problem: str) -> UsageError:
    return UsageError(f"{path}: corrupt model metadata: {problem}")


def _check_features(path: str, features, n_inputs: int) -> None:
    if (
        not isinstance(features, list)
        or not all(isinstance(name, str) for name in features)
        or len(set(features)) != len(features)
        or len(features) != n_inputs
    ):
        raise _corrupt(path, f"features must be {n_inputs} distinct column names")


def _feature_scaling(path: str, tensors: dict, n_features: int) -> list[np.ndarray]:
    """[feature_mean, feature_scale], each ``n_features`` finite numbers, the scales > 0."""
    scaling = []
    for name in SCALING_TENSORS:
        array = tensors.get(name)
        if array is None:
            raise _corrupt(path, f"the tensor {name!r} is missing")
        array = np.asarray(array, dtype=np.float64)
        if array.shape != (n_features,) or not np.isfinite(array).all():
            raise _corrupt(path, f"the tensor {name!r} must hold {n_features} finite numbers")
        scaling.append(array)
    if not (scaling[1] > 0).all():
        raise _corrupt(path, "feature_scale must be > 0")
    return scaling


def _check_classes(path: str, meta: dict, n_outputs: int) -> None:
    classes = meta.get("classes")
    if (
        not isinstance(classes, list)
        or not all(isinstance(label, str) for label in classes)
        or len(classes) != n_outputs
        or len(classes) < 2
    ):
        raise _corrupt(path, f"classes must be {n_outputs} labels, one per output")
    if meta.get("label_type") not in LABEL_TYPES:
        raise _corrupt(path, f"label_type must be one of {', '.join(LABEL_TYPES)}")
    if meta["label_type"] != "str" and not _distinct_numbers(classes):
        raise _corrupt(path, f"{meta['label_type']} classes must be distinct finite numbers")


def _distinct_numbers(labels: list[str]) -> bool:
    try:
        values = [float(label) for label in labels]
    except ValueError:
        return False
    return all(math.isfinite(v) for v in values) and len(set(values)) == len(values)


def _check_target_scaling(path: str, meta: dict, n_outputs: int) -> None:
    if n_outputs != 1:
        raise _corrupt(path, "a regression model must have one output")
    for key in ("target_mean", "target_scale"):
        value = meta.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _corrupt(path, f"{key} must be a number")
        if not math.isfinite(value) or (key == "target_scale" and value <= 0):
            raise _corrupt(path, f"{key} is out of range ({value!r})")


def describe_file_format(path: str) -> str:
    """The container, format version and writing backprop version of a model file."""
    try:
        import safetensors

        with safetensors.safe_open(path, framework="numpy") as handle:
            header = handle.metadata() or {}
    except Exception:  # the file loaded a moment ago; describe what the module reads instead
        header = {}
    version = header.get("format_version", str(FORMAT_VERSION))
    written = header.get("backprop_version", "unknown")
    return f"safetensors, backprop format version {version} (written by backprop {written})"


def save_trained_model(
    net: Network, out: Output, metadata: dict, feature_mean: np.ndarray, feature_scale: np.ndarray
) -> None:
    """Write the model beside ``out``, read it back and compare, and only then put it in place.

    A file that cannot be written or does not read back as written is removed and the command
    fails naming why; whatever was at ``out`` before is left as it was.
    """
    tensors = {"feature_mean": feature_mean, "feature_scale": feature_scale}
    temp = None
    try:
        try:
            temp = temporary_sibling(out.real)
            save(net, temp, metadata=metadata, tensors=tensors)
            _verify(temp, net, metadata, tensors)
        except (TypeError, ValueError, UsageError) as error:
            problem = str(error).replace(temp or out.real, "the new file")
            raise out.refuse(f"the model was not saved: {problem}") from None
        require_model_file(out)
        replace_atomically(temp, out.real)
        temp = None
    except OSError as error:
        raise out.refuse(f"cannot write the model ({error.strerror or error})") from None
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def _verify(path: str, net: Network, metadata: dict, tensors: dict) -> None:
    """Refuse a written model that does not load, or loads other than it was saved."""
    model = load_trained_model(path)
    differences = [
        name
        for name, same in (
            ("weights", np.array_equal(model.net.params, net.xp.to_host(net.params))),
            ("metadata", model.meta == json.loads(json.dumps(metadata))),
            ("feature_mean", np.array_equal(model.feature_mean, tensors["feature_mean"])),
            ("feature_scale", np.array_equal(model.feature_scale, tensors["feature_scale"])),
        )
        if not same
    ]
    if differences:
        raise ValueError(f"it reads back with different {', '.join(differences)}")
