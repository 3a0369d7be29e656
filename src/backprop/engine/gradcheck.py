"""Check backpropagation's gradients against finite differences.

For every parameter θᵢ the derivative ∂E/∂θᵢ is estimated from the error alone, with the
sixth-order central difference

    ∂E/∂θᵢ ≈ [45(E₊₁ − E₋₁) − 9(E₊₂ − E₋₂) + (E₊₃ − E₋₃)] / 60h,   Eₖ = E(θᵢ + k·h),

in float64 on a host (numpy) copy of the network, whatever its backend, and compared with the
delta rule's ∂E/∂θᵢ. The relative error of one parameter is |g − ĝ| / max(|g|, |ĝ|, floor);
``floor`` keeps gradients that are zero in exact arithmetic from dividing rounding noise by
zero.

A finite difference across a kink (ReLU at z = 0, the absolute loss at o = y) measures nothing;
when a step would cross one, a smaller step is tried, and a parameter whose every step crosses
one is left out.

>>> import numpy as np, backprop as bp
>>> net = bp.Network([3, 5, 2], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
>>> X = np.random.default_rng(0).normal(size=(6, 3)); y = np.array([0, 1, 1, 0, 1, 0])
>>> bp.gradcheck(net, X, y) < 1e-6
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .delta_rule import backward, batch_error, forward

_STEPS = (1e-2, 1e-3, 1e-4, 1e-5)
_OFFSETS = (-3, -2, -1, 1, 2, 3)


@dataclass
class GradientComparison:
    """Backprop's gradient, the finite-difference estimate and their relative error, per
    parameter in the flat layout [W¹ … Wᴸ, b¹ … bᴸ]; ``checked`` is False where every step
    crossed a kink."""

    analytic: np.ndarray
    numeric: np.ndarray
    relative_error: np.ndarray
    checked: np.ndarray

    @property
    def worst(self) -> float:
        errors = self.relative_error[self.checked]
        return float(errors.max()) if errors.size else 0.0


def compare_gradients(
    net, X, Y, sample_weight=None, *, training: bool = False, seed: int = 0, floor: float = 1e-6
) -> GradientComparison:
    """Backprop's ∂E/∂θ next to finite differences, for every parameter of ``net``.

    With ``training=True`` dropout is on, with the same masks (drawn from ``seed``) in every
    evaluation, so the check covers the dropout backward pass too.
    """
    net64 = net.copy("float64", backend="numpy")  # on the host: one parameter at a time
    X, Y, weights = net64.check_data(X, Y, sample_weight)
    work = net64.workspace(X.shape[0])
    work.set_scale(weights)

    def run_forward():
        forward(net64, work, X, training, net64.backend.random_generator(seed))

    run_forward()
    backward(net64, work, Y, training)
    analytic = net64.grads.copy()
    base_pattern = _kink_pattern(net64, work, Y)

    def error_at(i, value):
        saved = net64.params[i]
        net64.params[i] = value
        run_forward()
        result = float(batch_error(net64, work, Y)), _kink_pattern(net64, work, Y)
        net64.params[i] = saved
        return result

    numeric = np.zeros_like(analytic)
    checked = np.zeros(analytic.shape, dtype=bool)
    for i in range(analytic.size):
        theta = float(net64.params[i])
        for step in _STEPS:
            h = step * max(1.0, abs(theta))
            values, patterns = zip(*(error_at(i, theta + k * h) for k in _OFFSETS), strict=True)
            if all(np.array_equal(p, base_pattern) for p in patterns):
                e_m3, e_m2, e_m1, e_p1, e_p2, e_p3 = values
                numeric[i] = (45 * (e_p1 - e_m1) - 9 * (e_p2 - e_m2) + (e_p3 - e_m3)) / (60 * h)
                checked[i] = True
                break
    denominator = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    relative = np.abs(analytic - numeric) / denominator
    return GradientComparison(analytic, numeric, relative, checked)


def gradcheck(net, X, Y, sample_weight=None, *, training: bool = False, seed: int = 0) -> float:
    """The worst relative error between backprop's gradients and finite differences.

    Below 1e-6 the two agree to the precision finite differences can show.
    """
    return compare_gradients(net, X, Y, sample_weight, training=training, seed=seed).worst


def _kink_pattern(net, work, Y) -> np.ndarray:
    """Which side of each kink every unit and output sits on (each function says where its
    kinks are: ``Activation.kink``, ``Loss.kink``)."""
    sides = [
        layer.activation.kink(work.z[layer.index])
        for layer in net.layers[1:]
        if layer.activation.kink is not None
    ]
    if net.loss.kink is not None:
        sides.append(net.loss.kink(work.a[net.n_layers], Y))
    return np.concatenate([s.ravel() for s in sides]) if sides else np.empty(0, dtype=bool)
