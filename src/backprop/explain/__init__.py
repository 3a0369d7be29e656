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

>>> import backprop as bp
>>> net = bp.Network([2, 2, 2], dtype="float64")
>>> net.layers[1].W = [[0.15, 0.20], [0.25, 0.30]]; net.layers[1].b = [0.35, 0.35]
>>> net.layers[2].W = [[0.40, 0.45], [0.50, 0.55]]; net.layers[2].b = [0.60, 0.60]
>>> text = net.backprop([[0.05, 0.10]], [[0.01, 0.99]]).explain(lr=0.5, precision=9)
>>> "0.75136507" in text and "0.298371109" in text
True
"""

from __future__ import annotations

import numpy as np

from ..engine.activations import get_activation
from ..engine.extensions import provide

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_FUNCTION_NAMES = {"sigmoid": "σ", "tanh": "tanh", "relu": "relu", "identity": "id"}
_DERIVATIVE_TEXT = {
    "sigmoid": ("a(1 − a)", r"a(1-a)"),
    "tanh": ("1 − a²", r"1-a^2"),
    "relu": ("1 if z > 0 else 0", r"[z>0]"),
    "leaky_relu": ("1 if z > 0 else slope", r"[z>0] + \alpha[z\le 0]"),
    "identity": ("1", "1"),
    "softplus": ("σ(z)", r"\sigma(z)"),
    "exp": ("eᶻ = a", r"e^{z}"),
}
_LOSS_TEXT = {
    "squared": ("E = ½ Σₖ (yₖ − oₖ)²", r"E = \tfrac12 \sum_k (y_k - o_k)^2"),
    "log_loss": (
        "E = −Σₖ [yₖ log oₖ + (1 − yₖ) log(1 − oₖ)]",
        r"E = -\sum_k \left[y_k \log o_k + (1-y_k)\log(1-o_k)\right]",
    ),
    "cross_entropy": ("E = −Σₖ yₖ log oₖ", r"E = -\sum_k y_k \log o_k"),
    "absolute": ("E = Σₖ |oₖ − yₖ|", r"E = \sum_k |o_k - y_k|"),
    "huber": ("E = Σₖ huber(oₖ − yₖ)", r"E = \sum_k \mathrm{huber}(o_k - y_k)"),
    "poisson": ("E = Σₖ [y log(y/o) − y + o]", r"E = \sum_k [y_k\log(y_k/o_k) - y_k + o_k]"),
}
_GRADIENT_TEXT = {
    "squared": ("o − y", "o-y"),
    "absolute": ("sign(o − y)", r"\mathrm{sign}(o-y)"),
    "huber": ("clip(o − y, −d, d)", r"\mathrm{clip}(o-y,-d,d)"),
    "log_loss": ("(o − y)/(o(1 − o))", r"\frac{o-y}{o(1-o)}"),
    "cross_entropy": ("−y/o", r"-\frac{y}{o}"),
    "poisson": ("1 − y/o", r"1-\frac{y}{o}"),
}


class _Writer:
    """Symbols and lines in one of the three formats."""

    def __init__(self, format: str, precision: int):
        if format not in ("text", "markdown", "latex"):
            raise ValueError(f"format must be 'text', 'markdown' or 'latex', got {format!r}")
        self.format, self.precision, self.lines = format, precision, []
        self.math = format != "text"

    def number(self, value: float) -> str:
        text = f"{float(value):.{self.precision}g}"
        return f"({text})" if text.startswith("-") else text

    def symbol(self, name: str, layer: int, *units: int) -> str:
        if self.math:
            name = {
                "δ": r"\delta",
                "∂E/∂w": r"\partial E/\partial w",
                "∂E/∂b": r"\partial E/\partial b",
            }.get(name, name)
            return f"{name}^{{({layer})}}_{{{','.join(str(u) for u in units)}}}"
        return (
            name
            + str(layer).translate(_SUPERSCRIPT)
            + "".join(str(u).translate(_SUBSCRIPT) for u in units)
        )

    def sub(self, name: str, index: int) -> str:
        return f"{name}_{{{index}}}" if self.math else name + str(index).translate(_SUBSCRIPT)

    @property
    def times(self) -> str:
        return r" \cdot " if self.math else "·"

    def heading(self, text: str) -> None:
        if self.format == "latex":
            self.lines.append(f"\\paragraph{{{_latex_escape(text)}}}")
        elif self.format == "markdown":
            self.lines.append(f"\n### {text}\n")
        else:
            self.lines.append(f"\n{text}\n{'-' * len(text)}")

    def note(self, text: str) -> None:
        if self.format == "latex":
            self.lines.append(f"\\noindent {_latex_escape(text)}\n")
        else:
            self.lines.append(text)

    def equations(self, rows: list[str]) -> None:
        if not rows:
            return
        if self.math:
            rows = [_to_latex(row) for row in rows]
        if self.format == "latex":
            body = " \\\\\n".join(row.replace(" = ", " &= ", 1) for row in rows)
            self.lines.append("\\begin{align*}\n" + body + "\n\\end{align*}")
        elif self.format == "markdown":
            self.lines.extend(f"- ${row}$" for row in rows)
        else:
            self.lines.extend(f"  {row}" for row in rows)

    def text(self) -> str:
        return "\n".join(self.lines).strip() + "\n"


_LATEX = {
    "∂": r"\partial ",
    "Σ": r"\sum",
    "⊙": r"\odot ",
    "η": r"\eta ",
    "←": r"\leftarrow ",
    "−": "-",
    "½": r"\tfrac12 ",
    "ᵀ": "^T",
    "·": r"\cdot ",
    "ₖ": "_k",
    "²": "^2",
    "σ": r"\sigma ",
}


def _to_latex(row: str) -> str:
    for char, command in _LATEX.items():
        row = row.replace(char, command)
    return row


_LATEX_TEXT = {
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


def _latex_escape(text: str) -> str:
    """Plain text for LaTeX: special characters escaped, symbols as inline math, ASCII only."""
    for char, escaped in (
        ("\\", r"\textbackslash{}"),
        ("_", r"\_"),
        ("%", r"\%"),
        ("&", r"\&"),
        ("#", r"\#"),
        ("$", r"\$"),
    ):
        text = text.replace(char, escaped)
    for char, command in _LATEX_TEXT.items():
        text = text.replace(char, f"\\ensuremath{{{command}}}")
    return text.replace("−", "-")


def explain(
    trace,
    format: str = "text",
    precision: int = 6,
    lr: float | None = None,
    max_units: int = 8,
) -> str:
    """One backpropagation iteration of ``trace`` written out; see the module docstring."""
    out = _Writer(format, precision)
    net = trace.network
    chain = all(layer.sources == ((layer.index - 1, slice(None)),) for layer in net.layers[1:])
    small = chain and max(a.shape[1] for a in trace.a) <= max_units
    n = trace.a[0].shape[0]
    if not small:
        return _summary(trace, out, lr)
    if n > 1:
        out.note(
            f"A batch of {n} samples: unit-by-unit values are shown for sample 1; "
            f"gradients are the batch means (1/{n}) Σₙ."
        )
    _forward(trace, out, net)
    _error(trace, out)
    _output_deltas(trace, out, net)
    _hidden_deltas(trace, out, net)
    _gradients(trace, out, n)
    if lr is not None:
        _update(trace, out, lr)
        _second_pass(trace, out, lr)
    return out.text()


def _f(out, name: str, argument: str) -> str:
    symbol = _FUNCTION_NAMES.get(name, name)
    if out.math:
        symbol = {"σ": r"\sigma", "tanh": r"\tanh"}.get(symbol, rf"\mathrm{{{symbol}}}")
    return f"{symbol}({argument})"


def _forward(trace, out, net) -> None:
    for l in range(1, len(trace.a)):
        name = trace.activations[l]
        n_out, n_in = trace.W[l].shape
        out.heading(f"Forward pass, layer {l} ({name})")
        out.note(
            f"Matrix form: z{l} = a{l - 1}·W{l}ᵀ + b{l}, shapes ({trace.a[0].shape[0]}×{n_in})"
            f"·({n_in}×{n_out}) + ({n_out}) → ({trace.a[0].shape[0]}×{n_out}); a{l} = f(z{l})."
        )
        rows = []
        for i in range(n_out):
            terms = [
                f"{out.symbol('w', l, i + 1, j + 1)}{out.times}{out.symbol('a', l - 1, j + 1)}"
                for j in range(n_in)
            ]
            values = [
                f"{out.number(trace.W[l][i, j])}{out.times}{out.number(trace.a[l - 1][0, j])}"
                for j in range(n_in)
            ]
            z = out.symbol("z", l, i + 1)
            rows.append(
                f"{z} = {' + '.join(terms)} + {out.symbol('b', l, i + 1)} = "
                f"{' + '.join(values)} + {out.number(trace.b[l][i])} = "
                f"{out.number(trace.z[l][0, i])}"
            )
            rows.append(
                f"{out.symbol('a', l, i + 1)} = {_f(out, name, z)} = {out.number(trace.a[l][0, i])}"
            )
        out.equations(rows)


def _error(trace, out) -> None:
    out.heading("Error")
    text, latex = _LOSS_TEXT.get(trace.loss_name, (f"E = {trace.loss_name}(o, y)",) * 2)
    o, y = trace.a[-1][0], trace.Y[0]
    out.note(
        f"o = ({', '.join(out.number(v) for v in o)}), y = ({', '.join(out.number(v) for v in y)})"
    )
    out.equations([f"{latex if out.math else text} = {out.number(trace.loss)}"])


def _output_deltas(trace, out, net) -> None:
    L = len(trace.a) - 1
    name, loss = trace.activations[L], trace.loss_name
    out.heading(f"Output deltas, layer {L} ({name} with {loss})")
    canonical = net.loss.canonical == name
    rows = []
    o, y = trace.a[L][0], trace.Y[0]
    for k in range(o.shape[0]):
        delta = out.symbol("δ", L, k + 1)
        if canonical:
            rows.append(
                f"{delta} = {out.sub('o', k + 1)} - {out.sub('y', k + 1)} = {out.number(o[k])} - "
                f"{out.number(y[k])} = {out.number(trace.delta[L][0, k])}"
            )
        elif name == "softmax":
            rows.append(
                f"{delta} = {out.sub('o', k + 1)}({out.sub('g', k + 1)} - Σₘ gₘ oₘ) = "
                f"{out.number(trace.delta[L][0, k])}"
            )
        else:
            derivative = get_activation(name).derivative(trace.z[L][:1], trace.a[L][:1])[0, k]
            rows.append(
                f"{delta} = f'({out.symbol('z', L, k + 1)}){out.times}∂J/∂{out.sub('o', k + 1)} = "
                f"{out.number(derivative)}{out.times}{out.number(trace.error[L][0, k])} = "
                f"{out.number(trace.delta[L][0, k])}"
            )
    if canonical:
        out.note(f"{name} with {loss} is a canonical pair: f'(z) and ∂J/∂o cancel to δ = o − y.")
    else:
        gradient = _GRADIENT_TEXT.get(loss, ("∂J/∂o",) * 2)[0]
        derivative = _DERIVATIVE_TEXT.get(name, ("f'(z)",) * 2)[0]
        out.note(f"δ = f'(z) ⊙ ∂J/∂o with ∂J/∂o = {gradient}, f'(z) = {derivative}.")
    out.equations(rows)


def _hidden_deltas(trace, out, net) -> None:
    L = len(trace.a) - 1
    for l in range(L - 1, 0, -1):
        name = trace.activations[l]
        out.heading(f"Hidden deltas, layer {l} ({name}), by the delta rule")
        out.note(
            f"Matrix form: δ{l} = f'(z{l}) ⊙ (δ{l + 1}·W{l + 1}), shapes "
            f"({trace.delta[l + 1].shape[0]}×{trace.W[l + 1].shape[0]})·"
            f"({trace.W[l + 1].shape[0]}×{trace.W[l + 1].shape[1]})."
        )
        derivatives = get_activation(name).derivative(trace.z[l][:1], trace.a[l][:1])[0]
        rows = []
        for j in range(trace.W[l].shape[0]):
            terms = [
                f"{out.symbol('w', l + 1, k + 1, j + 1)}{out.times}{out.symbol('δ', l + 1, k + 1)}"
                for k in range(trace.W[l + 1].shape[0])
            ]
            values = [
                f"{out.number(trace.W[l + 1][k, j])}{out.times}"
                f"{out.number(trace.delta[l + 1][0, k])}"
                for k in range(trace.W[l + 1].shape[0])
            ]
            rows.append(
                f"{out.symbol('δ', l, j + 1)} = f'({out.symbol('z', l, j + 1)})"
                f"{out.times}({' + '.join(terms)}) = {out.number(derivatives[j])}"
                f"{out.times}({' + '.join(values)}) = {out.number(trace.delta[l][0, j])}"
            )
        out.equations(rows)


def _gradients(trace, out, n) -> None:
    for l in range(len(trace.a) - 1, 0, -1):
        out.heading(f"Gradients, layer {l}")
        out.note(
            f"Matrix form: ∂E/∂W{l} = δ{l}ᵀ·a{l - 1}{' / N' if n > 1 else ''}, shape "
            f"{trace.W[l].shape[0]}×{trace.W[l].shape[1]}; ∂E/∂b{l} = mean of δ{l}."
        )
        rows = []
        for i, j in np.ndindex(*trace.W[l].shape):
            product = (
                f" = {out.symbol('δ', l, i + 1)}{out.times}{out.symbol('a', l - 1, j + 1)} = "
                f"{out.number(trace.delta[l][0, i])}{out.times}{out.number(trace.a[l - 1][0, j])}"
                if n == 1
                else ""
            )
            rows.append(
                f"{out.symbol('∂E/∂w', l, i + 1, j + 1)}{product} = "
                f"{out.number(trace.grad_W[l][i, j])}"
            )
        for i in range(trace.W[l].shape[0]):
            rows.append(f"{out.symbol('∂E/∂b', l, i + 1)} = {out.number(trace.grad_b[l][i])}")
        out.equations(rows)


def _update(trace, out, lr) -> None:
    out.heading(f"Gradient descent step, learning rate η = {lr:g}")
    eta = r"\eta" if out.math else "η"
    for l in range(len(trace.a) - 1, 0, -1):
        rows = []
        for i, j in np.ndindex(*trace.W[l].shape):
            w, g = trace.W[l][i, j], trace.grad_W[l][i, j]
            rows.append(
                f"{out.symbol('w', l, i + 1, j + 1)} ← {out.number(w)} - {eta}"
                f"{out.times}{out.number(g)} = {out.number(w - lr * g)}"
            )
        for i in range(trace.W[l].shape[0]):
            b, g = trace.b[l][i], trace.grad_b[l][i]
            rows.append(
                f"{out.symbol('b', l, i + 1)} ← {out.number(b)} - {eta}{out.times}"
                f"{out.number(g)} = {out.number(b - lr * g)}"
            )
        out.equations(rows)


def _second_pass(trace, out, lr) -> None:
    net = trace.network.copy()
    for l in range(1, len(trace.a)):
        net.layers[l].W = trace.W[l] - lr * trace.grad_W[l]
        net.layers[l].b = trace.b[l] - lr * trace.grad_b[l]
    after = net.backprop(trace.a[0], trace.Y)
    out.heading("Second forward pass with the new weights")
    o = ", ".join(out.number(v) for v in after.a[-1][0])
    out.note(
        f"New output o = ({o}); the error went from {out.number(trace.loss)} to "
        f"{out.number(after.loss)}"
        f"{' (down)' if after.loss < trace.loss else ' (not down: try a smaller η)'}."
    )


def _summary(trace, out, lr) -> str:
    out.note("This network is too large to write out unit by unit; per layer:")
    for l in range(1, len(trace.a)):
        out.heading(f"Layer {l} ({trace.activations[l]})")
        for label, array in (
            ("W", trace.W[l]),
            ("z", trace.z[l]),
            ("a", trace.a[l]),
            ("δ", trace.delta[l]),
            ("∂E/∂W", trace.grad_W[l]),
        ):
            out.note(
                f"{label}: shape {'×'.join(map(str, array.shape))}, "
                f"norm {out.number(np.linalg.norm(array))}, "
                f"min {out.number(array.min())}, max {out.number(array.max())}"
            )
    out.note(f"error E = {out.number(trace.loss)}")
    if lr is not None:
        _second_pass(trace, out, lr)
    return out.text()


provide("explain", explain)
