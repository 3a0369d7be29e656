"""Worked solutions: one backpropagation iteration written out with the numbers substituted.

``explain(trace, lr=0.5)`` (or ``trace.explain(...)``) writes, in the derivations' notation,

1. the forward pass, unit by unit: zˡᵢ = Σⱼ wˡᵢⱼ aˡ⁻¹ⱼ + bˡᵢ with every product, then aˡᵢ = f(zˡᵢ);
2. the error E;
3. each output delta, with the formula for that activation/loss pair;
4. each hidden delta by the delta rule, δˡⱼ = f'(zˡⱼ) Σₖ wˡ⁺¹ₖⱼ δˡ⁺¹ₖ, with its terms;
5. every ∂E/∂w and ∂E/∂b;
6. with a learning rate η, every updated weight and bias, w ← w − η ∂E/∂w, and a second forward
   pass showing the new output and error.

Each layer's step also gives the matrix form with its shapes. Networks wider than ``max_units``
units are summarised per layer (shapes, norms, smallest and largest values) instead. Formats:
``"text"`` (Unicode), ``"markdown"`` (math in ``$…$``) and ``"latex"`` (``align*`` blocks).

The solution is data first: ``sections(trace)`` lists its sections (``Section``: a kind, a
title, notes and steps), ``steps(trace)`` the steps alone (``Step``: section, layer, units,
symbol, formula, substituted, value), and formulas are tuples of tokens (``Symbol``, ``Number``,
``Operator``, ``Notation``, ``Prose``). ``render`` writes sections as text, Markdown or LaTeX;
``explain`` is ``render(sections(trace, lr, max_units), format, precision)``.

>>> import backprop as bp
>>> net = bp.Network([2, 2, 2], dtype="float64")
>>> net.layers[1].W = [[0.15, 0.20], [0.25, 0.30]]; net.layers[1].b = [0.35, 0.35]
>>> net.layers[2].W = [[0.40, 0.45], [0.50, 0.55]]; net.layers[2].b = [0.60, 0.60]
>>> trace = net.backprop([[0.05, 0.10]], [[0.01, 0.99]])
>>> text = trace.explain(lr=0.5, precision=9)
>>> "0.75136507" in text and "0.298371109" in text
True
>>> first = steps(trace)[0]
>>> first.symbol, numbers(first.substituted), first.value
(Symbol(name='z', layer=1, units=(0,)), [0.15, 0.05, 0.2, 0.1, 0.35], 0.3775)
"""

from __future__ import annotations

from ..engine.extensions import provide
from .data import (
    SECTION_KINDS,
    Formula,
    Notation,
    Number,
    Operator,
    Prose,
    Section,
    Step,
    Symbol,
    Token,
    numbers,
)
from .render import LatexRenderer, MarkdownRenderer, TextRenderer, render, renderer
from .solution import sections, steps

__all__ = [
    "SECTION_KINDS",
    "Formula",
    "LatexRenderer",
    "MarkdownRenderer",
    "Notation",
    "Number",
    "Operator",
    "Prose",
    "Section",
    "Step",
    "Symbol",
    "TextRenderer",
    "Token",
    "explain",
    "numbers",
    "render",
    "renderer",
    "sections",
    "steps",
]


def explain(
    trace,
    format: str = "text",
    precision: int = 6,
    lr: float | None = None,
    max_units: int = 8,
) -> str:
    """One backpropagation iteration of ``trace`` written out; see the module docstring.

    >>> import backprop as bp
    >>> trace = bp.Network([1, 1], output="identity", seed=0).backprop([[2.0]], [[1.0]])
    >>> print(explain(trace).splitlines()[-1])
      ∂E/∂b¹₁ = δ¹₁ = ...
    """
    writer = renderer(format, precision)  # an unknown format is refused before any work
    return writer.render(sections(trace, lr, max_units))


provide("explain", explain)
