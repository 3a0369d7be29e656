"""skl2onnx converters for ``backprop.sklearn.MLPClassifier`` and ``MLPRegressor``.

Registered when ``backprop.onnx`` is imported, so ``skl2onnx.to_onnx`` converts a pipeline that
ends in one of them, with the outputs skl2onnx gives scikit-learn's own MLP: a classifier's
``label`` and ``probabilities`` (followed by ZipMap unless ``options={"zipmap": False}``), a
regressor's ``variable``. The network is computed in the type of its input (float or double),
with the network's weights converted to it, as skl2onnx's converter does for scikit-learn's MLP.

>>> import numpy as np, onnxruntime as ort, skl2onnx
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> import backprop.onnx
>>> from backprop.sklearn import MLPClassifier
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 5)
>>> y = np.array(["no", "yes", "yes", "no"] * 5)
>>> pipe = make_pipeline(
...     StandardScaler(), MLPClassifier((8,), activation="tanh", solver="lbfgs", random_state=0)
... ).fit(X, y)
>>> model = skl2onnx.to_onnx(pipe, X[:1], options={"zipmap": False})
>>> labels, proba = ort.InferenceSession(model.SerializeToString()).run(None, {"X": X[:4]})
>>> labels.tolist(), bool(np.allclose(proba, pipe.predict_proba(X[:4]), atol=1e-10))
(['no', 'yes', 'yes', 'no'], True)
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto
from skl2onnx import update_registered_converter
from skl2onnx.common.data_types import (
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
)
from skl2onnx.common.utils import check_input_and_output_numbers

from ..sklearn import MLPClassifier, MLPRegressor
from .export import is_multilabel
from .graph import network_nodes
from .heads import ONNX_TYPES, classifier_nodes, onnx_label_type

__all__ = ["register_converters"]

_LABEL_TYPES = {
    TensorProto.INT64: Int64TensorType,
    TensorProto.DOUBLE: DoubleTensorType,
    TensorProto.STRING: StringTensorType,
}


class _ConverterGraph:
    """``graph.Graph``'s interface over skl2onnx's scope (names) and container (nodes)."""

    def __init__(self, scope, container, dtype):
        self._scope, self._container = scope, container
        self.dtype = np.dtype(dtype)

    def name(self, base: str) -> str:
        return self._scope.get_unique_variable_name(base)

    def constant(self, base: str, array) -> str:
        name = self.name(base)
        array = np.asarray(array)
        if array.dtype.kind in "USO":
            values = [str(value).encode("utf-8") for value in array.reshape(-1)]
            self._container.add_initializer(name, TensorProto.STRING, list(array.shape), values)
        else:
            kind = ONNX_TYPES[array.dtype]
            self._container.add_initializer(name, kind, list(array.shape), array.reshape(-1))
        return name

    def add(self, op_type: str, inputs: list[str], output: str, exact: bool = False, **attrs):
        output = output if exact else self.name(output)
        node_name = self._scope.get_unique_operator_name(op_type)
        self._container.add_node(op_type, inputs, output, name=node_name, **attrs)
        return output


def _compute_dtype(variable_type) -> np.dtype:
    """Double inputs are computed in float64, everything else in float32."""
    return np.dtype(np.float64 if isinstance(variable_type, DoubleTensorType) else np.float32)


def _probability_type(operator):
    return (
        DoubleTensorType
        if _compute_dtype(operator.inputs[0].type) == np.float64
        else (FloatTensorType)
    )


def _network_input(graph: _ConverterGraph, operator) -> str:
    """The operator's input in the type the network is computed in."""
    x = operator.inputs[0]
    if isinstance(x.type, DoubleTensorType | FloatTensorType):
        return x.full_name
    return graph.add("Cast", [x.full_name], "cast_input", to=ONNX_TYPES[graph.dtype])


def _classifier_shapes(operator) -> None:
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    n = operator.inputs[0].get_first_dimension()
    estimator = operator.raw_operator
    n_classes, multilabel = len(estimator.classes_), is_multilabel(estimator)
    label_type = _LABEL_TYPES[onnx_label_type(estimator.classes_, multilabel)]
    operator.outputs[0].type = label_type([n, n_classes] if multilabel else [n])
    operator.outputs[1].type = _probability_type(operator)([n, n_classes])


def _regressor_shapes(operator) -> None:
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    n = operator.inputs[0].get_first_dimension()
    n_outputs = operator.raw_operator.network_.n_outputs
    operator.outputs[0].type = _probability_type(operator)([n, n_outputs])


def _convert_classifier(scope, operator, container) -> None:
    estimator = operator.raw_operator
    if scope.get_options(estimator, {"nocl": False})["nocl"]:
        raise NotImplementedError("the option 'nocl' is not implemented for backprop's MLP")
    graph = _ConverterGraph(scope, container, _compute_dtype(operator.inputs[0].type))
    y = network_nodes(graph, estimator.network_, _network_input(graph, operator), graph.dtype)
    label, probabilities = (output.full_name for output in operator.outputs)
    n_outputs, classes = estimator.network_.n_outputs, estimator.classes_
    classifier_nodes(graph, y, n_outputs, classes, is_multilabel(estimator), label, probabilities)


def _convert_regressor(scope, operator, container) -> None:
    estimator = operator.raw_operator
    graph = _ConverterGraph(scope, container, _compute_dtype(operator.inputs[0].type))
    x = _network_input(graph, operator)
    y = network_nodes(graph, estimator.network_, x, graph.dtype)
    graph.add("Identity", [y], operator.outputs[0].full_name, exact=True)


def register_converters() -> None:
    """Tell skl2onnx how to convert backprop's estimators (done on importing backprop.onnx)."""
    update_registered_converter(
        MLPClassifier,
        "BackpropMLPClassifier",
        _classifier_shapes,
        _convert_classifier,
        options={
            "zipmap": [True, False, "columns"],
            "output_class_labels": [False, True],
            "nocl": [False, True],  # ZipMap asks every classifier for it; only False works
        },
    )
    update_registered_converter(
        MLPRegressor, "BackpropMLPRegressor", _regressor_shapes, _convert_regressor
    )
