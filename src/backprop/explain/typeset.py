"""How the tokens of a formula are written: Unicode for text and notes, ASCII LaTeX for math.

Numbers get ``precision`` significant digits; a negative number is put in parentheses only where
an operator or a factor comes before it (``0.5·(-0.038)``, ``0.4 - η·(-0.02)``), never as a
result or at the start of a formula. An update ``w ← w − η·∂E/∂w`` is written with as many more
digits as it takes (up to ``max_precision``, what the network's dtype carries) for the new value
to differ from the old one, or says that the change is below the digits shown.

>>> from backprop.explain.data import MINUS, Number, Step, Symbol, TIMES
>>> step = Step("update", 1, (0, 0), Symbol("w", 1, (0, 0)), relation="←",
...             substituted=(Number(0.15), MINUS, Symbol("eta"), TIMES, Number(-2e-6)),
...             value=0.150001)
>>> UnicodeMath(4).equation(step)
'w¹₁₁ ← 0.15 - η·(-2e-06) = 0.150001'
"""

from __future__ import annotations

from .data import OPEN, Formula, Notation, Number, Operator, Partial, Prose, Step, Symbol

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
MOST_DIGITS = 17
"""Significant digits that tell any two float64 values apart."""


def format_number(value: float, precision: int) -> str:
    """``value`` to ``precision`` significant digits (zero never signed).

    >>> format_number(-0.0380982365, 3), format_number(0.3775, 6), format_number(-0.0, 6)
    ('-0.0381', '0.3775', '0')
    """
    value = float(value)
    return f"{value + 0.0 if value == 0 else value:.{precision}g}"


def _needs_parentheses(tokens: Formula, index: int) -> bool:
    """Whether the number at ``index`` is negative and follows an operator or a factor."""
    token = tokens[index]
    if not isinstance(token, Number) or not token.value < 0 or index == 0:
        return False
    before = tokens[index - 1]
    if isinstance(before, Operator):
        return before != OPEN
    return isinstance(before, (Number, Symbol, Partial))


class UnicodeMath:
    """Formulas in Unicode: w¹₁₂, δ²₁, ∂E/∂w²₁₁, products as ``·``.

    >>> UnicodeMath(6).symbol(Symbol("dE/dw", 2, (0, 0)))
    '∂E/∂w²₁₁'
    >>> UnicodeMath(6).symbol(Partial(Symbol("a", 1, (0,)), Symbol("z", 1, (0,))))
    '∂a¹₁/∂z¹₁'
    """

    names = {
        "delta": "δ",
        "dE/dw": "∂E/∂w",
        "dE/db": "∂E/∂b",
        "dJ/do": "∂J/∂o",
        "eta": "η",
        "epsilon": "ε",
        "DeltaE": "ΔE",
        "gap": "ΔE − ∂E/∂w·ε",
    }
    operators = {
        "=": " = ",
        "+": " + ",
        "-": " - ",
        "·": "·",
        "/": " / ",
        "←": " ← ",
        "(": "(",
        ")": ")",
        "≈": " ≈ ",
    }

    def __init__(self, precision: int, max_precision: int | None = None):
        self.precision = precision
        self.max_precision = MOST_DIGITS if max_precision is None else max_precision

    def symbol(self, symbol: Symbol | Partial) -> str:
        if isinstance(symbol, Partial):
            return f"∂{self.symbol(symbol.top)}/∂{self.symbol(symbol.bottom)}"
        name = self.names.get(symbol.name, symbol.name)
        layer = "" if symbol.layer is None else str(symbol.layer).translate(_SUPERSCRIPT)
        return name + layer + "".join(str(unit + 1).translate(_SUBSCRIPT) for unit in symbol.units)

    def number(self, value: float, versus: float | None = None) -> str:
        """``value`` to ``precision`` digits, or, given ``versus``, to as many more (up to
        ``max_precision``) as it takes to tell the two apart."""
        return format_number(value, self.digits_apart(value, versus))

    def digits_apart(self, value: float, versus: float | None) -> int:
        digits = self.precision
        if versus is None:
            return digits
        while digits < self.max_precision and self._same(value, versus, digits):
            digits += 1
        return digits

    def token(self, token) -> str:
        if isinstance(token, (Symbol, Partial)):
            return self.symbol(token)
        if isinstance(token, Number):
            return self.number(token.value, token.versus)
        if isinstance(token, Operator):
            return self.operators[token.text]
        return token.text  # Notation and Prose

    def formula(self, tokens: Formula) -> str:
        parts = []
        for index, token in enumerate(tokens):
            text = self.token(token)
            parts.append(f"({text})" if _needs_parentheses(tokens, index) else text)
        return "".join(parts)

    def equation(self, step: Step, align: bool = False) -> str:
        """``symbol = formula = substituted = value``, leaving out the empty parts.

        With ``align``, an ``&`` marks the relation (LaTeX's alignment point). An update
        ``w ← w − η·g = w'`` writes w and w' with the digits it takes to tell them apart.
        """
        if step.relation != "←" or not step.substituted:
            return self._equation(step, align)
        before, *rest = step.substituted
        digits = self.digits_apart(before.value, step.value)
        wide = type(self)(digits, self.max_precision)
        pieces = [self.symbol(step.symbol), self.operators["←"], wide.number(before.value)]
        pieces += [self.formula(tuple(rest)), self.operators["="], wide.number(step.value)]
        if align:
            pieces[1] = " &" + pieces[1].lstrip()
        text = "".join(pieces)
        moved = any(isinstance(t, Number) and t.value != 0 for t in rest)
        if moved and self._same(before.value, step.value, digits):
            if before.value != step.value:
                text += self.aside(f"a change below the {digits} digits shown")
            else:
                text += self.aside("a step too small to change the value")
        return text

    def aside(self, words: str) -> str:
        return f"  ({words})"

    @staticmethod
    def _same(before: float, after: float, digits: int) -> bool:
        return format_number(before, digits) == format_number(after, digits)

    def _equation(self, step: Step, align: bool) -> str:
        pieces = [self.symbol(step.symbol), self.operators[step.relation]]
        for side in (step.formula, step.substituted):
            if side:
                pieces += [self.formula(side), self.operators["="]]
        pieces.append(self.number(step.value))
        if align:
            pieces[1] = " &" + pieces[1].lstrip()
        return "".join(pieces)


class LatexMath(UnicodeMath):
    r"""Formulas in ASCII LaTeX: w^{(1)}_{1,2}, \delta^{(2)}_{1}, products as ``\cdot``.

    >>> LatexMath(6).symbol(Symbol("delta", 2, (0,)))
    '\\delta^{(2)}_{1}'
    >>> LatexMath(3).number(-8.2667e-06)
    '-8.27 \\times 10^{-6}'
    >>> LatexMath(6).symbol(Partial(Symbol("E"), Symbol("w", 1, (0, 1))))
    '\\frac{\\partial E}{\\partial w^{(1)}_{1,2}}'
    """

    names = {
        "delta": r"\delta",
        "dE/dw": r"\partial E/\partial w",
        "dE/db": r"\partial E/\partial b",
        "dJ/do": r"\partial J/\partial o",
        "eta": r"\eta",
        "epsilon": r"\varepsilon",
        "DeltaE": r"\Delta E",
        "gap": r"\Delta E - \partial E/\partial w \cdot \varepsilon",
    }
    operators = {
        **UnicodeMath.operators,
        "·": r" \cdot ",
        "←": r" \leftarrow ",
        "≈": r" \approx ",
    }

    def symbol(self, symbol: Symbol | Partial) -> str:
        if isinstance(symbol, Partial):
            top, bottom = self.symbol(symbol.top), self.symbol(symbol.bottom)
            return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"
        name = self.names.get(symbol.name, symbol.name)
        layer = "" if symbol.layer is None else f"^{{({symbol.layer})}}"
        units = ",".join(str(unit + 1) for unit in symbol.units)
        return name + layer + (f"_{{{units}}}" if units else "")

    def number(self, value: float, versus: float | None = None) -> str:
        """Scientific notation as ``m \\times 10^{e}``."""
        text = super().number(value, versus)
        mantissa, e, exponent = text.partition("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}" if e else text

    def token(self, token) -> str:
        if isinstance(token, Notation):
            return token.latex
        if isinstance(token, Prose):
            return rf"\text{{{latex_escape(token.text)}}}"
        return super().token(token)

    def aside(self, words: str) -> str:
        return rf" \quad \text{{({latex_escape(words)})}}"

    def prose(self, tokens: Formula) -> str:
        """A note in running LaTeX text: words escaped, notation and symbols as inline math."""
        parts = []
        for token in tokens:
            if isinstance(token, Prose):
                parts.append(latex_escape(token.text))
            elif isinstance(token, Number):
                parts.append(f"${self.token(token)}$")
            else:
                parts.append(rf"\ensuremath{{{self.token(token)}}}")
        return "".join(parts)


_LATEX_SPECIAL = (
    ("\\", r"\textbackslash{}"),
    ("{", r"\{"),
    ("}", r"\}"),
    ("_", r"\_"),
    ("%", r"\%"),
    ("&", r"\&"),
    ("#", r"\#"),
    ("$", r"\$"),
    ("^", r"\^{}"),
    ("~", r"\~{}"),
)
_LATEX_SYMBOLS = {
    "·": r"\cdot",
    "ᵀ": "^T",
    "×": r"\times",
    "→": r"\to",
    "←": r"\leftarrow",
    "δ": r"\delta",
    "Δ": r"\Delta",
    "∂": r"\partial",
    "⊙": r"\odot",
    "Σ": r"\Sigma",
    "σ": r"\sigma",
    "η": r"\eta",
    "ε": r"\varepsilon",
    "≈": r"\approx",
    "²": "^2",
    "½": r"\frac12",
    "⋮": r"\vdots",
    "…": r"\ldots",
}
_LATEX_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉ₙₘₖᵢⱼ", "0123456789nmkij", strict=True))
_LATEX_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹ˡᴸᶜ", "0123456789lLc", strict=True))


def latex_escape(text: str) -> str:
    r"""Prose for LaTeX (ASCII): special characters escaped, symbols and sub- and superscripts
    as inline math, the characters LaTeX has no command for replaced by the nearest ASCII.

    >>> print(latex_escape("δ1 = (δ2·W2), 50% of log_loss"))
    \ensuremath{\delta}1 = (\ensuremath{\delta}2\ensuremath{\cdot}W2), 50\% of log\_loss
    >>> print(latex_escape("Σₘ gₘ"))
    \ensuremath{\Sigma}\ensuremath{_m} g\ensuremath{_m}
    """
    text = "".join(_escape_char(char) for char in text.replace("−", "-"))
    return text.encode("ascii", "replace").decode("ascii")


def _escape_char(char: str) -> str:
    for special, escaped in _LATEX_SPECIAL:
        if char == special:
            return escaped
    if char in _LATEX_SYMBOLS:
        return rf"\ensuremath{{{_LATEX_SYMBOLS[char]}}}"
    if char in _LATEX_SUBSCRIPTS:
        return rf"\ensuremath{{_{_LATEX_SUBSCRIPTS[char]}}}"
    if char in _LATEX_SUPERSCRIPTS:
        return rf"\ensuremath{{^{_LATEX_SUPERSCRIPTS[char]}}}"
    return char
