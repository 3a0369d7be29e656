"""Loss functions J(o, y) per sample and their derivatives ∂J/∂o, as a table keyed by name.

The network's error over a batch is the (weighted) mean of the per-sample losses,

    E = Σₙ sₙ Jₙ,   sₙ = 1/N, or sₙ = wₙ / Σₘ wₘ with sample weights w,

and each loss is summed over the output units. The output delta of the derivations is the
general δᴸ = f'(zᴸ) ⊙ ∂J/∂o. For the *canonical* pairs the product collapses to δᴸ = o − y:

    identity + squared,  sigmoid + log_loss,  softmax + cross_entropy,  exp + poisson

and for those the engine uses that form, and computes J from the logits z instead of from o, so
that neither ever overflows or takes log 0.

>>> import numpy as np
>>> from backprop.losses import get_loss
>>> squared = get_loss("squared")
>>> o, y = np.array([[0.75, 0.77]]), np.array([[0.01, 0.99]])
>>> squared.value(o, y).round(4)          # ½‖y − o‖² per sample
array([0.298])
>>> squared.derivative(o, y)              # ∂J/∂o = o − y
array([[ 0.74, -0.22]])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .backend import backend_for
from .validation import look_up


@dataclass(frozen=True)
class Loss:
    """One loss: per-sample ``value(o, y)`` of shape (N,), ``gradient(o, y, out)`` writing ∂J/∂o.

    The work is done by functions of the backend ``xp`` (the network's array module):
    ``per_sample(xp, o, y)`` gives Jₙ, ``gradient_function(xp, o, y, out)`` writes ∂J/∂o.
    ``canonical`` names the output activation with which δ = o − y, and
    ``per_sample_from_logits(xp, z, y)`` gives J computed stably from that activation's net
    input z. ``check_targets(y)`` refuses (host) targets the loss cannot take.

    What the rest of the library reads from here, never from tables of its own: ``text`` /
    ``latex`` (the error E written out), ``gradient_text`` / ``gradient_latex`` (∂J/∂o),
    ``kink`` (``kink(o, y)`` says which side of a jump in ∂J/∂o each output is on; None when
    smooth), and ``params`` with the ``factory`` that rebuilds an equal loss from them.
    """

    name: str
    per_sample: Callable
    gradient_function: Callable
    canonical: str | None = None
    per_sample_from_logits: Callable | None = None
    check_targets: Callable | None = None
    params: dict = field(default_factory=dict)
    text: str = ""
    latex: str = ""
    gradient_text: str = "∂J/∂o"
    gradient_latex: str = r"\partial J/\partial o"
    kink: Callable | None = None
    factory: Callable | None = None

    def __post_init__(self):
        if not self.text:
            object.__setattr__(self, "text", f"E = {self.name}(o, y)")
        if not self.latex:
            object.__setattr__(self, "latex", rf"E = \mathrm{{{self.name}}}(o, y)")

    def value(self, o, y, xp=None):
        """Jₙ for every sample, shape (N,)."""
        return self.per_sample(backend_for(o) if xp is None else xp, o, y)

    def value_from_logits(self, z, y, xp=None):
        """Jₙ computed from the canonical output activation's net input z."""
        if self.per_sample_from_logits is None:
            raise ValueError(f"{self.name} has no canonical output activation to start from")
        return self.per_sample_from_logits(backend_for(z) if xp is None else xp, z, y)

    def gradient(self, o, y, out, xp=None) -> None:
        """∂J/∂o written into ``out``."""
        self.gradient_function(backend_for(o) if xp is None else xp, o, y, out)

    def derivative(self, o, y, xp=None):
        """∂J/∂o as a new array."""
        xp = backend_for(o) if xp is None else xp
        out = xp.empty_like(o)
        self.gradient_function(xp, o, y, out)
        return out

    def rebuild(self, params: dict) -> Loss:
        """A loss like this one with other constructor arguments (``factory(**params)``)."""
        if set(params) != set(self.params):
            raise ValueError(
                f"loss {self.name!r} needs parameters {sorted(self.params)}, got {sorted(params)}"
            )
        return self if self.factory is None else self.factory(**params)

    def __reduce__(self):
        # pickled by name (and factory arguments), never as code
        if self.factory is not None:
            return _rebuild_loss, (self.name, dict(self.params))
        return get_loss, (self.name,)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Loss({self.name!r}{', ' + args if args else ''})"


def _rebuild_loss(name: str, params: dict) -> Loss:
    return get_loss(name).rebuild(params)


def _eps(array) -> float:
    return float(np.finfo(array.dtype).eps)


# --- squared: J = ½ Σₖ (oₖ − yₖ)² -------------------------------------------------------------


def _squared(xp, o, y):
    r = o - y
    return 0.5 * xp.row_sum(r * r)


def _squared_gradient(xp, o, y, out):
    xp.subtract(o, y, out=out)  # ∂J/∂o = o − y


# --- log_loss (binary cross-entropy, summed over outputs): J = −Σₖ [y log o + (1−y) log(1−o)]


def _log_loss(xp, o, y):
    o = xp.clip(o, _eps(o), 1 - _eps(o))
    return -xp.row_sum(y * xp.log(o) + (1 - y) * xp.log1p(-o))


def _log_loss_from_logits(xp, z, y):
    # log(1 + e^z) − y·z, written as max(z, 0) − y·z + log(1 + e^(−|z|)) so nothing overflows
    return xp.row_sum(xp.maximum(z, 0) - y * z + xp.log1p(xp.exp(-xp.abs(z))))


def _log_loss_gradient(xp, o, y, out):
    o = xp.clip(o, _eps(o), 1 - _eps(o))
    xp.subtract(o, y, out=out)  # ∂J/∂o = (o − y) / (o (1 − o))
    out /= o * (1 - o)


def _check_probabilities(y, name):
    if np.any((y < 0) | (y > 1)):
        row, col = np.argwhere((y < 0) | (y > 1))[0]
        raise ValueError(
            f"{name} needs targets in [0, 1]; Y[{row}, {col}] = {y[row, col].item()!r} is outside"
        )


# --- cross_entropy (multi-class): J = −Σₖ yₖ log oₖ -----------------------------------------


def _cross_entropy(xp, o, y):
    return -xp.row_sum(y * xp.log(xp.maximum(o, _eps(o))))


def _cross_entropy_from_logits(xp, z, y):
    # −Σₖ yₖ log softmax(z)ₖ = Σₖ yₖ (logsumexp(z) − zₖ)
    z_max = xp.row_max(z)
    shifted = z - z_max[:, None]
    logsumexp = z_max + xp.log(xp.row_sum(xp.exp(shifted, out=shifted)))
    return logsumexp * xp.row_sum(y) - xp.row_sum(y * z)


def _cross_entropy_gradient(xp, o, y, out):
    xp.maximum(o, _eps(o), out=out)  # ∂J/∂o = −y / o
    xp.divide(y, out, out=out)
    xp.negative(out, out=out)


def _check_cross_entropy_targets(y):
    _check_probabilities(y, "cross_entropy")
    sums = y.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1) > 1e-3)
    if bad.size:
        raise ValueError(
            f"cross_entropy needs one-hot (or probability) target rows that sum to 1, "
            f"or integer class labels; row {bad[0]} sums to {sums[bad[0]]:.6g}"
        )


# --- absolute: J = Σₖ |oₖ − yₖ| -------------------------------------------------------------


def _absolute(xp, o, y):
    return xp.row_sum(xp.abs(o - y))


def _absolute_gradient(xp, o, y, out):
    xp.subtract(o, y, out=out)  # ∂J/∂o = sign(o − y)
    xp.sign(out, out=out)


# --- huber: J = Σₖ ½r² for |r| ≤ d, d(|r| − ½d) beyond, r = o − y ---------------------------


def huber(d: float = 1.0) -> Loss:
    """The Huber loss with threshold ``d``: squared near the target, absolute far from it.

    >>> huber(1.0).value(np.array([[3.0]]), np.array([[0.0]]))
    array([2.5])
    """
    if isinstance(d, bool) or not isinstance(d, (int, float, np.floating, np.integer)):
        raise TypeError(f"huber threshold d must be a number, got {d!r}")
    if not d > 0:
        raise ValueError(f"huber threshold d must be > 0, got {d!r}")
    d = float(d)

    def value(xp, o, y):
        r = xp.abs(o - y)
        return xp.row_sum(xp.where(r <= d, 0.5 * r * r, d * (r - 0.5 * d)))

    def gradient(xp, o, y, out):
        xp.subtract(o, y, out=out)  # ∂J/∂o = clip(o − y, −d, d)
        xp.clip(out, -d, d, out=out)

    return Loss(
        "huber",
        value,
        gradient,
        params={"d": d},
        text="E = Σₖ huber(oₖ − yₖ)",
        latex=r"E = \sum_k \mathrm{huber}(o_k - y_k)",
        gradient_text=f"clip(o − y, −{d:g}, {d:g})",
        gradient_latex=rf"\mathrm{{clip}}(o-y,-{d:g},{d:g})",
        kink=lambda o, y: abs(o - y) <= d,
        factory=huber,
    )


# --- poisson (half deviance): J = Σₖ [y log(y/o) − y + o] ------------------------------------


def _y_log_y(xp, y):
    return y * xp.log(xp.where(y > 0, y, 1))


def _poisson(xp, o, y):
    o = xp.maximum(o, _eps(o))
    return xp.row_sum(_y_log_y(xp, y) - y * xp.log(o) - y + o)


def _poisson_from_logits(xp, z, y):
    with xp.errstate(over="ignore"):
        return xp.row_sum(_y_log_y(xp, y) - y * z - y + xp.exp(z))


def _poisson_gradient(xp, o, y, out):
    xp.maximum(o, _eps(o), out=out)  # ∂J/∂o = 1 − y / o
    xp.divide(y, out, out=out)
    xp.subtract(1, out, out=out)


def _check_counts(y):
    if np.any(y < 0):
        row, col = np.argwhere(y < 0)[0]
        raise ValueError(f"poisson needs targets >= 0; Y[{row}, {col}] = {y[row, col].item()!r}")


LOSSES: dict[str, Loss] = {
    "squared": Loss(
        "squared",
        _squared,
        _squared_gradient,
        canonical="identity",
        text="E = ½ Σₖ (yₖ − oₖ)²",
        latex=r"E = \tfrac12 \sum_k (y_k - o_k)^2",
        gradient_text="o − y",
        gradient_latex="o-y",
    ),
    "log_loss": Loss(
        "log_loss",
        _log_loss,
        _log_loss_gradient,
        canonical="sigmoid",
        per_sample_from_logits=_log_loss_from_logits,
        check_targets=lambda y: _check_probabilities(y, "log_loss"),
        text="E = −Σₖ [yₖ log oₖ + (1 − yₖ) log(1 − oₖ)]",
        latex=r"E = -\sum_k \left[y_k \log o_k + (1-y_k)\log(1-o_k)\right]",
        gradient_text="(o − y)/(o(1 − o))",
        gradient_latex=r"\frac{o-y}{o(1-o)}",
    ),
    "cross_entropy": Loss(
        "cross_entropy",
        _cross_entropy,
        _cross_entropy_gradient,
        canonical="softmax",
        per_sample_from_logits=_cross_entropy_from_logits,
        check_targets=_check_cross_entropy_targets,
        text="E = −Σₖ yₖ log oₖ",
        latex=r"E = -\sum_k y_k \log o_k",
        gradient_text="−y/o",
        gradient_latex=r"-\frac{y}{o}",
    ),
    "absolute": Loss(
        "absolute",
        _absolute,
        _absolute_gradient,
        text="E = Σₖ |oₖ − yₖ|",
        latex=r"E = \sum_k |o_k - y_k|",
        gradient_text="sign(o − y)",
        gradient_latex=r"\mathrm{sign}(o-y)",
        kink=lambda o, y: o - y > 0,
    ),
    "huber": huber(1.0),
    "poisson": Loss(
        "poisson",
        _poisson,
        _poisson_gradient,
        canonical="exp",
        per_sample_from_logits=_poisson_from_logits,
        check_targets=_check_counts,
        text="E = Σₖ [yₖ log(yₖ/oₖ) − yₖ + oₖ]",
        latex=r"E = \sum_k [y_k\log(y_k/o_k) - y_k + o_k]",
        gradient_text="1 − y/o",
        gradient_latex=r"1-\frac{y}{o}",
    ),
}
ALIASES = {
    "mse": "squared",
    "squared_error": "squared",
    "binary_cross_entropy": "log_loss",
    "bce": "log_loss",
    "categorical_cross_entropy": "cross_entropy",
    "mae": "absolute",
}
BUILTIN_NAMES = frozenset(LOSSES) | frozenset(ALIASES)


def register_loss(name: str, J: Callable, dJ_do: Callable, *, overwrite: bool = False) -> Loss:
    """Add a loss from plain functions: ``J(o, y)`` per element or per sample, ``dJ_do(o, y)``.

    ``J`` may return shape (N, K) (summed over outputs here) or (N,).

    >>> cubic = register_loss("cubic", lambda o, y: abs(o - y) ** 3,
    ...                       lambda o, y: 3 * (o - y) * abs(o - y), overwrite=True)
    >>> cubic.value(np.array([[2.0, 1.0]]), np.array([[0.0, 0.0]]))
    array([9.])
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"loss name must be a non-empty string, got {name!r}")
    name = name.lower()  # lookups are case-insensitive
    if not callable(J) or not callable(dJ_do):
        raise TypeError("register_loss needs callables J and dJ_do")
    if name in BUILTIN_NAMES or (name in LOSSES and not overwrite):
        raise ValueError(f"loss {name!r} already exists; pick another name")

    def value(xp, o, y):
        per_sample = xp.asarray(J(o, y))
        return per_sample.sum(axis=1) if per_sample.ndim == 2 else per_sample

    def gradient(xp, o, y, out):
        out[...] = dJ_do(o, y)

    loss = Loss(name, value, gradient)
    LOSSES[name] = loss
    return loss


def get_loss(spec: str | Loss) -> Loss:
    """Look a loss up by name (or pass a ``Loss`` through)."""
    return look_up("loss", spec, Loss, LOSSES, ALIASES)


def per_sample_loss(xp, loss: Loss, output_activation: str, z, o, y):
    """Jₙ for each sample: from the logits z for a canonical pair, else from the output o."""
    if loss.canonical == output_activation and loss.per_sample_from_logits is not None:
        return loss.per_sample_from_logits(xp, z, y)
    return loss.per_sample(xp, o, y)
