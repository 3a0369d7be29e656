"""What comes after the network's outputs: class labels and probabilities, or regression values,
as scikit-learn's estimators give them; and the feature scaling of ``backprop train``'s models.

Outputs follow skl2onnx's converter for scikit-learn's own ``MLPClassifier`` without ZipMap:

* ``label``, shape (N,): the class with the largest probability (binary: p > 0.5), as int64
  for integer (or integer-valued) labels, double for other numbers, string for text; for
  multi-label targets (N, n_classes) int64 indicators, 1 where the output is > 0.5;
* ``probabilities``, shape (N, n_classes): ``predict_proba`` (binary: [1 − p, p]);
* ``variable``, shape (N, n_outputs): a regressor's prediction.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

__all__ = ["classifier_nodes", "label_values", "scaling_nodes", "unscaling_nodes"]

ONNX_TYPES = {
    np.dtype("float32"): TensorProto.FLOAT,
    np.dtype("float64"): TensorProto.DOUBLE,
    np.dtype("int64"): TensorProto.INT64,
}


def label_values(classes) -> np.ndarray:
    """The class labels as the ONNX ``label`` output holds them: int64, float64 or str.

    >>> label_values(np.array([0.0, 2.0])).dtype, label_values([0.5, 1.0]).dtype
    (dtype('int64'), dtype('float64'))
    >>> label_values(np.array(["no", "yes"])).tolist()
    ['no', 'yes']
    """
    classes = np.asarray(classes)
    if classes.dtype.kind in "biu":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f":
        integral = np.all(classes == np.round(classes)) and np.all(np.abs(classes) < 2**53)
        return classes.astype(np.int64 if integral else np.float64)
    if classes.dtype.kind in "USO" and all(isinstance(c, str) for c in classes.tolist()):
        return classes.astype(str)
    raise TypeError(f"class labels must be numbers or strings, got {classes.tolist()!r}")


def onnx_label_type(classes, multilabel: bool) -> int:
    """The ONNX element type of the ``label`` output."""
    if multilabel:
        return TensorProto.INT64
    values = label_values(classes)
    return TensorProto.STRING if values.dtype.kind == "U" else ONNX_TYPES[values.dtype]


def classifier_nodes(
    graph, y: str, n_outputs: int, classes, multilabel: bool, label: str, probabilities: str
) -> None:
    """``label`` and ``probabilities`` (exact names) from the network's ``n_outputs`` outputs
    ``y``: one per class, or one alone for two classes, the probability p of ``classes[1]``."""
    n_classes = len(classes)
    if n_classes < 2:
        raise ValueError(
            f"a classifier fitted on {n_classes} class has nothing to predict; "
            "fit it on at least two classes to export it"
        )
    if n_outputs == 1 and n_classes == 2 and not multilabel:
        one = graph.constant("one", np.array(1.0, graph.dtype))
        negative = graph.add("Sub", [one, y], "negative_class_proba")  # 1 − p
        graph.add("Concat", [negative, y], probabilities, axis=1, exact=True)
    elif n_outputs == n_classes:
        graph.add("Identity", [y], probabilities, exact=True)
    else:
        raise ValueError(
            f"{n_classes} classes need {n_classes} outputs, the network has {n_outputs}"
        )
    if multilabel:
        half = graph.constant("half", np.array(0.5, graph.dtype))
        above = graph.add("Greater", [y, half], "above_half")  # as LabelBinarizer: p > 0.5
        graph.add("Cast", [above], label, to=TensorProto.INT64, exact=True)
        return
    # the first largest probability, as numpy's argmax; binary: 1 − p ≥ p exactly when p ≤ 0.5
    index = graph.add("ArgMax", [probabilities], "class_index", axis=1, keepdims=0)
    values = graph.constant("classes", label_values(classes))
    graph.add("Gather", [values, index], label, axis=0, exact=True)


def scaling_nodes(graph, x: str, mean: np.ndarray, scale: np.ndarray) -> str:
    """(x − mean) / scale, the standardisation ``backprop train`` stores, in float64."""
    centred = graph.add("Sub", [x, graph.constant("feature_mean", mean)], "centred")
    return graph.add("Div", [centred, graph.constant("feature_scale", scale)], "standardized")


def unscaling_nodes(graph, y: str, mean: float, scale: float, out: str) -> str:
    """y · scale + mean: a regression output in the target's own units (float64)."""
    scaled = graph.add("Mul", [y, graph.constant("target_scale", np.array([scale]))], "y_scaled")
    return graph.add(
        "Add", [scaled, graph.constant("target_mean", np.array([mean]))], out, exact=True
    )
