"""A trace: every intermediate of one forward and backward pass, kept for reading.

``Network.backprop`` returns one. Its lists are indexed by layer, index 0 being the input, so
``trace.delta[2]`` is δ² and ``trace.grad_W[1]`` is ∂E/∂W¹ — the names of the derivation.

>>> import backprop as bp
>>> trace = bp.Network([2, 3, 1], seed=0).backprop([[1.0, 0.0]], [1.0])
>>> [None if d is None else d.shape for d in trace.delta]
[None, (1, 3), (1, 1)]
"""

from __future__ import annotations

from dataclasses import dataclass

from .delta_rule import backward, batch_error, forward
from .extensions import provided


@dataclass
class Trace:
    """Every intermediate of one forward and backward pass, lists indexed by layer (0 = input).

    ``z[l]``, ``a[l]`` (``a[0]`` is X), ``error[l]`` = ∂E/∂aˡ, ``delta[l]`` = δˡ (per sample),
    ``grad_W[l]`` = ∂E/∂Wˡ and ``grad_b[l]`` (batch means), ``Y`` the targets, ``scale`` each
    sample's weight sₙ, ``loss`` the batch error E, and ``network``, a copy of the network as it
    was, from which ``W[l]``, ``b[l]`` (the weights used), ``activations`` and ``loss_name`` come.
    """

    z: list
    a: list
    error: list
    delta: list
    grad_W: list
    grad_b: list
    Y: object
    scale: object
    loss: float
    network: object

    @property
    def W(self) -> list:
        return [None, *(layer.W for layer in self.network.layers[1:])]

    @property
    def b(self) -> list:
        return [None, *(layer.b for layer in self.network.layers[1:])]

    @property
    def activations(self) -> list[str]:
        return ["input", *(layer.activation.name for layer in self.network.layers[1:])]

    @property
    def loss_name(self) -> str:
        return self.network.loss.name

    def explain(
        self, format: str = "text", precision: int = 6, lr: float | None = None, max_units: int = 8
    ) -> str:
        """This iteration written out with numbers; see ``backprop.explain``."""
        return provided("explain")(self, format, precision, lr, max_units)

    @property
    def output(self):
        return self.a[-1]

    def summary(self) -> str:
        """One line per layer: its size and the mean |δ| and ‖∂E/∂W‖ arriving there."""
        lines = [f"loss E = {self.loss:.6g}"]
        for l in range(1, len(self.a)):
            mean_delta = float(abs(self.delta[l]).mean())
            norm = float((self.grad_W[l] ** 2).sum() ** 0.5)
            lines.append(
                f"layer {l} ({self.activations[l]}, {self.a[l].shape[1]} units): "
                f"mean |δ| = {mean_delta:.3e}, ‖∂E/∂W‖ = {norm:.3e}"
            )
        return "\n".join(lines)


def trace(net, X, Y, sample_weight=None, training: bool = False, rng=None) -> Trace:
    """Forward and backward on validated arrays, returning copies of every intermediate."""
    work = net.workspace(X.shape[0])
    work.set_scale(sample_weight)
    forward(net, work, X, training, rng)
    backward(net, work, Y, training)
    L = net.n_layers
    if net.loss.canonical == net.output_activation.name:  # backward skipped ∂J/∂o; show it
        net.loss.gradient(work.a[L], Y, work.error[L], net.xp)
    loss = float(batch_error(net, work, Y))

    def copies(arrays):
        return [None if x is None else x.copy() for x in arrays]

    layers = net.layers[1:]
    return Trace(
        z=copies(work.z),
        a=[X.copy(), *copies(work.a[1:])],
        error=[None, *copies(work.error[1:])],
        delta=copies(work.delta),
        grad_W=[None, *(layer.grad_W.copy() for layer in layers)],
        grad_b=[None, *(layer.grad_b.copy() for layer in layers)],
        Y=Y.copy(),
        scale=work.scale.copy(),
        loss=loss,
        network=net.copy(),
    )
