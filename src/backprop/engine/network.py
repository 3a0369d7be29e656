"""Layers, topology and the flat buffers: what a network *is*, apart from how it learns.

Layers are numbered as in the derivations: layer 0 is the input (a⁰ = x), layers 1..L compute

    zˡ = uˡ·Wˡᵀ + bˡ,   aˡ = f(zˡ),

where uˡ is the layer's input: aˡ⁻¹ by default, or the sum or concatenation of any earlier
layers' outputs (skip and residual connections). Wˡ has shape (n_out, n_in) and Wˡ[i, j] is the
weight from unit j below to unit i.

Every layer's W and b are views into one flat parameter buffer, laid out [W¹ … Wᴸ, b¹ … bᴸ]
(all weights first, so an L2 penalty touches one slice), and every ∂E/∂W, ∂E/∂b a view into one
flat gradient buffer of the same layout. An optimiser updates the whole network in a few vector
operations on ``net.params``; assigning ``layer.W = values`` or ``layer.W[...] = values`` writes
into the same memory.

>>> import backprop as bp
>>> net = bp.Network([2, 3, 1], hidden="tanh", output="sigmoid", seed=0)
>>> net
Network(2 → 3 tanh → 1 sigmoid, loss='squared', dtype=float32, 13 parameters)
>>> net.layers[1].W.shape
(3, 2)
>>> net.layers[1].W[0, 1] = 0.5      # the weight from input unit 1 to hidden unit 0
>>> float(net.params[1])
0.5
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Sequence

import numpy as np

from .activations import Activation, get_activation
from .backend import Backend, backend_for, device_backend, get_backend, resolve_dtype
from .delta_rule import predict_rows
from .extensions import provided
from .layer import INIT_ALIASES, INITIALIZERS, Input, Layer, draw_weights
from .losses import Loss, get_loss
from .trace import trace
from .validation import check_finite, check_sample_weight, check_X, check_Y
from .workspace import Workspace


class Network:
    """A feed-forward network trained by backpropagation.

    Parameters
    ----------
    sizes : ``[n_in, h1, ..., n_out]``; any entry after the first may be a ``Layer`` instead of an
        int, to give that layer its own activation, inputs or dropout.
    hidden, output : activations of the layers given as plain ints.
    loss : ``"squared"``, ``"log_loss"``, ``"cross_entropy"``, ``"absolute"``, ``"huber"``,
        ``"poisson"``, or a registered one.
    dtype : ``"float32"`` (default) or ``"float64"``.
    seed : seeds initialisation, and afterwards shuffling and dropout; the same seed gives the
        same network and the same training run.
    init : default initialiser for layers that do not choose one.
    backend : where the arrays live and which array module computes with them: ``"numpy"``
        (default) or a ``backprop.engine.backend.Backend``. Every array operation of the
        forward and backward passes and of training goes through it (``net.backend``).
    device : ``"cpu"`` (the numpy backend), ``"cuda"`` or ``"cuda:N"`` (CuPy on that GPU; the
        ``[gpu]`` extra), instead of ``backend``. The initial weights are drawn on the host, so
        the same seed gives the same network on every device. ``DeviceUnavailable`` (a
        ``RuntimeError``) says when the device cannot be used here.

    >>> import numpy as np, backprop as bp
    >>> net = bp.Network([2, 2, 2], dtype="float64")
    >>> net.layers[1].W = [[0.15, 0.20], [0.25, 0.30]]; net.layers[1].b = [0.35, 0.35]
    >>> net.layers[2].W = [[0.40, 0.45], [0.50, 0.55]]; net.layers[2].b = [0.60, 0.60]
    >>> net.predict([[0.05, 0.10]]).round(8)
    array([[0.75136507, 0.77292847]])
    """

    def __init__(
        self,
        sizes: Sequence[int | Layer],
        hidden: str | Activation = "sigmoid",
        output: str | Activation = "sigmoid",
        loss: str | Loss = "squared",
        dtype: str = "float32",
        seed: int | None = None,
        init: str = "auto",
        backend: str | Backend | None = None,
        device: str | Backend | None = None,
    ):
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
            raise TypeError("sizes must be a list like [n_in, hidden..., n_out]")
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least an input and an output size, got {sizes!r}")
        n_in = sizes[0]
        if isinstance(n_in, bool) or not isinstance(n_in, (int, np.integer)):
            raise TypeError(f"sizes[0] (the number of inputs) must be an integer, got {n_in!r}")
        if n_in < 1:
            raise ValueError(f"layer 0 (the input) must have >= 1 unit, got {n_in}")
        self.dtype = resolve_dtype(dtype)
        if backend is not None and device is not None:
            raise ValueError("give device or backend, not both")
        self.backend = get_backend(backend) if device is None else device_backend(device)
        self.loss = get_loss(loss)
        self.seed = seed
        self.rng = self.backend.random_generator(seed)
        default_init = INIT_ALIASES.get(init, init)
        if default_init not in INITIALIZERS:
            raise ValueError(f"unknown init {init!r}; known: {', '.join(INITIALIZERS)}")

        L = len(sizes) - 1
        layers: list = [Input(int(n_in))]
        for l, spec in enumerate(sizes[1:], start=1):
            try:
                if isinstance(spec, Layer):
                    layer = _copy.copy(spec)
                    if layer.init == "auto" and default_init != "auto":
                        layer.init = default_init
                else:
                    layer = Layer(spec, output if l == L else hidden, init=default_init)
            except (TypeError, ValueError) as error:
                raise type(error)(f"layer {l}: {error}") from None
            layers.append(layer)
        for role, spec in (("hidden", hidden), ("output", output)):
            try:  # a name that no layer of ``sizes`` takes is checked too
                get_activation(spec)
            except (TypeError, ValueError) as error:
                raise type(error)(f"{role}: {error}") from None
        self.layers = layers
        self._wire()
        self._params = self.backend.zeros(self._n_params, self.dtype)
        self._grads = self.backend.zeros(self._n_params, self.dtype)
        for layer in layers[1:]:
            layer._bind(self)
        self._workspaces: dict[int, Workspace] = {}
        self.initialize()

    # -- topology ------------------------------------------------------------------------
    def _wire(self) -> None:
        """Resolve every layer's sources, input width and place in the flat buffers."""
        L = len(self.layers) - 1
        consumed = {0}
        for l, layer in enumerate(self.layers[1:], start=1):
            layer.index = l
            sources = layer.inputs if layer.inputs is not None else (l - 1,)
            if not sources:
                raise ValueError(f"layer {l}: inputs is empty")
            for s in sources:
                if not 0 <= s < l:
                    raise ValueError(
                        f"layer {l}: input {s} is not an earlier layer (choose from 0..{l - 1})"
                    )
            if len(set(sources)) != len(sources):
                raise ValueError(f"layer {l}: inputs {list(sources)} name a layer twice")
            widths = [self.layers[s].size for s in sources]
            if layer.combine == "sum" and len(set(widths)) > 1:
                raise ValueError(
                    f"layer {l}: 'sum' needs inputs of equal size, got sizes {widths} "
                    f"from layers {list(sources)}"
                )
            if layer.combine == "sum" or len(sources) == 1:
                layer.n_in = widths[0]
                layer.sources = tuple((s, slice(None)) for s in sources)
            else:
                layer.n_in = sum(widths)
                starts = np.cumsum([0, *widths])
                layer.sources = tuple(
                    (s, slice(int(starts[i]), int(starts[i + 1]))) for i, s in enumerate(sources)
                )
            consumed.update(sources)
        unused = [l for l in range(1, L) if l not in consumed]
        if unused:
            raise ValueError(f"layer {unused[0]}'s output is never used by a later layer")
        output = self.layers[L]
        if output.dropout:
            raise ValueError(f"layer {L} is the output layer and cannot have dropout")
        if output.activation.name == "softmax" and output.size < 2:
            raise ValueError(f"layer {L}: a softmax output needs at least 2 units")
        for layer in self.layers[1:L]:
            if not layer.activation.elementwise:
                raise ValueError(f"layer {layer.index}: {layer.activation.name} is for outputs")

        self._offsets = [None] + [{} for _ in range(L)]
        position = 0
        for layer in self.layers[1:]:
            self._offsets[layer.index]["W"] = (position, position + layer.size * layer.n_in)
            position += layer.size * layer.n_in
        self.n_weights = position
        for layer in self.layers[1:]:
            self._offsets[layer.index]["b"] = (position, position + layer.size)
            position += layer.size
        self._n_params = position

    def initialize(self, seed: int | None = None) -> Network:
        """Draw fresh weights (Glorot or He, per layer) and zero the biases.

        With ``seed`` the network's random generator is reseeded first.
        """
        if seed is not None:
            self.seed = seed
            self.rng = self.backend.random_generator(seed)
        for layer in self.layers[1:]:
            layer.W[...] = self.backend.asarray(draw_weights(self.rng, layer), dtype=self.dtype)
            layer.b[...] = 0
        return self

    @property
    def xp(self) -> Backend:
        """The backend, by the name the delta rule's code uses for it: the array module."""
        return self.backend

    @property
    def device(self) -> str:
        """Where the network's arrays live: ``"cpu"`` or ``"cuda:N"``."""
        return self.backend.device

    def to(self, device: str | Backend) -> Network:
        """Move the parameters and gradients to ``device`` (``"cpu"``, ``"cuda"``, ...), in
        place; the random generator stays on the host. Returns the network.

        >>> import backprop as bp
        >>> bp.Network([2, 1], seed=0).to("cpu").device
        'cpu'
        """
        backend = device_backend(device)
        if backend is not self.backend:
            params, grads = (self.backend.to_host(a) for a in (self._params, self._grads))
            self._params = backend.asarray(params.astype(self.dtype, copy=True))
            self._grads = backend.asarray(grads.astype(self.dtype, copy=True))
            self.backend, self._workspaces = backend, {}
            for layer in self.layers[1:]:
                layer._bind(self)
        return self

    @property
    def n_layers(self) -> int:
        """L, the number of layers with weights."""
        return len(self.layers) - 1

    @property
    def sizes(self) -> list[int]:
        return [layer.size for layer in self.layers]

    @property
    def n_inputs(self) -> int:
        return self.layers[0].size

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].size

    @property
    def output_activation(self) -> Activation:
        return self.layers[-1].activation

    @property
    def params(self):
        """The flat parameter buffer [W¹ … Wᴸ, b¹ … bᴸ]; assigning to it copies the values in."""
        return self._params

    @params.setter
    def params(self, values) -> None:
        self.set_params(values)

    @property
    def grads(self):
        """The flat gradient buffer, same layout as ``params``, filled by the backward pass."""
        return self._grads

    def frozen_ranges(self) -> list[tuple[int, int]]:
        """The [start, stop) ranges of ``params`` that training holds fixed (``train_weights=False``
        or ``train_bias=False`` layers), adjacent ranges merged.

        >>> import backprop as bp
        >>> net = bp.Network([2, bp.Layer(2, train_bias=False), bp.Layer(1, train_bias=False)])
        >>> net.frozen_ranges()          # 4 + 2 weights, then the biases b¹ and b²
        [(6, 9)]
        """
        ranges: list[tuple[int, int]] = []
        for which in ("W", "b"):
            for layer in self.layers[1:]:
                if layer.trains(which):
                    continue
                start, stop = self._offsets[layer.index][which]
                if ranges and ranges[-1][1] == start:
                    start = ranges.pop()[0]
                ranges.append((start, stop))
        return ranges

    def set_params(self, values) -> None:
        """Copy a flat parameter vector (layout [W¹ … Wᴸ, b¹ … bᴸ]) into the network."""
        values = self._to_host(values)
        if values.shape != (self._n_params,):
            raise ValueError(f"params must have shape ({self._n_params},), got {values.shape}")
        check_finite(values.astype(float), "params")
        self.params[...] = self.backend.asarray(values, dtype=self.dtype)

    def _to_host(self, data) -> np.ndarray:
        """Data as a numpy array for checking: the device's arrays are copied to the host."""
        owner = backend_for(data)
        return owner.to_host(data) if owner.owns(data) else data

    def copy(self, dtype: str | None = None, backend: str | Backend | None = None) -> Network:
        """An independent copy with the same weights, optionally in another dtype or on
        another backend or device (``backend="cpu"`` gives a host copy)."""
        clone = _copy.copy(self)
        clone.dtype = resolve_dtype(dtype) if dtype is not None else self.dtype
        clone.layers = [self.layers[0]] + [_copy.copy(layer) for layer in self.layers[1:]]
        clone._params = self.params.astype(clone.dtype, copy=True)
        clone._grads = self.backend.zeros_like(clone._params)
        for layer in clone.layers[1:]:
            layer._bind(clone)
        clone.rng = _copy.deepcopy(self.rng)
        clone._workspaces = {}
        return clone if backend is None else clone.to(backend)

    def workspace(self, n: int) -> Workspace:
        """The cached work arrays for batches of ``n`` rows."""
        work = self._workspaces.get(n)
        if work is None:
            if len(self._workspaces) >= 4:
                self._workspaces.pop(next(iter(self._workspaces)))
            work = self._workspaces[n] = Workspace(self, n)
        return work

    # -- data entering the network -------------------------------------------------------
    def check_data(self, X, Y, sample_weight=None, on_device: bool = True):
        """Validated (X, Y, sample_weight) in the network's dtype, on the network's backend
        (or, with ``on_device=False``, as numpy arrays); raises before any change."""
        X = check_X(self._to_host(X), self.n_inputs, self.dtype)
        Y = check_Y(self._to_host(Y), X.shape[0], self.n_outputs, self.loss, self.dtype)
        weights = check_sample_weight(self._to_host(sample_weight), X.shape[0], self.dtype)
        if not on_device:
            return X, Y, weights
        xp = self.backend
        return xp.asarray(X), xp.asarray(Y), None if weights is None else xp.asarray(weights)

    # -- the two passes ------------------------------------------------------------------
    def predict(self, X, batch_size: int = 4096):
        """The network's outputs aᴸ for each row of X, shape (n_samples, n_out), on the
        network's device; on a GPU, X above the size that training streams (by default half
        the free memory) is copied over a batch at a time."""
        return predict_rows(self, check_X(self._to_host(X), self.n_inputs, self.dtype), batch_size)

    def predict_classes(self, X):
        """Class labels: argmax over the outputs, or a 0.5 threshold for sigmoid/single outputs."""
        outputs = self.predict(X)
        if self.n_outputs == 1:
            return (outputs[:, 0] > 0.5).astype(np.int64)
        if self.output_activation.name == "sigmoid" and self.loss.name == "log_loss":
            return (outputs > 0.5).astype(np.int64)  # multi-label: one decision per output
        return outputs.argmax(axis=1)

    def backprop(self, X, Y, sample_weight=None):
        """Run the forward and backward pass on (X, Y) and return every intermediate.

        The weights are not changed. Returns a ``Trace`` with lists indexed by layer
        (index 0 is the input): ``z``, ``a``, ``error`` (∂E/∂a), ``delta``, ``grad_W``,
        ``grad_b``, and the batch error ``loss``.
        """
        X, Y, weights = self.check_data(X, Y, sample_weight)
        return trace(self, X, Y, weights)

    def __getstate__(self) -> dict:
        # the work arrays are rebuilt, not stored; the backend pickles by name
        state = self.__dict__.copy()
        state["_workspaces"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        if "xp" in state:  # pickled before backends had names of their own
            state["backend"] = get_backend(state.pop("xp"))
        self.__dict__.update(state)
        for layer in self.layers[1:]:
            layer._bind(self)  # views into this copy's buffers, not the pickled ones

    def save(self, path, **options) -> None:
        """Write the network to a safetensors model file; ``bp.load(path)`` reads it back.

        See ``backprop.io.save`` for the options (metadata, extra tensors).
        """
        provided("save")(self, path, **options)

    def fit(self, X, Y, **options):
        """Train by gradient descent; see ``backprop.training.fit`` for the options."""
        return provided("fit")(self, X, Y, **options)

    def __repr__(self) -> str:
        parts = [str(self.n_inputs)] + [layer.describe() for layer in self.layers[1:]]
        return (
            f"Network({' → '.join(parts)}, loss={self.loss.name!r}, "
            f"dtype={self.dtype.name}, {self._n_params} parameters)"
        )
