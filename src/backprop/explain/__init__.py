"""Worked solutions: one backpropagation iteration written out with the numbers substituted.

``explain(trace, lr=0.5)`` (or ``trace.explain(...)``) writes, in the derivations' notation,

1. the forward pass, unit by unit: zˡᵢ = Σⱼ wˡᵢⱼ aˡ⁻¹ⱼ + bˡᵢ with every product, then aˡᵢ = f(zˡᵢ);
2. the error E;
3. each output delta, with the formula for that activation/loss pair;
4. each hidden delta by the delta rule, δˡⱼ = f'(zˡⱼ) Σₖ wˡ⁺¹ₖⱼ δˡ⁺¹ₖ, with its terms;
5. every ∂E/∂w and ∂E/∂b;
6. with a learning rate η, every updated weight and bias, w ← w − η ∂E/∂w, and a second forward
   pass showing the new output and error.

Each layer's step also gives the matrix form with its shapes. Any feed-forward topology is
written out: a layer reading the concatenation or sum of earlier layers writes each input as
the unit it comes from, and a unit feeding several layers gets its delta as the sum over all of
them. Networks wider than ``max_units`` units are summarised per layer (shapes, norms,
smallest and largest values) instead. In a batch the unit-by-unit values are sample 1's, and E
and the gradients the batch's. Numbers get ``precision`` significant digits, but never more
than the network's dtype carries (7 for float32, 16 for float64); an update gets the digits it
needs to show its change. Formats: ``"text"`` (Unicode), ``"markdown"`` (math in ``$…$``, pipe
tables) and ``"latex"`` (ASCII; ``align*`` blocks, a fragment needing ``amsmath``, or with
``standalone=True`` a complete document).

Beyond the iteration: ``chain_rule_section(trace, l, i, j)`` (also ``trace.chain_rule``) writes
one weight's gradient as the product of its chain-rule factors and then as the delta rule
groups them; ``nudge_section(trace, l, i, j, eps)`` (``trace.nudge`` gives the numbers) changes
the weight by ε and sets the measured change of E beside ∂E/∂w·ε; ``error_curve_section(trace,
lr, steps)`` tabulates E over many steps, long runs shortened to their first, some middle and
last rows.

The solution is data first: ``sections(trace)`` lists its sections (``Section``: a kind, a
title, notes, steps and perhaps a table), ``steps(trace)`` the steps alone (``Step``: section,
layer, units, symbol, formula, substituted, value), and formulas are tuples of tokens
(``Symbol``, ``Partial``, ``Number``, ``Operator``, ``Notation``, ``Prose``). ``render`` writes
sections as text, Markdown or LaTeX; ``explain`` is ``render(sections(trace, lr, max_units),
format, precision)`` with the precision capped by the dtype.

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
from .chain import chain_rule_section, nudge_section
from .curve import error_curve, error_curve_section, shown_steps
from .data import (
    SECTION_KINDS,
    Formula,
    Notation,
    Number,
    Operator,
    Partial,
    Prose,
    Section,
    Step,
    Symbol,
    Table,
    Token,
    numbers,
)
from .render import LatexRenderer, MarkdownRenderer, TextRenderer, render, renderer
from .solution import sections, significant_digits, steps

__all__ = [
    "SECTION_KINDS",
    "Formula",
    "LatexRenderer",
    "MarkdownRenderer",
    "Notation",
    "Number",
    "Operator",
    "Partial",
    "Prose",
    "Section",
    "Step",
    "Symbol",
    "Table",
    "TextRenderer",
    "Token",
    "chain_rule_section",
    "error_curve",
    "error_curve_section",
    "explain",
    "numbers",
    "nudge_section",
    "render",
    "renderer",
    "sections",
    "shown_steps",
    "significant_digits",
    "steps",
    "write",
]


def write(trace, parts, format: str = "text", precision: int = 6, standalone: bool = False) -> str:
    """Render ``parts`` (sections of ``trace``) with at most the digits the trace's dtype carries.

    >>> import backprop as bp
    >>> trace = bp.Network([1, 1], output="identity", seed=0).backprop([[2.0]], [[1.0]])
    >>> print(write(trace, [chain_rule_section(trace, 1, 0, 0)], precision=3).splitlines()[0])
    The chain rule for one weight (layer 1, unit 1 from unit 1 below)
    """
    renderer(format, precision)  # an unknown format or a bad precision is refused first
    digits = significant_digits(trace.network.dtype)
    return renderer(format, min(precision, digits), digits, standalone).render(parts)


def explain(
    trace,
    format: str = "text",
    precision: int = 6,
    lr: float | None = None,
    max_units: int = 8,
    standalone: bool = False,
) -> str:
    """One backpropagation iteration of ``trace`` written out; see the module docstring.

    >>> import backprop as bp
    >>> trace = bp.Network([1, 1], output="identity", seed=0).backprop([[2.0]], [[1.0]])
    >>> print(explain(trace).splitlines()[-1])
      ∂E/∂b¹₁ = δ¹₁ = ...
    """
    renderer(format, precision)  # an unknown format or a bad precision is refused before any work
    return write(trace, sections(trace, lr, max_units), format, precision, standalone)


provide("explain", explain)
provide("chain_rule", chain_rule_section)
