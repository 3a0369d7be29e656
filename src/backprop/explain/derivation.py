"""The unit-by-unit sections: forward pass, error, output and hidden deltas, gradients, update.

Every fact about an activation or a loss (its symbol, its derivative, how it is written) comes
from the ``Activation`` and ``Loss`` objects of the traced network, so a parametrised function
such as ``leaky_relu(0.2)`` is written out with its own slope. The values shown are sample 1's.

>>> import backprop as bp
>>> trace = bp.Network([2, 2, 1], seed=0).backprop([[1.0, 0.0]], [1.0])
>>> [section.title for section in forward_sections(trace)]
['Forward pass, layer 1 (sigmoid)', 'Forward pass, layer 2 (sigmoid)']
>>> [step.symbol.name for step in output_delta_section(trace).steps]
['delta']
"""

from __future__ import annotations

import numpy as np

from .data import (
    CLOSE,
    F_PRIME,
    MINUS,
    OPEN,
    PLUS,
    TIMES,
    Notation,
    Number,
    Prose,
    Section,
    Step,
    Symbol,
    sum_of_products,
    vector,
)


def _last_layer(trace) -> int:
    return len(trace.a) - 1


def _batch_size(trace) -> int:
    return trace.a[0].shape[0]


def forward_sections(trace) -> list[Section]:
    """zˡᵢ = Σⱼ wˡᵢⱼ aˡ⁻¹ⱼ + bˡᵢ with every product, then aˡᵢ = f(zˡᵢ), layer by layer."""
    return [_forward_layer(trace, l) for l in range(1, _last_layer(trace) + 1)]


def _forward_layer(trace, l: int) -> Section:
    activation = trace.network.layers[l].activation
    n_out, n_in = trace.W[l].shape
    n = _batch_size(trace)
    note = Prose(
        f"Matrix form: z{l} = a{l - 1}·W{l}ᵀ + b{l}, shapes ({n}×{n_in})·({n_in}×{n_out}) + "
        f"({n_out}) → ({n}×{n_out}); a{l} = f(z{l})."
    )
    f = Notation(activation.symbol, activation.symbol_latex)
    steps = []
    for i in range(n_out):
        z = trace.z[l][0, i]
        steps.append(_net_input(trace, l, i))
        steps.append(
            Step(
                "forward",
                l,
                (i,),
                Symbol("a", l, (i,)),
                formula=(f, OPEN, Symbol("z", l, (i,)), CLOSE),
                substituted=(f, OPEN, Number(z), CLOSE),
                value=trace.a[l][0, i],
            )
        )
    title = f"Forward pass, layer {l} ({activation.name})"
    return Section("forward", title, l, ((note,),), tuple(steps))


def _net_input(trace, l: int, i: int) -> Step:
    """zˡᵢ = Σⱼ wˡᵢⱼ aˡ⁻¹ⱼ + bˡᵢ."""
    W, a_below = trace.W[l], trace.a[l - 1][0]
    inputs = range(W.shape[1])
    symbols = sum_of_products((Symbol("w", l, (i, j)), Symbol("a", l - 1, (j,))) for j in inputs)
    values = sum_of_products((Number(W[i, j]), Number(a_below[j])) for j in inputs)
    return Step(
        "forward",
        l,
        (i,),
        Symbol("z", l, (i,)),
        formula=(*symbols, PLUS, Symbol("b", l, (i,))),
        substituted=(*values, PLUS, Number(trace.b[l][i])),
        value=trace.z[l][0, i],
    )


def error_section(trace) -> Section:
    """The error E, written as the loss defines it, after the outputs o and targets y."""
    L, loss = _last_layer(trace), trace.network.loss
    note = (Prose("o = "), *vector(trace.a[L][0]), Prose(", y = "), *vector(trace.Y[0]))
    right_side = Notation(_right_of_equals(loss.text), _right_of_equals(loss.latex))
    step = Step("error", L, (), Symbol("E"), formula=(right_side,), value=trace.loss)
    return Section("error", "Error", L, (note,), (step,))


def _right_of_equals(text: str) -> str:
    """``½ Σₖ (yₖ − oₖ)²`` from ``E = ½ Σₖ (yₖ − oₖ)²``; text without ``E =`` unchanged."""
    left, equals, right = text.partition("=")
    return right.strip() if equals and left.strip() == "E" else text


def output_delta_section(trace) -> Section:
    """δᴸₖ: o − y for a canonical pair, f'(z)·∂J/∂o otherwise (a Jacobian product for softmax)."""
    L, net = _last_layer(trace), trace.network
    activation, loss = net.layers[L].activation, net.loss
    title = f"Output deltas, layer {L} ({activation.name} with {loss.name})"
    gradient = Notation(loss.gradient_text, loss.gradient_latex)
    derivative = Notation(activation.derivative_text, activation.derivative_latex)
    if loss.canonical == activation.name:
        note = (
            Prose(
                f"{activation.name} with {loss.name} is a canonical pair: "
                "f'(z) and ∂J/∂o cancel to δ = o − y."
            ),
        )
        steps = _canonical_output_deltas(trace, L)
    elif activation.elementwise:
        note = (Prose("δ = f'(z) ⊙ ∂J/∂o with ∂J/∂o = "), gradient)
        note += (Prose(", f'(z) = "), derivative, Prose("."))
        steps = _elementwise_output_deltas(trace, L, activation)
    else:
        note = (Prose("δ = f'(z)·∂J/∂o with the Jacobian f'(z) = "), derivative)
        note += (Prose(" and ∂J/∂o = "), gradient, Prose("."))
        steps = _jacobian_output_deltas(trace, L)
    return Section("output_delta", title, L, (note,), tuple(steps))


def _canonical_output_deltas(trace, L: int) -> list[Step]:
    """δᴸₖ = oₖ − yₖ."""
    o, y = trace.a[L][0], trace.Y[0]
    return [
        Step(
            "output_delta",
            L,
            (k,),
            Symbol("delta", L, (k,)),
            formula=(Symbol("o", None, (k,)), MINUS, Symbol("y", None, (k,))),
            substituted=(Number(o[k]), MINUS, Number(y[k])),
            value=trace.delta[L][0, k],
        )
        for k in range(o.shape[0])
    ]


def _elementwise_output_deltas(trace, L: int, activation) -> list[Step]:
    """δᴸₖ = f'(zᴸₖ)·∂J/∂oₖ, f' being the output activation's own derivative."""
    derivative = activation.derivative(trace.z[L][:1], trace.a[L][:1])[0]
    error = trace.error[L][0]
    return [
        Step(
            "output_delta",
            L,
            (k,),
            Symbol("delta", L, (k,)),
            formula=(
                F_PRIME,
                OPEN,
                Symbol("z", L, (k,)),
                CLOSE,
                TIMES,
                Symbol("dJ/do", None, (k,)),
            ),
            substituted=(Number(derivative[k]), TIMES, Number(error[k])),
            value=trace.delta[L][0, k],
        )
        for k in range(error.shape[0])
    ]


def _jacobian_output_deltas(trace, L: int) -> list[Step]:
    """δₖ = oₖ(gₖ − Σₘ gₘ oₘ) with g = ∂J/∂o: the Jacobian diag(o) − o·oᵀ times g (softmax).

    The numbers are substituted only where they reproduce δ: an activation with some other
    Jacobian gets the formula's value alone, never a false product.
    """
    o, g, delta = trace.a[L][0], trace.error[L][0], trace.delta[L][0]
    weighted = float(g @ o)
    substitute = np.allclose(o * (g - weighted), delta, rtol=1e-6, atol=1e-12)
    total = Notation("Σₘ gₘ oₘ", r"\sum_m g_m o_m")
    steps = []
    for k in range(o.shape[0]):
        formula = (Symbol("o", None, (k,)), OPEN, Symbol("g", None, (k,)), MINUS, total, CLOSE)
        substituted = (Number(o[k]), TIMES, OPEN, Number(g[k]), MINUS, Number(weighted), CLOSE)
        steps.append(
            Step(
                "output_delta",
                L,
                (k,),
                Symbol("delta", L, (k,)),
                formula=formula,
                substituted=substituted if substitute else (),
                value=delta[k],
            )
        )
    return steps


def hidden_delta_sections(trace) -> list[Section]:
    """δˡⱼ = f'(zˡⱼ)·Σₖ wˡ⁺¹ₖⱼ δˡ⁺¹ₖ, the delta rule, from the last hidden layer down."""
    return [_hidden_deltas(trace, l) for l in range(_last_layer(trace) - 1, 0, -1)]


def _hidden_deltas(trace, l: int) -> Section:
    activation = trace.network.layers[l].activation
    n_above, n_units = trace.W[l + 1].shape
    shapes = f"shapes ({trace.delta[l + 1].shape[0]}×{n_above})·({n_above}×{n_units})"
    derivative = Notation(activation.derivative_text, activation.derivative_latex)
    note = (Prose(f"Matrix form: δ{l} = f'(z{l}) ⊙ (δ{l + 1}·W{l + 1}), {shapes}; f'(z) = "),)
    note += (derivative, Prose("."))
    derivatives = activation.derivative(trace.z[l][:1], trace.a[l][:1])[0]
    steps = tuple(_delta_rule(trace, l, j, derivatives[j]) for j in range(n_units))
    title = f"Hidden deltas, layer {l} ({activation.name}), by the delta rule"
    return Section("hidden_delta", title, l, (note,), steps)


def _delta_rule(trace, l: int, j: int, derivative: float) -> Step:
    """δˡⱼ = f'(zˡⱼ)·(Σₖ wˡ⁺¹ₖⱼ δˡ⁺¹ₖ)."""
    W_above, delta_above = trace.W[l + 1], trace.delta[l + 1][0]
    above = range(W_above.shape[0])
    symbols = sum_of_products(
        (Symbol("w", l + 1, (k, j)), Symbol("delta", l + 1, (k,))) for k in above
    )
    values = sum_of_products((Number(W_above[k, j]), Number(delta_above[k])) for k in above)
    return Step(
        "hidden_delta",
        l,
        (j,),
        Symbol("delta", l, (j,)),
        formula=(F_PRIME, OPEN, Symbol("z", l, (j,)), CLOSE, TIMES, OPEN, *symbols, CLOSE),
        substituted=(Number(derivative), TIMES, OPEN, *values, CLOSE),
        value=trace.delta[l][0, j],
    )


def gradient_sections(trace) -> list[Section]:
    """∂E/∂wˡᵢⱼ = δˡᵢ·aˡ⁻¹ⱼ (batch means for several samples) and ∂E/∂bˡᵢ, from the top."""
    return [_gradients(trace, l) for l in range(_last_layer(trace), 0, -1)]


def _gradients(trace, l: int) -> Section:
    n, (n_out, n_in) = _batch_size(trace), trace.W[l].shape
    note = Prose(
        f"Matrix form: ∂E/∂W{l} = δ{l}ᵀ·a{l - 1}{' / N' if n > 1 else ''}, shape {n_out}×{n_in}; "
        f"∂E/∂b{l} = mean of δ{l}."
    )
    single = n == 1  # a batch's gradients are means over the samples, not one product
    steps = [_weight_gradient(trace, l, i, j, single) for i, j in np.ndindex(n_out, n_in)]
    for i in range(n_out):
        symbol, formula = Symbol("dE/db", l, (i,)), (Symbol("delta", l, (i,)),) if single else ()
        steps.append(Step("gradient", l, (i,), symbol, formula, value=trace.grad_b[l][i]))
    return Section("gradient", f"Gradients, layer {l}", l, ((note,),), tuple(steps))


def _weight_gradient(trace, l: int, i: int, j: int, single: bool) -> Step:
    """∂E/∂wˡᵢⱼ = δˡᵢ·aˡ⁻¹ⱼ, written as that product for a single sample."""
    symbol, value = Symbol("dE/dw", l, (i, j)), trace.grad_W[l][i, j]
    if not single:
        return Step("gradient", l, (i, j), symbol, value=value)
    delta, a_below = trace.delta[l][0, i], trace.a[l - 1][0, j]
    return Step(
        "gradient",
        l,
        (i, j),
        symbol,
        formula=(Symbol("delta", l, (i,)), TIMES, Symbol("a", l - 1, (j,))),
        substituted=(Number(delta), TIMES, Number(a_below)),
        value=value,
    )


def update_section(trace, lr: float) -> Section:
    """w ← w − η·∂E/∂w for every weight and bias, from the top layer down."""
    rule = Notation("w ← w − η·∂E/∂w", r"w \leftarrow w - \eta\,\partial E/\partial w")
    note = (Prose("Every weight and bias takes a step against its gradient, "), rule, Prose("."))
    steps = []
    for l in range(_last_layer(trace), 0, -1):
        W, grad_W, b, grad_b = trace.W[l], trace.grad_W[l], trace.b[l], trace.grad_b[l]
        steps += [
            _update(l, (i, j), "w", W[i, j], grad_W[i, j], lr) for i, j in np.ndindex(*W.shape)
        ]
        steps += [_update(l, (i,), "b", b[i], grad_b[i], lr) for i in range(b.shape[0])]
    title = f"Gradient descent step, learning rate η = {lr:g}"
    return Section("update", title, None, (note,), tuple(steps))


def _update(l: int, units: tuple[int, ...], name: str, value, gradient, lr: float) -> Step:
    """One parameter's step: value ← value − η·gradient."""
    return Step(
        "update",
        l,
        units,
        Symbol(name, l, units),
        substituted=(Number(value), MINUS, Symbol("eta"), TIMES, Number(gradient)),
        value=float(value) - lr * float(gradient),
        relation="←",
    )
