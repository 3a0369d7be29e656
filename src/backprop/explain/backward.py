"""The unit-by-unit sections of the backward pass: hidden deltas, gradients and the update.

A hidden unit's delta is f' of its net input times the sum, over every layer the unit feeds,
of each receiving unit's weight from it times that unit's delta (Bishop's form of the delta
rule); in a chain the only such layer is the one above. Parameters held fixed
(``train_weights=False``, ``train_bias=False``) keep their gradient in the solution but take no
step in the update.

>>> import backprop as bp
>>> net = bp.Network([2, bp.Layer(2), bp.Layer(2), bp.Layer(1, inputs=[1, 2])], seed=0)
>>> trace = net.backprop([[1.0, 0.0]], [[1.0]])
>>> formula = hidden_delta_sections(trace)[1].steps[0].formula   # δ¹₁: from layers 2 and 3
>>> [(token.name, token.layer) for token in formula if getattr(token, "name", "") == "delta"]
[('delta', 2), ('delta', 2), ('delta', 3)]
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
)
from .derivation import batch_size, derivative_words, last_layer
from .units import consumers, input_description, input_numbers, input_symbols


def hidden_delta_sections(trace) -> list[Section]:
    """δˡⱼ = f'(zˡⱼ)·Σ_c Σₖ wᶜₖⱼ δᶜₖ over the layers c fed by l, from the top hidden layer down."""
    return [_hidden_deltas(trace, l) for l in range(last_layer(trace) - 1, 0, -1)]


def _hidden_deltas(trace, l: int) -> Section:
    activation = trace.network.layers[l].activation
    fed = consumers(trace, l)
    n_units = trace.W[l].shape[0]
    terms = []
    for c, offset in fed:
        whole = offset == 0 and trace.W[c].shape[1] == n_units
        columns = "" if whole else f"[:, {offset + 1}..{offset + n_units}]"
        terms.append(f"δ{c}·W{c}{columns}")
    note = (Prose(f"Matrix form: δ{l} = f'(z{l}) ⊙ ({' + '.join(terms)}); "),)
    note += (*derivative_words(activation), Prose("."))
    notes = [note]
    if len(fed) > 1:
        layers = " and ".join(str(c) for c, _ in fed)
        notes.append(
            (
                Prose(
                    f"Each unit of layer {l} feeds layers {layers}: its delta sums the terms "
                    "from every unit it feeds (Bishop's form of the delta rule)."
                ),
            )
        )
    derivatives = activation.derivative(trace.z[l][:1], trace.a[l][:1])[0]
    steps = tuple(_delta_rule(trace, l, j, derivatives[j], fed) for j in range(n_units))
    title = f"Hidden deltas, layer {l} ({activation.name}), by the delta rule"
    return Section("hidden_delta", title, l, tuple(notes), steps)


def _delta_rule(trace, l: int, j: int, derivative: float, fed) -> Step:
    """δˡⱼ = f'(zˡⱼ)·(Σ_c Σₖ wᶜₖ,ⱼ δᶜₖ), column j of Wᶜ being where unit j enters layer c."""
    symbols: list = []
    values: list = []
    for c, offset in fed:
        W, delta = trace.W[c], trace.delta[c][0]
        for k in range(W.shape[0]):
            if symbols:
                symbols.append(PLUS)
                values.append(PLUS)
            symbols += [Symbol("w", c, (k, offset + j)), TIMES, Symbol("delta", c, (k,))]
            values += [Number(W[k, offset + j]), TIMES, Number(delta[k])]
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
    """∂E/∂wˡᵢⱼ = δˡᵢ·uˡⱼ (batch means for several samples) and ∂E/∂bˡᵢ, from the top."""
    return [_gradients(trace, l) for l in range(last_layer(trace), 0, -1)]


def _gradients(trace, l: int) -> Section:
    n, (n_out, n_in) = batch_size(trace), trace.W[l].shape
    u = input_description(trace, l)
    u = u if u == f"a{l - 1}" else f"u{l}"
    if n == 1:
        form = f"∂E/∂W{l} = δ{l}ᵀ·{u}, shape {n_out}×{n_in}; ∂E/∂b{l} = δ{l}."
    else:
        form = (
            f"∂E/∂W{l} = Σₙ sₙ δ{l}ₙᵀ·{u}ₙ, shape {n_out}×{n_in}; ∂E/∂b{l} = Σₙ sₙ δ{l}ₙ "
            f"(sₙ = 1/N without sample weights): values over the batch, so no one product."
        )
    notes = [(Prose(f"Matrix form: {form}"),)]
    notes += [(Prose(text),) for text in fixed_parameters(trace, l)]
    single = n == 1  # a batch's gradients are means over the samples, not one product
    steps = [_weight_gradient(trace, l, i, j, single) for i, j in np.ndindex(n_out, n_in)]
    for i in range(n_out):
        symbol, formula = Symbol("dE/db", l, (i,)), (Symbol("delta", l, (i,)),) if single else ()
        steps.append(Step("gradient", l, (i,), symbol, formula, value=trace.grad_b[l][i]))
    return Section("gradient", f"Gradients, layer {l}", l, tuple(notes), tuple(steps))


def fixed_parameters(trace, l: int) -> list[str]:
    """Sentences saying which of layer l's parameters training holds fixed."""
    layer = trace.network.layers[l]
    sentences = []
    for which, option, name in (("W", "train_weights", "weights"), ("b", "train_bias", "biases")):
        if not layer.trains(which):
            sentences.append(
                f"The {name} {which}{l} are held fixed ({option}=False): their gradient is "
                "shown, but the update leaves them unchanged."
            )
    return sentences


def _weight_gradient(trace, l: int, i: int, j: int, single: bool) -> Step:
    """∂E/∂wˡᵢⱼ = δˡᵢ·uˡⱼ, written as that product for a single sample."""
    symbol, value = Symbol("dE/dw", l, (i, j)), trace.grad_W[l][i, j]
    if not single:
        return Step("gradient", l, (i, j), symbol, value=value)
    delta = trace.delta[l][0, i]
    return Step(
        "gradient",
        l,
        (i, j),
        symbol,
        formula=(Symbol("delta", l, (i,)), TIMES, *input_symbols(trace, l, j)),
        substituted=(Number(delta), TIMES, *input_numbers(trace, l, j)),
        value=value,
    )


def update_section(trace, lr: float) -> Section:
    """w ← w − η·∂E/∂w for every weight and bias training changes, from the top layer down."""
    rule = Notation("w ← w − η·∂E/∂w", r"w \leftarrow w - \eta\,\partial E/\partial w")
    note = (Prose("Every weight and bias takes a step against its gradient, "), rule, Prose("."))
    notes = [note]
    steps = []
    for l in range(last_layer(trace), 0, -1):
        W, grad_W, b, grad_b = trace.W[l], trace.grad_W[l], trace.b[l], trace.grad_b[l]
        layer = trace.network.layers[l]
        if layer.trains("W"):
            steps += [
                _update(l, (i, j), "w", W[i, j], grad_W[i, j], lr) for i, j in np.ndindex(*W.shape)
            ]
        if layer.trains("b"):
            steps += [_update(l, (i,), "b", b[i], grad_b[i], lr) for i in range(b.shape[0])]
        fixed = [f"{which}{l}" for which in ("W", "b") if not layer.trains(which)]
        if fixed:
            notes.append((Prose(f"{' and '.join(fixed)} held fixed: no step."),))
    title = f"Gradient descent step, learning rate η = {lr:g}"
    return Section("update", title, None, tuple(notes), tuple(steps))


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
