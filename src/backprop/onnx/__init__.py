"""ONNX export: networks, fitted estimators and ``backprop train`` models as ONNX models.

``to_onnx(net_or_estimator, path=None)`` builds the model with ``onnx.helper`` (see ``export``);
``backprop export MODEL --onnx OUT.onnx`` does the same for a model file. Importing this module
also registers converters for ``backprop.sklearn.MLPClassifier`` and ``MLPRegressor`` with
skl2onnx (when it is installed), so ``skl2onnx.to_onnx`` converts a whole scikit-learn pipeline
that ends in one of them. Needs the ``[onnx]`` extra: onnx, skl2onnx, onnxruntime.
"""

try:
    import onnx  # noqa: F401
except ImportError as error:  # pragma: no cover - the extra is part of [test]
    raise ImportError('ONNX export needs the onnx package: pip install "backprop[onnx]"') from error

from .export import OPSET, PRODUCER, is_backprop_onnx, to_onnx, trained_model_to_onnx, write_onnx

try:
    import skl2onnx  # noqa: F401
except ImportError:
    pass
else:
    from .converters import register_converters

    register_converters()

__all__ = [
    "OPSET",
    "PRODUCER",
    "is_backprop_onnx",
    "to_onnx",
    "trained_model_to_onnx",
    "write_onnx",
]
