"""The data of a worked solution: formula tokens, steps and sections.

A formula is a tuple of tokens. The tokens say *what* is written: a symbol with its layer and
units, a number with its exact value, an operator, a piece of fixed notation given in both
Unicode and LaTeX, or words of prose. How a token looks (w¹₁₂ or w^{(1)}_{1,2}, how many digits
a number gets) is the renderer's choice.

Units are array indices counted from 0, as in ``W[i, j]`` (the weight from unit j of the layer
below to unit i); renderers number them from 1, as the derivations do.

>>> w, a, b = Symbol("w", 1, (0, 0)), Symbol("a", 0, (0,)), Symbol("b", 1, (0,))
>>> z = Step("forward", 1, (0,), Symbol("z", 1, (0,)),
...          formula=(w, TIMES, a, PLUS, b),
...          substituted=(Number(0.15), TIMES, Number(0.05), PLUS, Number(0.35)),
...          value=0.3575)
>>> [type(token).__name__ for token in z.substituted]
['Number', 'Operator', 'Number', 'Operator', 'Number']
>>> numbers(z.substituted)
[0.15, 0.05, 0.35]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Symbol:
    """A quantity of the derivation: ``name`` in layer ``layer`` at ``units``.

    Names: ``"z"``, ``"a"``, ``"w"``, ``"b"``, ``"delta"``, ``"dE/dw"``, ``"dE/db"`` (with a
    layer), ``"o"``, ``"y"``, ``"g"``, ``"dJ/do"`` (output units, no layer), ``"E"`` and ``"eta"``.
    ``layer`` is None for symbols that belong to no layer.

    >>> Symbol("w", 2, (0, 1))
    Symbol(name='w', layer=2, units=(0, 1))
    """

    name: str
    layer: int | None = None
    units: tuple[int, ...] = ()


@dataclass(frozen=True)
class Number:
    """A number substituted into a formula, kept at full precision.

    ``versus``, when given, is a number this one is compared with (an error before and after
    a step): a renderer shows as many digits as it takes for the two to differ.

    >>> Number(-0.0380982365).value
    -0.0380982365
    """

    value: float
    versus: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "value", float(self.value))  # numpy scalars become floats
        if self.versus is not None:
            object.__setattr__(self, "versus", float(self.versus))


@dataclass(frozen=True)
class Operator:
    """One of ``+``, ``-``, ``·`` (a product), ``/``, ``(`` and ``)``; renderers map each to
    their own.

    >>> PLUS.text, TIMES.text
    ('+', '·')
    """

    text: str


@dataclass(frozen=True)
class Notation:
    """Fixed notation, written one way in Unicode and another in LaTeX.

    >>> Notation("σ", r"\\sigma").latex
    '\\\\sigma'
    """

    text: str
    latex: str


@dataclass(frozen=True)
class Prose:
    """Words of an explanatory note (Unicode; the LaTeX renderer escapes them).

    >>> Prose("Matrix form: ").text
    'Matrix form: '
    """

    text: str


@dataclass(frozen=True)
class Partial:
    """The partial derivative ∂top/∂bottom of one quantity of the derivation by another.

    >>> Partial(Symbol("a", 1, (0,)), Symbol("z", 1, (0,))).bottom.name
    'z'
    """

    top: Symbol
    bottom: Symbol


Token = Symbol | Partial | Number | Operator | Notation | Prose
Formula = tuple[Token, ...]

PLUS, MINUS, TIMES = Operator("+"), Operator("-"), Operator("·")
DIVIDE = Operator("/")
OPEN, CLOSE = Operator("("), Operator(")")
F_PRIME = Notation("f'", "f'")


@dataclass(frozen=True)
class Step:
    """One equation of the worked solution: ``symbol relation formula = substituted = value``.

    ``section`` is the kind of section it belongs to (see ``Section``), ``layer`` and ``units``
    the units (i,) or the weight (i, j) it is about; ``formula`` is written in symbols and
    ``substituted`` with the numbers in place of the symbols; either may be empty. ``relation``
    is ``"="``, or ``"←"`` for an update.

    >>> step = Step("update", 2, (0, 0), Symbol("w", 2, (0, 0)), relation="←",
    ...             substituted=(Number(0.4), MINUS, Symbol("eta"), TIMES, Number(0.08)),
    ...             value=0.36)
    >>> step.section, step.units, step.value
    ('update', (0, 0), 0.36)
    """

    section: str
    layer: int | None
    units: tuple[int, ...]
    symbol: Symbol | Partial
    formula: Formula = ()
    substituted: Formula = ()
    value: float = float("nan")
    relation: str = "="

    def __post_init__(self):
        object.__setattr__(self, "value", float(self.value))


SECTION_KINDS = (
    "preamble",
    "forward",
    "error",
    "output_delta",
    "hidden_delta",
    "gradient",
    "update",
    "second_forward",
    "summary",
    "chain_rule",
    "nudge",
    "error_curve",
)


@dataclass(frozen=True)
class Table:
    """A table of numbers: column headings (formulas) and rows of cells (one token each).

    A row may be ``None``: rows were left out there, and a renderer marks the gap.

    >>> table = Table(((Prose("step"),), (Symbol("E"),)), ((Prose("0"), Number(0.298)), None))
    >>> len(table.columns), len(table.rows)
    (2, 2)
    """

    columns: tuple[Formula, ...]
    rows: tuple[tuple[Token, ...] | None, ...]


@dataclass(frozen=True)
class Section:
    """A titled part of the worked solution: its notes, then its steps, then its table.

    ``kind`` is one of ``SECTION_KINDS``; ``title`` may be empty (a preamble has none);
    ``notes`` are paragraphs, each a formula of prose, notation and numbers; ``table`` is a
    ``Table`` or None.

    >>> section = Section("error", "Error", 2, notes=((Prose("E is the mean loss."),),))
    >>> section.kind, section.title, len(section.steps)
    ('error', 'Error', 0)
    """

    kind: str
    title: str = ""
    layer: int | None = None
    notes: tuple[Formula, ...] = ()
    steps: tuple[Step, ...] = ()
    table: Table | None = None

    def __post_init__(self):
        if self.kind not in SECTION_KINDS:
            raise ValueError(f"section kind must be one of {SECTION_KINDS}, got {self.kind!r}")


def sum_of_products(pairs: Iterable[tuple[Token, Token]]) -> Formula:
    """x₁·y₁ + x₂·y₂ + … as tokens.

    >>> sum_of_products([(Number(1.0), Number(2.0)), (Number(3.0), Number(4.0))]) == (
    ...     Number(1.0), TIMES, Number(2.0), PLUS, Number(3.0), TIMES, Number(4.0))
    True
    """
    tokens: list[Token] = []
    for left, right in pairs:
        if tokens:
            tokens.append(PLUS)
        tokens += [left, TIMES, right]
    return tuple(tokens)


def vector(values: Iterable[float]) -> Formula:
    """(v₁, v₂, …) as tokens for a note.

    >>> [getattr(token, "value", getattr(token, "text", None)) for token in vector([1.0, 2.0])]
    ['(', 1.0, ', ', 2.0, ')']
    """
    tokens: list[Token] = [Prose("(")]
    for index, value in enumerate(values):
        if index:
            tokens.append(Prose(", "))
        tokens.append(Number(float(value)))
    return (*tokens, Prose(")"))


def numbers(formula: Formula) -> list[float]:
    """The values of the numbers in a formula, in order.

    >>> numbers((Number(0.5), TIMES, Symbol("eta")))
    [0.5]
    """
    return [token.value for token in formula if isinstance(token, Number)]
