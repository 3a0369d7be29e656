"""Several networks as one: their hidden layers side by side, one output layer averaging them.

For members m = 1 … K with output layers zᴸₘ = uₘ·Wₘᵀ + bₘ, ``ensemble`` builds one network
whose output layer reads every member's inputs to its output layer and computes

    zᴸ = (1/K) Σₘ (uₘ·Wₘᵀ + bₘ),    aᴸ = f(zᴸ)

with W = [W₁ … W_K] / K (columns of a source two members share added) and b = Σ bₘ / K. With
an identity output it predicts the members' mean prediction exactly; under softmax or sigmoid
it averages their logits zᴸ (a geometric mean of the probabilities, renormalised). The result
is an ordinary network (skip connections reading the input): it predicts, saves, exports and
explains like any other, and one forward pass computes all K members.

>>> import numpy as np, backprop as bp
>>> members = [bp.Network([3, 4, 1], hidden="tanh", output="identity", seed=s) for s in (1, 2)]
>>> both = bp.ensemble(members)
>>> both.sizes
[3, 4, 4, 1]
>>> X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
>>> mean = (members[0].predict(X) + members[1].predict(X)) / 2
>>> bool(np.allclose(both.predict(X), mean, atol=1e-6))
True
"""

from __future__ import annotations

from collections.abc import Sequence

from .layer import Layer
from .network import Network


def ensemble(networks: Sequence[Network]) -> Network:
    """One network whose output layer's z is the mean of the ``networks``' (see the module).

    The members must share their inputs, outputs, output activation, loss, dtype and device;
    their hidden layers may differ. Hidden layers keep their activation, dropout, initialiser
    and frozen parts; the new network's seed is the first member's.
    """
    members = _checked_members(networks)
    first = members[0]
    hidden: list[tuple[Layer, Layer]] = []  # (a member's hidden layer, its copy)
    output_parts: list[tuple[int, object]] = []  # (new source index, block of W / K)
    for member in members:
        renumber = {0: 0}
        for layer in member.layers[1:-1]:
            renumber[layer.index] = len(hidden) + 1
            inputs = [renumber[source] for source, _ in layer.sources]
            hidden.append((layer, _layer_like(layer, inputs, layer.combine)))
        output = member.layers[-1]
        for source, columns in output.sources:
            output_parts.append((renumber[source], output.W[:, columns] / len(members)))
    sources = sorted({source for source, _ in output_parts})
    combined = Network(
        [
            first.n_inputs,
            *(copy for _, copy in hidden),
            _layer_like(first.layers[-1], sources, "concat"),
        ],
        loss=first.loss,
        dtype=first.dtype.name,
        seed=first.seed,
        backend=first.backend,
    )
    for (layer, _), target in zip(hidden, combined.layers[1:-1], strict=True):
        target.W[...], target.b[...] = layer.W, layer.b
    output = combined.layers[-1]
    columns = dict(output.sources)
    output.W[...] = 0
    for source, block in output_parts:
        output.W[:, columns[source]] += block
    output.b[...] = sum(member.layers[-1].b for member in members) / len(members)
    return combined


def _checked_members(networks: Sequence[Network]) -> list[Network]:
    if isinstance(networks, Network) or not isinstance(networks, Sequence):
        raise TypeError("ensemble takes a list of networks")
    members = list(networks)
    if not members:
        raise ValueError("ensemble needs at least one network")
    for m, member in enumerate(members):
        if not isinstance(member, Network):
            raise TypeError(f"member {m} is a {type(member).__name__}, not a Network")
    first = members[0]
    for m, member in enumerate(members[1:], start=1):
        for what, mine, theirs in (
            ("inputs", member.n_inputs, first.n_inputs),
            ("outputs", member.n_outputs, first.n_outputs),
            ("output activation", repr(member.output_activation), repr(first.output_activation)),
            ("loss", repr(member.loss), repr(first.loss)),
            ("dtype", member.dtype.name, first.dtype.name),
            ("device", member.device, first.device),
        ):
            if mine != theirs:
                raise ValueError(f"member {m} has {what} {mine}, member 0 has {theirs}")
    return members


def _layer_like(layer: Layer, inputs: list[int], combine: str) -> Layer:
    """A new layer like ``layer`` (its size, activation, dropout, initialiser and frozen parts)
    reading the layers ``inputs``, combined by ``combine``."""
    return Layer(
        layer.size,
        layer.activation,
        inputs=inputs,
        combine=combine,
        dropout=layer.dropout,
        init=layer.init,
        train_weights=layer.trains("W"),
        train_bias=layer.trains("b"),
    )
