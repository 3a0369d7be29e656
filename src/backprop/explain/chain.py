"""One weight's gradient by the chain rule, factor by factor, and a nudge that checks it.

``chain_rule_section(trace, l, i, j)`` writes ∂E/∂wˡᵢⱼ as Mazur and CS231n teach it, the product
of the local derivatives along the path from the weight to the error,

    ∂E/∂wˡᵢⱼ = ∂E/∂aˡᵢ · ∂aˡᵢ/∂zˡᵢ · ∂zˡᵢ/∂wˡᵢⱼ,

each factor with its value (a hidden unit's ∂E/∂aˡᵢ being the sum over the units it feeds of
∂E/∂zᶜₖ·∂zᶜₖ/∂aˡᵢ = δᶜₖ·wᶜₖᵢ), and then groups the factors as the delta rule does: the first
two are δˡᵢ, the last is the input uˡⱼ. ``nudge_section`` changes the weight by ε and sets
the change of E it measures beside ∂E/∂w·ε.

>>> import backprop as bp
>>> trace = bp.Network([2, 2, 1], dtype="float64", seed=0).backprop([[1.0, 0.5]], [[1.0]])
>>> section = chain_rule_section(trace, 1, 0, 1)
>>> [type(step.symbol).__name__ for step in section.steps][:4]   # 3 factors, their product
['Partial', 'Partial', 'Partial', 'Partial']
>>> bool(abs(section.steps[3].value - trace.grad_W[1][0, 1]) < 1e-15)
True
"""

from __future__ import annotations

import math

from .data import (
    CLOSE,
    F_PRIME,
    MINUS,
    OPEN,
    PLUS,
    TIMES,
    Notation,
    Number,
    Partial,
    Prose,
    Section,
    Step,
    Symbol,
)
from .derivation import batch_size, derivative_words, last_layer
from .units import consumers, input_numbers, input_symbols, input_value


def _check_weight(trace, l, i, j) -> None:
    L = last_layer(trace)
    if isinstance(l, bool) or not isinstance(l, int) or not 1 <= l <= L:
        raise ValueError(f"layer must be an integer in 1..{L}, got {l!r}")
    n_out, n_in = trace.W[l].shape
    for name, index, size in (("i", i, n_out), ("j", j, n_in)):
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
            raise ValueError(
                f"{name} must be an integer in 0..{size - 1} for layer {l}, got {index!r}"
            )


def chain_rule_section(trace, l: int, i: int, j: int) -> Section:
    """∂E/∂wˡᵢⱼ factor by factor, then grouped as δˡᵢ·uˡⱼ (sample 1's, in a batch)."""
    trace = trace.to_host()
    _check_weight(trace, l, i, j)
    n, activation = batch_size(trace), trace.network.layers[l].activation
    top = Symbol("E") if n == 1 else Symbol("J", None, (0,))
    a, z, w = Symbol("a", l, (i,)), Symbol("z", l, (i,)), Symbol("w", l, (i, j))
    u = input_value(trace, l, j)
    z_by_w = Step(
        "chain_rule",
        l,
        (i, j),
        Partial(z, w),
        formula=tuple(input_symbols(trace, l, j)),
        substituted=_if_sum(input_numbers(trace, l, j)),
        value=u,
    )
    if activation.elementwise:
        top_by_a = _error_by_activation(trace, l, i, top)
        derivative = float(activation.derivative(trace.z[l][:1], trace.a[l][:1])[0, i])
        a_by_z = Step(
            "chain_rule", l, (i,), Partial(a, z), (F_PRIME, OPEN, z, CLOSE), (), derivative
        )
        factors = [top_by_a, a_by_z, z_by_w]
    else:  # softmax: every output depends on zᵢ, so ∂E/∂zᵢ is one factor, δᵢ
        top_by_z = Step(
            "chain_rule",
            l,
            (i,),
            Partial(top, z),
            (Symbol("delta", l, (i,)),),
            value=trace.delta[l][0, i],
        )
        factors = [top_by_z, z_by_w]
    product = Step(
        "chain_rule",
        l,
        (i, j),
        Partial(top, w),
        formula=_product(step.symbol for step in factors),
        substituted=_product(Number(step.value) for step in factors),
        value=math.prod(step.value for step in factors),
    )
    grouped = _grouped(trace, l, i, j, factors, top)
    notes = [_chain_note(trace, l, activation, top)]
    title = f"The chain rule for one weight (layer {l}, unit {i + 1} from unit {j + 1} below)"
    return Section("chain_rule", title, l, tuple(notes), (*factors, product, *grouped))


def _if_sum(tokens) -> tuple:
    return tuple(tokens) if len(tokens) > 1 else ()


def _product(tokens) -> tuple:
    result: list = []
    for token in tokens:
        result += [TIMES, token] if result else [token]
    return tuple(result)


def _error_by_activation(trace, l: int, i: int, top: Symbol) -> Step:
    """∂E/∂aˡᵢ: the loss's ∂J/∂oᵢ at the output, Σ ∂E/∂zᶜₖ·∂zᶜₖ/∂aˡᵢ below it."""
    a = Symbol("a", l, (i,))
    if l == last_layer(trace):
        loss = trace.network.loss
        gradient = Notation(loss.gradient_text, loss.gradient_latex)
        return Step("chain_rule", l, (i,), Partial(top, a), (gradient,), (), trace.error[l][0, i])
    symbols: list = []
    values: list = []
    for c, offset in consumers(trace, l):
        for k in range(trace.W[c].shape[0]):
            if symbols:
                symbols.append(PLUS)
                values.append(PLUS)
            zc = Symbol("z", c, (k,))
            symbols += [Partial(top, zc), TIMES, Partial(zc, a)]
            values += [Number(trace.delta[c][0, k]), TIMES, Number(trace.W[c][k, offset + i])]
    return Step(
        "chain_rule", l, (i,), Partial(top, a), tuple(symbols), tuple(values), trace.error[l][0, i]
    )


def _grouped(trace, l: int, i: int, j: int, factors: list[Step], top: Symbol) -> list[Step]:
    """δˡᵢ = the factors before ∂z/∂w, then ∂E/∂w = δˡᵢ·uˡⱼ (a batch: Σₙ sₙ of those)."""
    delta, w = Symbol("delta", l, (i,)), Symbol("w", l, (i, j))
    steps = []
    if len(factors) == 3:
        steps.append(
            Step(
                "chain_rule",
                l,
                (i,),
                delta,
                formula=_product(step.symbol for step in factors[:2]),
                substituted=_product(Number(step.value) for step in factors[:2]),
                value=trace.delta[l][0, i],
            )
        )
    u_symbols, u_numbers = input_symbols(trace, l, j), input_numbers(trace, l, j)
    single = batch_size(trace) == 1
    symbol = Partial(Symbol("E"), w) if single else Partial(top, w)
    steps.append(
        Step(
            "chain_rule",
            l,
            (i, j),
            symbol,
            formula=(delta, TIMES, *u_symbols),
            substituted=(Number(trace.delta[l][0, i]), TIMES, *u_numbers),
            value=trace.delta[l][0, i] * input_value(trace, l, j),
        )
    )
    if not single:
        batch = Notation("Σₙ sₙ ∂Jₙ/∂w", r"\sum_n s_n\,\partial J_n/\partial w")
        steps.append(
            Step(
                "chain_rule",
                l,
                (i, j),
                Partial(Symbol("E"), w),
                (batch,),
                (),
                trace.grad_W[l][i, j],
            )
        )
    return steps


def _chain_note(trace, l: int, activation, top: Symbol) -> tuple:
    words = [
        "The chain rule multiplies the local derivatives along the path from the weight to "
        "the error; the delta rule groups all but the last into δ and reuses δ for every "
        "weight into the unit."
    ]
    if l < last_layer(trace):
        words.append(" ∂E/∂zᶜₖ is δᶜₖ, found in a layer above; ∂zᶜₖ/∂aˡᵢ is the weight wᶜₖᵢ.")
    if batch_size(trace) > 1:
        words.append(" Values are sample 1's (Jₙ is sample n's loss).")
    note = (Prose("".join(words) + " "), *derivative_words(activation), Prose("."))
    return note if activation.elementwise else (Prose("".join(words)),)


def nudge_section(trace, l: int, i: int, j: int | None = None, eps: float = 1e-4) -> Section:
    """Change wˡᵢⱼ (bˡᵢ with ``j=None``) by ε and compare ΔE with ∂E/∂w·ε."""
    result = trace.nudge(l, i, j, eps)
    name = "w" if j is not None else "b"
    param = Symbol(name, l, result.units)
    gradient = Partial(Symbol("E"), param)
    E_of = (Symbol("E"), OPEN, param, PLUS, Symbol("epsilon"), CLOSE)
    measured = Step(
        "nudge",
        l,
        result.units,
        Symbol("DeltaE"),
        formula=(*E_of, MINUS, Symbol("E"), OPEN, param, CLOSE),
        substituted=(Number(result.after), MINUS, Number(result.before)),
        value=result.measured,
    )
    predicted = Step(
        "nudge",
        l,
        result.units,
        Symbol("DeltaE"),
        formula=(gradient, TIMES, Symbol("epsilon")),
        substituted=(Number(result.gradient), TIMES, Number(result.eps)),
        value=result.predicted,
        relation="≈",
    )
    gap = Step(
        "nudge",
        l,
        result.units,
        Symbol("gap"),
        substituted=(Number(result.measured), MINUS, Number(result.predicted)),
        value=result.measured - result.predicted,
    )
    note = (
        Prose("Change one parameter by ε = "),
        Number(result.eps),
        Prose(
            ", run the forward pass again (in float64) and compare the change of the error "
            "with the gradient's prediction: they differ by a term of order ε² "
            "(½·∂²E/∂w²·ε²), so a ten times smaller ε leaves a gap about a hundred times "
            "smaller."
        ),
    )
    title = f"Nudge and check: {'weight' if j is not None else 'bias'} of layer {l} by ε"
    return Section("nudge", title, l, (note,), (measured, predicted, gap))
