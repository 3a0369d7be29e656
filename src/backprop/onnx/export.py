"""Standalone ONNX models: of a network, of a fitted estimator, of a ``backprop train`` model.

Every model is built with ``onnx.helper``, checked by ``onnx.checker`` (with shape inference)
and marked as backprop's (``producer_name="backprop"``), with opset 13 and IR version 7, which
every onnxruntime since 1.6 reads.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

from .._version import __version__
from ..engine.network import Network
from ..io.atomic import atomic_write
from .graph import Graph, network_nodes
from .heads import ONNX_TYPES, classifier_nodes, onnx_label_type, scaling_nodes, unscaling_nodes

PRODUCER = "backprop"
OPSET = 13
IR_VERSION = 7
BATCH = "N"  # the name of the batch dimension in every input and output


def _tensor(name: str, elem_type: int, *width: int):
    return helper.make_tensor_value_info(name, elem_type, [BATCH, *width])


def _finish(
    graph: Graph, inputs: list, outputs: list, name: str, metadata: dict
) -> onnx.ModelProto:
    """The checked model of ``graph``, marked as backprop's."""
    body = helper.make_graph(graph.nodes, name, inputs, outputs, graph.initializers)
    model = helper.make_model(
        body,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER,
        producer_version=__version__,
        ir_version=IR_VERSION,
    )
    helper.set_model_props(model, {key: json.dumps(value) for key, value in metadata.items()})
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as error:
        raise ValueError(f"the ONNX model fails onnx.checker: {error}") from None
    return model


def _network_model(net: Network) -> onnx.ModelProto:
    graph = Graph(net.dtype)
    x = graph.name("X")
    network_nodes(graph, net, x, net.dtype, output="output")
    kind = ONNX_TYPES[net.dtype]
    return _finish(
        graph,
        [_tensor(x, kind, net.n_inputs)],
        [_tensor("output", kind, net.n_outputs)],
        "backprop_network",
        {"network": repr(net)},
    )


def _is_backprop_estimator(model) -> bool:
    return hasattr(model, "get_params") and type(model).__module__.startswith("backprop.")


def _fitted_network(estimator) -> Network:
    net = getattr(estimator, "network_", None)
    if net is None:
        raise ValueError(
            f"this {type(estimator).__name__} is not fitted yet; call fit before exporting it"
        )
    if not isinstance(net, Network):
        raise TypeError(f"{type(estimator).__name__}.network_ is not a backprop Network")
    return net


def is_multilabel(estimator) -> bool:
    """scikit-learn's convention: logistic outputs, more than one of them."""
    return estimator.out_activation_ == "logistic" and estimator.n_outputs_ > 1


def _estimator_model(estimator) -> onnx.ModelProto:
    net = _fitted_network(estimator)
    graph = Graph(net.dtype)
    kind = ONNX_TYPES[net.dtype]
    x = graph.name("X")
    inputs = [_tensor(x, kind, net.n_inputs)]
    name = type(estimator).__name__
    if not hasattr(estimator, "classes_"):
        network_nodes(graph, net, x, net.dtype, output="variable")
        outputs = [_tensor("variable", kind, net.n_outputs)]
        return _finish(graph, inputs, outputs, name, {"n_outputs": net.n_outputs})
    classes, multilabel = estimator.classes_, is_multilabel(estimator)
    y = network_nodes(graph, net, x, net.dtype)
    classifier_nodes(graph, y, net.n_outputs, classes, multilabel, "label", "probabilities")
    label_width = [len(classes)] if multilabel else []
    outputs = [
        _tensor("label", onnx_label_type(classes, multilabel), *label_width),
        _tensor("probabilities", kind, len(classes)),
    ]
    return _finish(graph, inputs, outputs, name, {"classes": np.asarray(classes).tolist()})


def to_onnx(model, path: str | os.PathLike | None = None) -> onnx.ModelProto:
    """An ONNX model of a ``Network`` or of a fitted ``backprop.sklearn`` estimator.

    The input is ``X``, shape (N, n_inputs), in the network's dtype (float32 or float64). A
    network's output is ``output``, its aᴸ. A classifier gives ``label`` and ``probabilities``,
    a regressor ``variable``, as skl2onnx's converters of scikit-learn's MLP do (without ZipMap;
    see ``backprop.onnx.heads``). With ``path`` the model is also written there, atomically.

    >>> import numpy as np, onnxruntime as ort, backprop as bp
    >>> from backprop.onnx import to_onnx
    >>> net = bp.Network([2, 3, 1], hidden="tanh", dtype="float64", seed=0)
    >>> session = ort.InferenceSession(to_onnx(net).SerializeToString())
    >>> X = np.array([[0.5, -1.0]])
    >>> bool(np.allclose(session.run(None, {"X": X})[0], net.predict(X), rtol=0, atol=1e-12))
    True
    """
    if isinstance(model, Network):
        built = _network_model(model)
    elif _is_backprop_estimator(model):
        built = _estimator_model(model)
    else:
        kind = type(model)
        raise TypeError(
            "to_onnx needs a backprop Network or a fitted backprop.sklearn estimator, got "
            f"{kind.__module__}.{kind.__qualname__} (skl2onnx.to_onnx converts scikit-learn's own "
            "models, and pipelines ending in ours)"
        )
    if path is not None:
        write_onnx(built, path)
    return built


def trained_model_to_onnx(
    net: Network,
    feature_mean: np.ndarray,
    feature_scale: np.ndarray,
    *,
    features: list[str],
    classes: list[str] | None = None,
    target_mean: float | None = None,
    target_scale: float | None = None,
) -> onnx.ModelProto:
    """The ONNX model of a ``backprop train`` model: raw features in, what ``predict`` writes out.

    The input ``X`` (N, len(features)) float64 holds the feature columns in the order of
    ``features``; they are standardised with ``feature_mean`` and ``feature_scale``, cast to
    the network's dtype and run through it. A classifier (``classes`` given, one per output)
    gives ``label`` (N,) strings and ``probabilities`` (N, n_classes) float64; a regressor gives
    ``variable`` (N, 1) float64, y · target_scale + target_mean.
    """
    graph = Graph(np.float64)
    x = graph.name("X")
    standardized = scaling_nodes(
        graph, x, np.asarray(feature_mean, np.float64), np.asarray(feature_scale, np.float64)
    )
    if net.dtype != np.float64:
        standardized = graph.add("Cast", [standardized], "network_input", to=ONNX_TYPES[net.dtype])
    y = network_nodes(graph, net, standardized, net.dtype)
    if net.dtype != np.float64:
        y = graph.add("Cast", [y], "network_output", to=TensorProto.DOUBLE)
    metadata = {"features": list(features)}
    if classes is not None:
        labels = np.asarray(classes, dtype=str)
        classifier_nodes(graph, y, net.n_outputs, labels, False, "label", "probabilities")
        outputs = [
            _tensor("label", TensorProto.STRING),
            _tensor("probabilities", TensorProto.DOUBLE, len(classes)),
        ]
        metadata["classes"] = list(classes)
    else:
        unscaling_nodes(graph, y, float(target_mean), float(target_scale), "variable")
        outputs = [_tensor("variable", TensorProto.DOUBLE, 1)]
    inputs = [_tensor(x, TensorProto.DOUBLE, len(features))]
    return _finish(graph, inputs, outputs, "backprop_trained_model", metadata)


def write_onnx(model: onnx.ModelProto, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` atomically: readers see the old file or the new one."""
    atomic_write(os.fspath(path), model.SerializeToString())


def is_backprop_onnx(path: str | os.PathLike) -> bool:
    """True for a file that parses as an ONNX model whose producer is backprop."""
    try:
        with open(path, "rb") as handle:
            model = onnx.load_model_from_string(handle.read())
    except Exception:  # a protobuf DecodeError, or anything unreadable: not ours
        return False
    return model.producer_name == PRODUCER and len(model.graph.node) > 0
