"""Layers: the input layer and the fully connected layers a network is built from.

A ``Layer`` describes a layer (size, activation, inputs, dropout, initialiser) before a network
exists; a network binds it, and from then on its ``W``, ``b``, ``grad_W`` and ``grad_b`` are
views into that network's flat buffers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .activations import Activation, get_activation
from .validation import check_finite

INITIALIZERS = ("auto", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "zeros")
INIT_ALIASES = {"glorot": "glorot_uniform", "xavier": "glorot_uniform", "he": "he_normal"}


class Input:
    """Layer 0: the network's inputs, a⁰ = x. It has units but no weights."""

    index = 0

    def __init__(self, size: int):
        self.size = size

    def __repr__(self) -> str:
        return f"Input({self.size})"


class Layer:
    """One fully connected layer: zˡ = uˡ·Wˡᵀ + bˡ, aˡ = f(zˡ).

    Parameters
    ----------
    size : number of units (n_out).
    activation : a name from ``backprop.activations`` or an ``Activation``.
    inputs : indices of the earlier layers whose outputs feed this one (0 is the input);
        default: the layer just below.
    combine : ``"concat"`` (uˡ = [a^s₁, a^s₂, …]) or ``"sum"`` (uˡ = Σ a^s) when there are
        several inputs.
    dropout : probability of zeroing each of this layer's outputs during training
        (inverted dropout: survivors are scaled by 1/(1 − p)).
    init : ``"auto"`` (He for ReLU-like, Glorot otherwise), ``"glorot_uniform"``,
        ``"glorot_normal"``, ``"he_uniform"``, ``"he_normal"`` or ``"zeros"``.
    train_weights, train_bias : ``False`` holds this layer's W or b fixed: the backward pass
        still computes ∂E/∂W and ∂E/∂b, but ``fit`` (every optimiser) leaves the values exactly
        as they are (Mazur's worked example trains the weights and keeps the biases).

    Once a network is built from it, the layer's ``W``, ``b``, ``grad_W`` and ``grad_b`` are views
    into that network's flat buffers.

    >>> import backprop as bp
    >>> net = bp.Network([2, bp.Layer(4, "relu"), bp.Layer(2, "tanh", inputs=[0, 1])], seed=1)
    >>> net.layers[2].W.shape        # reads [x, a¹]: 2 + 4 inputs
    (2, 6)
    >>> bp.Layer(2, "sigmoid", train_bias=False)
    Layer(2 sigmoid, b fixed)
    """

    def __init__(
        self,
        size: int,
        activation: str | Activation = "sigmoid",
        *,
        inputs: Sequence[int] | None = None,
        combine: str = "concat",
        dropout: float = 0.0,
        init: str = "auto",
        train_weights: bool = True,
        train_bias: bool = True,
    ):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
            raise TypeError(f"layer size must be an integer, got {size!r}")
        if size < 1:
            raise ValueError(f"layer size must be >= 1, got {size}")
        if combine not in ("concat", "sum"):
            raise ValueError(f"combine must be 'concat' or 'sum', got {combine!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        for name, flag in (("train_weights", train_weights), ("train_bias", train_bias)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        init = INIT_ALIASES.get(init, init)
        if init not in INITIALIZERS:
            raise ValueError(f"unknown init {init!r}; known: {', '.join(INITIALIZERS)}")
        self.size = int(size)
        self.activation = get_activation(activation)
        self.inputs = None if inputs is None else tuple(int(i) for i in inputs)
        self.combine = combine
        self.dropout = float(dropout)
        self.init = init
        self.train_weights = bool(train_weights)
        self.train_bias = bool(train_bias)
        self.index: int | None = None
        self.n_in: int | None = None
        self.sources: tuple[tuple[int, slice], ...] = ()
        self._views: dict | None = None  # set when a network binds the layer

    # -- views into the network's flat buffers ---------------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_views"] = None  # rebuilt by the network on unpickling
        state.pop("_backend", None)
        return state

    def _bind(self, net) -> None:
        """Make W, b, ∂E/∂W, ∂E/∂b views into ``net``'s flat buffers (made once, then reused).

        The layer keeps only the views, not the network, so no reference cycle keeps a network's
        buffers alive after its last reference goes.
        """
        (w0, w1), (b0, b1) = net._offsets[self.index]["W"], net._offsets[self.index]["b"]
        shape = (self.size, self.n_in)
        self._backend = net.backend
        self._views = {
            "W": net.params[w0:w1].reshape(shape),
            "b": net.params[b0:b1],
            "grad_W": net.grads[w0:w1].reshape(shape),
            "grad_b": net.grads[b0:b1],
        }

    def _view(self, which: str):
        if self._views is None:
            raise AttributeError("this layer is not part of a network yet; build a Network first")
        return self._views[which]

    def _assign(self, which: str, values) -> None:
        target = self._view(which)
        xp = self._backend
        host = xp.to_host(values) if xp.owns(values) else np.asarray(values)
        if host.ndim and host.shape != target.shape:
            raise ValueError(
                f"layer {self.index}: {which} must have shape {target.shape}, got {host.shape}"
            )
        check_finite(np.asarray(host, dtype=float), f"layer {self.index} {which}")
        target[...] = xp.asarray(host, dtype=target.dtype)

    @property
    def W(self):
        """Weights, shape (n_out, n_in); W[i, j] connects unit j below to unit i."""
        return self._view("W")

    @W.setter
    def W(self, values) -> None:
        self._assign("W", values)

    @property
    def b(self):
        """Biases, shape (n_out,)."""
        return self._view("b")

    @b.setter
    def b(self, values) -> None:
        self._assign("b", values)

    @property
    def grad_W(self):
        """∂E/∂W from the last backward pass, shape (n_out, n_in)."""
        return self._view("grad_W")

    @property
    def grad_b(self):
        """∂E/∂b from the last backward pass, shape (n_out,)."""
        return self._view("grad_b")

    def describe(self) -> str:
        text = f"{self.size} {self.activation.name}"
        if self.inputs is not None and self.inputs != (self.index - 1,):
            text += f" ({self.combine} of {', '.join(f'a{s}' for s in self.inputs)})"
        if self.dropout:
            text += f" dropout {self.dropout:g}"
        fixed = [name for name in ("W", "b") if not self.trains(name)]
        if fixed:
            text += f", {' and '.join(fixed)} fixed"
        return text

    def trains(self, which: str) -> bool:
        """Whether training changes this layer's ``"W"`` or ``"b"``.

        Layers made before these options existed (unpickled) train both.
        """
        return getattr(self, "train_weights" if which == "W" else "train_bias", True)

    def __repr__(self) -> str:
        where = f" #{self.index}" if self.index is not None else ""
        return f"Layer{where}({self.describe()})"


def draw_weights(rng: np.random.Generator, layer: Layer) -> np.ndarray:
    """Initial W: Glorot (fan-in and fan-out) or He (fan-in), uniform or normal."""
    fan_in, fan_out = layer.n_in, layer.size
    scheme = layer.init
    if scheme == "auto":
        scheme = "he_normal" if layer.activation.init_family == "he" else "glorot_uniform"
    shape = (fan_out, fan_in)
    if scheme == "zeros":
        return np.zeros(shape)
    if scheme == "glorot_uniform":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape)
    if scheme == "glorot_normal":
        return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), shape)
    if scheme == "he_uniform":
        limit = np.sqrt(6.0 / fan_in)
        return rng.uniform(-limit, limit, shape)
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)  # he_normal
