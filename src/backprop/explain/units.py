"""Which unit feeds which: a layer's inputs uˡⱼ and the layers each unit sends its output to.

In a chain uˡ = aˡ⁻¹ and layer l feeds only layer l + 1. With skip connections uˡ is the
concatenation or the sum of earlier layers' outputs, and a unit may feed several layers; the
worked solution writes each input by its source and each hidden delta as the sum over every
layer the unit feeds (Bishop's form of the delta rule).

>>> import backprop as bp
>>> net = bp.Network([2, bp.Layer(2), bp.Layer(2), bp.Layer(1, inputs=[1, 2])], seed=0)
>>> trace = net.backprop([[1.0, 0.0]], [[1.0]])
>>> consumers(trace, 1)          # a¹ feeds layer 2 (columns 0, 1) and layer 3 (columns 0, 1)
[(2, 0), (3, 0)]
>>> consumers(trace, 2)          # a² is the second half of u³
[(3, 2)]
>>> input_symbols(trace, 3, 3)
(Symbol(name='a', layer=2, units=(1,)),)
"""

from __future__ import annotations

from .data import CLOSE, OPEN, PLUS, Formula, Number, Symbol


def _sources(trace, l: int):
    return trace.network.layers[l].sources


def is_chain(trace) -> bool:
    """Whether every layer reads the layer just below it and nothing else."""
    layers = trace.network.layers[1:]
    return all(layer.sources == ((layer.index - 1, slice(None)),) for layer in layers)


def input_symbols(trace, l: int, j: int) -> Formula:
    """uˡⱼ in symbols: the source unit it is, or the sum (a¹ⱼ + a²ⱼ) of the summed sources."""
    layer = trace.network.layers[l]
    if layer.combine == "sum" and len(layer.sources) > 1:
        terms: list = [OPEN]
        for source, _ in layer.sources:
            terms += (
                [PLUS, Symbol("a", source, (j,))] if len(terms) > 1 else [Symbol("a", source, (j,))]
            )
        return (*terms, CLOSE)
    for source, columns in layer.sources:
        start = columns.start or 0
        width = trace.a[source].shape[1]
        if start <= j < start + width:
            return (Symbol("a", source, (j - start,)),)
    raise IndexError(f"layer {l} has no input {j}")


def input_numbers(trace, l: int, j: int, sample: int = 0) -> Formula:
    """uˡⱼ's value in the tokens of ``input_symbols``: each symbol replaced by its number."""
    return tuple(
        Number(trace.a[token.layer][sample, token.units[0]]) if isinstance(token, Symbol) else token
        for token in input_symbols(trace, l, j)
    )


def input_value(trace, l: int, j: int, sample: int = 0) -> float:
    """uˡⱼ of one sample, as the forward pass computed it."""
    return float(
        sum(
            token.value for token in input_numbers(trace, l, j, sample) if isinstance(token, Number)
        )
    )


def consumers(trace, l: int) -> list[tuple[int, int]]:
    """(c, offset) for every layer c that reads layer l: unit j of l is column offset + j of Wᶜ."""
    found = []
    for c in range(l + 1, len(trace.a)):
        layer = trace.network.layers[c]
        for source, columns in _sources(trace, c):
            if source == l:
                summed = layer.combine == "sum" and len(layer.sources) > 1
                found.append((c, 0 if summed else columns.start or 0))
    return found


def input_description(trace, l: int) -> str:
    """How uˡ is made, for the matrix-form note: a2, [a0, a2] or a1 + a2."""
    layer = trace.network.layers[l]
    names = [f"a{source}" for source, _ in layer.sources]
    if len(names) == 1:
        return names[0]
    return " + ".join(names) if layer.combine == "sum" else f"[{', '.join(names)}]"
