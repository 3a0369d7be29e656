"""A network as ONNX nodes: one Gemm and one activation per layer, skip connections included.

Layer l computes zˡ = uˡ·Wˡᵀ + bˡ and aˡ = f(zˡ), where uˡ is aˡ⁻¹, or the ``Sum`` or ``Concat``
of the earlier layers' outputs the layer reads. The activation's ONNX operator is the ``onnx``
field of its ``Activation``. The nodes are written through a small ``Graph`` interface, so that
the same code fills a standalone model (``Graph`` here) and a skl2onnx conversion (``converters``).

>>> import backprop as bp
>>> graph = Graph()
>>> net = bp.Network([2, 3, bp.Layer(1, "sigmoid", inputs=[0, 1])], hidden="tanh", seed=0)
>>> network_nodes(graph, net, "X", "float32")
'a2'
>>> [node.op_type for node in graph.nodes]
['Gemm', 'Tanh', 'Concat', 'Gemm', 'Sigmoid']
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ..engine.activations import Activation
from ..engine.network import Network

__all__ = ["Graph", "activation_nodes", "network_nodes"]


def _leaky_relu_float64(graph, z: str, out: str, exact: bool, alpha: float) -> str:
    slope = graph.constant("alpha", np.array(alpha, graph.dtype))
    alpha_z = graph.add("Mul", [z, slope], "alpha_z")
    return graph.add("Max", [z, alpha_z], out, exact=exact)  # a = max(z, α·z)


def _softplus_float64(graph, z: str, out: str, exact: bool) -> str:
    # a = max(z, 0) + log(1 + e^(−|z|)); ONNX has no log1p, and log(1 + e) differs from it by
    # less than 3e-16 for e in (0, 1]
    one = graph.constant("one", np.array(1.0, graph.dtype))
    e = graph.add("Exp", [graph.add("Neg", [graph.add("Abs", [z], "abs_z")], "neg_abs_z")], "e")
    log = graph.add("Log", [graph.add("Add", [e, one], "one_plus_e")], "log_one_plus_e")
    return graph.add("Add", [graph.add("Relu", [z], "relu_z"), log], out, exact=exact)


# onnxruntime has float32 kernels only for these operators: in float64 they are written with
# operators it computes in double, the way the engine computes them (activations.py)
_FLOAT64_FORMS = {"LeakyRelu": _leaky_relu_float64, "Softplus": _softplus_float64}


class Graph:
    """The nodes and constants of an ONNX graph under construction; every name made unique.

    ``dtype`` is the floating type the network is computed in (float32 or float64).
    """

    def __init__(self, dtype="float32"):
        self.dtype = np.dtype(dtype)
        self.nodes: list = []
        self.initializers: list = []
        self._names: set[str] = set()

    def name(self, base: str) -> str:
        """``base``, or ``base_2``, ``base_3``, … if it is taken."""
        name, count = base, 1
        while name in self._names:
            count += 1
            name = f"{base}_{count}"
        self._names.add(name)
        return name

    def constant(self, base: str, array: np.ndarray) -> str:
        """A named constant (an initializer) holding ``array``; strings are stored UTF-8."""
        name = self.name(base)
        array = np.asarray(array)
        if array.dtype.kind in "USO":
            values = [str(value).encode("utf-8") for value in array.reshape(-1)]
            tensor = helper.make_tensor(name, TensorProto.STRING, array.shape, values)
        else:
            tensor = numpy_helper.from_array(array, name)
        self.initializers.append(tensor)
        return name

    def add(
        self, op_type: str, inputs: list[str], output: str, exact: bool = False, **attrs
    ) -> str:
        """Append one node; returns the name of its output: ``output``, made unique unless
        ``exact`` (a graph output's name)."""
        if exact and output in self._names:
            raise ValueError(f"the name {output!r} is taken")
        output = output if exact else self.name(output)
        self._names.add(output)
        node_name = self.name(f"{op_type}_{output}")
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=node_name, **attrs))
        return output


def activation_nodes(
    graph, activation: Activation, z: str, out: str, where: str, exact: bool = False
) -> str:
    """a = f(z) with the activation's ONNX operator, into ``out`` (exactly, if ``exact``);
    ``where`` names the layer in errors."""
    if activation.onnx is None:
        raise ValueError(
            f"{where}: activation {activation.name!r} has no ONNX operator "
            "(only the built-in activations can be exported)"
        )
    op_type, attrs = activation.onnx
    float64_form = _FLOAT64_FORMS.get(op_type)
    if float64_form is not None and graph.dtype == np.float64:
        return float64_form(graph, z, out, exact, **attrs)
    return graph.add(op_type, [z], out, exact=exact, **attrs)


def _host(net: Network, array) -> np.ndarray:
    return np.asarray(net.xp.to_host(array))


def network_nodes(graph, net: Network, x: str, dtype, output: str | None = None) -> str:
    """The nodes computing aᴸ from the input ``x`` (already of ``dtype``); returns aᴸ's name,
    ``output`` exactly when given.

    The weights are stored in ``dtype``: a float32 network computed in float64 gives its exact
    float32 weights, in float64 arithmetic.
    """
    if not isinstance(net, Network):
        raise TypeError(f"expected a backprop Network, got {type(net).__name__}")
    dtype = np.dtype(dtype)
    a = {0: x}
    for layer in net.layers[1:]:
        l = layer.index
        sources = [a[s] for s, _ in layer.sources]
        if len(sources) == 1:
            u = sources[0]
        elif layer.combine == "sum":
            u = graph.add("Sum", sources, f"u{l}")  # uˡ = Σ aˢ
        else:
            u = graph.add("Concat", sources, f"u{l}", axis=1)  # uˡ = [aˢ¹, aˢ², …]
        W = graph.constant(f"W{l}", _host(net, layer.W).astype(dtype))
        b = graph.constant(f"b{l}", _host(net, layer.b).astype(dtype))
        # W is stored as the network holds it, (n_out, n_in): Gemm with transB=1 computes
        # zˡ = uˡ·Wˡᵀ + bˡ without a transposed copy (MatMul would need Wᵀ stored).
        z = graph.add("Gemm", [u, W, b], f"z{l}", transB=1)
        last = l == net.n_layers and output is not None
        a[l] = activation_nodes(
            graph, layer.activation, z, output if last else f"a{l}", f"layer {l}", exact=last
        )
    return a[net.n_layers]
