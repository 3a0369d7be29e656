"""The optimisers' updates as element-wise kernels over the flat buffers.

Each kernel is written with the backend ``xp`` and ufuncs with ``out=``, takes a scratch array
as long as the buffers it is given, and is element-wise: entry i of every output depends only on
entry i of the inputs, so a backend may run it block by block (the CPU), in one pass, or
through a compiled twin of the same name (``backprop.engine.backend.fused``).
"""

from __future__ import annotations


def _sgd_step(xp, params, grads, step, lr):
    xp.multiply(grads, lr, out=step)  # θ ← θ − lr·g
    params -= step


def _momentum_step(xp, params, grads, velocity, step, lr, mu):
    velocity *= mu  # v ← μ·v + g
    velocity += grads
    xp.multiply(velocity, lr, out=step)  # θ ← θ − lr·v
    params -= step


def _nesterov_step(xp, params, grads, velocity, step, lr, mu):
    velocity *= mu  # v ← μ·v + g
    velocity += grads
    xp.multiply(velocity, mu, out=step)  # θ ← θ − lr·(g + μ·v)
    step += grads
    step *= lr
    params -= step


def _adam_step(xp, params, grads, m, v, scratch, beta_1, rest_1, beta_2, rest_2, eps_c, step_c):
    """One Adam step; ``rest_k`` is 1 − βₖ, given so that it is not rounded from βₖ."""
    xp.multiply(grads, rest_1, out=scratch)  # m ← β₁·m + (1 − β₁)·g
    m *= beta_1
    m += scratch
    scratch *= scratch  # v ← β₂·v + (1 − β₂)·g², with g² = ((1 − β₁)·g)² / (1 − β₁)²
    scratch *= rest_2 / rest_1**2
    v *= beta_2
    v += scratch
    xp.sqrt(v, out=scratch)  # θ ← θ − lr_t·c · m / (√v + ε·c)
    scratch += eps_c
    xp.divide(m, scratch, out=scratch)
    scratch *= step_c
    params -= scratch


def _rmsprop_step(xp, params, grads, v, scratch, lr, rho, rest, epsilon):
    """One RMSprop step; ``rest`` is 1 − ρ, given so that it is not rounded from ρ."""
    v *= rho  # v ← ρ·v + (1 − ρ)·g²
    xp.multiply(grads, grads, out=scratch)
    scratch *= rest
    v += scratch
    _step_over_root(xp, params, grads, v, scratch, lr, epsilon)  # θ ← θ − lr·g / (√v + ε)


def _step_over_root(xp, params, grads, accumulator, scratch, lr, epsilon):
    """θ ← θ − lr·g / (√accumulator + ε), the step RMSprop and AdaGrad share."""
    xp.sqrt(accumulator, out=scratch)
    scratch += epsilon
    xp.divide(grads, scratch, out=scratch)
    scratch *= lr
    params -= scratch


def _adagrad_step(xp, params, grads, G, scratch, lr, epsilon):
    xp.multiply(grads, grads, out=scratch)  # G ← G + g²
    G += scratch
    _step_over_root(xp, params, grads, G, scratch, lr, epsilon)  # θ ← θ − lr·g / (√G + ε)


STEPS = {
    "sgd": _sgd_step,
    "momentum": _momentum_step,
    "nesterov": _nesterov_step,
    "adam": _adam_step,
    "rmsprop": _rmsprop_step,
    "adagrad": _adagrad_step,
}
"""The kernels, by the names of their compiled twins in ``fused``."""
