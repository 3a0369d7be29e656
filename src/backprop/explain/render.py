"""Renderers: the sections of a worked solution as text, Markdown or LaTeX.

The renderers decide how the data looks: symbols (w¹₁₂ in Unicode, w^{(1)}_{1,2} in LaTeX, units
numbered from 1), numbers (``precision`` significant digits, negative ones in parentheses) and
the layout (underlined headings, ``### `` headings with ``$…$`` math, ``align*`` blocks).

>>> from backprop.explain.data import Number, PLUS, Section, Step, Symbol, TIMES
>>> w, a, b = Symbol("w", 1, (0, 1)), Symbol("a", 0, (1,)), Symbol("b", 1, (0,))
>>> step = Step("forward", 1, (0,), Symbol("z", 1, (0,)), formula=(w, TIMES, a, PLUS, b),
...             substituted=(Number(0.2), TIMES, Number(0.1), PLUS, Number(0.35)), value=0.37)
>>> TextRenderer().equation(step)
'z¹₁ = w¹₁₂·a⁰₂ + b¹₁ = 0.2·0.1 + 0.35 = 0.37'
>>> LatexRenderer().equation(step)
'z^{(1)}_{1} &= w^{(1)}_{1,2} \\\\cdot a^{(0)}_{2} + b^{(1)}_{1} = 0.2 \\\\cdot 0.1 + 0.35 = 0.37'
>>> print(render([Section("forward", "Layer 1", 1, steps=(step,))], "markdown"))
### Layer 1
<BLANKLINE>
- $z^{(1)}_{1} = w^{(1)}_{1,2} \\cdot a^{(0)}_{2} + b^{(1)}_{1} = 0.2 \\cdot 0.1 + 0.35 = 0.37$
<BLANKLINE>
"""

from __future__ import annotations

from collections.abc import Iterable

from .data import (
    CLOSE,
    OPEN,
    Formula,
    Notation,
    Number,
    Operator,
    Prose,
    Section,
    Step,
    Symbol,
    Token,
)

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def format_number(value: float, precision: int) -> str:
    """``value`` to ``precision`` significant digits; a negative number in parentheses.

    >>> format_number(-0.0380982365, 3), format_number(0.3775, 6)
    ('(-0.0381)', '0.3775')
    """
    text = _plain_number(value, precision)
    return f"({text})" if text.startswith("-") else text


def _plain_number(value: float, precision: int) -> str:
    return f"{float(value):.{precision}g}"


def _alone_in_parentheses(tokens: Formula, index: int) -> bool:
    """Whether ``tokens[index]`` is a number with an opening parenthesis before, closing after."""
    inside = 0 < index < len(tokens) - 1 and isinstance(tokens[index], Number)
    return inside and tokens[index - 1] == OPEN and tokens[index + 1] == CLOSE


class UnicodeMath:
    """Formulas in Unicode: w¹₁₂, δ²₁, ∂E/∂w²₁₁, products as ``·``.

    >>> UnicodeMath(6).symbol(Symbol("dE/dw", 2, (0, 0)))
    '∂E/∂w²₁₁'
    """

    names = {"delta": "δ", "dE/dw": "∂E/∂w", "dE/db": "∂E/∂b", "dJ/do": "∂J/∂o", "eta": "η"}
    operators = {"=": " = ", "+": " + ", "-": " - ", "·": "·", "←": " ← ", "(": "(", ")": ")"}

    def __init__(self, precision: int):
        self.precision = precision

    def symbol(self, symbol: Symbol) -> str:
        name = self.names.get(symbol.name, symbol.name)
        layer = "" if symbol.layer is None else str(symbol.layer).translate(_SUPERSCRIPT)
        return name + layer + "".join(str(unit + 1).translate(_SUBSCRIPT) for unit in symbol.units)

    def token(self, token: Token) -> str:
        if isinstance(token, Symbol):
            return self.symbol(token)
        if isinstance(token, Number):
            return format_number(token.value, self.precision)
        if isinstance(token, Operator):
            return self.operators[token.text]
        return token.text  # Notation and Prose

    def formula(self, tokens: Formula) -> str:
        parts = []
        for index, token in enumerate(tokens):
            if _alone_in_parentheses(tokens, index):
                parts.append(_plain_number(token.value, self.precision))  # σ(-0.5), not σ((-0.5))
            else:
                parts.append(self.token(token))
        return "".join(parts)

    def equation(self, step: Step, align: bool = False) -> str:
        """``symbol = formula = substituted = value``, leaving out the empty parts.

        With ``align``, an ``&`` marks the first ``=`` (LaTeX's alignment point).
        """
        pieces = [self.symbol(step.symbol), self.operators[step.relation]]
        for side in (step.formula, step.substituted):
            if side:
                pieces += [self.formula(side), self.operators["="]]
        pieces.append(format_number(step.value, self.precision))
        if align:
            equals = pieces.index(self.operators["="]) if self.operators["="] in pieces else 1
            pieces[equals] = " &" + pieces[equals].lstrip()
        return "".join(pieces)


class LatexMath(UnicodeMath):
    r"""Formulas in ASCII LaTeX: w^{(1)}_{1,2}, \delta^{(2)}_{1}, products as ``\cdot``.

    >>> LatexMath(6).symbol(Symbol("delta", 2, (0,)))
    '\\delta^{(2)}_{1}'
    """

    names = {
        "delta": r"\delta",
        "dE/dw": r"\partial E/\partial w",
        "dE/db": r"\partial E/\partial b",
        "dJ/do": r"\partial J/\partial o",
        "eta": r"\eta",
    }
    operators = {
        **UnicodeMath.operators,
        "·": r" \cdot ",
        "←": r" \leftarrow ",
    }

    def symbol(self, symbol: Symbol) -> str:
        name = self.names.get(symbol.name, symbol.name)
        layer = "" if symbol.layer is None else f"^{{({symbol.layer})}}"
        units = ",".join(str(unit + 1) for unit in symbol.units)
        return name + layer + (f"_{{{units}}}" if units else "")

    def token(self, token: Token) -> str:
        if isinstance(token, Notation):
            return token.latex
        if isinstance(token, Prose):
            return rf"\text{{{latex_escape(token.text)}}}"
        return super().token(token)

    def prose(self, tokens: Formula) -> str:
        """A note in running LaTeX text: words escaped, notation and symbols as inline math."""
        parts = []
        for token in tokens:
            if isinstance(token, Prose):
                parts.append(latex_escape(token.text))
            elif isinstance(token, Number):
                parts.append(self.token(token))
            else:
                parts.append(rf"\ensuremath{{{self.token(token)}}}")
        return "".join(parts)


_LATEX_SPECIAL = (
    ("\\", r"\textbackslash{}"),
    ("_", r"\_"),
    ("%", r"\%"),
    ("&", r"\&"),
    ("#", r"\#"),
    ("$", r"\$"),
)
_LATEX_SYMBOLS = {
    "·": r"\cdot",
    "ᵀ": "^T",
    "×": r"\times",
    "→": r"\to",
    "δ": r"\delta",
    "∂": r"\partial",
    "⊙": r"\odot",
    "Σ": r"\Sigma",
    "ₙ": "_n",
    "σ": r"\sigma",
    "η": r"\eta",
    "²": "^2",
    "½": r"\frac12",
}


def latex_escape(text: str) -> str:
    r"""Prose for LaTeX: special characters escaped, the symbols it uses as inline math.

    >>> print(latex_escape("δ1 = (δ2·W2), 50% of log_loss"))
    \ensuremath{\delta}1 = (\ensuremath{\delta}2\ensuremath{\cdot}W2), 50\% of log\_loss
    """
    for char, escaped in _LATEX_SPECIAL:
        text = text.replace(char, escaped)
    for char, command in _LATEX_SYMBOLS.items():
        text = text.replace(char, f"\\ensuremath{{{command}}}")
    return text.replace("−", "-")


class TextRenderer:
    """Plain Unicode text: underlined headings, notes, equations indented by two spaces.

    >>> E = Step("error", 2, (), Symbol("E"), value=0.298371109)
    >>> error = Section("error", "Error", 2, notes=((Prose("E is the loss."),),), steps=(E,))
    >>> print(TextRenderer(precision=3).render([error]))
    Error
    -----
    E is the loss.
      E = 0.298
    <BLANKLINE>
    """

    def __init__(self, precision: int = 6):
        self.math = UnicodeMath(precision)
        self.words = UnicodeMath(precision)

    def render(self, sections: Iterable[Section]) -> str:
        lines: list[str] = []
        for section in sections:
            lines += self.section(section)
        return "\n".join(lines).strip("\n") + "\n"

    def section(self, section: Section) -> list[str]:
        lines = [self.heading(section.title)] if section.title else []
        lines += [self.note(note) for note in section.notes]
        if section.steps:
            lines += self.equations(section.steps)
        return lines

    def equation(self, step: Step) -> str:
        return self.math.equation(step)

    def heading(self, title: str) -> str:
        return f"\n{title}\n{'-' * len(title)}"

    def note(self, note: Formula) -> str:
        return self.words.formula(note)

    def equations(self, steps: Iterable[Step]) -> list[str]:
        return [f"  {self.equation(step)}" for step in steps]


class MarkdownRenderer(TextRenderer):
    """Markdown: ``###`` headings, notes in Unicode, each equation a list item in ``$…$``.

    >>> E = Step("error", 2, (), Symbol("E"), value=0.298371109)
    >>> print(MarkdownRenderer(precision=3).render([Section("error", "Error", 2, steps=(E,))]))
    ### Error
    <BLANKLINE>
    - $E = 0.298$
    <BLANKLINE>
    """

    def __init__(self, precision: int = 6):
        super().__init__(precision)
        self.math = LatexMath(precision)

    def heading(self, title: str) -> str:
        return f"\n### {title}\n"

    def equations(self, steps: Iterable[Step]) -> list[str]:
        return [f"- ${self.equation(step)}$" for step in steps]


class LatexRenderer(TextRenderer):
    r"""LaTeX (ASCII): ``\paragraph`` headings, ``\noindent`` notes, one ``align*`` per section.

    >>> E = Step("error", 2, (), Symbol("E"), value=0.298371109)
    >>> print(LatexRenderer(precision=3).render([Section("error", "Error", 2, steps=(E,))]))
    \paragraph{Error}
    \begin{align*}
    E &= 0.298
    \end{align*}
    <BLANKLINE>
    """

    def __init__(self, precision: int = 6):
        super().__init__(precision)
        self.math = LatexMath(precision)

    def equation(self, step: Step) -> str:
        return self.math.equation(step, align=True)

    def heading(self, title: str) -> str:
        return f"\\paragraph{{{latex_escape(title)}}}"

    def note(self, note: Formula) -> str:
        return f"\\noindent {self.math.prose(note)}\n"

    def equations(self, steps: Iterable[Step]) -> list[str]:
        rows = " \\\\\n".join(self.equation(step) for step in steps)
        return ["\\begin{align*}\n" + rows + "\n\\end{align*}"]


RENDERERS = {"text": TextRenderer, "markdown": MarkdownRenderer, "latex": LatexRenderer}


def renderer(format: str, precision: int = 6) -> TextRenderer:
    """The renderer for ``format``, one of ``"text"``, ``"markdown"`` and ``"latex"``.

    >>> renderer("html")
    Traceback (most recent call last):
    ...
    ValueError: format must be 'text', 'markdown' or 'latex', got 'html'
    """
    if format not in RENDERERS:
        raise ValueError(f"format must be 'text', 'markdown' or 'latex', got {format!r}")
    return RENDERERS[format](precision)


def render(sections: Iterable[Section], format: str = "text", precision: int = 6) -> str:
    """``sections`` written in ``format`` with numbers to ``precision`` significant digits.

    >>> E = Step("error", 2, (), Symbol("E"), value=-0.25)
    >>> render([Section("error", steps=(E,))], "text")
    '  E = (-0.25)\\n'
    """
    return renderer(format, precision).render(sections)
