"""A trace: every intermediate of one forward and backward pass, kept for reading.

``Network.backprop`` returns one. Its lists are indexed by layer, index 0 being the input, so
``trace.delta[2]`` is δ² and ``trace.grad_W[1]`` is ∂E/∂W¹ — the names of the derivation.

>>> import backprop as bp
>>> trace = bp.Network([2, 3, 1], seed=0).backprop([[1.0, 0.0]], [1.0])
>>> [None if d is None else d.shape for d in trace.delta]
[None, (1, 3), (1, 1)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from .backend import get_backend
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

    def to_html(self, path, lr: float, iterations: int = 1, precision: int = 6):
        """Write this iteration (and ``iterations - 1`` more) as a self-contained page to step
        through, numbers editable; returns the path. See ``backprop.page``."""
        return provided("to_html")(self, path, lr, iterations, precision)

    def chain_rule(self, layer: int, i: int, j: int):
        """∂E/∂wˡᵢⱼ as the product of its chain-rule factors ∂E/∂aˡᵢ · ∂aˡᵢ/∂zˡᵢ · ∂zˡᵢ/∂wˡᵢⱼ,
        each with its value, then grouped as the delta rule groups them (δˡᵢ·aˡ⁻¹ⱼ).

        ``i`` and ``j`` index ``W[i, j]`` from 0. Returns a ``backprop.explain.Section`` whose
        steps are the factors; ``backprop.explain.render([section])`` writes it out.
        """
        return provided("chain_rule")(self, layer, i, j)

    def nudge(self, layer: int, i: int, j: int | None = None, eps: float = 1e-4) -> Nudge:
        """Change the weight wˡᵢⱼ (with ``j=None``, the bias bˡᵢ) by ``eps``, run the forward pass
        again, and set the change of E it measures beside the gradient's prediction ∂E/∂w·ε.

        The two agree up to a term of order ε². The passes run on a float64 copy of the
        network, so the measured change is not lost in float32's rounding. ``i`` and ``j``
        index ``W[i, j]`` from 0.
        """
        L = len(self.a) - 1
        if (
            isinstance(layer, bool)
            or not isinstance(layer, (int, np.integer))
            or not 1 <= layer <= L
        ):
            raise ValueError(f"layer must be an integer in 1..{L}, got {layer!r}")
        n_out, n_in = self.W[layer].shape
        _check_unit("i", i, n_out, layer)
        if j is not None:
            _check_unit("j", j, n_in, layer)
        eps = float(eps)
        if not (math.isfinite(eps) and eps != 0.0):
            raise ValueError(f"eps must be a finite non-zero number, got {eps!r}")
        host = self.to_host()
        net = host.network.copy("float64", backend="numpy")
        X, Y, weights = host.a[0], host.Y, host.scale
        before = net.backprop(X, Y, weights).loss
        target = net.layers[layer].W[i] if j is not None else net.layers[layer].b
        target[j if j is not None else i] += eps
        after = net.backprop(X, Y, weights).loss
        gradient = host.grad_W[layer][i, j] if j is not None else host.grad_b[layer][i]
        units = (int(i),) if j is None else (int(i), int(j))
        return Nudge(layer, units, eps, before, after, float(gradient))

    def to_host(self) -> Trace:
        """This trace with numpy arrays and a host copy of the network (itself on the host)."""
        backend = self.network.backend
        if backend is get_backend("numpy"):
            return self

        def host(value):
            if isinstance(value, list):
                return [host(item) for item in value]
            return backend.to_host(value) if backend.owns(value) else value

        values = {field.name: host(getattr(self, field.name)) for field in fields(self)}
        values["network"] = self.network.copy(backend="numpy")
        return Trace(**values)

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


@dataclass(frozen=True)
class Nudge:
    """One weight changed by ε: E before and after, and ∂E/∂w from the backward pass.

    ``measured`` = E(w + ε) − E(w) and ``predicted`` = ∂E/∂w·ε differ by ½·∂²E/∂w²·ε² + O(ε³).

    >>> import backprop as bp
    >>> net = bp.Network([1, 1], output="identity", dtype="float64", seed=0)
    >>> nudge = net.backprop([[2.0]], [[1.0]]).nudge(1, 0, 0, eps=1e-3)
    >>> abs(nudge.measured - nudge.predicted) < 1e-5
    True
    """

    layer: int
    units: tuple[int, ...]
    eps: float
    before: float
    after: float
    gradient: float

    @property
    def measured(self) -> float:
        return self.after - self.before

    @property
    def predicted(self) -> float:
        return self.gradient * self.eps


def _check_unit(name: str, index, size: int, layer: int) -> None:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < size:
        raise ValueError(
            f"{name} must be an integer in 0..{size - 1} for layer {layer}, got {index!r}"
        )


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
