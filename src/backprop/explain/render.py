"""Renderers: the sections of a worked solution as text, Markdown or LaTeX.

The renderers decide how the data looks: symbols (w¹₁₂ in Unicode, w^{(1)}_{1,2} in LaTeX, units
numbered from 1), numbers (``precision`` significant digits, see ``typeset``) and the layout
(underlined headings; ``### `` headings with ``$…$`` math and pipe tables; ``align*`` blocks
and ``tabular`` tables). LaTeX output is ASCII; by default it is a fragment for a document that
loads ``amsmath``, and with ``standalone=True`` a complete document that ``pdflatex`` compiles.

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

from .data import Formula, Prose, Section, Step, Table
from .typeset import LatexMath, UnicodeMath, format_number, latex_escape

__all__ = [
    "LatexRenderer",
    "MarkdownRenderer",
    "TextRenderer",
    "format_number",
    "latex_escape",
    "render",
    "renderer",
]

GAP = "⋮"


class TextRenderer:
    """Plain Unicode text: underlined headings, notes, equations indented by two spaces.

    >>> from backprop.explain.data import Prose, Symbol
    >>> E = Step("error", 2, (), Symbol("E"), value=0.298371109)
    >>> error = Section("error", "Error", 2, notes=((Prose("E is the loss."),),), steps=(E,))
    >>> print(TextRenderer(precision=3).render([error]))
    Error
    -----
    E is the loss.
      E = 0.298
    <BLANKLINE>
    """

    math_class = UnicodeMath

    def __init__(self, precision: int = 6, max_precision: int | None = None):
        self.math = self.math_class(precision, max_precision)
        self.words = UnicodeMath(precision, max_precision)

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
        if section.table is not None:
            lines += self.table(section.table)
        return lines

    def equation(self, step: Step) -> str:
        return self.math.equation(step)

    def heading(self, title: str) -> str:
        return f"\n{title}\n{'-' * len(title)}"

    def note(self, note: Formula) -> str:
        return self.words.formula(note)

    def equations(self, steps: Iterable[Step]) -> list[str]:
        return [f"  {self.equation(step)}" for step in steps]

    def cells(self, table: Table) -> tuple[list[str], list[list[str] | None]]:
        """The headings and the rows of ``table`` as strings (None for a gap)."""
        headings = [self.words.formula(column) for column in table.columns]
        rows = [None if row is None else [self.words.token(t) for t in row] for row in table.rows]
        return headings, rows

    def table(self, table: Table) -> list[str]:
        headings, rows = self.cells(table)
        widths = [
            max(len(cell) for cell in [heading] + [row[k] for row in rows if row is not None])
            for k, heading in enumerate(headings)
        ]
        lines = ["   ".join(h.rjust(w) for h, w in zip(headings, widths, strict=True))]
        for row in rows:
            cells = [GAP] * len(widths) if row is None else row
            lines.append("   ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))
        return ["", *(f"    {line}" for line in lines)]


class MarkdownRenderer(TextRenderer):
    """Markdown: ``###`` headings, notes in Unicode, each equation a list item in ``$…$``,
    tables as pipe tables.

    >>> from backprop.explain.data import Symbol
    >>> E = Step("error", 2, (), Symbol("E"), value=0.298371109)
    >>> print(MarkdownRenderer(precision=3).render([Section("error", "Error", 2, steps=(E,))]))
    ### Error
    <BLANKLINE>
    - $E = 0.298$
    <BLANKLINE>
    """

    math_class = LatexMath

    def heading(self, title: str) -> str:
        return f"\n### {title}\n"

    def note(self, note: Formula) -> str:
        return self.words.formula(note) + "\n"

    def equations(self, steps: Iterable[Step]) -> list[str]:
        return [f"- ${self.equation(step)}$" for step in steps] + [""]

    def table(self, table: Table) -> list[str]:
        headings = [self._heading_cell(column) for column in table.columns]
        _, rows = self.cells(table)
        lines = ["| " + " | ".join(headings) + " |", "|" + "---:|" * len(headings)]
        for row in rows:
            cells = ["…"] * len(headings) if row is None else row
            lines.append("| " + " | ".join(cells) + " |")
        return [*lines, ""]

    def _heading_cell(self, column: Formula) -> str:
        if all(isinstance(token, Prose) for token in column):
            return self.words.formula(column)
        return f"${self.math.formula(column)}$"


LATEX_PREAMBLE = r"""\documentclass[a4paper]{article}
\usepackage{amsmath}
\setlength{\textwidth}{17cm}
\setlength{\oddsidemargin}{-0.5cm}
\setlength{\parindent}{0pt}
\allowdisplaybreaks
\begin{document}
\small
"""


class LatexRenderer(TextRenderer):
    r"""LaTeX (ASCII): ``\paragraph`` headings, notes as text, one ``align*`` per section, tables
    as ``tabular``. A fragment needs ``\usepackage{amsmath}``; ``standalone=True`` writes a
    whole document.

    >>> from backprop.explain.data import Symbol
    >>> E = Step("error", 2, (), Symbol("E"), value=0.298371109)
    >>> print(LatexRenderer(precision=3).render([Section("error", "Error", 2, steps=(E,))]))
    \paragraph{Error}
    \begin{align*}
    E &= 0.298
    \end{align*}
    <BLANKLINE>
    >>> document = LatexRenderer(standalone=True).render([])
    >>> document.splitlines()[0], document.splitlines()[-1]
    ('\\documentclass[a4paper]{article}', '\\end{document}')
    """

    math_class = LatexMath

    def __init__(
        self, precision: int = 6, max_precision: int | None = None, standalone: bool = False
    ):
        super().__init__(precision, max_precision)
        self.words = self.math
        self.standalone = standalone

    def render(self, sections: Iterable[Section]) -> str:
        body = super().render(sections)
        if not self.standalone:
            return body
        return LATEX_PREAMBLE + body + "\\end{document}\n"

    def equation(self, step: Step) -> str:
        return self.math.equation(step, align=True)

    def heading(self, title: str) -> str:
        return f"\\paragraph{{{latex_escape(title)}}}"

    def note(self, note: Formula) -> str:
        return f"\\noindent {self.math.prose(note)}\n"

    def equations(self, steps: Iterable[Step]) -> list[str]:
        rows = " \\\\\n".join(self.equation(step) for step in steps)
        return ["\\begin{align*}\n" + rows + "\n\\end{align*}"]

    def table(self, table: Table) -> list[str]:
        headings = [self.math.prose(column) for column in table.columns]
        lines = [
            "\\begin{center}",
            "\\begin{tabular}{" + "r" * len(headings) + "}",
            " & ".join(headings) + " \\\\",
            "\\hline",
        ]
        for row in table.rows:
            if row is None:
                lines.append(" & ".join(["$\\vdots$"] * len(headings)) + " \\\\")
            else:
                lines.append(" & ".join(self.math.prose((token,)) for token in row) + " \\\\")
        return [*lines, "\\end{tabular}", "\\end{center}"]


RENDERERS = {"text": TextRenderer, "markdown": MarkdownRenderer, "latex": LatexRenderer}


def renderer(
    format: str, precision: int = 6, max_precision: int | None = None, standalone: bool = False
) -> TextRenderer:
    """The renderer for ``format``, one of ``"text"``, ``"markdown"`` and ``"latex"``
    (``standalone`` asks the LaTeX renderer for a whole document).

    >>> renderer("html")
    Traceback (most recent call last):
    ...
    ValueError: format must be 'text', 'markdown' or 'latex', got 'html'
    """
    if format not in RENDERERS:
        raise ValueError(f"format must be 'text', 'markdown' or 'latex', got {format!r}")
    if isinstance(precision, bool) or not isinstance(precision, int) or precision < 1:
        raise ValueError(f"precision must be an integer >= 1, got {precision!r}")
    if format == "latex":
        return LatexRenderer(precision, max_precision, standalone)
    return RENDERERS[format](precision, max_precision)


def render(
    sections: Iterable[Section],
    format: str = "text",
    precision: int = 6,
    max_precision: int | None = None,
    standalone: bool = False,
) -> str:
    """``sections`` written in ``format`` with numbers to ``precision`` significant digits
    (updates widen to at most ``max_precision``).

    >>> from backprop.explain.data import Symbol
    >>> E = Step("error", 2, (), Symbol("E"), value=-0.25)
    >>> render([Section("error", steps=(E,))], "text")
    '  E = -0.25\\n'
    """
    return renderer(format, precision, max_precision, standalone).render(sections)
