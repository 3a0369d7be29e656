"""The unit-by-unit sections of the forward pass: net inputs and activations, error, output deltas.

Every fact about an activation or a loss (its symbol, its derivative, how it is written) comes
from the ``Activation`` and ``Loss`` objects of the traced network, so a parametrised function
such as ``leaky_relu(0.2)`` is written out with its own slope. The values shown are sample 1's;
in a batch the error step says so and gives the batch's E beside sample 1's Jₙ.

>>> import backprop as bp
>>> trace = bp.Network([2, 2, 1], seed=0).backprop([[1.0, 0.0]], [1.0])
>>> [section.title for section in forward_sections(trace)]
['Forward pass, layer 1 (sigmoid)', 'Forward pass, layer 2 (sigmoid)']
>>> [step.symbol.name for step in output_delta_section(trace).steps]
['delta']
"""

from __future__ import annotations

import numpy as np

from ..engine.backend import NUMPY
from ..engine.losses import per_sample_loss
from .data import (
    CLOSE,
    DIVIDE,
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
    vector,
)
from .units import input_description, input_numbers, input_symbols

EXP = Notation("exp", r"\exp")


def last_layer(trace) -> int:
    return len(trace.a) - 1


def batch_size(trace) -> int:
    return trace.a[0].shape[0]


def derivative_words(activation) -> tuple:
    """``f'(z) = <its formula>``, or, for a function registered without one, what f' is."""
    if activation.derivative_text == "f'(z)":
        return (Prose(f"f' is the derivative registered with {activation.name}"),)
    derivative = Notation(activation.derivative_text, activation.derivative_latex)
    return (Prose("f'(z) = "), derivative)


def forward_sections(trace) -> list[Section]:
    """zˡᵢ = Σⱼ wˡᵢⱼ uˡⱼ + bˡᵢ with every product, then aˡᵢ = f(zˡᵢ), layer by layer."""
    return [_forward_layer(trace, l) for l in range(1, last_layer(trace) + 1)]


def _forward_layer(trace, l: int) -> Section:
    activation = trace.network.layers[l].activation
    n_out, n_in = trace.W[l].shape
    n, u = batch_size(trace), input_description(trace, l)
    if u == f"a{l - 1}":
        form = f"z{l} = a{l - 1}·W{l}ᵀ + b{l}"
    else:
        form = f"z{l} = u{l}·W{l}ᵀ + b{l} with u{l} = {u}"
    note = Prose(
        f"Matrix form: {form}, shapes ({n}×{n_in})·({n_in}×{n_out}) + ({n_out}) → ({n}×{n_out}); "
        f"a{l} = f(z{l})."
    )
    steps = []
    for i in range(n_out):
        steps.append(_net_input(trace, l, i))
        steps.append(_activation(trace, l, i, activation))
    title = f"Forward pass, layer {l} ({activation.name})"
    return Section("forward", title, l, ((note,),), tuple(steps))


def _activation(trace, l: int, i: int, activation) -> Step:
    """aˡᵢ = f(zˡᵢ); softmax, which reads every zᴸₘ, as exp(zᵢ) / Σₘ exp(zₘ)."""
    z = trace.z[l][0]
    if activation.elementwise:
        f = Notation(activation.symbol, activation.symbol_latex)
        formula = (f, OPEN, Symbol("z", l, (i,)), CLOSE)
        substituted = (f, OPEN, Number(z[i]), CLOSE)
    else:
        total = Notation(f"Σₘ exp(z{l}ₘ)".translate(_SUPERSCRIPT), rf"\sum_m \exp(z^{{({l})}}_m)")
        formula = (EXP, OPEN, Symbol("z", l, (i,)), CLOSE, DIVIDE, total)
        terms: list = []
        for m in range(z.shape[0]):
            terms += [*([PLUS] if terms else []), EXP, OPEN, Number(z[m]), CLOSE]
        substituted = (EXP, OPEN, Number(z[i]), CLOSE, DIVIDE, OPEN, *terms, CLOSE)
    return Step("forward", l, (i,), Symbol("a", l, (i,)), formula, substituted, trace.a[l][0, i])


_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _net_input(trace, l: int, i: int) -> Step:
    """zˡᵢ = Σⱼ wˡᵢⱼ uˡⱼ + bˡᵢ, uˡⱼ written as the source unit (or sum of units) it is."""
    W = trace.W[l]
    symbols: list = []
    values: list = []
    for j in range(W.shape[1]):
        if symbols:
            symbols.append(PLUS)
            values.append(PLUS)
        symbols += [Symbol("w", l, (i, j)), TIMES, *input_symbols(trace, l, j)]
        values += [Number(W[i, j]), TIMES, *input_numbers(trace, l, j)]
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
    """The error E as the loss defines it, after the outputs o and targets y; in a batch,
    sample 1's J₁ and then E = Σₙ sₙ Jₙ."""
    L, loss, n = last_layer(trace), trace.network.loss, batch_size(trace)
    which = "" if n == 1 else " (sample 1)"
    note = (Prose("o = "), *vector(trace.a[L][0]), Prose(", y = "), *vector(trace.Y[0]))
    note = (*note, Prose(which + "."))
    right_side = Notation(_right_of_equals(loss.text), _right_of_equals(loss.latex))
    if n == 1:
        step = Step("error", L, (), Symbol("E"), formula=(right_side,), value=trace.loss)
        return Section("error", "Error", L, (note,), (step,))
    activation = trace.network.layers[L].activation.name
    J = per_sample_loss(NUMPY, loss, activation, trace.z[L][:1], trace.a[L][:1], trace.Y[:1])
    first = Step("error", L, (0,), Symbol("J", None, (0,)), formula=(right_side,), value=J[0])
    mean = Notation(f"(1/{n}) Σₙ Jₙ", rf"\tfrac{{1}}{{{n}}} \sum_n J_n")
    weighted = not np.allclose(trace.scale, 1.0 / n, rtol=1e-6, atol=0.0)
    if weighted:
        mean = Notation("Σₙ sₙ Jₙ", r"\sum_n s_n J_n")
    total = Step("error", L, (), Symbol("E"), formula=(mean,), value=trace.loss)
    words = "sample weights sₙ = wₙ/Σw" if weighted else f"the mean over the {n} samples"
    batch = (Prose(f"The batch error E is {words}."),)
    return Section("error", "Error", L, (note, batch), (first, total))


def _right_of_equals(text: str) -> str:
    """``½ Σₖ (yₖ − oₖ)²`` from ``E = ½ Σₖ (yₖ − oₖ)²``; text without ``E =`` unchanged."""
    left, equals, right = text.partition("=")
    return right.strip() if equals and left.strip() == "E" else text


def output_delta_section(trace) -> Section:
    """δᴸₖ: o − y for a canonical pair, f'(z)·∂J/∂o otherwise (a Jacobian product for softmax)."""
    L, net = last_layer(trace), trace.network
    activation, loss = net.layers[L].activation, net.loss
    title = f"Output deltas, layer {L} ({activation.name} with {loss.name})"
    gradient = Notation(loss.gradient_text, loss.gradient_latex)
    if loss.canonical == activation.name:
        note = (
            Prose(
                f"{activation.name} with {loss.name} is a canonical pair: "
                "f'(z) and ∂J/∂o cancel to δ = o − y."
            ),
        )
        steps = _canonical_output_deltas(trace, L)
    elif activation.elementwise:
        note = (Prose("δ = f'(z) ⊙ ∂J/∂o with ∂J/∂o = "), gradient, Prose("; "))
        note += (*derivative_words(activation), Prose("."))
        steps = _elementwise_output_deltas(trace, L, activation)
    else:
        derivative = Notation(activation.derivative_text, activation.derivative_latex)
        note = (Prose("δ = f'(z)·g with the Jacobian f'(z) = "), derivative)
        note += (Prose(" and g = ∂J/∂o = "), gradient, Prose(": δₖ = oₖ(gₖ − Σₘ gₘ oₘ)."))
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
    steps = []
    for k in range(error.shape[0]):
        formula = (F_PRIME, OPEN, Symbol("z", L, (k,)), CLOSE, TIMES, Symbol("dJ/do", None, (k,)))
        substituted = (Number(derivative[k]), TIMES, Number(error[k]))
        delta = Symbol("delta", L, (k,))
        steps.append(
            Step("output_delta", L, (k,), delta, formula, substituted, trace.delta[L][0, k])
        )
    return steps


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
