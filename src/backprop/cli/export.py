"""``backprop export MODEL --onnx OUT.onnx``: a model file as an ONNX model.

A model written by ``backprop train`` becomes a model of the whole prediction: its input ``X``
holds the raw feature columns (float64, in the order ``info`` lists them), which it standardises
as training did; its outputs are what ``predict`` writes: ``label`` and ``probabilities`` for a
classifier, ``variable`` (in the target's units) for a regressor. A file saved with ``net.save``
becomes the bare network: input ``X``, output ``output``, in the network's dtype.

``--onnx`` replaces only an ONNX model that backprop wrote, never the model file itself, and
writes atomically. Needs the ``[onnx]`` extra.
"""

from __future__ import annotations

import argparse

from .errors import UsageError
from .files import Output, checked_output, existing_kind, refuse_inputs
from .trained_model import load_trained_model, read_model_file

__all__ = ["add_export_parser", "export"]


def add_export_parser(commands) -> argparse.ArgumentParser:
    export_parser = commands.add_parser("export", help="write a model file as an ONNX model")
    export_parser.add_argument("model", help="model file (from 'backprop train' or net.save)")
    export_parser.add_argument(
        "--onnx", required=True, metavar="OUT.onnx", help="the ONNX model file to write"
    )
    return export_parser


def _onnx_export():
    """backprop.onnx, imported only when a model is exported (it needs the [onnx] extra)."""
    try:
        from .. import onnx as onnx_export
    except ImportError as error:
        raise UsageError(
            f'export --onnx needs the onnx package ({error}): pip install "backprop[onnx]"'
        ) from None
    return onnx_export


def _require_onnx_file(output: Output, onnx_export) -> None:
    """Refuse an existing ``output`` that is not an ONNX model backprop wrote."""
    kind = existing_kind(output.real)
    if kind is None or (kind == "foreign" and onnx_export.is_backprop_onnx(output.real)):
        return
    what = {"model": "is a backprop model file, ", "checkpoint": "is a training checkpoint, "}
    raise output.refuse(
        f"exists and {what.get(kind, 'is ')}not an ONNX model written by backprop; it is left "
        "alone: move it away or choose another --onnx"
    )


def _build(onnx_export, path: str):
    """The ONNX model of the model file at ``path`` and the names of its columns."""
    net, meta, _ = read_model_file(path)
    if "task" not in meta:
        return onnx_export.to_onnx(net), None
    model = load_trained_model(path)
    classification = bool(model.classes)
    built = onnx_export.trained_model_to_onnx(
        model.net,
        model.feature_mean,
        model.feature_scale,
        features=model.features,
        classes=model.classes if classification else None,
        target_mean=None if classification else model.meta["target_mean"],
        target_scale=None if classification else model.meta["target_scale"],
    )
    return built, model.features


def _describe(built, features: list[str] | None) -> str:
    (x,) = built.graph.input
    width = x.type.tensor_type.shape.dim[1].dim_value
    columns = f": {', '.join(features)}" if features else ""
    outputs = ", ".join(output.name for output in built.graph.output)
    return f"input {x.name} ({width} columns{columns}), outputs {outputs}"


def export(args: argparse.Namespace) -> str:
    """Write the model file ``args.model`` as an ONNX model to ``args.onnx``."""
    output = checked_output("--onnx", args.onnx)
    refuse_inputs(output, {"model file": args.model})
    onnx_export = _onnx_export()
    _require_onnx_file(output, onnx_export)
    built, features = _build(onnx_export, args.model)
    _require_onnx_file(output, onnx_export)  # again, just before replacing it
    try:
        onnx_export.write_onnx(built, output.real)
    except OSError as error:
        raise output.refuse(f"cannot write the ONNX model ({error.strerror or error})") from None
    return f"wrote {args.onnx}: ONNX opset {onnx_export.OPSET}, {_describe(built, features)}"
