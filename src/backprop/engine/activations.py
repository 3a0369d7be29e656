"""Activation functions a = f(z) and their derivatives, as a table keyed by name.

Each entry knows two things: the forward map ``a = f(z)`` and how to turn the error arriving at
a layer's outputs, g = ∂E/∂a, into the layer's delta, δ = ∂E/∂z.

* For an element-wise f this is δ = f'(z) ⊙ g. The derivative may be written in terms of z
  (softplus: σ(z)) or, where cheaper, in terms of a = f(z) (sigmoid: a(1 − a), tanh: 1 − a²,
  relu: 1 where a > 0); ``derivative_of`` says which.
* Softmax couples its outputs, so f'(z) is a Jacobian, J = diag(a) − a·aᵀ, and the delta is the
  Jacobian-vector product δ = J·g = a ⊙ (g − Σₖ gₖ aₖ). This is what lets softmax serve with
  any loss, not only cross-entropy.

All built-ins write into ``out`` through the backend ``xp`` and allocate nothing per batch
except softmax's per-row sums.

>>> import numpy as np
>>> from backprop.activations import get_activation
>>> sigmoid = get_activation("sigmoid")
>>> z = np.array([[0.0, 2.0]])
>>> a = sigmoid(z)
>>> a.round(4)
array([[0.5   , 0.8808]])
>>> sigmoid.derivative(z, a).round(4)   # a(1 - a)
array([[0.25 , 0.105]])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .backend import backend_for
from .validation import look_up


@dataclass(frozen=True)
class Activation:
    """One activation function f, and everything the library says or does with it.

    What backpropagation needs, as functions of the backend ``xp`` (the network's array
    module): ``function(xp, z, out)`` writes a = f(z) into ``out``; for element-wise functions
    ``derivative_function(xp, x, out)`` writes f'(z), where x is z or a as ``derivative_of``
    says; functions whose derivative is a Jacobian (softmax) give ``jacobian_product(xp, a, g,
    out)`` instead, writing δ = J·g. The methods ``forward``, ``backward``, ``derivative`` and
    calling the object apply them on the backend given, or on the one that owns the arrays.

    What the rest of the library reads from here, never from tables of its own:

    * ``symbol`` / ``symbol_latex``: f's name in a formula (σ, tanh, relu, ...);
    * ``derivative_text`` / ``derivative_latex``: f'(z) written out, parameters substituted;
    * ``kink``: for a function whose derivative jumps, ``kink(z)`` says which side of the jump
      each z is on (finite differences must not straddle it); None when f is smooth;
    * ``init_family``: ``"he"`` (fan-in, for ReLU-like units) or ``"glorot"``;
    * ``asymptotes``: the values a saturating function approaches, where f'(z) → 0 (sigmoid:
      (0, 1), tanh: (−1, 1)); None for functions that do not saturate;
    * ``params`` and ``factory``: the constructor arguments and the function that rebuilds an
      equal activation from them (model files store the name and the params);
    * ``onnx``: the ONNX operator and its attributes, ``(op_type, {attribute: value})``.
    """

    name: str
    function: Callable
    derivative_function: Callable | None = None
    derivative_of: str = "z"
    jacobian_product: Callable | None = None
    params: dict = field(default_factory=dict)
    symbol: str = ""
    symbol_latex: str = ""
    derivative_text: str = "f'(z)"
    derivative_latex: str = "f'(z)"
    kink: Callable | None = None
    init_family: str = "glorot"
    asymptotes: tuple[float, float] | None = None
    factory: Callable | None = None
    onnx: tuple | None = None

    def __post_init__(self):
        if not self.symbol:
            object.__setattr__(self, "symbol", self.name)
        if not self.symbol_latex:
            object.__setattr__(self, "symbol_latex", rf"\mathrm{{{self.symbol}}}")

    def __call__(self, z, xp=None):
        """a = f(z), as a new array."""
        xp = backend_for(z) if xp is None else xp
        out = xp.empty_like(z)
        self.function(xp, z, out)
        return out

    def forward(self, z, out, xp=None) -> None:
        """a = f(z) written into ``out``."""
        self.function(backend_for(z) if xp is None else xp, z, out)

    @property
    def elementwise(self) -> bool:
        return self.jacobian_product is None

    def derivative(self, z, a, xp=None):
        """f'(z) as a new array (element-wise activations only)."""
        if not self.elementwise:
            raise ValueError(f"{self.name}'s derivative is a Jacobian; use backward() instead")
        xp = backend_for(z) if xp is None else xp
        out = xp.empty_like(z)
        self.derivative_function(xp, z if self.derivative_of == "z" else a, out)
        return out

    def backward(self, z, a, g, out, xp=None) -> None:
        """δ = f'(z) ⊙ g (or the Jacobian product J·g) written into ``out``; ``out`` may be g."""
        xp = backend_for(z) if xp is None else xp
        if self.jacobian_product is not None:
            self.jacobian_product(xp, a, g, out)
            return
        x = z if self.derivative_of == "z" else a
        if out is g:
            scratch = xp.empty_like(g)
            self.derivative_function(xp, x, scratch)
            g *= scratch
        else:
            self.derivative_function(xp, x, out)
            out *= g

    def rebuild(self, params: dict) -> Activation:
        """An activation like this one with other constructor arguments (``factory(**params)``)."""
        if set(params) != set(self.params):
            raise ValueError(
                f"activation {self.name!r} needs parameters {sorted(self.params)}, "
                f"got {sorted(params)}"
            )
        return self if self.factory is None else self.factory(**params)

    def __reduce__(self):
        # pickled by name (and factory arguments), never as code
        if self.factory is not None:
            return _rebuild_activation, (self.name, dict(self.params))
        return get_activation, (self.name,)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Activation({self.name!r}{', ' + args if args else ''})"


def _rebuild_activation(name: str, params: dict) -> Activation:
    return get_activation(name).rebuild(params)


# --- the built-in functions, each next to its derivative -------------------------------


def _identity(xp, z, out):
    xp.copyto(out, z)  # a = z


def _identity_derivative(xp, z, out):
    out.fill(1)  # f'(z) = 1


def _sigmoid(xp, z, out):
    # a = 1 / (1 + e^(-z)); e^(-z) may overflow to inf for z << 0, which gives exactly a = 0.
    with xp.errstate(over="ignore"):
        xp.negative(z, out=out)
        xp.exp(out, out=out)
    out += 1
    xp.reciprocal(out, out=out)


def _sigmoid_derivative(xp, a, out):
    xp.subtract(1, a, out=out)  # f'(z) = a (1 − a)
    out *= a


def _tanh(xp, z, out):
    xp.tanh(z, out=out)


def _tanh_derivative(xp, a, out):
    xp.multiply(a, a, out=out)  # f'(z) = 1 − a²
    xp.subtract(1, out, out=out)


def _relu(xp, z, out):
    xp.positive_part(z, out)  # a = max(z, 0)


def _relu_derivative(xp, a, out):
    # f'(z) = 1 where z > 0, else 0, read off a = max(z, 0): a > 0 exactly where z > 0.
    xp.positive_indicator(a, out)


def _exp(xp, z, out):
    # a = e^z, the canonical output for the poisson loss; overflow to inf is caught by training.
    with xp.errstate(over="ignore"):
        xp.exp(z, out=out)


def _exp_derivative(xp, a, out):
    xp.copyto(out, a)  # f'(z) = e^z = a


def _softplus(xp, z, out):
    # a = log(1 + e^z) = max(z, 0) + log(1 + e^(−|z|)): never overflows.
    xp.abs(z, out=out)
    xp.negative(out, out=out)
    xp.exp(out, out=out)
    xp.log1p(out, out=out)
    out += xp.maximum(z, 0)


def _softplus_derivative(xp, z, out):
    _sigmoid(xp, z, out)  # f'(z) = σ(z)


def _softmax(xp, z, out):
    # aₖ = e^(zₖ − max z) / Σⱼ e^(zⱼ − max z): subtracting the row maximum keeps e^x ≤ 1.
    xp.subtract(z, xp.row_max(z)[:, None], out=out)
    xp.exp(out, out=out)
    out /= xp.row_sum(out)[:, None]


def _softmax_jacobian_product(xp, a, g, out):
    # δ = J·g with J = diag(a) − a aᵀ, i.e. δᵢ = aᵢ (gᵢ − Σₖ gₖ aₖ)
    weighted_sum = xp.row_dot(g, a)[:, None]
    xp.subtract(g, weighted_sum, out=out)
    out *= a


def leaky_relu(slope: float = 0.01) -> Activation:
    """The leaky ReLU a = z for z > 0, slope·z otherwise; f'(z) = 1 or slope.

    >>> leaky_relu(0.1)(np.array([[-2.0, 3.0]]))
    array([[-0.2,  3. ]])
    >>> leaky_relu(0.2).derivative_text
    '1 if z > 0 else 0.2'
    """
    if isinstance(slope, bool) or not isinstance(slope, (int, float, np.floating, np.integer)):
        raise TypeError(f"leaky_relu slope must be a number, got {slope!r}")
    if not 0 <= slope < 1:
        raise ValueError(f"leaky_relu slope must be in [0, 1), got {slope!r}")
    slope = float(slope)

    def forward(xp, z, out):
        xp.multiply(z, slope, out=out)
        xp.maximum(z, out, out=out)  # for 0 ≤ slope < 1, max(z, slope·z) is the leaky ReLU

    def derivative(xp, z, out):
        xp.greater(z, 0, out=out)
        out *= 1 - slope
        out += slope

    return Activation(
        "leaky_relu",
        forward,
        derivative,
        "z",
        params={"slope": slope},
        derivative_text=f"1 if z > 0 else {slope:g}",
        derivative_latex=rf"[z>0] + {slope:g}\,[z\le 0]",
        kink=_positive,
        init_family="he",
        factory=leaky_relu,
        onnx=("LeakyRelu", {"alpha": slope}),
    )


def _positive(z):
    return z > 0  # the side of the kink at z = 0


ACTIVATIONS: dict[str, Activation] = {
    "identity": Activation(
        "identity",
        _identity,
        _identity_derivative,
        "z",
        symbol="id",
        derivative_text="1",
        derivative_latex="1",
        onnx=("Identity", {}),
    ),
    "sigmoid": Activation(
        "sigmoid",
        _sigmoid,
        _sigmoid_derivative,
        "a",
        symbol="σ",
        symbol_latex=r"\sigma",
        derivative_text="a(1 − a)",
        derivative_latex="a(1-a)",
        asymptotes=(0.0, 1.0),
        onnx=("Sigmoid", {}),
    ),
    "tanh": Activation(
        "tanh",
        _tanh,
        _tanh_derivative,
        "a",
        symbol_latex=r"\tanh",
        derivative_text="1 − a²",
        derivative_latex="1-a^2",
        asymptotes=(-1.0, 1.0),
        onnx=("Tanh", {}),
    ),
    "relu": Activation(
        "relu",
        _relu,
        _relu_derivative,
        "a",
        derivative_text="1 if z > 0 else 0",
        derivative_latex="[z>0]",
        kink=_positive,
        init_family="he",
        onnx=("Relu", {}),
    ),
    "leaky_relu": leaky_relu(0.01),
    "softplus": Activation(
        "softplus",
        _softplus,
        _softplus_derivative,
        "z",
        derivative_text="σ(z)",
        derivative_latex=r"\sigma(z)",
        onnx=("Softplus", {}),
    ),
    "exp": Activation(
        "exp",
        _exp,
        _exp_derivative,
        "a",
        derivative_text="eᶻ = a",
        derivative_latex="e^{z}",
        onnx=("Exp", {}),
    ),
    "softmax": Activation(
        "softmax",
        _softmax,
        jacobian_product=_softmax_jacobian_product,
        derivative_text="diag(a) − a·aᵀ",
        derivative_latex=r"\mathrm{diag}(a) - a a^T",
        onnx=("Softmax", {"axis": -1}),
    ),
}
ALIASES = {"logistic": "sigmoid", "linear": "identity"}
BUILTIN_NAMES = frozenset(ACTIVATIONS) | frozenset(ALIASES)


def register_activation(
    name: str, f: Callable, df: Callable, derivative_of: str = "z", *, overwrite: bool = False
) -> Activation:
    """Add an element-wise activation to the table from plain functions.

    ``f(z)`` returns a = f(z); ``df(x)`` returns f'(z), where x is z when ``derivative_of="z"``
    and a when ``derivative_of="a"`` (as the sigmoid's a(1 − a)).

    >>> act = register_activation("cube", lambda z: z**3, lambda z: 3 * z**2, overwrite=True)
    >>> act(np.array([[2.0]]))
    array([[8.]])
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"activation name must be a non-empty string, got {name!r}")
    name = name.lower()  # lookups are case-insensitive
    if derivative_of not in ("z", "a"):
        raise ValueError(f"derivative_of must be 'z' or 'a', got {derivative_of!r}")
    if not callable(f) or not callable(df):
        raise TypeError("register_activation needs callables f and df")
    if name in BUILTIN_NAMES or (name in ACTIVATIONS and not overwrite):
        raise ValueError(f"activation {name!r} already exists; pick another name")

    def forward(xp, z, out):
        out[...] = f(z)

    def derivative(xp, x, out):
        out[...] = df(x)

    activation = Activation(name, forward, derivative, derivative_of)
    ACTIVATIONS[name] = activation
    return activation


def get_activation(spec: str | Activation) -> Activation:
    """Look an activation up by name (or pass an ``Activation`` through)."""
    return look_up("activation", spec, Activation, ACTIVATIONS, ALIASES)
